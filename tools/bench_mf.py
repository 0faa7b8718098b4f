#!/usr/bin/env python3
"""Training epochs of minidl's matrix-factorization recommender against the same model in PyTorch
eager, in the same run, on as many ratings.

The data: `minidl train mf` draws its synthetic ratings (a users x items matrix of true rank
--true-rank plus user and item biases around 3.5, observed at --density with Gaussian --noise, a
fifth of the entries held out for test); the twin draws ratings the same way with NumPy (other
values), as many training ratings as minidl reports, so the epochs have the same batches.

The PyTorch twin mirrors models/mf.cpp: user and item factor tables of --rank (U(-a, a) with
standard deviation 0.1), per-user and per-item biases and a global bias starting at the training
mean, the prediction <p_u, q_i> + b_u + b_i + mu, embedding dropout (--embedding-dropout, whole rows
of both factor tables, in training; 0 skips it on both sides). An epoch as train_mf.cpp's: the
training ratings shuffled on the host, then per batch of --batch-size: the batch's pairs and
ratings gathered on the host and copied to the device, one AdamW step (lr 0.01, decoupled weight
decay 0.05, dense gradients for the whole tables) on the mean squared error with a cosine rate
over the run's steps, and the loss read. Both sides f32.

Timed: each side's epochs after 3 warm-up epochs, minidl's from the epoch seconds of one run of
3 + --epochs epochs that it writes to metrics.jsonl (what it prints as "epoch k/E ... X s", to
0.1 s): the shuffle and the training batches, not the train and test RMSE minidl computes after
each epoch, which the twin leaves out too.

How the twin differs: PyTorch's shuffle (randperm) against minidl's Philox Fisher-Yates, batches
copied from pageable memory where minidl stages them in pinned memory on a GPU, PyTorch's default
AdamW, and torch's CosineAnnealingLR stepped per batch where minidl sets the same rates directly.

Usage: python3 tools/bench_mf.py [--device cpu|cuda] [--epochs 10] [--users 1000] [--items 1000]
       [--rank 32] [--true-rank 4] [--density 0.05] [--noise 0.5] [--data-seed 0] [--batch-size 256]
       [--embedding-dropout 0] [--minidl build/bin/minidl] [--json out.json]
"""
import argparse
import math
import re
import sys

import bench_common  # before torch: it imports openblas_core
import small_models_bench as bench
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

# The flags both sides take, with `minidl train mf`'s defaults (MfOptions; batch from train_mf.cpp).
SIZES = {"users": 1000, "items": 1000, "rank": 32, "true_rank": 4, "density": 0.05, "noise": 0.5, "data_seed": 0,
         "batch_size": 256, "embedding_dropout": 0.0}


def ratings(args, count):
    """`count` training (user, item) pairs, distinct and in row-major order as minidl's, and their ratings."""
    rng = np.random.default_rng(args.data_seed)
    entries = np.sort(rng.choice(args.users * args.items, count, replace=False))
    users, items = entries // args.items, entries % args.items
    factor_std = args.true_rank ** -0.25  # <U[u], V[i]> of variance 1
    u, v = (rng.normal(0, factor_std, (n, args.true_rank)) for n in (args.users, args.items))
    user_bias, item_bias = rng.normal(0, 0.5, args.users), rng.normal(0, 0.5, args.items)
    values = ((u[users] * v[items]).sum(1) + user_bias[users] + item_bias[items] + 3.5
              + rng.normal(0, args.noise, count))
    return torch.from_numpy(np.stack([users, items], 1)), torch.from_numpy(values.astype(np.float32))


class Mf(nn.Module):
    def __init__(self, users, items, rank, global_mean, embedding_dropout):
        super().__init__()
        a = 0.1 * math.sqrt(3)  # U(-a, a) has standard deviation 0.1
        self.user_factors, self.item_factors = nn.Embedding(users, rank), nn.Embedding(items, rank)
        for table in (self.user_factors, self.item_factors):
            nn.init.uniform_(table.weight, -a, a)
        self.user_bias, self.item_bias = nn.Embedding(users, 1), nn.Embedding(items, 1)
        for table in (self.user_bias, self.item_bias):
            nn.init.zeros_(table.weight)
        self.global_bias = nn.Parameter(torch.full((1,), global_mean))
        self.p = embedding_dropout

    def factors(self, table):
        """The table with whole rows dropped in training (inverted dropout), as minidl's embedding_dropout."""
        if not self.training or self.p == 0:
            return table.weight
        keep = torch.empty(table.weight.shape[0], 1, device=table.weight.device).bernoulli_(1 - self.p)
        return table.weight * keep / (1 - self.p)

    def forward(self, pairs):
        users, items = pairs[:, 0], pairs[:, 1]
        interaction = (F.embedding(users, self.factors(self.user_factors)) *
                       F.embedding(items, self.factors(self.item_factors))).sum(1)
        return interaction + self.user_bias(users).view(-1) + self.item_bias(items).view(-1) + self.global_bias


def torch_epoch_s(args, count):
    device = args.device
    torch.manual_seed(0)
    pairs, targets = ratings(args, count)
    model = Mf(args.users, args.items, args.rank, targets.double().mean().item(), args.embedding_dropout).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.05)
    batches = math.ceil(count / args.batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, (bench.WARMUP_EPOCHS + args.epochs) * batches)

    def epoch():
        model.train()
        order = torch.randperm(count)
        for first in range(0, count, args.batch_size):
            rows = order[first:first + args.batch_size]
            batch, target = pairs.index_select(0, rows).to(device), targets.index_select(0, rows).to(device)
            opt.zero_grad(set_to_none=True)
            loss = F.mse_loss(model(batch), target)
            loss.backward()
            opt.step()
            schedule.step()
            loss.item()  # minidl reads each step's loss for its running mean

    return bench.torch_epoch_s(epoch, args.epochs, device)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, default in SIZES.items():
        parser.add_argument("--" + name.replace("_", "-"), type=type(default), default=default)
    bench.add_common_arguments(parser, epochs=10)
    args = parser.parse_args()
    bench_common.configure_torch(args.threads)
    flags = [item for name in SIZES for item in ("--" + name.replace("_", "-"), str(getattr(args, name)))]
    ours, log = bench.minidl_epoch_s(args, "mf", flags)
    count = int(re.search(r"(\d+) train, \d+ test", log).group(1))
    theirs = torch_epoch_s(args, count)
    header = (f"mf training epoch on {args.device}: {args.users} users x {args.items} items, {count} training ratings, "
              f"rank {args.rank}, batch {args.batch_size}, embedding dropout {args.embedding_dropout}, "
              f"{args.epochs} epochs after {bench.WARMUP_EPOCHS}")
    config = {name: getattr(args, name) for name in SIZES}
    config.update(train_ratings=count, epochs=args.epochs, warmup_epochs=bench.WARMUP_EPOCHS)
    bench.report("mf", args, config, header, ours, theirs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
