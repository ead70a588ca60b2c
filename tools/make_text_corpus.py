"""Derive the English text corpus the builtin causal LM (``llama-debtext``) is trained on.

Sources, all text shipped in Debian packages (nothing is downloaded):

* ``wordnet-base`` (WordNet 3.0): every synset of data.noun / data.verb / data.adj / data.adv
  becomes one document ``<lemma> (<part of speech>): <gloss>``; the gloss keeps its definition
  and its quoted usage examples, the lemma's underscores become spaces.
* ``fortunes`` and ``fortunes-min`` (/usr/share/games/fortunes): every fortune (the text between
  ``%`` lines) of the plain-text cookie files becomes one document, its whitespace collapsed to
  single spaces. ``ascii-art`` is skipped (pictures, not prose), and so is any fortune with
  fewer than three words or less than 70% letters and spaces (tables, code, drawings).

Exact duplicate documents are dropped (first kept). The documents are shuffled by
``random.Random(seed)`` and split by count into train / validation / test (default 90/5/5);
each split is a UTF-8 text file with one document per line. ``corpus.json`` beside them records
each source (package, its installed version, the file, its SHA-256, documents taken), the seed,
the split sizes in documents and characters, each split's SHA-256 and this command.

    apt-get install -y wordnet-base fortunes fortunes-min
    python3 tools/make_text_corpus.py --out build/debtext --seed 0 \\
        --ship packages/mase-passes/src/mase_passes/data/debtext

``--ship DIR`` also writes what the builtin workload needs at run time into DIR: the
validation and test splits gzip-compressed (``validation.txt.gz``, ``test.txt.gz``, written with
mtime 0 so the bytes depend on the text only) and the same ``corpus.json``. The train split is
not shipped (it is only needed to train, and is re-derived by this command; its SHA-256 in
corpus.json tells whether a re-derived one is the same).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import random
import re
import subprocess
import sys
from pathlib import Path

WORDNET_DIR = Path("/usr/share/wordnet")
WORDNET_FILES = {"data.noun": "noun", "data.verb": "verb", "data.adj": "adjective", "data.adv": "adverb"}
FORTUNE_DIR = Path("/usr/share/games/fortunes")
SKIP_FORTUNES = {"ascii-art"}
SPLITS = ("train", "validation", "test")


def package_of(path: Path) -> str:
    """The Debian package that installed ``path`` (dpkg -S), or "unknown"."""
    try:
        out = subprocess.run(["dpkg", "-S", str(path)], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.split(":", 1)[0].strip()


def package_version(name: str) -> str:
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", name], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip()


def wordnet_documents(path: Path, pos: str) -> list[str]:
    """One document per synset line of a WordNet data file (licence lines start with spaces)."""
    docs = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("  "):
                continue
            head, _, gloss = line.partition("|")
            fields = head.split()
            # fields: offset lex_filenum ss_type w_cnt(hex) word lex_id ...
            lemma = fields[4].replace("_", " ")
            lemma = re.sub(r"\((a|p|ip)\)$", "", lemma)  # adjective position markers, e.g. "galore(ip)"
            gloss = " ".join(gloss.split())
            if gloss:
                docs.append(f"{lemma} ({pos}): {gloss}")
    return docs


def fortune_documents(path: Path) -> list[str]:
    """The fortunes of one cookie file, each on one line, prose only."""
    text = path.read_text(encoding="utf-8", errors="replace")
    docs = []
    for chunk in text.split("\n%\n"):
        doc = " ".join(chunk.replace("\n%", "").split())
        if len(doc.split()) < 3:
            continue
        prose = sum(c.isalpha() or c == " " for c in doc) / len(doc)
        if prose >= 0.7:
            docs.append(doc)
    return docs


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def collect(wordnet_dir: Path, fortune_dir: Path) -> tuple[list[str], list[dict]]:
    """(documents in source order without duplicates, provenance record per source file)."""
    docs: list[str] = []
    seen: set[str] = set()
    sources = []
    files = [(wordnet_dir / name, "wordnet", pos) for name, pos in WORDNET_FILES.items()]
    if fortune_dir.is_dir():
        files += [(p, "fortune", None) for p in sorted(fortune_dir.iterdir())
                  if p.is_file() and not p.suffix and p.name not in SKIP_FORTUNES]
    for path, kind, pos in files:
        if not path.is_file():
            raise SystemExit(f"make_text_corpus: {path} not found; apt-get install -y wordnet-base fortunes "
                             f"fortunes-min")
        found = wordnet_documents(path, pos) if kind == "wordnet" else fortune_documents(path)
        kept = 0
        for d in found:
            if d not in seen:
                seen.add(d)
                docs.append(d)
                kept += 1
        pkg = package_of(path)
        sources.append({"package": pkg, "version": package_version(pkg), "file": str(path),
                        "sha256": sha256(path.read_bytes()), "documents": kept})
    return docs, sources


def split(docs: list[str], seed: int, fractions: tuple[float, float]) -> dict[str, list[str]]:
    """Shuffle with ``random.Random(seed)``; validation and test take their fractions, train the rest."""
    order = list(docs)
    random.Random(seed).shuffle(order)
    n_val, n_test = (round(f * len(order)) for f in fractions)
    return {"validation": order[:n_val], "test": order[n_val:n_val + n_test], "train": order[n_val + n_test:]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True, help="folder for train/validation/test .txt and corpus.json")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--validation", type=float, default=0.05, help="fraction of documents")
    ap.add_argument("--test", type=float, default=0.05, help="fraction of documents")
    ap.add_argument("--ship", type=Path, help="also write validation/test .txt.gz and corpus.json here")
    ap.add_argument("--wordnet-dir", type=Path, default=WORDNET_DIR)
    ap.add_argument("--fortune-dir", type=Path, default=FORTUNE_DIR)
    args = ap.parse_args(argv)
    if not (0 < args.validation < 0.5 and 0 < args.test < 0.5):
        ap.error("--validation and --test are fractions in (0, 0.5)")
    docs, sources = collect(args.wordnet_dir, args.fortune_dir)
    parts = split(docs, args.seed, (args.validation, args.test))
    args.out.mkdir(parents=True, exist_ok=True)
    meta = {"name": "debtext", "seed": args.seed, "sources": sources,
            "document": "one per line; WordNet: '<lemma> (<pos>): <gloss>'; fortune: its text, whitespace collapsed",
            "command": "python3 tools/make_text_corpus.py " + " ".join(sys.argv[1:] if argv is None else argv),
            "splits": {}}
    blobs = {}
    for name in SPLITS:
        blobs[name] = ("\n".join(parts[name]) + "\n").encode("utf-8")
        (args.out / f"{name}.txt").write_bytes(blobs[name])
        meta["splits"][name] = {"documents": len(parts[name]), "characters": len(blobs[name].decode("utf-8")),
                                "sha256": sha256(blobs[name])}
    text = json.dumps(meta, indent=1) + "\n"
    (args.out / "corpus.json").write_text(text, encoding="utf-8")
    if args.ship:
        args.ship.mkdir(parents=True, exist_ok=True)
        for name in ("validation", "test"):
            with open(args.ship / f"{name}.txt.gz", "wb") as raw, \
                    gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz:
                gz.write(blobs[name])
        (args.ship / "corpus.json").write_text(text, encoding="utf-8")
    for name in SPLITS:
        s = meta["splits"][name]
        print(f"{name}: {s['documents']} documents, {s['characters']} characters")
    return 0


if __name__ == "__main__":
    sys.exit(main())
