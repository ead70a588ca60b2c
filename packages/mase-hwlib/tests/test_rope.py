"""mase_mxint_rope (rotary position embedding) and mase_causal_mask (the causal mask rows): the
golden models against independent float / torch references, and the RTL against the golden
models bit for bit (several parameter sets, idle cycles, back-pressure, the unstalled schedule)."""

import os
import shutil
import sys
import zlib

import numpy as np
import pytest
from mase_hwlib import catalog
from mase_hwlib.golden import rope as rp
from mase_hwlib.rom_fixed import write_fixed_rom
from mase_hwlib.testing import check_against_golden, lint

sys.path.insert(0, os.path.dirname(__file__))  # --import-mode=importlib: siblings are not importable otherwise
from test_nonlinear import _mxint_beats  # noqa: E402  (seeded rows plus zero / saturating / mixed rows)


def _hf_tables(seq, d, base=10000.0):
    """transformers' LLaMA rotary tables: inv_freq = base^(-2i/d), emb = cat(freqs, freqs)."""
    inv = 1.0 / base ** (np.arange(0, d, 2) / d)
    freqs = np.outer(np.arange(seq), inv)
    emb = np.concatenate([freqs, freqs], axis=-1)
    return np.cos(emb), np.sin(emb)


def _float_rope(x, cos, sin, heads):
    """apply_rotary_pos_emb in float: x cos + rotate_half(x) sin, per head."""
    rows, width = x.shape
    d = width // heads
    xh = x.reshape(rows, heads, d)
    rot = np.concatenate([-xh[..., d // 2:], xh[..., :d // 2]], axis=-1)
    pos = np.arange(rows) % len(cos)
    return (xh * cos[pos][:, None] + rot * sin[pos][:, None]).reshape(rows, width)


def test_rope_golden_is_float_rope_within_the_table_and_output_rounding():
    rng = np.random.default_rng(0)
    seq, d, heads, xf, cf, of = 8, 16, 3, 8, 14, 8
    cos, sin = _hf_tables(seq, d)
    ci, si = rp.rope_tables(cos, sin, cf)
    x = rng.integers(-2000, 2000, (2 * seq, heads * d))
    y = rp.rope_fixed(x, ci, si, heads=heads, x_frac=xf, c_frac=cf, out_width=20, out_frac=of) / 2.0**of
    ref = _float_rope(x / 2.0**xf, cos, sin, heads)
    # floor: below one output LSB; table rounding: 2 |x| 2^-(cf+1) (|x| < 8 here)
    assert np.abs(y - ref).max() <= 2.0**-of + 2 * 8 * 2.0**-(cf + 1)
    # position 0 is the identity (cos 1, sin 0) up to the floor
    np.testing.assert_array_equal(y[0] * 2**of, x[0])


def test_rope_golden_saturates_and_refuses_odd_heads():
    x = np.full((1, 4), 30000)
    c = np.full((1, 4), 1 << 14)
    s = np.full((1, 4), 1 << 14)
    y = rp.rope_fixed(x, c, s, heads=1, x_frac=0, c_frac=14, out_width=16, out_frac=0)
    assert y.tolist() == [[0, 0, 32767, 32767]]  # x c - x s = 0 (first half), x c + x s saturates
    with pytest.raises(ValueError, match="not 1 heads of an even head dim 3"):
        rp.rope_fixed(np.zeros((1, 3)), np.zeros((1, 3)), np.zeros((1, 3)), heads=1, x_frac=0, c_frac=1,
                      out_width=8, out_frac=0)


def test_causal_rows_are_torch_tril():
    import torch

    np.testing.assert_array_equal(rp.causal_rows(6, 6), torch.tril(torch.ones(6, 6, dtype=torch.long)).numpy())
    np.testing.assert_array_equal(rp.causal_rows(3, 5, 2), torch.tril(torch.ones(3, 5, dtype=torch.long), 2).numpy())


ROPE_CASES = [
    {"params": {"BLOCK": 4, "ROW_BLOCKS": 8, "HEAD_BLOCKS": 4, "SEQ": 3}, "scale": 2.0},
    {"params": {"BLOCK": 1, "ROW_BLOCKS": 4, "HEAD_BLOCKS": 2, "SEQ": 2, "EXP_BITS": 5, "MAN_BITS": 4,
                "X_WIDTH": 12, "X_FRAC": 5, "C_FRAC": 10, "OUT_WIDTH": 10, "OUT_FRAC": 4}, "scale": 3.0},
    {"params": {"BLOCK": 8, "ROW_BLOCKS": 4, "HEAD_BLOCKS": 4, "SEQ": 4, "MAN_BITS": 10, "X_WIDTH": 20,
                "X_FRAC": 12, "C_FRAC": 16, "OUT_WIDTH": 24, "OUT_FRAC": 14}, "scale": 1.5},
]


def _rope_setup(cfg, tmp_path):
    """The tables written as the RTL reads them, the params with their paths, and input beats."""
    p = dict(cfg["params"])
    full = catalog.get("mase_mxint_rope").resolve(p)
    d = full["HEAD_BLOCKS"] * full["BLOCK"]
    ci, si = rp.rope_tables(*_hf_tables(full["SEQ"], d, base=7.0), full["C_FRAC"])  # base 7: large angles
    for name, t in (("COS_FILE", ci), ("SIN_FILE", si)):
        path = tmp_path / f"{name.lower()}.hex"
        write_fixed_rom(path, t.reshape(-1, full["BLOCK"]), full["C_FRAC"] + 2)
        p[name] = str(path)
    full = catalog.get("mase_mxint_rope").resolve(p)
    rng = np.random.default_rng(zlib.crc32(repr(sorted(cfg["params"].items())).encode()))
    inputs = _mxint_beats(full, 2 * full["SEQ"], rng, cfg["scale"])
    return p, full, inputs, ci, si


@pytest.mark.parametrize("cfg", ROPE_CASES, ids=[f"case{i}" for i in range(len(ROPE_CASES))])
@pytest.mark.parametrize("idle,bp", [(0.0, 0.0), (0.3, 0.3)], ids=["steady", "stalls"])
def test_rope_rtl_matches_golden(cfg, idle, bp, tmp_path):
    p, full, inputs, ci, si = _rope_setup(cfg, tmp_path)
    rows = len(inputs["x"]["mant"]) // full["ROW_BLOCKS"]
    if rows % full["SEQ"]:  # whole inputs only (the position counter wraps at SEQ)
        keep = rows - rows % full["SEQ"]
        inputs = {"x": {k: v[:keep * full["ROW_BLOCKS"]] for k, v in inputs["x"].items()}}
    r = check_against_golden("mase_mxint_rope", p, inputs, idle=idle, backpressure=bp, seed=5)
    assert len(r.outputs["y"]["data"]) == len(inputs["x"]["mant"])


def test_rope_golden_reads_the_tables_it_was_given(tmp_path):
    """The catalog golden (files) equals rope_fixed on the arrays (so the bench checks the RTL
    against the tables, not against themselves)."""
    from mase_hwlib.golden.nonlinear import _fixed_input

    p, full, inputs, ci, si = _rope_setup(ROPE_CASES[0], tmp_path)
    got = catalog.get("mase_mxint_rope").golden(full, inputs)["y"]["data"]
    x = _fixed_input(full, inputs).reshape(-1, full["ROW_BLOCKS"] * full["BLOCK"])
    x = x[:len(x) - len(x) % full["SEQ"]]
    want = rp.rope_fixed(x, ci, si, heads=2, x_frac=8, c_frac=14, out_width=16, out_frac=8)
    np.testing.assert_array_equal(got[:want.size // full["BLOCK"]].reshape(want.shape), want)


def test_rope_unstalled_schedule_is_two_row_blocks_per_row(tmp_path):
    import mase_hwlib

    p, full, inputs, _, _ = _rope_setup(ROPE_CASES[0], tmp_path)
    rb = full["ROW_BLOCKS"]
    inputs = {"x": {k: v[:3 * rb] for k, v in inputs["x"].items()}}
    r = mase_hwlib.simulate("mase_mxint_rope", p, inputs)
    assert r.first_output_latency == full["LATENCY"] == rb
    assert r.total_cycles == 3 * 2 * rb == full["CYCLES_PER_BLOCK"] * 3 * rb


CAUSAL_CASES = [{"SEQ": 8, "KEYS": 8, "REPEAT": 3}, {"SEQ": 1, "KEYS": 1, "REPEAT": 2},
                {"SEQ": 5, "KEYS": 9, "OFFSET": 3, "REPEAT": 2}]


@pytest.mark.parametrize("params", CAUSAL_CASES, ids=[f"case{i}" for i in range(len(CAUSAL_CASES))])
@pytest.mark.parametrize("bp", [0.0, 0.5], ids=["steady", "backpressure"])
def test_causal_mask_rtl_matches_golden(params, bp):
    r = check_against_golden("mase_causal_mask", params, {}, idle=0.0, backpressure=bp, seed=2)
    assert len(r.outputs["y"]["data"]) == params["SEQ"] * params["REPEAT"]


@pytest.mark.parametrize("module,params", [("mase_mxint_rope", c["params"]) for c in ROPE_CASES]
                         + [("mase_causal_mask", c) for c in CAUSAL_CASES])
def test_lint_clean_at_bench_parameters(module, params):
    if shutil.which("verilator") is None:
        pytest.skip("verilator not installed")
    lint(module, params)
