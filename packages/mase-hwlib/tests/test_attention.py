"""Multi-head attention as a chain of hwlib modules (mase_hwlib.attention): the streamed
dataflow equals a whole-tensor computation per head (ops.matmul / ops.mul, integer softmax,
mx_formats.quantize for P), is close to float attention, and the RTL of every stage gives
the golden stage outputs bit for bit."""

import numpy as np
import pytest

import mx_formats as mxf
from mase_hwlib import attention, ops, streams
from mase_hwlib.golden import nonlinear as nl

SEQ, D, HEADS = 8, 16, 2
DH = D // HEADS
X_FRAC, OUT_FRAC = 8, 12


def _case(seed, q_block=(2, 2), kv_block=(2, 2), v_block=None):
    rng = np.random.default_rng(seed)
    qf = mxf.MXInt(q_block, 8, 7)
    kf = mxf.MXInt(kv_block, 8, 6)
    vf = mxf.MXInt(v_block or kv_block, 8, 5)
    qq, qk, qv = (mxf.quantize(rng.standard_normal((SEQ, D)) * s, f, axes=(-1, -2))
                  for s, f in ((1.5, qf), (1.0, kf), (2.0, vf)))
    stages = attention.plan(seq=SEQ, d_model=D, heads=HEADS, q_fmt=qf, k_fmt=kf, v_fmt=vf, scale=DH**-0.5,
                            qk_fmt=mxf.MXInt((1,), 8, 12), score_fmt=mxf.MXInt((1,), 8, 9),
                            p_fmt=mxf.MXInt((1,), 8, 6), out_fmt=mxf.MXInt((1,), 8, 7),
                            x_frac=X_FRAC, out_frac=OUT_FRAC)
    return stages, qq, qk, qv


def _requant(x, fmt, axes):
    """An exactly representable tensor in another (equivalent) MXArray view."""
    return mxf.quantize(np.asarray(x, dtype=np.float64), fmt, axes=axes)


def _per_head_reference(stages, qq, qk, qv):
    """Whole-tensor attention per head with the independent tensor-level code paths."""
    p = {s.name: s.params for s in stages}
    qb0, qb1 = qq.fmt.block
    kb0, kb1 = qk.fmt.block
    vb0, vb1 = qv.fmt.block
    Q, K, V = (mxf.dequantize(x).astype(np.float64) for x in (qq, qk, qv))
    outs = []
    for h in range(HEADS):
        cols = slice(h * DH, (h + 1) * DH)
        qh = _requant(Q[:, cols], qq.fmt, (-1, -2))
        kt = _requant(K[:, cols].T, mxf.MXInt((kb0, kb1), 8, qk.fmt.man_bits), (-2, -1))   # K^T blocked along d
        qkf = mxf.MXInt((kb1, qb1), p["qk"]["OUT_EXP"], p["qk"]["OUT_MAN"])
        s = ops.matmul(qh, kt, qkf)
        scale = _requant(np.full(s.shape, DH**-0.5), mxf.MXInt((kb1, qb1), 8, p["scale"]["B_MAN"]), (-1, -2))
        scaled = ops.mul(s, scale, mxf.MXInt((kb1, qb1), p["scale"]["OUT_EXP"], p["scale"]["OUT_MAN"]))
        # one-row blocks of vb1 (identity when vb1 == kb1), then the softmax input grid:
        # floor(x 2^F), saturated (docs/nonlinear.md)
        rows = _requant(mxf.dequantize(scaled), mxf.MXInt((vb1,), p["scale"]["OUT_EXP"], p["scale"]["OUT_MAN"]), (-1,))
        x = np.clip(np.floor(mxf.dequantize(rows).astype(np.float64) * 2.0**X_FRAC), -(1 << 15), (1 << 15) - 1)
        y = nl.softmax_fixed(x.astype(np.int64), x_frac=X_FRAC, out_frac=OUT_FRAC)
        pf = mxf.MXInt((vb1, qb1), p["p"]["OUT_EXP"], p["p"]["OUT_MAN"])
        ph = mxf.quantize(y / 2.0**OUT_FRAC, pf, axes=(-1, -2))
        vh = _requant(V[:, cols], mxf.MXInt((vb1, vb0), 8, qv.fmt.man_bits), (-2, -1))     # V blocked along seq
        outs.append(mxf.dequantize(ops.matmul(ph, vh, mxf.MXInt((vb0, qb1), 8, p["pv"]["OUT_MAN"]))))
    return np.concatenate(outs, axis=1)


@pytest.mark.parametrize("blocks", [dict(), dict(q_block=(2, 1)), dict(q_block=(4, 2), kv_block=(4, 2), v_block=(2, 2)),
                                    dict(q_block=(4, 2), kv_block=(4, 2), v_block=(2, 4))],
                         ids=["2x2", "q-one-row", "d-block-4", "v-seq-block-4"])
def test_streamed_attention_equals_per_head_tensor_computation(blocks):
    stages, qq, qk, qv = _case(0, **blocks)
    out, _ = attention.run(stages, qq, qk, qv)
    np.testing.assert_array_equal(mxf.dequantize(out), _per_head_reference(stages, qq, qk, qv))
    # and it is attention: close to float math on the same (quantized) inputs
    Q, K, V = (mxf.dequantize(x).astype(np.float64) for x in (qq, qk, qv))
    ref = []
    for h in range(HEADS):
        c = slice(h * DH, (h + 1) * DH)
        sc = Q[:, c] @ K[:, c].T * DH**-0.5
        e = np.exp(sc - sc.max(-1, keepdims=True))
        ref.append((e / e.sum(-1, keepdims=True)) @ V[:, c])
    assert np.abs(mxf.dequantize(out) - np.concatenate(ref, 1)).max() < 0.05 * np.abs(V).max()


def test_plan_refuses_blocks_that_do_not_chain():
    f = mxf.MXInt((2, 2), 8, 7)
    kw = dict(seq=SEQ, d_model=D, heads=HEADS, q_fmt=f, scale=0.25, qk_fmt=f, score_fmt=f, p_fmt=f, out_fmt=f)
    with pytest.raises(ValueError, match="Q and K need one block along d"):
        attention.plan(k_fmt=mxf.MXInt((4, 2), 8, 7), v_fmt=f, **kw)
    with pytest.raises(ValueError, match=r"the V block along seq \(16\) does not divide 8"):
        attention.plan(k_fmt=f, v_fmt=mxf.MXInt((2, 16), 8, 7), **kw)
    with pytest.raises(ValueError, match="at most 15 mantissa bits"):
        attention.plan(k_fmt=f, v_fmt=f, **{**kw, "score_fmt": mxf.MXInt((2, 2), 8, 16)})


@pytest.mark.slow
def test_every_stage_rtl_equals_its_golden_stage():
    """Each stage simulated on the golden output of its producer (random stalls both sides)."""
    stages, qq, qk, qv = _case(1, q_block=(4, 2), kv_block=(4, 2), v_block=(2, 4))
    assert "rows" in {s.name for s in stages}
    _, golden = attention.run(stages, qq, qk, qv)
    from mase_hwlib.simulate import simulate

    feeds = {"q": streams.mx_to_beats(qq), "k": streams.mx_to_beats(qk), "v": streams.mx_to_beats(qv), **golden}
    for i, s in enumerate(stages):
        inputs = {}
        for port, src in s.inputs.items():
            if src == "const":
                n = len(next(iter(inputs.values()))["mant"])
                inputs[port] = {k: np.tile(v, (n, 1)) for k, v in s.const.items()}
            else:
                inputs[port] = feeds[src]
        r = simulate(s.module, s.params, inputs, idle=0.2, backpressure=0.2, seed=i)
        for f, want in golden[f"{s.name}.y"].items():
            np.testing.assert_array_equal(r.outputs["y"][f], want, err_msg=f"stage {s.name} ({s.module}) {f}")
