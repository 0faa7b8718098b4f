#!/usr/bin/env python3
"""Refreshes docs/lab/ from `minidl lab` results: the result block of each docs/lab/NAME.md,
its plot docs/lab/NAME.png, and the verdict table of docs/lab/index.md.

    build/bin/minidl lab all --device cpu          # writes runs/lab/NAME/result.json
    /usr/bin/python3 tools/lab_docs.py [runs/lab]

Only the text between the markers `<!-- lab:result -->` and `<!-- /lab:result -->` of NAME.md
and between `<!-- lab:index -->` and `<!-- /lab:index -->` of index.md is rewritten; the claim and
method above them are written by hand. Experiments without a NAME.md are skipped with a note.
"""
import json
import pathlib
import re
import sys

import lab_plot

DOCS = pathlib.Path(__file__).resolve().parent.parent / "docs" / "lab"


def cell(value):
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "\\|")


def result_block(result):
    table = result["table"]
    lines = ["| " + " | ".join(cell(c) for c in table["columns"]) + " |", "|" + "---|" * len(table["columns"])]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table["rows"]]
    lines += ["", f"![{result['name']}]({result['name']}.png)", ""]
    lines += [line for w in result["warnings"] for line in (f"Warning: {w}", "")]
    lines += [f"**Verdict: {result['verdict']}** — {result['reason']}.", "",
              f"Scale `{result['scale']}`, seed {result['seed']}, device `{result['device']}`, "
              f"{result['seconds']:.1f} s."]
    return "\n".join(lines)


def replace_block(text, tag, block):
    pattern = re.compile(rf"(<!-- {tag} -->\n).*?(<!-- /{tag} -->)", re.S)
    if not pattern.search(text):
        raise SystemExit(f"lab_docs: no <!-- {tag} --> block")
    return pattern.sub(lambda m: m.group(1) + block + "\n" + m.group(2), text)


def main():
    runs = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "runs/lab")
    rows = []
    for path in sorted(runs.glob("*/result.json")):
        result = json.loads(path.read_text())
        name = result["name"]
        page = DOCS / f"{name}.md"
        if not page.exists():
            print(f"lab_docs: no {page}; skipped {name}")
            continue
        lab_plot.draw(result, DOCS / f"{name}.png")
        page.write_text(replace_block(page.read_text(), "lab:result", result_block(result)))
        rows.append(f"| [{name}]({name}.md) | {result['verdict']} | {cell(result['reason'])} | "
                    f"{result['seconds']:.1f} |")
    index = DOCS / "index.md"
    table = "| experiment | verdict | numbers | seconds |\n|---|---|---|---|\n" + "\n".join(rows)
    index.write_text(replace_block(index.read_text(), "lab:index", table))
    print(f"lab_docs: {len(rows)} experiments in {index}")


if __name__ == "__main__":
    main()
