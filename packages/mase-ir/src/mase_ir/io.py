"""Save and load a graph: the text form beside its weights in safetensors.

Directory layout: ``graph.mase`` (text form) and ``weights.safetensors`` (every
tensor by its state_dict path; the header metadata lists which are trainable).
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
    os.replace(weights_tmp, d / WEIGHTS_FILE)
    os.replace(text_tmp, d / TEXT_FILE)


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
    return graph
