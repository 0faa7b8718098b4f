#!/usr/bin/env python3
"""Full-batch training epochs of minidl's graph models (gcn, gat, sage, and the node-mlp baseline)
against the same models in PyTorch eager, in the same run, on the same graph.

The graph: a contextual stochastic block model drawn here from --graph's csbm spec (the keys and
defaults of `minidl train`'s --graph csbm: 2000 nodes, 2 classes, mean degree 10, 32 features,
homophily 0.8, signal 1, a 0.2 / 0.2 train / validation split) with NumPy, not minidl's Philox
streams, and written as text files that minidl reads with --graph files:..., so both train on the
same edges, features and labels. Each side splits the nodes itself, stratified with the same sizes
per class (different nodes; the script checks that minidl reports the same counts).

The PyTorch twin mirrors models/gnn.cpp with its defaults: two layers with ReLU between them,
dropout 0.5 on each layer's input (DropNode and DropEdge are 0, which minidl skips too);
GCN: D^-1/2 (A + I) D^-1/2 x W + b, d = in-degree + 1, hidden 16; SAGE: x W_self^T + b + the mean of
the in-neighbours' x W_neigh^T, hidden 16; GAT: 8 heads of 16 concatenated, then 1 head averaged,
attention softmax over each node's in-neighbours and itself, LeakyReLU 0.2, attention dropout 0.6;
node-mlp: two linear layers on each node's own features, hidden 16.
Messages are gathered by source (indexing: its backward ran 3x faster than index_select's on
PyTorch 1.13's CPU) and summed at destinations (scatter_add); GAT's segment softmax is composed
from scatter_reduce (amax), exp and scatter_add. Each epoch, as fit_gnn's: one Adam step (lr 0.01,
L2 weight decay 5e-4) on the training nodes' mean cross-entropy, then a forward pass in eval mode
without gradients, the argmax copied to the host and the train / validation / test accuracies,
and the loss read. Both sides f32, no TF32.

Timed: each side's epochs after 3 warm-up epochs (the first pays one-time set-up); minidl's from
the per-epoch seconds a run of 3 + --epochs epochs writes to its metrics.jsonl (--log-every 1).

How the twin differs: PyTorch's fused ops where minidl composes (leaky_relu against relu, mul and
add; Linear's addmm for SAGE's self term against matmul and add; a composed softmax against
minidl's fused segment softmax), scatter_add's atomics on a GPU against minidl's deterministic
grouped row sums, PyTorch's default Adam, and no per-epoch set_lr (minidl's constant schedule sets
the same rate each epoch).

Usage: python3 tools/bench_graph.py [--model gcn|gat|sage|node-mlp] [--device cpu|cuda] [--epochs 200]
       [--graph csbm[:nodes=N,classes=C,degree=D,features=F,homophily=H,signal=S,train=T,val=V,seed=K]]
       [--minidl build/bin/minidl] [--json out.json]
"""
import argparse
import math
import os
import re
import sys
import tempfile
import warnings

import bench_common  # before torch: it imports openblas_core
import small_models_bench as bench
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

CSBM_DEFAULTS = {"nodes": 2000, "classes": 2, "features": 32, "degree": 10.0, "homophily": 0.8, "signal": 1.0,
                 "train": 0.2, "val": 0.2, "seed": 0}
HIDDEN, HEADS, DROPOUT, ATTENTION_DROPOUT = 16, 8, 0.5, 0.6  # minidl's defaults (GnnConfig, GraphOptions)


def llround(x):
    """C's llround (halves away from zero), as minidl rounds sizes; Python's round() rounds halves to even."""
    return int(math.floor(x + 0.5))


def parse_csbm(spec):
    kind, _, rest = spec.partition(":")
    if kind.strip() != "csbm":
        raise ValueError(f"--graph {spec}: expected csbm[:KEY=VALUE,...]")
    config = dict(CSBM_DEFAULTS)
    for item in filter(None, (s.strip() for s in rest.split(","))):
        key, _, value = item.partition("=")
        if key.strip() not in config:
            raise ValueError(f"--graph {spec}: unknown key '{key}'; expected one of {', '.join(CSBM_DEFAULTS)}")
        config[key.strip()] = type(CSBM_DEFAULTS[key.strip()])(value)
    return config


def csbm(c):
    """Labels, undirected edges (lo < hi, each pair once) and f32 features of a CSBM as minidl's: balanced
    classes in random order, round(nodes * degree / 2) edges of which Binomial(edges, homophily) join
    nodes of one class, features signal * u_y / sqrt(2) + N(0, I) with orthonormal u_c."""
    rng = np.random.default_rng(c["seed"])
    n, classes = c["nodes"], c["classes"]
    labels = rng.permutation(np.arange(n) % classes)
    order = np.argsort(labels, kind="stable")
    size = np.bincount(labels, minlength=classes)
    start = np.cumsum(size) - size
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(n)
    count = llround(n * c["degree"] / 2)
    same_wanted = rng.binomial(count, c["homophily"])
    keys = np.empty(0, dtype=np.int64)
    while True:
        lo, hi = keys // n, keys % n
        same = int((labels[lo] == labels[hi]).sum())
        missing_same, missing_cross = same_wanted - same, count - same_wanted - (len(keys) - same)
        if missing_same == missing_cross == 0:
            break
        u = rng.integers(0, n, missing_same + missing_cross)
        y = labels[u]
        is_same = np.arange(len(u)) < missing_same
        # The same slot arithmetic as minidl: skip u's own slot, or the block of u's class.
        slot_same = rng.integers(0, size[y] - 1)
        slot_same = start[y] + slot_same + (start[y] + slot_same >= position[u])
        slot_cross = rng.integers(0, n - size[y])
        slot_cross = slot_cross + np.where(slot_cross >= start[y], size[y], 0)
        v = order[np.where(is_same, slot_same, slot_cross)]
        new = np.minimum(u, v) * n + np.maximum(u, v)
        both = np.concatenate([keys, new])
        _, first = np.unique(both, return_index=True)  # drops pairs drawn twice; the next round redraws them
        keys = both[np.sort(first)]
    directions = np.linalg.qr(rng.standard_normal((c["features"], classes)))[0].T
    features = rng.standard_normal((n, c["features"])) + c["signal"] / math.sqrt(2) * directions[labels]
    return labels, np.stack([keys // n, keys % n], 1), features.astype(np.float32)


def split_like_minidl(labels, c):
    """Train, validation and test nodes: a stratified split with split_nodes' sizes per class
    (framework/io/graph_data.cpp), other nodes."""
    rng = np.random.default_rng(c["seed"])
    train, val = c["train"], c["val"]
    splits = ([], [], [])
    for y in range(c["classes"]):
        nodes = rng.permutation(np.flatnonzero(labels == y))
        t = min(len(nodes), max(1, llround(train * len(nodes))))
        v = min(len(nodes) - t, llround(val * len(nodes)))
        for split, part in zip(splits, (nodes[:t], nodes[t:t + v], nodes[t + v:])):
            split.append(part)
    return [torch.from_numpy(np.sort(np.concatenate(s))) for s in splits]


def write_graph(directory, labels, edges, features, c):
    """The graph as the text files minidl's --graph files:... reads; returns that spec."""
    paths = {name: os.path.join(directory, f"{name}.txt") for name in ("edges", "labels", "features")}
    np.savetxt(paths["edges"], edges, fmt="%d")
    np.savetxt(paths["labels"], labels, fmt="%d")
    np.savetxt(paths["features"], features, fmt="%.9g")  # 9 digits: the f32 values exactly
    files = ",".join(f"{k}={v}" for k, v in paths.items())
    return f"files:{files},train={c['train']},val={c['val']},seed={c['seed']}"


class Graph:
    """The edges in both directions, sorted by (src, dst) as minidl stores them, with GCN's and SAGE's
    weights, as minidl's GraphEdges."""

    def __init__(self, n, edges, device):
        pairs = np.concatenate([edges, edges[:, ::-1]])
        pairs = torch.from_numpy(pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))])
        self.nodes, self.src, self.dst = n, pairs[:, 0].to(device), pairs[:, 1].to(device)
        in_degree = torch.bincount(self.dst, minlength=n).float()
        d = in_degree + 1  # the self loop
        self.gcn_weight = (d[self.src] * d[self.dst]).rsqrt().unsqueeze(1)
        self.gcn_self_weight = (1 / d).unsqueeze(1)
        self.mean_weight = (1 / in_degree[self.dst]).unsqueeze(1)
        self.dst_and_self = torch.cat([self.dst, torch.arange(n, device=device)])


def scatter_sum(rows, index, groups):
    """Sums of the rows of `rows` within each group of index, [groups, ...], as PyG sums messages."""
    expanded = index.view(-1, *[1] * (rows.dim() - 1)).expand_as(rows)
    return rows.new_zeros((groups,) + rows.shape[1:]).scatter_add(0, expanded, rows)


def propagate(h, weight, g):
    """Sum over each node's in-edges of h[src] * weight."""
    return scatter_sum(h[g.src] * weight, g.dst, g.nodes)


def segment_softmax(scores, index, groups):
    """Softmax of the rows of scores [M, heads] within each group of index [M]."""
    with torch.no_grad():  # the shift leaves the softmax and its gradient unchanged
        top = scores.new_full((groups, scores.shape[1]), -math.inf).scatter_reduce(
            0, index.unsqueeze(1).expand_as(scores), scores, "amax")
    e = (scores - top[index]).exp()
    return e / scatter_sum(e, index, groups)[index]


def glorot(fan_in, fan_out, shape):
    bound = math.sqrt(6 / (fan_in + fan_out))
    return nn.Parameter(torch.empty(shape).uniform_(-bound, bound))


class GcnConv(nn.Module):
    def __init__(self, inputs, outputs):
        super().__init__()
        self.weight, self.bias = glorot(inputs, outputs, (inputs, outputs)), nn.Parameter(torch.zeros(outputs))

    def forward(self, x, g):
        h = x @ self.weight
        return propagate(h, g.gcn_weight, g) + h * g.gcn_self_weight + self.bias


class SageConv(nn.Module):
    def __init__(self, inputs, outputs):
        super().__init__()
        self.self_linear, self.neighbour = nn.Linear(inputs, outputs), nn.Linear(inputs, outputs, bias=False)

    def forward(self, x, g):
        return self.self_linear(x) + propagate(self.neighbour(x), g.mean_weight, g)


class GatConv(nn.Module):
    def __init__(self, inputs, outputs, heads, concat):
        super().__init__()
        self.heads, self.outputs, self.concat = heads, outputs, concat
        self.weight = glorot(inputs, heads * outputs, (inputs, heads * outputs))
        self.att_src, self.att_dst = glorot(heads, outputs, (heads, outputs)), glorot(heads, outputs, (heads, outputs))
        self.bias = nn.Parameter(torch.zeros(heads * outputs if concat else outputs))

    def forward(self, x, g):
        h = (x @ self.weight).view(g.nodes, self.heads, self.outputs)
        score_src, score_dst = (h * self.att_src).sum(2), (h * self.att_dst).sum(2)
        scores = torch.cat([score_src[g.src] + score_dst[g.dst], score_src + score_dst])
        alpha = F.dropout(segment_softmax(F.leaky_relu(scores, 0.2), g.dst_and_self, g.nodes), ATTENTION_DROPOUT,
                          self.training)
        edges = len(g.src)
        out = propagate(h, alpha[:edges].unsqueeze(2), g) + h * alpha[edges:].unsqueeze(2)
        return (out.reshape(g.nodes, -1) if self.concat else out.mean(1)) + self.bias


class NodeLinear(nn.Linear):
    """node-mlp's layer: each node's own features, the graph unused."""

    def forward(self, x, g):
        return super().forward(x)


class Gnn(nn.Module):
    def __init__(self, kind, features, classes):
        super().__init__()
        if kind == "gat":
            self.layers = nn.ModuleList([GatConv(features, HIDDEN, HEADS, True),
                                         GatConv(HEADS * HIDDEN, classes, 1, False)])
        else:
            conv = {"gcn": GcnConv, "sage": SageConv, "node-mlp": NodeLinear}[kind]
            self.layers = nn.ModuleList([conv(features, HIDDEN), conv(HIDDEN, classes)])

    def forward(self, x, g):
        for i, layer in enumerate(self.layers):
            x = layer(F.dropout(x, DROPOUT, self.training), g)
            if i + 1 < len(self.layers):
                x = torch.relu(x)
        return x


def torch_epoch_s(args, labels, edges, features, splits):
    device = args.device
    torch.manual_seed(0)
    g = Graph(len(labels), edges, device)
    x = torch.from_numpy(features).to(device)
    labels = torch.from_numpy(labels)
    train_rows, train_targets = splits[0].to(device), labels[splits[0]].to(device)
    model = Gnn(args.model, features.shape[1], int(labels.max()) + 1).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)

    def epoch():
        model.train()
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x, g)[train_rows], train_targets)
        loss.backward()
        opt.step()
        model.eval()
        with torch.no_grad():
            predicted = model(x, g).argmax(1).cpu()
        # What fit_gnn hands its callback: the loss and the accuracies of the splits, on the host.
        return loss.item(), [(predicted[s] == labels[s]).double().mean().item() for s in splits]

    return bench.torch_epoch_s(epoch, args.epochs, device)


def main():
    warnings.filterwarnings("ignore", "scatter_reduce")  # PyTorch 1.13 warns that it is in beta
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["gcn", "gat", "sage", "node-mlp"], default="gcn")
    parser.add_argument("--graph", default="csbm", help="csbm[:KEY=VALUE,...] with the keys of minidl's --graph csbm")
    bench.add_common_arguments(parser, epochs=200)
    args = parser.parse_args()
    try:
        c = parse_csbm(args.graph)
    except ValueError as e:
        parser.error(str(e))
    bench_common.configure_torch(args.threads)
    labels, edges, features = csbm(c)
    splits = split_like_minidl(labels, c)
    with tempfile.TemporaryDirectory() as tmp:
        flags = ["--graph", write_graph(tmp, labels, edges, features, c), "--log-every", "1"]
        ours, log = bench.minidl_epoch_s(args, args.model, flags)
    sizes = (f"{len(labels)} nodes, {2 * len(edges)} directed edges, {features.shape[1]} features, "
             f"{c['classes']} classes")
    counts = f"; {len(splits[0])} train, {len(splits[1])} validation, {len(splits[2])} test nodes)"
    if not re.search(re.escape(f"({sizes}, edge homophily ") + "[0-9.]+" + re.escape(counts), log):
        sys.exit(f"minidl read another graph than PyTorch's: expected ({sizes}, ...{counts} in\n{log}")
    theirs = torch_epoch_s(args, labels, edges, features, splits)
    header = (f"{args.model} training epoch on {args.device}: {sizes}, {len(splits[0])} train nodes, hidden {HIDDEN}"
              + (f" x {HEADS} heads" if args.model == "gat" else "")
              + f", {args.epochs} epochs after {bench.WARMUP_EPOCHS}")
    config = {"graph": c, "hidden": HIDDEN, "epochs": args.epochs, "warmup_epochs": bench.WARMUP_EPOCHS}
    if args.model == "gat":
        config["heads"] = HEADS
    bench.report(args.model, args, config, header, ours, theirs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
