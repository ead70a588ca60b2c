"""Exact and fast emulation of a mapped design, and the gap between them.

* **exact** — the bit-exact reference of the hardware: the stages' golden models
  (``mase_hwlib.ops`` with ``backend="golden"``) chained over whole tensors. Every MXInt
  operator computes its exact result and rounds once (half to even) into its output format,
  so the only roundings are the ones the hardware makes.
* **fast** — the graph's own forward (``graph(**inputs)``): float32 PyTorch ops with fake
  quantization where each value is consumed. It rounds the same tensors, but computes dot
  products in float32, so an output can differ from the exact one by a rounding step.

Both start from the same hardware input: the host-side prefix (streaming-order nodes on the
graph inputs) run by the graph's own semantics, then quantized into the input stream's format
(:func:`hardware_inputs`). A boolean mask port (``HwDesign.masks``) receives the host's booleans
as 0/1 integers, ``[rows, seq]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import mx_formats as mxf
import numpy as np
import torch
from mase_hwlib import catalog, ops, streams
from mase_ir.graph import bind_roles

from mase_passes.hardware import bmf_map, fixed_map
from mase_passes.hardware.mapping import HwDesign

__all__ = ["hardware_inputs", "exact", "fast", "Gap", "compare"]

# ops whose chain ends in mase_fixed_to_mxint from a non-linear operator's fixed-point lanes
NONLINEAR_OPS = ("gelu", "layer_norm", "rms_norm", "silu", "rope", "pool")


def hardware_inputs(design: HwDesign, inputs: dict) -> dict:
    """What the hardware input ports receive for graph ``inputs`` (torch tensors): an MXArray per
    MXInt port, the ``[rows, features]`` integers of ``mx_formats.quantize`` per Fixed port."""
    g = design.graph
    env = {i.name: inputs[i.name] for i in g.inputs}
    for name in design.host_nodes:
        n = g.node(name)
        env[name] = g._run_node(n, bind_roles(n), lambda a: env[a.name], lambda p: g.weights[p.path], quantize=True)
    out = {}
    for v in design.inputs:
        t = env[v.name].detach().double().cpu().numpy().reshape(v.shape)
        if v.name in design.masks:  # a boolean mask port: one bit per element, 1 = attend
            if not np.isin(t, (0.0, 1.0)).all():
                raise ValueError(f"mask port %{v.name}: the host computed values other than 0 and 1 "
                                 f"({sorted(set(np.unique(t).tolist()) - {0.0, 1.0})[:4]}); a mask must be 0/1")
            out[v.name] = (t != 0).astype(np.int64)
        elif v.fixed is not None:
            out[v.name] = mxf.quantize(t, v.fixed_format).mantissas().astype(np.int64)
        else:
            out[v.name] = mxf.quantize(t, v.fmt, axes=v.axes)
    return out


def exact(design: HwDesign, inputs: dict) -> dict[str, mxf.MXArray]:
    """Every stream value of the design as the hardware computes it (golden models)."""
    env = hardware_inputs(design, inputs)
    done_groups = set()
    for s in design.stages:
        if s.group is not None:  # attention: mase_hwlib.attention's golden chain, run once per pattern
            # (pattern, hwlib stages, the streams feeding q / k / v / mask: a RoPE's or the causal
            # source's output where the pattern has them)
            pat, hw_stages, names = s.group if isinstance(s.group, tuple) else (s.group, None, None)
            if pat.out in done_groups or hw_stages is None:
                continue
            from mase_passes.hardware.attention import run as run_attention

            last = f"{pat.out}__{hw_stages[-1].name}"
            target = last if last in design.values else pat.out
            v = design.values[target]
            env[target] = run_attention(hw_stages, env[names["q"]], env[names["k"]], env[names["v"]], v.fmt, v.shape,
                                        mask=env[names["mask"]] if "mask" in names else None)
            done_groups.add(pat.out)
            continue
        fmt = design.values[s.output].fmt  # None for a fixed-point stream (then env holds integer codes)
        # fixed-point stages and their casts (gelu / layer_norm's fixed_to_mxint is handled below)
        if s.module in fixed_map.FIXED_MODULES or (s.module == "mase_fixed_to_mxint"
                                                   and s.op not in NONLINEAR_OPS):
            env[s.output] = fixed_map.exact_stage(design, s, env)
            continue
        if s.module in bmf_map.BLOCK_FLOAT_MODULES:
            env[s.output] = bmf_map.exact_stage(design, s, env)
            continue
        if s.module == "mase_mxint_linear":
            y = ops.linear(env[s.inputs["x"]], s.constants["weight"], s.constants.get("bias"), fmt)
        elif s.module == "mase_mxint_relu":
            y = ops.relu(env[s.inputs["x"]], fmt)
        elif s.module == "mase_mxint_cast":
            y = ops.cast(env[s.inputs["x"]], fmt)
        elif s.module == "mase_mxint_reblock":
            spec = catalog.get(s.module)
            y = spec.golden(spec.resolve(s.params), {"x": streams.mx_to_beats(env[s.inputs["x"]])})["y"]
            v = design.values[s.output]
            y = streams.beats_to_mx(y, v.fmt, v.shape, v.axes)
        elif s.module == "mase_mxint_rom_source":  # the constant row, once per row of the tensor
            row, rows = s.constants["row"], design.values[s.output].shape[0]
            v = design.values[s.output]
            y = mxf.quantize(np.tile(mxf.dequantize(row), (rows, 1)), v.fmt, axes=v.axes)
        elif s.module == "mase_mxint_rope":  # the tables are the stage's constants (ROMs not written yet)
            from mase_hwlib.golden.nonlinear import mxint_to_fixed
            from mase_hwlib.golden.rope import rope_fixed

            spec, p = catalog.get(s.module), catalog.get(s.module).resolve(s.params)
            b = streams.mx_to_beats(env[s.inputs["x"]])
            xf = mxint_to_fixed(b["mant"], b["exp"].reshape(-1, 1), man_bits=p["MAN_BITS"], x_width=p["X_WIDTH"],
                                x_frac=p["X_FRAC"])
            v = design.values[s.output]
            y = rope_fixed(xf.reshape(v.shape), s.constants["cos"], s.constants["sin"],
                           heads=p["ROW_BLOCKS"] // p["HEAD_BLOCKS"], x_frac=p["X_FRAC"], c_frac=p["C_FRAC"],
                           out_width=p["OUT_WIDTH"], out_frac=p["OUT_FRAC"])
        elif s.module == "mase_mxint_masked_mean":  # one mask beat of ROWS bits per input
            spec = catalog.get(s.module)
            mask = np.asarray(env[s.inputs["mask"]], dtype=np.int64).reshape(1, -1)
            y = spec.golden(spec.resolve(s.params), {"x": streams.mx_to_beats(env[s.inputs["x"]]),
                                                     "mask": {"data": mask}})["y"]["data"]
            y = np.asarray(y, dtype=np.int64).reshape(design.values[s.output].shape)
        elif s.module == "mase_causal_mask":  # one pass of mask rows per input
            from mase_hwlib.golden.rope import causal_rows

            y = causal_rows(s.params["SEQ"], s.params["KEYS"], s.params.get("OFFSET", 0))
        elif s.module in ("mase_mxint_gelu", "mase_mxint_layer_norm", "mase_mxint_silu", "mase_mxint_rms_norm"):
            spec = catalog.get(s.module)
            y = spec.golden(spec.resolve(s.params), {"x": streams.mx_to_beats(env[s.inputs["x"]])})["y"]["data"]
            y = np.asarray(y, dtype=np.int64).reshape(design.values[s.output].shape)
        elif s.module == "mase_fixed_to_mxint":
            lanes, width, frac = design.values[s.inputs["x"]].fixed
            y = ops.fixed_to_mxint(env[s.inputs["x"]], fmt, width=width, frac=frac, signed=True)
        elif s.module in ("mase_mxint_add", "mase_mxint_mul"):
            fn = ops.add if s.module == "mase_mxint_add" else ops.mul
            y = fn(env[s.inputs["a"]], env[s.inputs["b"]], fmt)
        else:  # the mapping only produces the modules above
            raise NotImplementedError(f"exact emulation of {s.module} (stage {s.name})")
        env[s.output] = y
    return env


def fast(design: HwDesign, inputs: dict) -> dict[str, np.ndarray]:
    """The graph outputs by the graph's own forward (fake quantization), as float64 arrays."""
    with torch.no_grad():
        out = design.graph(**inputs)
    outs = out if isinstance(out, tuple) else (out,)
    return {o.name: t.detach().double().cpu().numpy().reshape(o.shape) for o, t in zip(design.outputs, outs)}


@dataclass(frozen=True)
class Gap:
    """Exact vs fast emulation of one output: how many elements differ and by how much
    (``max_ulp``: largest difference in units of the output element's LSB, 2^(s - m + 1))."""

    output: str
    elements: int
    differing: int
    max_abs: float
    max_ulp: float

    def __str__(self) -> str:
        return (f"%{self.output}: {self.differing}/{self.elements} elements differ between exact and fast "
                f"emulation (max |diff| {self.max_abs:.3g}, {self.max_ulp:g} LSB)")


def compare(design: HwDesign, inputs: dict) -> list[Gap]:
    """Run both emulations and measure their difference per graph output."""
    ex = exact(design, inputs)
    fa = fast(design, inputs)
    gaps = []
    for v in design.outputs:
        q = ex[v.name]
        e = fixed_map.values_of(q, v)
        f = fa[v.name]
        d = np.abs(e - f)
        lsb = 2.0 ** -v.fixed[2] if v.fixed is not None else _lsb(q)
        gaps.append(Gap(v.name, int(e.size), int((d > 0).sum()), float(d.max(initial=0.0)),
                        float((d / lsb).max(initial=0.0))))
    return gaps


def _lsb(q: mxf.MXArray) -> np.ndarray:
    """Per-element LSB weight 2^(s - m + 1) of an MXInt array: every mantissa set to 1 in place
    (BMF / BL: :func:`bmf_map.element_lsb`)."""
    from mase_hwlib.streams import beats_to_mx, mx_to_beats

    if bmf_map.is_block_float(q.fmt):
        return bmf_map.element_lsb(q)

    beats = mx_to_beats(q)
    ones = {"mant": np.ones_like(beats["mant"]), "exp": beats["exp"]}
    return mxf.dequantize(beats_to_mx(ones, q.fmt, q.shape, q.axes))
