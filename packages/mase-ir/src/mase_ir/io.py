"""Save and load a graph: the text form beside its weights in safetensors.

Directory layout: ``graph.mase`` (text form), ``weights.safetensors`` (every
tensor by its state_dict path; the header metadata lists which are trainable) and
``manifest.json`` (the sha256 of both files): ``load`` refuses a text and a weight file that
were not saved together (a swapped or half-replaced pair used to load silently when the shapes
agreed). A folder without a manifest (saved before it existed) loads as before.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from mase_ir.graph import MaseGraph

TEXT_FILE = "graph.mase"
WEIGHTS_FILE = "weights.safetensors"
MANIFEST_FILE = "manifest.json"


def _sha256(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save(graph: MaseGraph, directory) -> None:
    """Write both files; each is written beside its final name and renamed over it, so an
    interrupted save leaves the previous file whole, never a truncated one."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    text_tmp, weights_tmp = d / (TEXT_FILE + ".tmp"), d / (WEIGHTS_FILE + ".tmp")
    text_tmp.write_text(graph.to_text(), encoding="utf-8")
    tensors = {path: t.detach().clone().contiguous() for path, t in graph.weights.items()}
    trainable = [path for path, t in graph.weights.items() if isinstance(t, torch.nn.Parameter)]
    save_file(tensors, str(weights_tmp), metadata={"trainable": json.dumps(trainable)})
    manifest_tmp = d / (MANIFEST_FILE + ".tmp")
    manifest_tmp.write_text(json.dumps({"format": 1, TEXT_FILE: _sha256(text_tmp),
                                        WEIGHTS_FILE: _sha256(weights_tmp)}, indent=1) + "\n")
    # a kill between these renames leaves a pair the manifest does not match: load says so
    os.replace(weights_tmp, d / WEIGHTS_FILE)
    os.replace(text_tmp, d / TEXT_FILE)
    os.replace(manifest_tmp, d / MANIFEST_FILE)


def load(directory) -> MaseGraph:
    """Load a saved graph and verify it (every parameter present, shapes and types consistent).

    Errors name the file: a ParseError carries the text file's path, an unreadable weight
    file is a ValueError with its path; a missing file stays a FileNotFoundError."""
    from safetensors import SafetensorError, safe_open

    from mase_ir.parser import ParseError, parse

    d = Path(directory)
    text_path, weights_path = d / TEXT_FILE, d / WEIGHTS_FILE
    try:
        graph = parse(text_path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ValueError(f"{text_path}: not UTF-8 text (byte {exc.start}: {exc.reason})") from None
    except ParseError as exc:
        raise exc.in_file(str(text_path)) from None
    try:
        with safe_open(str(weights_path), framework="pt") as f:
            meta = f.metadata() or {}
        tensors = load_file(str(weights_path))
    except SafetensorError as exc:
        raise ValueError(f"{weights_path}: not a readable safetensors file ({exc})") from None
    try:
        trainable = set(json.loads(meta.get("trainable", "[]")))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{weights_path}: bad 'trainable' metadata ({exc})") from None
    graph.weights = {path: torch.nn.Parameter(t) if path in trainable else t for path, t in tensors.items()}
    graph.verify()
    # last: a damaged file is named by the specific error above; what passes them all and is
    # still not the saved pair (a swapped weight file of the same shapes) is caught here
    _check_manifest(d)
    return graph


def _check_manifest(d: Path) -> None:
    """The text and weight files are the pair ``save`` wrote (manifest.json), when it is there."""
    path = d / MANIFEST_FILE
    if not path.exists():
        return  # saved before manifests
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        expected = {name: manifest[name] for name in (TEXT_FILE, WEIGHTS_FILE)}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a readable graph manifest ({type(exc).__name__}: {exc}); save the graph "
                         "again (or delete the manifest to load the files unchecked)") from None
    for name, digest in expected.items():
        f = d / name
        if not f.is_file():
            raise FileNotFoundError(f"{f} not found (listed in {path})")
        if _sha256(f) != digest:
            raise ValueError(f"{f} is not the file saved with the rest of {d} (its sha256 differs from {path}): "
                             f"the text and the weights come from different saves; save the graph again, or "
                             f"delete {path.name} to load them unchecked")
