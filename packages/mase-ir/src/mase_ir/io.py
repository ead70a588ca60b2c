"""Save and load a graph: the text form beside its weights in safetensors.

Directory layout: ``graph.mase`` (text form) and ``weights.safetensors`` (every
tensor by its state_dict path; the header metadata lists which are trainable).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from mase_ir.graph import MaseGraph

TEXT_FILE = "graph.mase"
WEIGHTS_FILE = "weights.safetensors"


def save(graph: MaseGraph, directory) -> None:
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    (d / TEXT_FILE).write_text(graph.to_text())
    tensors = {path: t.detach().clone().contiguous() for path, t in graph.weights.items()}
    trainable = [path for path, t in graph.weights.items() if isinstance(t, torch.nn.Parameter)]
    save_file(tensors, str(d / WEIGHTS_FILE), metadata={"trainable": json.dumps(trainable)})


def load(directory) -> MaseGraph:
    """Load a saved graph and verify it (every parameter present, shapes and types consistent)."""
    from safetensors import safe_open

    from mase_ir.parser import parse

    d = Path(directory)
    graph = parse((d / TEXT_FILE).read_text())
    with safe_open(str(d / WEIGHTS_FILE), framework="pt") as f:
        meta = f.metadata() or {}
    trainable = set(json.loads(meta.get("trainable", "[]")))
    tensors = load_file(str(d / WEIGHTS_FILE))
    graph.weights = {path: torch.nn.Parameter(t) if path in trainable else t for path, t in tensors.items()}
    graph.verify()
    return graph
