"""Mapping rules of the non-linear operators: gelu and layer_norm (and, with another module, silu
and rms_norm: hardware/decoder_map.py) as chains of hwlib stages (integer operator on a
fixed-point grid -> fixed_to_mxint -> affine from ROM streams)."""

from __future__ import annotations

import mx_formats as mxf
from mase_ir import MaseGraph

from mase_passes.hardware.design import MappingError, Stage, StreamValue, _mxint, _weight, rom_path

__all__ = ["map_gelu", "map_layer_norm", "GELU_X_WIDTH", "GELU_X_FRAC", "LN_X_WIDTH", "LN_X_FRAC",
           "LN_OUT_WIDTH", "LN_OUT_FRAC"]

# internal fixed-point grid of the non-linear operators (mase_mxint_to_fixed: range +-2^(W-F-1), step 2^-F)
GELU_X_WIDTH, GELU_X_FRAC = 16, 8
# layer_norm: input grid as gelu's; normalized output (|y| <= sqrt(N)) on 16 bits with 11 fraction bits
LN_X_WIDTH, LN_X_FRAC, LN_OUT_WIDTH, LN_OUT_FRAC = 16, 8, 16, 11


def map_gelu(n, x: StreamValue, out: StreamValue, values: dict, module: str = "mase_mxint_gelu") -> list[Stage]:
    """gelu -> ``mase_mxint_gelu`` (I-BERT integer GELU on a fixed-point grid, fixed-point lanes
    out) -> ``mase_fixed_to_mxint`` (one rounding into the result's format). The fixed-point
    beats must be row segments in row-major order, so the blocks must be one row high."""
    if n.op == "gelu" and n.attrs.get("approximate", "none") not in ("none", None):
        raise MappingError(n.name, f"gelu approximate={n.attrs['approximate']!r}: mase_mxint_gelu implements "
                                   "the erf form (I-BERT fit)")
    if x.tile[1] != 1 or out.tile[1] != 1 or x.tile[0] != out.tile[0]:
        raise MappingError(n.name, f"{n.op} needs one-row blocks (B0,) equal on input and output, got {x.fmt.block} -> "
                                   f"{out.fmt.block}: mase_fixed_to_mxint re-blocks rows, not 2-D tiles")
    lanes = x.tile[0]
    fx = StreamValue(f"{n.name}__fixed", x.shape, None, x.graph_shape, (lanes, GELU_X_WIDTH, GELU_X_FRAC))
    values[fx.name] = fx
    g = Stage(f"{n.name}_{n.op}", n.name, n.op, module,
              dict(BLOCK=lanes, EXP_BITS=x.fmt.exp_bits, MAN_BITS=x.fmt.man_bits, X_WIDTH=GELU_X_WIDTH,
                   X_FRAC=GELU_X_FRAC), {"x": x.name}, fx.name)
    c = Stage(f"{n.name}_to_mxint", n.name, n.op, "mase_fixed_to_mxint",
              dict(BLOCK_0=lanes, BLOCK_1=1, ROW_BEATS=x.shape[1] // lanes, IN_WIDTH=GELU_X_WIDTH,
                   IN_FRAC=GELU_X_FRAC, IN_SIGNED=1, OUT_MAN=out.fmt.man_bits, OUT_EXP=out.fmt.exp_bits),
              {"x": fx.name}, n.name)
    return [g, c]


def map_layer_norm(graph: MaseGraph, n, x: StreamValue, out: StreamValue, values: dict,
                   module: str = "mase_mxint_layer_norm") -> list[Stage]:
    """layer_norm -> ``mase_mxint_layer_norm`` (integer, no affine; fixed-point lanes out) ->
    ``mase_fixed_to_mxint`` -> ``mase_mxint_mul`` by gamma -> ``mase_mxint_add`` of beta, gamma
    and beta streamed by ``mase_mxint_rom_source`` (one row of blocks per pass, forever). The
    intermediate values take the result's mantissa/exponent widths; each stage rounds once."""
    d = x.shape[1]
    if list(n.attrs.get("normalized_shape", [])) != [d]:
        raise MappingError(n.name, f"{n.op} over {n.attrs.get('normalized_shape')} of {list(x.graph_shape)}: "
                                   "only the last axis is supported")
    if x.tile[1] != 1 or out.tile != x.tile:
        raise MappingError(n.name, f"{n.op} needs one-row blocks (B0,) equal on input and output, got "
                                   f"{x.fmt.block} -> {out.fmt.block}")
    lanes = x.tile[0]
    eps_fx = int(round(float(n.attrs.get("eps", 1e-5)) * 2.0 ** (2 * LN_X_FRAC)))
    fx = StreamValue(f"{n.name}__fixed", x.shape, None, x.graph_shape, (lanes, LN_OUT_WIDTH, LN_OUT_FRAC))
    values[fx.name] = fx
    stages = [Stage(f"{n.name}_norm", n.name, n.op, module,
                    dict(BLOCK=lanes, EXP_BITS=x.fmt.exp_bits, MAN_BITS=x.fmt.man_bits, X_WIDTH=LN_X_WIDTH,
                         X_FRAC=LN_X_FRAC, ROW_BLOCKS=d // lanes, OUT_WIDTH=LN_OUT_WIDTH, OUT_FRAC=LN_OUT_FRAC,
                         EPS_FX=eps_fx), {"x": x.name}, fx.name)]
    affine = [r for r in ("weight", "bias") if r in n.params]
    names = [f"{n.name}__{r}" for r in ("norm", "scaled")][:len(affine)] + [n.name]
    for nm in names[:-1]:
        values[nm] = StreamValue(nm, x.shape, out.fmt, x.graph_shape)
    stages.append(Stage(f"{n.name}_to_mxint", n.name, n.op, "mase_fixed_to_mxint",
                        dict(BLOCK_0=lanes, BLOCK_1=1, ROW_BEATS=d // lanes, IN_WIDTH=LN_OUT_WIDTH,
                             IN_FRAC=LN_OUT_FRAC, IN_SIGNED=1, OUT_MAN=out.fmt.man_bits, OUT_EXP=out.fmt.exp_bits),
                        {"x": fx.name}, names[0]))
    prev = names[0]
    for role, res in zip(affine, names[1:]):
        pf = _mxint(n.name, f"{n.op} {role}", n.params[role].type.element)
        if pf.block[0] != lanes:
            raise MappingError(n.name, f"{n.op} {role} block {pf.block} must hold {lanes} elements per block "
                                       "(the activations' block)")
        hw_f = mxf.MXInt((lanes,), pf.exp_bits, pf.man_bits)
        qc = mxf.quantize(_weight(graph, n, role), hw_f, axes=(-1,))
        const = f"{n.name}__{role}_rom"
        values[const] = StreamValue(const, x.shape, hw_f, x.graph_shape)
        stem = f"{n.name}_{role}"
        stages.append(Stage(f"{n.name}_{role}_rom", n.name, n.op, "mase_mxint_rom_source",
                            dict(LANES=lanes, MAN=pf.man_bits, EXP=pf.exp_bits, DEPTH=d // lanes, HOLD=1, REPEAT=0,
                                 ROM_FILE=rom_path(stem)), {}, const,
                            roms={"ROM_FILE": (qc, stem)}, constants={"row": qc}))
        affine_module = "mase_mxint_mul" if role == "weight" else "mase_mxint_add"
        a = values[prev]
        stages.append(Stage(f"{n.name}_{'scale' if role == 'weight' else 'shift'}", n.name, n.op, affine_module,
                            dict(BLOCK_0=lanes, BLOCK_1=1, A_MAN=a.fmt.man_bits, A_EXP=a.fmt.exp_bits,
                                 B_MAN=pf.man_bits, B_EXP=pf.exp_bits, OUT_MAN=out.fmt.man_bits,
                                 OUT_EXP=out.fmt.exp_bits), {"a": prev, "b": const}, res))
        prev = res
    return stages
