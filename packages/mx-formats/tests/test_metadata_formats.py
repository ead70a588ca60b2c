"""NVFP4 and M2XFP (issue 20): numba kernels against the exact Fraction reference, packing,
strings, bad input, and the properties the definitions promise."""

import importlib.util
import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import mx_formats as mxf
from mx_formats.reference import FP4_GRID, FP6_GRID, reference_metadata_quantize

_spec = importlib.util.spec_from_file_location("_vectors", Path(__file__).with_name("test_kernels_vs_reference.py"))
_vectors = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_vectors)
edge_block, wide_random = _vectors.edge_block, _vectors.wide_random

FORMATS = [mxf.NVFP4(), mxf.M2XFP_ES, mxf.M2XFP_EM, mxf.M2XFP("ES", (16,), 4), mxf.M2XFP("EM", (64,), 16)]
FP4 = [float(v) for v in FP4_GRID]


def assert_matches_reference(x, fmt, axes=None):
    values, scales, codes, meta, tensor_scale = reference_metadata_quantize(x, fmt, axes)
    fake = mxf.fake_quantize(x, fmt, axes)
    bad = ~((fake == values) | (np.isnan(fake) & np.isnan(values)))
    assert not bad.any(), (f"{fmt}: first mismatch at {np.argwhere(bad)[0]}: x={np.asarray(x)[tuple(np.argwhere(bad)[0])]!r}"
                           f" kernel={fake[bad][0]!r} reference={values[bad][0]!r}")
    q = mxf.quantize(x, fmt, axes)
    assert np.array_equal(q.scales, scales), f"{fmt}: scales differ"
    assert np.array_equal(q.elements, codes), f"{fmt}: codes differ"
    if meta is not None:
        assert np.array_equal(q.meta, meta), f"{fmt}: meta differ"
    else:
        assert q.meta is None and q.tensor_scale == tensor_scale
    assert np.array_equal(mxf.dequantize(q), fake, equal_nan=True), f"{fmt}: dequantize(quantize) != fake_quantize"


@pytest.mark.parametrize("fmt", FORMATS, ids=str)
def test_wide_range_random_data_equals_the_reference(fmt):
    assert_matches_reference(wide_random((3, 2, 70), hash(str(fmt)) % 2**32), fmt)


@pytest.mark.parametrize("fmt", FORMATS, ids=str)
def test_gaussian_data_and_ragged_shapes_equal_the_reference(fmt):
    rng = np.random.default_rng(1)
    for shape in [(1,), (7,), (33,), (5, 31), (2, 3, 17), ()]:
        assert_matches_reference(rng.standard_normal(shape).astype(np.float32), fmt)


@pytest.mark.parametrize("fmt", FORMATS, ids=str)
def test_edge_cases_equal_the_reference(fmt):
    # zeros, -0, outliers, subnormals, ties, FLT_MAX, NaN, +-Inf: one row each, 32 wide
    assert_matches_reference(np.stack(list(edge_block().values())), fmt)


@pytest.mark.parametrize("fmt", FORMATS[:3], ids=str)
@pytest.mark.parametrize("axes", [0, 1, -3])
def test_any_blocked_axis_equals_the_reference(fmt, axes):
    assert_matches_reference(wide_random((18, 5, 20), 4), fmt, axes=axes)


def test_values_on_the_grid_of_every_candidate_tie():
    # Elements exactly on FP4 midpoints of every r: the ties-to-even rule decides.
    mids = np.array([0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0])
    x = np.concatenate([mids * r for r in (1, 1.25, 1.5, 1.75)] + [[6.0, -7.9, 4.0, 0.0]]).astype(np.float32)
    for fmt in FORMATS:
        assert_matches_reference(x.reshape(1, 32), fmt)


# --------------------------------------------------------------------------- worked examples
def test_em_worked_example():
    # s = floor(log2 6.9) - 2 = 0. Subgroup 0: FP4 codes of [6.9, 1.2, 6.2, ...]: 6.9 -> 6 (code 7), 6.2 -> 6
    # (code 7): the first one is kept; its FP6 window is codes 27..30 = 5.5, 6, 6.5, 7: 6.9 -> 7 (meta 3).
    # Subgroup 1: [-0.2, 0.1, 0...]: every FP4 code is 0; the first element (-0.2) takes the window
    # 0, 0.125, 0.25, 0.375: 0.2 -> 0.25, sign kept on a magnitude-0 FP4 code.
    x = np.zeros(32, np.float32)
    x[:3] = [6.9, 1.2, 6.2]
    x[8:10] = [-0.2, 0.1]
    q = mxf.quantize(x, mxf.M2XFP_EM)
    y = mxf.dequantize(q)
    assert q.scales.tolist() == [0] and q.meta.tolist() == [3, 2, 0, 0]
    assert y[:3].tolist() == [7.0, 1.0, 6.0] and y[8:10].tolist() == [-0.25, 0.0]
    assert q.elements[8] == 0b1000  # -0 in FP4, the sign of -0.25


def test_es_worked_example():
    # 1.25 * [1, 2, 3, 4, ...] is exact on the grid r = 1.25 at s = 0 (amax 7.5: OCP s0 = 0),
    # so the search must find error 0 there, where MXFP4 cannot (1.25 -> 1, 2.5 -> 2).
    x = np.zeros(32, np.float32)
    x[:8] = np.float32(1.25) * np.array([1, 2, 3, 4, 0.5, 1.5, 6, 0], np.float32)
    q = mxf.quantize(x, mxf.M2XFP_ES)
    assert q.scales.tolist() == [0] and q.meta.tolist()[0] == 1
    assert np.array_equal(mxf.dequantize(q), x)
    assert not np.array_equal(mxf.fake_quantize(x, mxf.MXFP4_E2M1), x)


def test_nvfp4_worked_example():
    # amax 2688 -> S = 1; block 0 amax 2688 -> scale 2688/6 = 448; block 1 amax 3 -> 0.5 (E4M3 exact):
    # 3 / 0.5 = 6 -> code 7, 1.1 / 0.5 = 2.2 -> 2 (code 4).
    x = np.zeros(32, np.float32)
    x[0], x[16], x[17] = 2688.0, 3.0, -1.1
    q = mxf.quantize(x, mxf.NVFP4())
    assert q.tensor_scale == np.float32(1.0)
    assert q.scales.tolist() == [0x7E, 0x30]  # 448 = 2^8 * 1.75 (c=15, f=6); 0.5 = 2^-1 (c=6, f=0)
    y = mxf.dequantize(q)
    assert y[0] == 2688.0 and y[16] == 3.0 and y[17] == -1.0


# --------------------------------------------------------------------------- format objects
def test_bits_per_element_and_canonical_strings():
    assert mxf.NVFP4().bits_per_element == 4.5 and mxf.M2XFP_ES.bits_per_element == 4.5
    assert mxf.M2XFP_EM.bits_per_element == 4.5 and mxf.M2XFP("ES", (64,), 16).bits_per_element == 4 + 8 / 64 + 2 / 16
    for fmt in FORMATS:
        assert mxf.parse(str(fmt)) == fmt and str(mxf.parse(str(fmt))) == str(fmt)
    assert str(mxf.M2XFP("EM", (32,), 8)) == "M2XFP_EM" and str(mxf.M2XFP("ES", (64,), 16)) == "M2XFP_ES((64,),16)"
    assert mxf.parse(" M2XFP_ES ( (16,) , 4 ) ") == mxf.M2XFP("ES", (16,), 4)


@pytest.mark.parametrize("fmt", FORMATS, ids=str)
def test_bytes_round_trip_and_true_packed_size(fmt):
    x = wide_random((6, 37), 3)
    x[2, 5] = np.nan
    q = mxf.quantize(x, fmt)
    back = mxf.MXArray.from_bytes(q.to_bytes())
    assert back.fmt == fmt and np.array_equal(back.elements, q.elements) and np.array_equal(back.scales, q.scales)
    assert (back.meta is None) == (q.meta is None) and (q.meta is None or np.array_equal(back.meta, q.meta))
    assert back.tensor_scale == q.tensor_scale
    assert np.array_equal(mxf.dequantize(back), mxf.dequantize(q), equal_nan=True)
    blocks, groups = 6 * -(-37 // fmt.block_size), 6 * -(-37 // fmt.subgroup_size)
    bits = 4 * x.size + 8 * blocks + fmt.meta_bits * groups * (fmt.meta_bits > 0)
    assert q.nbytes == -(-4 * x.size // 8) + blocks + -(-fmt.meta_bits * groups // 8) + fmt.tensor_scale_bits // 8
    assert q.nbytes * 8 >= bits and len(q.to_bytes()) - q.nbytes < 200


def test_full_blocks_cost_exactly_4_5_bits_per_element():
    x = wide_random((8, 256), 2)
    assert mxf.quantize(x, mxf.M2XFP_ES).nbytes * 8 == 4.5 * x.size
    assert mxf.quantize(x, mxf.NVFP4()).nbytes * 8 == 4.5 * x.size + 32  # + the tensor scale


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("make, message", [
    (lambda: mxf.NVFP4((32,)), "block must be"),
    (lambda: mxf.NVFP4((16, 2)), "block must be"),
    (lambda: mxf.M2XFP("ES", (32,), 7), "does not divide"),
    (lambda: mxf.M2XFP("EM", (32,), 1), "subgroup=1"),
    (lambda: mxf.M2XFP("EM", (32,), 64), "subgroup=64"),
    (lambda: mxf.M2XFP("ES", (32, 2), 8), "block must be"),
    (lambda: mxf.M2XFP("ES", (2048,), 8), "block must be"),
    (lambda: mxf.M2XFP("XS"), "variant"),
    (lambda: mxf.parse("M2XFP_ES((32,),5)"), "does not divide"),
    (lambda: mxf.parse("NVFP4(16)"), "end of text"),
    (lambda: mxf.parse("M2XFP_EM(32)"), "','"),
    (lambda: mxf.fake_quantize(np.ones(32, np.float32), mxf.M2XFP_ES, rounding="stochastic"), "nearest_even"),
])
def test_sizes_and_options_the_format_does_not_allow_are_clear_errors(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_nvfp4_zero_tensor_gives_zero_scales():
    q = mxf.quantize(np.zeros((2, 40), np.float32), mxf.NVFP4())
    assert q.tensor_scale == 0 and (q.scales == 0).all() and (mxf.dequantize(q) == 0).all()
    # amax so small that amax / 2688 underflows float32: S = 0, documented as all zeros
    tiny = np.full(16, np.float32(1e-44))
    assert (mxf.fake_quantize(tiny, mxf.NVFP4()) == 0).all()


def test_nvfp4_infinite_or_nan_amax_makes_nan_blocks_and_keeps_the_finite_scale():
    x = wide_random((2, 48), 6)
    finite = x.copy()
    x[0, 3], x[1, 40] = np.inf, np.nan
    q = mxf.quantize(x, mxf.NVFP4())
    big = np.abs(finite)
    big[0, :16], big[1, 32:] = 0, 0
    assert q.tensor_scale == np.float32(big.max() / 2688)
    y = mxf.dequantize(q)
    assert np.isnan(y[0, :16]).all() and np.isnan(y[1, 32:]).all() and np.isfinite(y[0, 16:]).all()
    assert q.scales[0, 0] == 0x7F and q.scales[1, 2] == 0x7F
    only_nan = mxf.quantize(np.full(20, np.nan, np.float32), mxf.NVFP4())
    assert only_nan.tensor_scale == 0 and np.isnan(mxf.dequantize(only_nan)).all()
    with pytest.raises(ValueError, match="not finite"):
        mxf.quantize(x, mxf.NVFP4(), nonfinite="error")


def test_nvfp4_flt_max_saturates_instead_of_overflowing():
    x = np.r_[np.finfo(np.float32).max, -np.finfo(np.float32).max, np.ones(14)].astype(np.float32)
    y = mxf.fake_quantize(x, mxf.NVFP4())
    assert np.isfinite(y).all() and abs(y[0]) <= np.finfo(np.float32).max


def test_empty_tensors():
    for fmt in FORMATS:
        q = mxf.quantize(np.empty((3, 0), np.float32), fmt)
        assert mxf.dequantize(q).shape == (3, 0) and mxf.fake_quantize(np.empty((0, 32), np.float32), fmt).shape == (0, 32)


# --------------------------------------------------------------------------- properties
FINITE = st.floats(width=32, allow_nan=False, allow_infinity=False)
ARRAYS = hnp.arrays(np.float32, hnp.array_shapes(min_dims=1, max_dims=2, max_side=40), elements=FINITE)
WIDE = hnp.arrays(np.float32, hnp.array_shapes(min_dims=1, max_dims=2, max_side=40),
                  elements=st.builds(lambda m, e: float(np.float32(m * 2.0**e)), st.floats(-8, 8), st.integers(-140, 120)))
M2XFP_FORMATS = st.sampled_from([mxf.M2XFP_ES, mxf.M2XFP_EM, mxf.M2XFP("ES", (16,), 4), mxf.M2XFP("EM", (8,), 2)])


def _blocks(a: np.ndarray, n: int):
    a = a.reshape(-1, a.shape[-1]) if a.ndim else a.reshape(1, 1)
    for row in a:
        for c0 in range(0, row.size, n):
            yield row[c0:c0 + n]


def _sse(x, y) -> Fraction:
    return sum(((Fraction(float(a)) - Fraction(float(b))) ** 2 for a, b in zip(x, y)), Fraction(0))


@settings(max_examples=60, deadline=None)
@given(x=st.one_of(ARRAYS, WIDE))
def test_extra_scale_block_error_is_never_above_mxfp4(x):
    y = mxf.fake_quantize(x, mxf.M2XFP_ES)
    plain = mxf.fake_quantize(x, mxf.MXFP4_E2M1)
    for xb, yb, pb in zip(_blocks(x, 32), _blocks(y, 32), _blocks(plain, 32)):
        assert _sse(xb, yb) <= _sse(xb, pb)


@settings(max_examples=60, deadline=None)
@given(x=st.one_of(ARRAYS, WIDE))
def test_extra_mantissa_error_is_never_above_mxfp4_element_by_element(x):
    y = mxf.fake_quantize(x, mxf.M2XFP_EM).astype(np.float64)
    plain = mxf.fake_quantize(x, mxf.MXFP4_E2M1).astype(np.float64)
    xd = x.astype(np.float64)
    assert (np.abs(y - xd) <= np.abs(plain - xd)).all()
    assert (np.sign(y) * np.sign(xd) >= 0).all()


@settings(max_examples=80, deadline=None)
@given(x=st.one_of(ARRAYS, WIDE), fmt=M2XFP_FORMATS)
def test_m2xfp_values_lie_on_the_grid_their_metadata_names(x, fmt):
    q = mxf.quantize(x, fmt)
    y = mxf.dequantize(q)
    assert np.array_equal(y, mxf.fake_quantize(x, fmt)) and np.isfinite(y).all()
    n, g = fmt.block_size, fmt.subgroup
    for yr, sr, mr in zip(y.reshape(-1, y.shape[-1]) if y.ndim else y.reshape(1, 1),
                          q.scales.reshape(-1, q.scales.shape[-1]), q.meta.reshape(-1, q.meta.shape[-1])):
        for c, v in enumerate(yr):
            s, m = int(sr[c // n]), int(mr[c // g])
            if fmt.variant == "ES":
                assert abs(Fraction(float(v))) / (Fraction(4 + m, 4) * Fraction(2) ** s) in FP4_GRID
            else:
                e = abs(Fraction(float(v))) / Fraction(2) ** s
                assert e in FP4_GRID or e in FP6_GRID
    # Each EM subgroup holds at most one element off the FP4 grid.
    if fmt.variant == "EM":
        s_el = np.repeat(q.scales.astype(np.float64), n, axis=-1)[..., : y.shape[-1] if y.ndim else 1]
        e = np.abs(y.astype(np.float64)).reshape(s_el.shape) / np.exp2(s_el)
        off = ~np.isin(e, FP4)
        for row in off.reshape(-1, off.shape[-1]):
            for c0 in range(0, row.size, g):
                assert row[c0:c0 + g].sum() <= 1


@settings(max_examples=60, deadline=None)
@given(x=st.one_of(ARRAYS, WIDE))
def test_nvfp4_values_are_fp4_times_block_times_tensor_scale(x):
    q = mxf.quantize(x, mxf.NVFP4())
    y = mxf.dequantize(q)
    assert np.array_equal(y, mxf.fake_quantize(x, mxf.NVFP4())) and np.isfinite(y).all()
    from mx_formats.reference import E4M3_GRID

    S = Fraction(float(q.tensor_scale))
    d = np.repeat(q.scales, 16, axis=-1)[..., : x.shape[-1]]
    for v, k, dc in zip(y.reshape(-1), q.elements.reshape(-1), d.reshape(-1)):
        exact = FP4_GRID[int(k) & 7] * E4M3_GRID[int(dc)] * S
        assert float(v) == math.copysign(float(np.float32(min(float(exact), float(np.finfo(np.float32).max)))), float(v))


@pytest.mark.slow
@settings(max_examples=60, deadline=None)
@given(x=st.one_of(ARRAYS, WIDE), fmt=st.one_of(M2XFP_FORMATS, st.just(mxf.NVFP4())))
def test_codes_metadata_and_tensor_scale_equal_the_reference_on_any_input(x, fmt):
    assert_matches_reference(x, fmt)


def test_extra_mantissa_is_not_idempotent_by_definition():
    # Subgroup 1 holds only 3.45 (s = 0 from the 4.0 in subgroup 0): FP4 code 5 (3.0), window
    # 2.75..3.5, so 3.45 -> 3.5. Re-quantized, 3.5 is the FP4 midpoint of 3 and 4 and goes to 4
    # (code 6), whose window 3.75..5 gives 3.75: the README's caveat.
    x = np.zeros(32, np.float32)
    x[0], x[8] = 4.0, 3.45
    once = mxf.fake_quantize(x, mxf.M2XFP_EM)
    twice = mxf.fake_quantize(once, mxf.M2XFP_EM)
    assert once[8] == 3.5 and twice[8] == 3.75


def test_float64_input_is_rounded_to_float32_first():
    x = np.array([1 + 2.0**-30, 5.0, -0.75 - 2.0**-40] + [0.0] * 29)
    for fmt in FORMATS:
        assert np.array_equal(mxf.fake_quantize(x, fmt), mxf.fake_quantize(x.astype(np.float32), fmt))
