#!/usr/bin/env python3
"""Node classification on contextual stochastic block models over a range of edge homophily:
each graph model against node-mlp (the same features, no edges), over several seeds (each seed
draws its own graph and its own initialization and dropout). Prints and writes one table of
test accuracy (mean and standard deviation over the seeds) and a JSON file of every run.

Usage: tools/gnn_homophily_sweep.py [--models node-mlp,gcn,sage] [--homophily 0.1,0.2,...]
       [--seeds 3] [--graph-args classes=2,nodes=2000,...] [--json out.json] [--markdown out.md]
Needs a built build/bin/minidl.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(minidl, model, graph, seed, device):
    cmd = [minidl, "train", model, "--graph", graph, "--seed", str(seed), "--device", device]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    match = re.search(r"^test accuracy ([0-9.]+)", out, re.M)
    if not match:
        sys.exit(f"no test accuracy in the output of {' '.join(cmd)}:\n{out}")
    return float(match.group(1)), " ".join(cmd)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="node-mlp,gcn,sage")
    ap.add_argument("--homophily", default="0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--graph-args", default="", help="more csbm keys, e.g. classes=3,signal=1.5")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "bin", "minidl"))
    ap.add_argument("--json")
    ap.add_argument("--markdown")
    args = ap.parse_args()
    models = args.models.split(",")
    levels = [float(h) for h in args.homophily.split(",")]
    runs = []
    start = time.time()
    for h in levels:
        for model in models:
            for seed in range(args.seeds):
                graph = f"csbm:homophily={h},seed={seed}" + (f",{args.graph_args}" if args.graph_args else "")
                accuracy, command = run(args.bin, model, graph, seed, args.device)
                runs.append({"homophily": h, "model": model, "seed": seed, "test_accuracy": accuracy,
                             "command": command})
                print(f"homophily {h:.1f}  {model:<9} seed {seed}: test accuracy {accuracy:.4f}", flush=True)
    lines = ["| homophily | " + " | ".join(models) + " |", "|---|" + "---|" * len(models)]
    for h in levels:
        cells = []
        for model in models:
            acc = [r["test_accuracy"] for r in runs if r["homophily"] == h and r["model"] == model]
            spread = statistics.stdev(acc) if len(acc) > 1 else 0.0
            cells.append(f"{statistics.mean(acc):.3f} ± {spread:.3f}")
        lines.append(f"| {h:.1f} | " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    print(f"\ntest accuracy, mean ± standard deviation over {args.seeds} seeds ({time.time() - start:.0f} s)\n")
    print(table)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"models": models, "homophily": levels, "seeds": args.seeds, "graph_args": args.graph_args,
                       "runs": runs}, f, indent=1)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table + "\n")


if __name__ == "__main__":
    main()
