"""Derive the WordNet gloss classification dataset used by mase-passes' default workload.

Source: Debian's ``wordnet-base`` (/usr/share/wordnet/data.noun, WordNet 3.0). Each noun
synset line carries its lexicographer file number (field 2) and a gloss after ``|``. We keep
ten lexicographer classes, take the definition part of the gloss (the text before the first
quoted example), drop glosses shorter than three words and exact duplicates, draw 300 per class
with a fixed seed, and split each class 200 train / 100 test.

    python3 tools/make_wordnet_dataset.py \
        --out packages/mase-passes/src/mase_passes/data/wordnet_glosses.csv \
        --unlabeled-out packages/mase-passes/src/mase_passes/data/wordnet_unlabeled_glosses.csv

The CSV (columns: split, label, synset_offset, gloss) starts with ``#`` provenance lines:
source file, its SHA-256, the wordnet-base package version, seed, counts and this command.

``--unlabeled-out`` also writes ``--unlabeled`` glosses of noun synsets from the OTHER
lexicographer files (cognition, attribute, group, ...; columns synset_offset, gloss), drawn with
the same seed after the labelled draw, so the labelled CSV does not change. They share no synset
with the task's classes, hence none with its test split: unlabeled text for distillation.

``--holdout-out`` also writes a larger labelled evaluation split: ``--holdout`` more glosses
per class (columns label, synset_offset, gloss), none of them among the 300 drawn per class,
drawn by a generator of its own (seeded with "holdout-<seed>"), so neither CSV above changes.
The 100 test glosses per class resolve an accuracy difference to about 1.5 points at 95%; the
holdout's 1000 per class to about 0.5.
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


def read_glosses(path: Path, other: bool = False) -> dict[str, list[tuple[str, str]]]:
    """class name -> [(synset offset, definition)] in file order; with ``other``, the synsets of
    every lexicographer file NOT in CLASSES, under the single key "other"."""
    by_class: dict[str, list[tuple[str, str]]] = {"other": []} if other else {name: [] for name in CLASSES.values()}
    seen: set[str] = set()
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("  "):  # licence header lines start with two spaces
                continue
            head, _, gloss = line.partition("|")
            fields = head.split()
            lex = int(fields[1])
            if (lex in CLASSES) == other:
                continue
            # the definition is what precedes the first quoted usage example
            definition = gloss.split('; "')[0].split('"')[0].strip().rstrip(";").strip()
            if len(definition.split()) < 3 or definition in seen:
                continue
            seen.add(definition)
            by_class["other" if other else CLASSES[lex]].append((fields[0], definition))
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
    ap.add_argument("--unlabeled-out", type=Path, help="also write unlabeled glosses of the other noun classes here")
    ap.add_argument("--unlabeled", type=int, default=6000, help="how many unlabeled glosses")
    ap.add_argument("--holdout-out", type=Path, help="also write a larger labelled evaluation split here")
    ap.add_argument("--holdout", type=int, default=1000, help="holdout glosses per class")
    args = ap.parse_args(argv)
    if not args.source.is_file():
        sys.exit(f"make_wordnet_dataset: source {args.source} not found (install Debian's wordnet-base)")
    by_class = read_glosses(args.source)
    rng = random.Random(args.seed)
    rows = []
    drawn: set[str] = set()
    for name in sorted(by_class):
        items = by_class[name]
        if len(items) < PER_CLASS:
            sys.exit(f"make_wordnet_dataset: class {name} has only {len(items)} usable glosses")
        picked = rng.sample(items, PER_CLASS)
        drawn.update(offset for offset, _ in picked)
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
    if args.unlabeled_out:
        labelled = {gloss for items in by_class.values() for _, gloss in items}
        # the same definition text can sit in two lexicographer files: keep none of the task's
        pool = [item for item in read_glosses(args.source, other=True)["other"] if item[1] not in labelled]
        if len(pool) < args.unlabeled:
            sys.exit(f"make_wordnet_dataset: only {len(pool)} unlabeled glosses, {args.unlabeled} asked")
        picked = rng.sample(pool, args.unlabeled)  # after the labelled draw: that CSV is unchanged
        names = ", ".join(str(k) for k in sorted(set(range(3, 29)) - set(CLASSES)))
        with open(args.unlabeled_out, "w", encoding="utf-8", newline="") as fh:
            fh.write(f"# source: {args.source} sha256={digest}\n")
            fh.write(f"# package: wordnet-base {package_version('wordnet-base')}\n")
            fh.write(f"# unlabeled: {args.unlabeled} of {len(pool)} noun glosses from lexicographer files {names} "
                     f"(none of the task's classes); seed {args.seed}, drawn after the labelled rows\n")
            fh.write(f"# command: python3 tools/make_wordnet_dataset.py --seed {args.seed} --out {args.out} "
                     f"--unlabeled-out {args.unlabeled_out} --unlabeled {args.unlabeled}\n")
            w = csv.writer(fh)
            w.writerow(["synset_offset", "gloss"])
            w.writerows(picked)
        print(f"wrote {len(picked)} unlabeled glosses to {args.unlabeled_out}")
    if args.holdout_out:
        write_holdout(args, by_class, drawn, digest)
    return 0


def write_holdout(args, by_class: dict[str, list[tuple[str, str]]], drawn: set[str], digest: str) -> None:
    """``args.holdout`` glosses per class outside ``drawn`` (the train/test synsets), own generator."""
    rng = random.Random(f"holdout-{args.seed}")
    rows = []
    for name in sorted(by_class):
        pool = [item for item in by_class[name] if item[0] not in drawn]
        if len(pool) < args.holdout:
            sys.exit(f"make_wordnet_dataset: class {name} has only {len(pool)} glosses left for the holdout")
        rows += [(name, offset, gloss) for offset, gloss in rng.sample(pool, args.holdout)]
    with open(args.holdout_out, "w", encoding="utf-8", newline="") as fh:
        fh.write(f"# source: {args.source} sha256={digest}\n")
        fh.write(f"# package: wordnet-base {package_version('wordnet-base')}\n")
        fh.write(f"# holdout: {args.holdout} per class of the same classes, none of the train/test synsets; "
                 f"generator seeded with 'holdout-{args.seed}'\n")
        fh.write(f"# command: python3 tools/make_wordnet_dataset.py --seed {args.seed} --out {args.out} "
                 f"--holdout-out {args.holdout_out} --holdout {args.holdout}\n")
        w = csv.writer(fh)
        w.writerow(["label", "synset_offset", "gloss"])
        w.writerows(rows)
    print(f"wrote {len(rows)} holdout glosses to {args.holdout_out}")


if __name__ == "__main__":
    raise SystemExit(main())
