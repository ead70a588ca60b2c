"""mase_mxint_masked_softmax (attention with a padding or causal mask): the golden model against
an independent float reference and against mase_mxint_softmax's golden model, and the RTL
against the golden model bit for bit (several parameter sets, idle cycles on both inputs,
back-pressure, the unstalled schedule)."""

import os
import shutil
import sys
import zlib

import mx_formats as mxf
import numpy as np
import pytest
from mase_hwlib import catalog
from mase_hwlib.golden import masked
from mase_hwlib.golden import nonlinear as nl
from mase_hwlib.testing import check_against_golden, lint

sys.path.insert(0, os.path.dirname(__file__))  # --import-mode=importlib: siblings are not importable otherwise
from test_nonlinear import _mxint_beats  # noqa: E402  (seeded rows plus zero / saturating / mixed rows)


def test_all_kept_is_the_unmasked_softmax_bit_for_bit():
    rng = np.random.default_rng(0)
    x = rng.integers(-3000, 3000, (10, 24))
    got = masked.masked_softmax_fixed(x, np.ones_like(x), x_frac=8, out_frac=12)
    np.testing.assert_array_equal(got, nl.softmax_fixed(x, x_frac=8, out_frac=12))


def test_masked_elements_get_zero_and_the_kept_ones_the_softmax_over_themselves():
    """Oracle: the unmasked golden softmax of the kept elements alone (a row of another length)."""
    rng = np.random.default_rng(1)
    x = rng.integers(-2000, 2000, (12, 16))
    keep = rng.integers(0, 2, x.shape)
    keep[0] = 0  # a row with nothing kept
    keep[1] = 0
    keep[1, 5] = 1  # one kept element
    y = masked.masked_softmax_fixed(x, keep, x_frac=8, out_frac=12)
    for row, k, out in zip(x, keep.astype(bool), y):
        if not k.any():  # float's answer for an equal huge offset on every score: uniform
            assert (out == (1 << 12) // len(row)).all()
            continue
        assert (out[~k] == 0).all()
        np.testing.assert_array_equal(out[k], nl.softmax_fixed(row[k][None], x_frac=8, out_frac=12)[0])
    # and close to float softmax with an additive -inf mask
    xf = np.where(keep.astype(bool), x / 2.0**8, -np.inf)[2:]
    ref = np.exp(xf - xf.max(-1, keepdims=True))
    ref /= ref.sum(-1, keepdims=True)
    assert np.abs(y[2:] / 2.0**12 - ref).max() < 0.02


def test_mask_rows_are_reused_per_group():
    """Rows in groups of MASK_ROWS * MASK_REPEAT: row t takes mask row t mod MASK_ROWS of its group."""
    mask = np.arange(6)[:, None]  # 3 groups of 2 mask rows, tagged by their index
    rows = masked.expand_mask_rows(mask, 18, 2, 3)[:, 0]
    assert rows.tolist() == [0, 1, 0, 1, 0, 1, 2, 3, 2, 3, 2, 3, 4, 5, 4, 5, 4, 5]
    with pytest.raises(ValueError, match="18 rows need 6 mask beats .* got 5"):
        masked.expand_mask_rows(mask[:5], 18, 2, 3)
    with pytest.raises(ValueError, match="17 rows is not a whole number of groups of MASK_ROWS\\*MASK_REPEAT = 6"):
        masked.expand_mask_rows(mask, 17, 2, 3)


# ---------------------------------------------------------------------------
# RTL benches: one dict per configuration feeds the build and the golden model

MASKED_CASES = [
    {"params": {"BLOCK": 4, "ROW_BLOCKS": 2}, "scale": 2.0},
    {"params": {"BLOCK": 1, "ROW_BLOCKS": 8, "MASK_REPEAT": 2}, "scale": 3.0},  # BERT heads, one score per block
    {"params": {"BLOCK": 4, "ROW_BLOCKS": 3, "EXP_BITS": 5, "MAN_BITS": 4, "X_WIDTH": 12, "X_FRAC": 5,
                "OUT_FRAC": 10, "MASK_ROWS": 2, "MASK_REPEAT": 3}, "scale": 1.5},
    {"params": {"BLOCK": 8, "ROW_BLOCKS": 1, "MAN_BITS": 10, "X_WIDTH": 20, "X_FRAC": 12, "OUT_FRAC": 16,
                "MASK_ROWS": 3}, "scale": 4.0},
]


def _inputs(full, rng, scale):
    group = full["MASK_ROWS"] * full["MASK_REPEAT"]
    x = _mxint_beats(full, 3 * group, rng, scale)
    rows = len(x["x"]["mant"]) // full["ROW_BLOCKS"]
    rows -= rows % group
    x = {"x": {k: v[:rows * full["ROW_BLOCKS"]] for k, v in x["x"].items()}}
    n_mask = rows // group * full["MASK_ROWS"]
    mask = rng.integers(0, 2, (n_mask, full["N"]))
    mask[0] = 0  # nothing kept
    mask[-1] = 1  # everything kept
    if n_mask > 2:  # a causal row: the first element only
        mask[1] = 0
        mask[1, 0] = 1
    return {**x, "mask": {"data": mask}}


@pytest.mark.parametrize("cfg", MASKED_CASES, ids=[f"case{i}" for i in range(len(MASKED_CASES))])
@pytest.mark.parametrize("idle,bp", [(0.0, 0.0), (0.3, 0.3), (0.6, 0.1)], ids=["steady", "stalls", "idle"])
def test_masked_softmax_rtl_matches_golden(cfg, idle, bp):
    full = catalog.get("mase_mxint_masked_softmax").resolve(cfg["params"])
    rng = np.random.default_rng(zlib.crc32(repr(sorted(cfg["params"].items())).encode()))
    inputs = _inputs(full, rng, cfg["scale"])
    r = check_against_golden("mase_mxint_masked_softmax", cfg["params"], inputs, idle=idle, backpressure=bp, seed=11)
    assert len(r.outputs["y"]["data"]) == len(inputs["x"]["mant"])


def test_unstalled_schedule_is_three_row_blocks_per_row():
    """The mask register is filled ahead, so the mask never stalls: softmax's schedule."""
    import mase_hwlib

    params = {"BLOCK": 4, "ROW_BLOCKS": 4, "MASK_REPEAT": 2}
    full = catalog.get("mase_mxint_masked_softmax").resolve(params)
    rng = np.random.default_rng(3)
    rows = 4
    inputs = {"x": {"mant": rng.integers(-127, 128, (4 * rows, 4)), "exp": rng.integers(-4, 4, (4 * rows, 1))},
              "mask": {"data": rng.integers(0, 2, (rows // 2, 16))}}
    r = mase_hwlib.simulate("mase_mxint_masked_softmax", params, inputs)
    # one cycle more than the softmax up front: the first mask beat is registered first
    assert r.first_output_latency == full["LATENCY"] == 2 * 4 + 1
    assert r.total_cycles == rows * 3 * 4 + 1 == full["CYCLES_PER_BLOCK"] * 4 * rows + 1


def test_rtl_from_an_mxarray_is_close_to_float_masked_softmax():
    import mase_hwlib

    rng = np.random.default_rng(9)
    x = (rng.standard_normal((2, 32)) * 2).astype(np.float32)
    keep = rng.integers(0, 2, (2, 32))
    q = mxf.quantize(x, mxf.MXInt((16,), 8, 7))
    r = mase_hwlib.simulate("mase_mxint_masked_softmax", {"ROW_BLOCKS": 2}, {"x": q, "mask": {"data": keep}})
    y = r.outputs["y"]["data"].reshape(2, 32) / 2.0**12
    xf = np.where(keep.astype(bool), x, -np.inf)
    ref = np.exp(xf - xf.max(-1, keepdims=True))
    ref /= ref.sum(-1, keepdims=True)
    assert np.abs(y - ref).max() < 0.02


@pytest.mark.parametrize("cfg", MASKED_CASES, ids=[f"case{i}" for i in range(len(MASKED_CASES))])
def test_masked_softmax_lint_clean_at_bench_parameters(cfg):
    if shutil.which("verilator") is None:
        pytest.skip("verilator not installed")
    lint("mase_mxint_masked_softmax", cfg["params"])


# ---------------------------------------------------------------------------
# mase_mxint_masked_mean (masked mean pooling)

def test_masked_mean_golden_is_the_float_masked_mean_within_one_output_lsb():
    rng = np.random.default_rng(4)
    x = rng.integers(-3000, 3000, (5, 8, 12))
    keep = rng.integers(0, 2, (5, 8))
    keep[0] = 0
    y = masked.masked_mean_fixed(x, keep, x_frac=8, out_width=20, out_frac=10)
    assert (y[0] == 0).all()  # nothing kept: 0, not a division by zero
    k = keep[1:].astype(bool)
    ref = (x[1:] * k[..., None]).sum(1) / np.maximum(k.sum(1, keepdims=True), 1) / 2.0**8
    assert np.abs(y[1:] / 2.0**10 - ref).max() < 2.0**-10  # truncation toward zero only
    assert (np.abs(y[1:] / 2.0**10) <= np.abs(ref) + 1e-12).all()


MEAN_CASES = [
    {"params": {"BLOCK": 4, "ROW_BLOCKS": 4, "ROWS": 8}, "scale": 2.0},
    {"params": {"BLOCK": 1, "ROW_BLOCKS": 3, "ROWS": 1, "EXP_BITS": 5, "MAN_BITS": 4, "X_WIDTH": 12, "X_FRAC": 5,
                "OUT_WIDTH": 12, "OUT_FRAC": 6}, "scale": 3.0},
    {"params": {"BLOCK": 8, "ROW_BLOCKS": 2, "ROWS": 5, "MAN_BITS": 10, "X_WIDTH": 20, "X_FRAC": 12,
                "OUT_WIDTH": 14, "OUT_FRAC": 12}, "scale": 8.0},  # narrow output: saturates
]


def _mean_inputs(full, rng, scale, n_in=4):
    rows, rb = full["ROWS"], full["ROW_BLOCKS"]
    x = _mxint_beats({**full, "ROW_BLOCKS": rb}, n_in * rows, rng, scale)
    total = len(x["x"]["mant"])
    n_in = total // (rows * rb)
    x = {"x": {k: v[:n_in * rows * rb] for k, v in x["x"].items()}}
    mask = rng.integers(0, 2, (n_in, rows))
    mask[0] = 0
    mask[-1] = 1
    return {**x, "mask": {"data": mask}}


@pytest.mark.parametrize("cfg", MEAN_CASES, ids=[f"case{i}" for i in range(len(MEAN_CASES))])
@pytest.mark.parametrize("idle,bp", [(0.0, 0.0), (0.3, 0.3)], ids=["steady", "stalls"])
def test_masked_mean_rtl_matches_golden(cfg, idle, bp):
    full = catalog.get("mase_mxint_masked_mean").resolve(cfg["params"])
    rng = np.random.default_rng(zlib.crc32(repr(sorted(cfg["params"].items())).encode()))
    inputs = _mean_inputs(full, rng, cfg["scale"])
    r = check_against_golden("mase_mxint_masked_mean", cfg["params"], inputs, idle=idle, backpressure=bp, seed=3)
    assert len(r.outputs["y"]["data"]) == len(inputs["mask"]["data"]) * full["ROW_BLOCKS"]


def test_masked_mean_unstalled_schedule():
    import mase_hwlib

    params = {"BLOCK": 4, "ROW_BLOCKS": 4, "ROWS": 8}
    full = catalog.get("mase_mxint_masked_mean").resolve(params)
    rng = np.random.default_rng(1)
    inputs = {"x": {"mant": rng.integers(-127, 128, (2 * 32, 4)), "exp": rng.integers(-4, 4, (64, 1))},
              "mask": {"data": rng.integers(0, 2, (2, 8))}}
    r = mase_hwlib.simulate("mase_mxint_masked_mean", params, inputs)
    assert r.total_cycles == 2 * ((8 + 1) * 4 + 1) == 2 * full["CYCLES_PER_BLOCK"] * 4


@pytest.mark.parametrize("cfg", MEAN_CASES, ids=[f"case{i}" for i in range(len(MEAN_CASES))])
def test_masked_mean_lint_clean_at_bench_parameters(cfg):
    if shutil.which("verilator") is None:
        pytest.skip("verilator not installed")
    lint("mase_mxint_masked_mean", cfg["params"])
