#!/usr/bin/env python3
"""Training steps of minidl's LSTM character language model against the same model in PyTorch, in
the same run.

The PyTorch twin mirrors models/lstm_lm.cpp with `minidl train lstm`'s defaults (which this
script passes to it explicitly): an embedding table (no embedding dropout), a multi-layer LSTM
run as framework/nn/recurrent.cpp runs it, and an untied linear decoder; cross-entropy, gradients
clipped to norm 1, AdamW (lr 1e-3, weight decay 0.05), f32 (no TF32). Each layer takes its input
through variational dropout 0.1 (one mask per sequence, shared over time), computes the input
half of its gates for all steps in one matmul, then steps through time in Python: h times the
layer's recurrent dropout mask (0.1, one per sequence), through W_hh, and the LSTM cell; the last
layer's outputs take variational dropout 0.2 (--dropout, minidl's output dropout). No zoneout
(0 by default). That per-step loop is the eager figure. A second figure runs each layer as a
torch.nn.LSTM (ATen's whole-sequence LSTM on the CPU, cuDNN on a GPU) with the same input and
output dropout: it leaves out the recurrent-state dropout, which those kernels cannot apply.
minidl's figure comes from the characters/s that `minidl train lstm` reports, which times the
training steps only, after the same 3 warm-up steps as PyTorch's (tools/lm_bench.py: two runs,
the difference of their step times). Prints characters/s for each and the ratio minidl / PyTorch
in step time.

Usage: python3 tools/bench_lstm.py [--device cpu|cuda] [--steps 30] [--threads N] [--batch 32] [--context 128]
       [--layers 4] [--width 128] [--embedding 0] [--minidl build/bin/minidl] [--json out.json]
"""
import argparse
import sys

import bench_common  # before torch: it imports openblas_core
import lm_bench
import torch
from torch import nn

# `minidl train lstm`'s regularization defaults, passed to it so both sides keep them.
INPUT_DROPOUT, RECURRENT_DROPOUT, OUTPUT_DROPOUT = 0.1, 0.1, 0.2


def mask(shape, p, like):
    """An inverted-dropout mask: 0 with probability p, else 1 / (1 - p)."""
    return like.new_empty(shape).bernoulli_(1 - p).div_(1 - p)


def locked_dropout(x, p):
    """Variational dropout on x [T, N, F]: one mask per (sample, feature), the same at every step."""
    return x * mask((1, x.shape[1], x.shape[2]), p, x)


def lstm_layer(x, rnn):
    """One layer over x [T, N, F] from a zero state, step by step as minidl's lstm(), with rnn's
    parameters: the input gates of all steps in one matmul, recurrent dropout on the h fed to W_hh."""
    batch, hidden = x.shape[1], rnn.hidden_size
    # unbind, not input_gates[t]: an index's backward is a zero tensor of the whole input, T of
    # them per layer (minidl's split_steps avoids the same cost).
    input_gates = (x @ rnn.weight_ih_l0.T + (rnn.bias_ih_l0 + rnn.bias_hh_l0)).unbind(0)
    recurrent_mask = mask((batch, hidden), RECURRENT_DROPOUT, x)
    weight_hh_t = rnn.weight_hh_l0.T
    h = c = x.new_zeros(batch, hidden)
    outputs = []
    for gates in input_gates:
        i, f, g, o = (gates + (h * recurrent_mask) @ weight_hh_t).chunk(4, 1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        outputs.append(h)
    return torch.stack(outputs)


class LstmLm(nn.Module):
    """models/lstm_lm.cpp's model; whole_sequence runs each layer as a torch.nn.LSTM (no recurrent
    dropout) instead of lstm_layer."""

    def __init__(self, vocab, embedding, width, layers, whole_sequence):
        super().__init__()
        self.whole_sequence = whole_sequence
        self.encoder = nn.Embedding(vocab, embedding)
        nn.init.uniform_(self.encoder.weight, -0.1, 0.1)
        # One single-layer LSTM per layer, so that each layer's input takes its own dropout mask.
        self.rnns = nn.ModuleList(nn.LSTM(embedding if l == 0 else width, width) for l in range(layers))
        self.decoder = nn.Linear(width, vocab)
        nn.init.uniform_(self.decoder.weight, -0.1, 0.1)
        nn.init.zeros_(self.decoder.bias)

    def forward(self, ids):
        x = self.encoder(ids.T)  # time-major [T, batch, embedding], as minidl's
        for rnn in self.rnns:
            x = locked_dropout(x, INPUT_DROPOUT)
            x = rnn(x)[0] if self.whole_sequence else lstm_layer(x, rnn)
        return self.decoder(locked_dropout(x, OUTPUT_DROPOUT).transpose(0, 1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    lm_bench.add_common_arguments(parser)
    parser.add_argument("--embedding", type=int, default=0, help="embedding width (0: the --width)")
    args = parser.parse_args()
    args.embedding = args.embedding or args.width
    bench_common.configure_torch(args.threads)
    ours, vocab = lm_bench.minidl_chars_per_s(
        args, "lstm", ["--embedding-size", str(args.embedding), "--embedding-dropout", "0", "--input-dropout",
                       str(INPUT_DROPOUT), "--recurrent-dropout", str(RECURRENT_DROPOUT), "--dropout",
                       str(OUTPUT_DROPOUT), "--zoneout", "0"])
    results = {"device": args.device, "torch": torch.__version__, "minidl_chars_per_s": ours,
               "config": {"batch": args.batch, "context": args.context, "layers": args.layers, "width": args.width,
                          "embedding": args.embedding, "input_dropout": INPUT_DROPOUT,
                          "recurrent_dropout": RECURRENT_DROPOUT, "output_dropout": OUTPUT_DROPOUT}}
    if args.device == "cuda":
        results["gpu"] = torch.cuda.get_device_name()
    for name, whole_sequence in (("eager", False), ("nn_lstm", True)):
        torch.manual_seed(0)
        model = LstmLm(vocab, args.embedding, args.width, args.layers, whole_sequence).to(args.device)
        results[f"torch_{name}_chars_per_s"] = lm_bench.torch_chars_per_s(model, vocab, args)
    print(f"LSTM training step on {args.device}: batch {args.batch}, context {args.context}, {args.layers} layers, "
          f"width {args.width}, embedding {args.embedding}, vocabulary {vocab}, dropout: input {INPUT_DROPOUT}, "
          f"recurrent {RECURRENT_DROPOUT}, output {OUTPUT_DROPOUT}, f32; torch {torch.__version__}")
    lm_bench.report(results, [("eager", "PyTorch eager"), ("nn_lstm", "PyTorch nn.LSTM")], args.json)
    print("  (nn.LSTM: each layer one torch.nn.LSTM call, without the recurrent-state dropout)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
