"""Issue 13: the shipped models on our own digits and garments, through the predict CLI.

    python benchmarks/own_images.py [--model mnist_cnn ...] [--set own_digits ...] [--show-files]

The images are assets/own_digits and assets/own_garments (scripts/make_own_images.py): digits
drawn, printed and photographed in the ways users send them, not from MNIST. Each model gets all
of its set's files in one call of `python -m classifier predict --model M --json FILES...`, as a
user would run it, and the answers are scored per kind: accuracy, how many it said it was not
sure of, and its commonest mistakes. The goal (issue 13) is 0.95 on the digits.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import shlex
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "assets" / "models"
SET_OF_DATASET = {"mnist": "own_digits", "fashion_mnist": "own_garments"}
GOAL = 0.95


def read_labels(set_name: str) -> list[dict]:
    """labels.csv rows of one set, each with `path` relative to the repository root."""
    folder = ROOT / "assets" / set_name
    with (folder / "labels.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        r["path"] = f"assets/{set_name}/{r['file']}"
    return rows


def predict_cli(model: str, files: list[str]) -> tuple[list[str], dict[str, dict]]:
    """Run the predict CLI once on every file; the command and each file's JSON answer."""
    cmd = [sys.executable, "-m", "classifier", "predict", "--model", model, "--json", *files]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CLASSIFIER_OFFLINE": "1"}
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    if out.returncode not in (0, 2):  # 2: some files could not be read; their lines say why
        raise SystemExit(f"the predict CLI failed ({out.returncode}): {out.stderr.strip()}")
    answers = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    return cmd, {a["file"]: a for a in answers}


def score(rows: list[dict], answers: dict[str, dict]) -> dict[str, dict]:
    """Per kind (and "all"): n, right, unsure, errors and the mistakes made."""
    table: dict[str, dict] = {}
    for r in rows:
        a = answers.get(r["path"], {"error": "no answer"})
        for key in (r["kind"], "all"):
            t = table.setdefault(key, {"n": 0, "right": 0, "unsure": 0, "errors": 0,
                                       "mistakes": Counter()})
            t["n"] += 1
            if "error" in a:
                t["errors"] += 1
                continue
            t["unsure"] += a["unsure"]
            if a["label"] == r["label"]:
                t["right"] += 1
            else:
                t["mistakes"][f"{r['label']}->{a['label']}"] += 1
    return table


def print_table(table: dict[str, dict]) -> None:
    print(f"  {'kind':<16} {'n':>4} {'accuracy':>8} {'unsure':>6} {'errors':>6}  mistakes")
    for kind, t in sorted(table.items(), key=lambda kv: kv[0] == "all"):  # "all" last
        mistakes = ", ".join(f"{m} x{c}" for m, c in t["mistakes"].most_common(3))
        print(f"  {kind:<16} {t['n']:>4} {t['right'] / t['n']:>8.3f} {t['unsure']:>6} "
              f"{t['errors']:>6}  {mistakes}")


def pairs(models: list[str] | None, sets: list[str] | None) -> list[tuple[str, str]]:
    """(model folder, set) to run: each model with its dataset's set, filtered by --set."""
    folders = [Path(m) if Path(m).is_dir() else MODELS / m for m in models] if models else \
        sorted(p for p in MODELS.iterdir() if (p / "metadata.json").is_file())
    out = []
    for folder in folders:
        if not (folder / "metadata.json").is_file():
            raise SystemExit(f"no saved model at {folder}: give a folder name in {MODELS} "
                             "or a path")
        dataset = json.loads((folder / "metadata.json").read_text())["dataset"]
        set_name = SET_OF_DATASET.get(dataset)
        if set_name and (not sets or set_name in sets):
            out.append((folder, set_name))
    if not out:
        raise SystemExit(f"no model fits: models {models or 'all'}, sets {sets or 'all'}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", nargs="+",
                        help="folders in assets/models (default: all) or paths")
    parser.add_argument("--set", nargs="+", choices=sorted(SET_OF_DATASET.values()),
                        help="default: each model's own (digits for MNIST models, garments "
                             "for Fashion-MNIST ones)")
    parser.add_argument("--show-files", action="store_true", help="print the command whole")
    args = parser.parse_args()
    for folder, set_name in pairs(args.model, args.set):
        rows = read_labels(set_name)
        model = os.path.relpath(folder, ROOT)
        start = time.perf_counter()
        cmd, answers = predict_cli(model, [r["path"] for r in rows])
        seconds = time.perf_counter() - start
        shown = shlex.join(["python", *cmd[1:]]) if args.show_files else (
            shlex.join(["python", *cmd[1:7]])
            + f" FILES  # the {len(rows)} files of assets/{set_name}/labels.csv, in its order")
        print(f"\n{folder.name} on {set_name} ({seconds:.1f} s):\n$ {shown}")
        table = score(rows, answers)
        print_table(table)
        if set_name == "own_digits":
            acc = table["all"]["right"] / table["all"]["n"]
            print(f"  goal >= {GOAL}: {'met' if acc >= GOAL else 'not met'} ({acc:.3f})")


if __name__ == "__main__":
    main()
