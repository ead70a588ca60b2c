"""Derive the WordNet gloss classification dataset used by mase-passes' default workload.

Source: Debian's ``wordnet-base`` (/usr/share/wordnet/data.noun, WordNet 3.0). Each noun
synset line carries its lexicographer file number (field 2) and a gloss after ``|``. We keep
ten lexicographer classes, take the definition part of the gloss (the text before the first
quoted example), drop glosses shorter than three words and exact duplicates, draw 300 per class
with a fixed seed, and split each class 200 train / 100 test.

    python3 tools/make_wordnet_dataset.py \
        --out packages/mase-passes/src/mase_passes/data/wordnet_glosses.csv

The CSV (columns: split, label, synset_offset, gloss) starts with ``#`` provenance lines:
source file, its SHA-256, the wordnet-base package version, seed, counts and this command.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import random
import subprocess
import sys
from pathlib import Path

# lexicographer file number -> class name (WordNet's lexnames file, noun.<name>)
CLASSES = {4: "act", 5: "animal", 6: "artifact", 8: "body", 10: "communication",
           13: "food", 15: "location", 18: "person", 20: "plant", 26: "state"}
PER_CLASS = 300
TRAIN_PER_CLASS = 200


def read_glosses(path: Path) -> dict[str, list[tuple[str, str]]]:
    """class name -> [(synset offset, definition)] in file order."""
    by_class: dict[str, list[tuple[str, str]]] = {name: [] for name in CLASSES.values()}
    seen: set[str] = set()
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("  "):  # licence header lines start with two spaces
                continue
            head, _, gloss = line.partition("|")
            fields = head.split()
            lex = int(fields[1])
            if lex not in CLASSES:
                continue
            # the definition is what precedes the first quoted usage example
            definition = gloss.split('; "')[0].split('"')[0].strip().rstrip(";").strip()
            if len(definition.split()) < 3 or definition in seen:
                continue
            seen.add(definition)
            by_class[CLASSES[lex]].append((fields[0], definition))
    return by_class


def package_version(name: str) -> str:
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", name], capture_output=True,
                             text=True, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", type=Path, default=Path("/usr/share/wordnet/data.noun"))
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if not args.source.is_file():
        sys.exit(f"make_wordnet_dataset: source {args.source} not found (install Debian's wordnet-base)")
    by_class = read_glosses(args.source)
    rng = random.Random(args.seed)
    rows = []
    for name in sorted(by_class):
        items = by_class[name]
        if len(items) < PER_CLASS:
            sys.exit(f"make_wordnet_dataset: class {name} has only {len(items)} usable glosses")
        picked = rng.sample(items, PER_CLASS)
        for i, (offset, gloss) in enumerate(picked):
            rows.append(("train" if i < TRAIN_PER_CLASS else "test", name, offset, gloss))
    digest = hashlib.sha256(args.source.read_bytes()).hexdigest()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", encoding="utf-8", newline="") as fh:
        fh.write(f"# source: {args.source} sha256={digest}\n")
        fh.write(f"# package: wordnet-base {package_version('wordnet-base')}\n")
        fh.write(f"# classes: {', '.join(sorted(by_class))}; {PER_CLASS} per class, "
                 f"{TRAIN_PER_CLASS} train / {PER_CLASS - TRAIN_PER_CLASS} test; seed {args.seed}\n")
        fh.write(f"# command: python3 tools/make_wordnet_dataset.py --seed {args.seed} --out {args.out}\n")
        w = csv.writer(fh)
        w.writerow(["split", "label", "synset_offset", "gloss"])
        w.writerows(rows)
    print(f"wrote {len(rows)} rows to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
