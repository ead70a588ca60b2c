"""Multi-head attention as a chain of hwlib modules: the stage list (module and
parameters of every stage, in stream order) and its exact golden run.

    stages = attention.plan(seq=8, d_model=32, heads=2, q_fmt=..., k_fmt=..., v_fmt=..., ...)
    out, streams = attention.run(stages, qq, qk, qv)          # golden models, beat by beat
    out, streams = attention.run(stages, qq, qk, qv, backend="rtl")   # each stage simulated

The inputs are Q, K, V ``[seq, d_model]`` as ``mase_mxint_linear`` produces them
(tiles of ``B1`` rows x ``B0`` features, row-major over the tile grid: block
``(B0, B1)`` along (-1, -2)); heads are the column groups ``d_model / heads``.
The dataflow (docs/attention.md has the reasoning and the stream orders):

==========  ======================  ==================================================
stage       module                  what it does
==========  ======================  ==================================================
q_replay    mase_mxint_replay       Q row group i: per head, once per key tile j
k_replay    mase_mxint_replay       all of K: per query tile, per head, row-major
qk          mase_mxint_matmul       S_h = Q_h K_h^T, tiles in order (i, h, j)
scale       mase_mxint_mul          S_h * scale (constant: mase_mxint_rom_source)
rows        mase_mxint_reblock      (kb1 x qb1) tiles -> one-row (vb1,) blocks (a lossless
                                    split when vb1 == kb1; skipped when also qb1 == 1)
softmax     mase_mxint_softmax      rows of seq elements, fixed-point output
p           mase_fixed_to_mxint     P into (vb1, qb1) blocks (row buffer)
p_replay    mase_mxint_replay       P row group (i, h) once per value tile j
v_replay    mase_mxint_replay       all of V: per query tile, per head, column-major,
                                    tiles transposed (V is matmul's B, blocked along seq)
pv          mase_mxint_matmul       O_h = P_h V_h; (i, h, j) = row-major order of the
                                    concatenated heads [seq, d_model]
==========  ======================  ==================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mase_hwlib import catalog, streams

__all__ = ["Stage", "plan", "run", "run_beats"]


@dataclass(frozen=True)
class Stage:
    """One module instance: ``inputs`` maps its input streams to ``"<stage>.<stream>"``
    of an earlier stage, ``"q"``/``"k"``/``"v"`` (the inputs) or ``"const"`` (``const`` beats,
    sent by a ``mase_mxint_rom_source`` with ``rom_params``)."""

    name: str
    module: str
    params: dict
    inputs: dict
    const: dict | None = field(default=None, compare=False)
    rom_params: dict | None = None


def _block(fmt, what):
    import mx_formats as mxf

    if not isinstance(fmt, mxf.MXInt):
        raise TypeError(f"attention: {what} must be an MXInt format, got {fmt}")
    b = tuple(fmt.block)
    return b[0], (b[1] if len(b) > 1 else 1)


def plan(*, seq: int, d_model: int, heads: int, q_fmt, k_fmt, v_fmt, scale: float, qk_fmt, score_fmt,
         p_fmt, out_fmt, scale_man: int = 7, x_width: int = 16, x_frac: int = 8, out_frac: int = 12) -> list[Stage]:
    """The stages of ``softmax(Q_h K_h^T * scale) V_h`` for every head h, concatenated.

    ``q_fmt``/``k_fmt``/``v_fmt``: the MXInt formats of the inputs (blocks as a linear
    produces them); ``qk_fmt``, ``score_fmt``, ``p_fmt``, ``out_fmt``: mantissa/exponent of
    Q K^T, of the scaled scores (softmax input, at most 15 mantissa bits), of P and of the
    output (their block shapes are fixed by the dataflow and not read). Raises
    ``ValueError`` naming the constraint a shape or format breaks.
    """
    qb0, qb1 = _block(q_fmt, "q_fmt")
    kb0, kb1 = _block(k_fmt, "k_fmt")
    vb0, vb1 = _block(v_fmt, "v_fmt")
    if d_model % heads:
        raise ValueError(f"attention: d_model={d_model} is not a multiple of heads={heads}")
    dh = d_model // heads
    if qb0 != kb0:
        raise ValueError(f"attention: Q and K need one block along d (Q K^T reduces over it), got {qb0} and {kb0}")
    for what, extent, b in (("the Q/K block along d", dh, qb0), ("the V block along d", dh, vb0),
                                                    ("the Q block along seq", seq, qb1), ("the K block along seq", seq, kb1),
                            ("the V block along seq", seq, vb1)):
        if extent % b:
            raise ValueError(f"attention: {what} ({b}) does not divide {extent} (head size {dh}, seq {seq})")
    if score_fmt.man_bits > 15:
        raise ValueError(f"attention: the softmax takes at most 15 mantissa bits, score_fmt has {score_fmt.man_bits}")
    dt, st, vt = d_model // qb0, seq // kb1, seq // vb1  # tiles along d (Q, K), along seq (K), (V)

    def mx(prefix, fmt):
        return {f"{prefix}_MAN": fmt.man_bits, f"{prefix}_EXP": fmt.exp_bits}

    import mx_formats as mxf

    scale_fmt = mxf.MXInt((kb1, qb1), 8, scale_man)
    q_scale = mxf.quantize(np.full((qb1, kb1), float(scale)), scale_fmt, axes=(-1, -2))
    const = streams.mx_to_beats(q_scale)
    stages = [
        Stage("q_replay", "mase_mxint_replay",
              dict(LANES=qb0 * qb1, MAN=q_fmt.man_bits, EXP=q_fmt.exp_bits, FRAME_ROWS=1, FRAME_COLS=dt,
                   GROUPS=heads, REPEAT_INNER=st), {"x": "q"}),
        Stage("k_replay", "mase_mxint_replay",
              dict(LANES=kb0 * kb1, MAN=k_fmt.man_bits, EXP=k_fmt.exp_bits, FRAME_ROWS=st, FRAME_COLS=dt,
                   GROUPS=heads, REPEAT_OUTER=seq // qb1), {"x": "k"}),
        Stage("qk", "mase_mxint_matmul",
              dict(BLOCK_K=qb0, A_ROWS=qb1, B_COLS=kb1, K_TILES=dh // qb0, **mx("A", q_fmt), **mx("B", k_fmt),
                   **mx("OUT", qk_fmt)), {"a": "q_replay.y", "b": "k_replay.y"}),
        Stage("scale", "mase_mxint_mul",
              dict(BLOCK_0=kb1, BLOCK_1=qb1, **mx("A", qk_fmt), B_MAN=scale_man, B_EXP=8, **mx("OUT", score_fmt)),
              {"a": "qk.y", "b": "const"}, const=const,
              rom_params=dict(LANES=kb1 * qb1, MAN=scale_man, EXP=8, DEPTH=1, HOLD=1, REPEAT=0)),
    ]
    src = "scale.y"
    if qb1 > 1 or kb1 != vb1:
        # one-row blocks of vb1 scores (P V reduces over seq in blocks of vb1): a lossless split
        # when vb1 == kb1, a re-rounding of the scores into (vb1,) blocks otherwise
        stages.append(Stage("rows", "mase_mxint_reblock",
                            dict(ROWS=qb1, COLS=seq, IN_B0=kb1, IN_B1=qb1, OUT_B0=vb1, OUT_B1=1,
                                 IN_MAN=score_fmt.man_bits, IN_EXP=score_fmt.exp_bits,
                                 OUT_MAN=score_fmt.man_bits, OUT_EXP=score_fmt.exp_bits), {"x": src}))
        src = "rows.y"
    stages += [
        Stage("softmax", "mase_mxint_softmax",
              dict(BLOCK=vb1, ROW_BLOCKS=vt, EXP_BITS=score_fmt.exp_bits, MAN_BITS=score_fmt.man_bits,
                   X_WIDTH=x_width, X_FRAC=x_frac, OUT_FRAC=out_frac), {"x": src}),
        Stage("p", "mase_fixed_to_mxint",
              dict(BLOCK_0=vb1, BLOCK_1=qb1, ROW_BEATS=vt, IN_WIDTH=out_frac + 1, IN_FRAC=out_frac, IN_SIGNED=0,
                   **mx("OUT", p_fmt)), {"x": "softmax.y"}),
        Stage("p_replay", "mase_mxint_replay",
              dict(LANES=vb1 * qb1, MAN=p_fmt.man_bits, EXP=p_fmt.exp_bits, FRAME_ROWS=1, FRAME_COLS=vt,
                   REPEAT_INNER=dh // vb0), {"x": "p.y"}),
        Stage("v_replay", "mase_mxint_replay",
              dict(LANES=vb0 * vb1, MAN=v_fmt.man_bits, EXP=v_fmt.exp_bits, FRAME_ROWS=vt, FRAME_COLS=d_model // vb0,
                   GROUPS=heads, COL_MAJOR=1, REPEAT_OUTER=seq // qb1, TRANSPOSE_LANES=1, TILE_COLS=vb0),
              {"x": "v"}),
        Stage("pv", "mase_mxint_matmul",
              dict(BLOCK_K=vb1, A_ROWS=qb1, B_COLS=vb0, K_TILES=vt, **mx("A", p_fmt), **mx("B", v_fmt),
                   **mx("OUT", out_fmt)), {"a": "p_replay.y", "b": "v_replay.y"}),
    ]
    for s in stages:  # every parameter set is legal (ranges, derived constraints)
        catalog.get(s.module).resolve(s.params)
    return stages


def run_beats(stages: list[Stage], qq, qk, qv, *, mask=None, backend: str = "golden", **sim_kw) -> dict:
    """Every stage's output beats (``"<stage>.y"``) of the stages run on Q, K, V (MXArrays) with the
    golden models (or ``backend="rtl"``: each stage simulated on its producer's output). ``mask``:
    the rows of an attention mask (int 0/1 ``[seq, seq]``), the source ``"mask"`` of a masked
    softmax stage, one beat per row."""
    beats = {"q": streams.mx_to_beats(qq), "k": streams.mx_to_beats(qk), "v": streams.mx_to_beats(qv)}
    if mask is not None:
        beats["mask"] = {"data": np.asarray(mask, dtype=np.int64).reshape(-1, np.shape(mask)[-1])}
    for s in stages:
        spec = catalog.get(s.module)
        resolved = spec.resolve(s.params)
        inputs = {}
        for port, source in s.inputs.items():
            if source == "const":
                n = len(next(iter(inputs.values()))["mant"])  # one constant beat per activation beat
                inputs[port] = {k: np.tile(v, (n, 1)) for k, v in s.const.items()}
            else:
                inputs[port] = beats[source]
        if backend == "golden":
            out = spec.golden(resolved, streams.normalize(spec, resolved, inputs, "in"))
        elif backend == "rtl":
            from mase_hwlib.simulate import simulate

            out = simulate(s.module, s.params, inputs, **sim_kw).outputs
        else:
            raise ValueError(f"backend must be 'golden' or 'rtl', got {backend!r}")
        beats[f"{s.name}.y"] = out["y"]
    return beats


def run(stages: list[Stage], qq, qk, qv, *, backend: str = "golden", **sim_kw):
    """Run the stages on Q, K, V (MXArrays) with the golden models (or ``backend="rtl"``:
    each stage simulated on its producer's output). Returns the output as an MXArray
    ``[seq, d_model]`` blocked ``(vb0, qb1)`` along (-1, -2), and every stage's output beats."""
    import mx_formats as mxf

    beats = run_beats(stages, qq, qk, qv, backend=backend, **sim_kw)
    last = stages[-1].params
    fmt = mxf.MXInt((last["B_COLS"], last["A_ROWS"]), last["OUT_EXP"], last["OUT_MAN"])
    return streams.beats_to_mx(beats[f"{stages[-1].name}.y"], fmt, qq.shape, (-1, -2)), beats
