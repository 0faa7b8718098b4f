#!/usr/bin/env python3
"""Draws a `minidl lab` result: every plot of result.json as one panel of a PNG.

    /usr/bin/python3 tools/lab_plot.py runs/lab/expectation/result.json [--out plot.png]

Each plot in the JSON gives its title, axis labels, log scales and series (label, x, y, and
markers_only for measured points; formulas are lines). The PNG goes next to the JSON as plot.png
unless --out says otherwise. Needs Debian's python3-matplotlib (tools/setup.sh installs it).
"""
import argparse
import json
import pathlib

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402


def draw(result, out):
    plots = result["plots"]
    if not plots:
        raise SystemExit(f"lab_plot: {result['name']} has no plots")
    fig, axes = plt.subplots(1, len(plots), figsize=(5.5 * len(plots), 4.2), squeeze=False)
    for ax, plot in zip(axes[0], plots):
        for s in plot["series"]:
            style = dict(marker="o", linestyle="none") if s["markers_only"] else dict(linestyle="-")
            ax.plot(s["x"], s["y"], label=s["label"], **style)
        ax.set_title(plot["title"], fontsize=10)
        ax.set_xlabel(plot["x_label"])
        ax.set_ylabel(plot["y_label"])
        if plot["log_x"]:
            ax.set_xscale("log")
        if plot["log_y"]:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"{result['name']}: {result['verdict']}", fontsize=11)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("result", type=pathlib.Path, help="result.json written by minidl lab")
    parser.add_argument("--out", type=pathlib.Path, help="PNG to write (default: plot.png next to the JSON)")
    args = parser.parse_args()
    result = json.loads(args.result.read_text())
    out = args.out or args.result.with_name("plot.png")
    draw(result, out)
    print(out)


if __name__ == "__main__":
    main()
