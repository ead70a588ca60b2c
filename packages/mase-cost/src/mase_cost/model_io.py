"""The saved form of a :class:`mase_cost.model.CostModel`: one ``.npz`` file, no pickle.

A pickle executes code while it loads, so a model file from anyone else is a program;
this form holds only numbers and text.  The file is a NumPy ``.npz`` archive read with
``allow_pickle=False``:

* ``header`` -- UTF-8 JSON (as a ``uint8`` array): the format tag and version, every
  predictor's family and scalars (``intercept``, ``base``, ...), the feature names, the
  fitted ranges, the measured errors and the metadata;
* ``m<i>.<name>`` -- the arrays of predictor ``i``: ``coef`` for the linear and power-law
  ones; for a tree ensemble the five node arrays of every tree concatenated
  (``left``, ``right``, ``feature``, ``threshold``, ``value``) and ``offsets``, the
  first node of each tree (child indices stay local to their tree).

Arrays keep their dtype and bits, so a loaded model predicts exactly what the saved one
did.  JSON has no tuples and only string keys; the metadata uses both (``(module, target)``
keys, ``(lo, hi)`` ranges), so they are written as ``{"__tuple__": [...]}`` and
``{"__items__": [[key, value], ...]}`` (an array in the metadata as ``{"__ndarray__": [...],
"dtype": ...}``) and turned back on load.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

from mase_cost.compact import Constant, Linear, PowerLaw, Trees

__all__ = ["FORMAT", "VERSION", "ModelFileError", "dumps", "load"]

FORMAT = "mase-cost-model"
VERSION = 1
_TREE_ARRAYS = ("left", "right", "feature", "threshold", "value")


class ModelFileError(ValueError):
    """A file that is not a cost model this version can read; the message names the file."""


def _to_json(obj):
    """``obj`` with tuples and non-string-keyed dicts made JSON-representable (reversibly)."""
    if isinstance(obj, tuple):
        return {"__tuple__": [_to_json(v) for v in obj]}
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj) and not {"__tuple__", "__items__", "__ndarray__"} & obj.keys():
            return {k: _to_json(v) for k, v in obj.items()}
        return {"__items__": [[_to_json(k), _to_json(v)] for k, v in obj.items()]}
    if isinstance(obj, list):
        return [_to_json(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return {"__ndarray__": obj.tolist(), "dtype": obj.dtype.str}
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    raise TypeError(f"mase_cost: cannot save {type(obj).__name__} in a cost model file: {obj!r}")


def _from_json(obj):
    if isinstance(obj, dict):
        if obj.keys() == {"__tuple__"}:
            return tuple(_from_json(v) for v in obj["__tuple__"])
        if obj.keys() == {"__items__"}:
            return {_from_json(k): _from_json(v) for k, v in obj["__items__"]}
        if obj.keys() == {"__ndarray__", "dtype"}:
            return np.array(obj["__ndarray__"], dtype=np.dtype(obj["dtype"]))
        return {k: _from_json(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_from_json(v) for v in obj]
    return obj


def _encode_predictor(i: int, pred, arrays: dict) -> dict:
    if isinstance(pred, Constant):
        return {"kind": "constant", "value": pred.value}
    if isinstance(pred, Linear):  # PowerLaw is a Linear with another predict
        arrays[f"m{i}.coef"] = pred.coef
        return {"kind": "powerlaw" if isinstance(pred, PowerLaw) else "linear", "intercept": pred.intercept}
    if isinstance(pred, Trees):
        for j, name in enumerate(_TREE_ARRAYS):
            arrays[f"m{i}.{name}"] = np.concatenate([t[j] for t in pred.trees])
        arrays[f"m{i}.offsets"] = np.cumsum([0] + [len(t[0]) for t in pred.trees], dtype=np.int64)
        return {"kind": "trees", "base": pred.base, "scale": pred.scale, "mean": bool(pred.mean)}
    raise TypeError(f"mase_cost: cannot save a predictor of type {type(pred).__name__}")


def _decode_predictor(i: int, spec: dict, arrays):
    kind = spec["kind"]
    if kind == "constant":
        return Constant(spec["value"])
    if kind in ("linear", "powerlaw"):
        return (PowerLaw if kind == "powerlaw" else Linear)(arrays[f"m{i}.coef"], spec["intercept"])
    if kind == "trees":
        cols = [arrays[f"m{i}.{name}"] for name in _TREE_ARRAYS]
        offsets = arrays[f"m{i}.offsets"]
        trees = [tuple(c[lo:hi] for c in cols) for lo, hi in zip(offsets[:-1], offsets[1:])]
        return Trees(trees, spec["base"], spec["scale"], spec["mean"])
    raise ValueError(f"unknown predictor kind {kind!r}")


def dumps(state: dict) -> bytes:
    """The file contents for ``state`` (the keyword arguments of ``CostModel``)."""
    arrays: dict[str, np.ndarray] = {}
    predictors = [{"key": list(key), **_encode_predictor(i, pred, arrays)}
                  for i, (key, pred) in enumerate(state["models"].items())]
    header = {
        "format": FORMAT, "version": VERSION, "predictors": predictors,
        **{k: _to_json(state[k]) for k in ("families", "feature_names", "ranges", "errors", "meta")},
    }
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


def load(path) -> dict:
    """The ``CostModel`` keyword arguments saved in ``path`` (never runs code from the file)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as arrays:
            header = json.loads(arrays["header"].tobytes().decode())
            if header.get("format") != FORMAT:
                raise ModelFileError(f"{path}: not a mase-cost model file (format {header.get('format')!r})")
            if header.get("version") != VERSION:
                raise ModelFileError(f"{path}: cost model file version {header.get('version')!r}; "
                                     f"this mase-cost reads version {VERSION}")
            models = {tuple(p["key"]): _decode_predictor(i, p, arrays) for i, p in enumerate(header["predictors"])}
    except (ModelFileError, FileNotFoundError):
        raise
    except (OSError, KeyError, ValueError) as e:  # not a zip, no header, bad JSON, a pickled array
        raise ModelFileError(f"{path}: not a readable mase-cost model file ({type(e).__name__}: {e}); "
                             "refit with `mase-cost fit --out` or `mase-cost refit`") from e
    return {"models": models, **{k: _from_json(header[k])
                                 for k in ("families", "feature_names", "ranges", "errors", "meta")}}
