"""The numba kernels against the slow pure-Python reference: values, scales and codes."""

import numpy as np
import pytest

import mx_formats as mxf
from mx_formats.reference import reference_quantize

FORMATS = [
    mxf.MXInt((16, 2), 8, 7),
    mxf.MXInt((16, 2), 8, 3),
    mxf.MXInt((8,), 4, 2),
    mxf.MXInt((5, 3), 3, 5),
    mxf.MXINT8,
    mxf.MXFP8_E4M3,
    mxf.MXFP8_E5M2,
    mxf.MXFP6_E3M2,
    mxf.MXFP6_E2M3,
    mxf.MXFP4_E2M1,
    mxf.BMF((16, 2), 4, 3, 8),
    mxf.BMF((8,), 2, 1, 4),
    mxf.BMF((4, 4), 5, 0, 8),
    mxf.BL((16, 2), 7, 8),
    mxf.BL((4,), 3, 3),
    mxf.Fixed(8, 4),
    mxf.Fixed(12, -3),
    mxf.MiniFloat(4, 3, 7),
    mxf.MiniFloat(5, 2, 15),
    mxf.MiniFloat(2, 1, 1),
]
ROUNDINGS = list(mxf.ROUNDING_MODES)


def assert_matches_reference(x, fmt, axes=None, rounding="nearest_even", seed=0):
    values, scales, codes = reference_quantize(x, fmt, axes, rounding, seed)
    fake = mxf.fake_quantize(x, fmt, axes, rounding, seed=seed)
    assert fake.dtype == np.float32 and fake.shape == np.shape(x)
    mismatch = ~((fake == values) | (np.isnan(fake) & np.isnan(values)))
    assert not mismatch.any(), (
        f"{fmt} {rounding}: first mismatch at {np.argwhere(mismatch)[0]}: x={np.asarray(x)[tuple(np.argwhere(mismatch)[0])]!r} "
        f"kernel={fake[mismatch][0]!r} reference={values[mismatch][0]!r}"
    )
    if not fmt.is_block and not np.isfinite(x).all():
        return  # scalar formats have no code for NaN: quantize refuses (tested elsewhere)
    q = mxf.quantize(x, fmt, axes, rounding, seed=seed)
    assert np.array_equal(q.elements, codes), f"{fmt} {rounding}: codes differ"
    if fmt.is_block:
        assert np.array_equal(q.scales, scales), f"{fmt} {rounding}: scales differ"
    decoded = mxf.dequantize(q)
    assert np.array_equal(decoded, fake, equal_nan=True), f"{fmt} {rounding}: dequantize(quantize) != fake_quantize"


def wide_random(shape, seed):
    """Normal data scaled by 2^k per element, k in [-30, 30]: many binades per block."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) * np.exp2(rng.integers(-30, 30, shape))).astype(np.float32)


@pytest.mark.parametrize("fmt", FORMATS, ids=str)
@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_random_wide_range_data(fmt, rounding):
    assert_matches_reference(wide_random((3, 10, 37), hash((str(fmt), rounding)) % 2**32), fmt, rounding=rounding,
                             seed=11)


@pytest.mark.parametrize("fmt", FORMATS, ids=str)
@pytest.mark.parametrize("shape", [(1,), (7,), (33,), (5, 31), (2, 3, 17, 9), ()])
def test_shapes_that_are_not_block_multiples(fmt, shape):
    x = np.random.default_rng(len(shape)).standard_normal(shape).astype(np.float32)
    assert_matches_reference(x, fmt)


def edge_block():
    """One row per edge case; each row is a block of 32 for (32,)-blocked formats."""
    f32 = np.float32
    tiny = np.finfo(f32).tiny
    rows = {
        "zeros": np.zeros(32, f32),
        "negative zeros": -np.zeros(32, f32),
        "one huge outlier": np.r_[np.full(31, 1e-3, f32), f32(1e6)],
        "subnormals": np.arange(1, 33, dtype=f32) * f32(1e-45) * np.where(np.arange(32) % 2, 1, -1),
        "around the smallest normal": np.r_[np.full(16, tiny, f32), np.full(16, tiny / 2, f32)],
        "halfway points": (np.arange(32, dtype=f32) + f32(0.5)) / f32(8),
        "amax a few ulps below a power of two": np.r_[np.nextafter(f32(2), f32(0)) - np.arange(4, dtype=f32) * f32(1e-7),
                                                       np.linspace(-1, 1, 28, dtype=f32)],
        "FLT_MAX": np.r_[np.finfo(f32).max, -np.finfo(f32).max, np.ones(30, f32)],
        "NaN": np.r_[f32(np.nan), np.ones(31, f32)],
        "+Inf": np.r_[np.ones(31, f32), f32(np.inf)],
        "-Inf": np.r_[f32(-np.inf), np.ones(31, f32)],
        "ties at 1.5 powers of two": np.r_[f32(1.5) * np.exp2(np.arange(-8, 8, dtype=f32)), -f32(1.5) * np.exp2(np.arange(-8, 8, dtype=f32))],
    }
    return rows


@pytest.mark.parametrize("case", list(edge_block()))
@pytest.mark.parametrize("fmt", FORMATS, ids=str)
def test_edge_cases(fmt, case):
    x = np.tile(edge_block()[case], (2, 1))  # 2 rows so 2-D blocks have full height
    for rounding in ("nearest_even", "nearest_away", "toward_zero", "floor"):
        assert_matches_reference(x, fmt, rounding=rounding)


@pytest.mark.parametrize("fmt", [mxf.MXInt((16, 2), 8, 5), mxf.BMF((8, 2), 3, 2, 6), mxf.MXFP8_E4M3, mxf.BL((4, 2), 4, 6)], ids=str)
@pytest.mark.parametrize("axes", [(0,), (1,), (-3,), (0, 2), (2, 1), (1, 0)])
def test_any_blocked_axes(fmt, axes):
    x = wide_random((6, 9, 34), 5)
    if len(axes) != len(fmt.block):
        axes = axes[:1] if len(fmt.block) == 1 else (axes[0], (axes[0] + 1) % 3)
    assert_matches_reference(x, fmt, axes=axes)


def test_blocked_axes_equal_transposing_first():
    x = wide_random((12, 40), 9)
    fmt = mxf.MXInt((16, 2), 8, 4)
    direct = mxf.fake_quantize(x, fmt, axes=(0, 1))
    via_transpose = mxf.fake_quantize(np.ascontiguousarray(x.T), fmt).T
    assert np.array_equal(direct, via_transpose)


@pytest.mark.parametrize("dtype", [np.float16, np.float64])
@pytest.mark.parametrize("fmt", [mxf.MXInt((16, 2), 8, 7), mxf.MXFP6_E3M2, mxf.BMF((16,), 3, 4, 8), mxf.BL((8,), 5, 8), mxf.Fixed(10, 3)], ids=str)
def test_other_float_dtypes(fmt, dtype):
    x = (np.random.default_rng(3).standard_normal((4, 48)) * 7).astype(dtype)
    assert_matches_reference(x, fmt)


def test_float64_is_quantized_from_its_exact_value_not_a_float32_rounding():
    # 1 + 2^-8 + 2^-40 lies just above the midpoint of 1 and 1 + 2^-7 (the grid of
    # MXInt m=8 at s=0), so it rounds up; rounded to float32 first it becomes the
    # midpoint itself, which rounds to even (down).
    x = np.array([1 + 2.0**-8 + 2.0**-40, 1.9], np.float64)
    fmt = mxf.MXInt((2,), 8, 8)  # quantum 2^-7 for s = 0
    assert mxf.fake_quantize(x, fmt)[0] == np.float32(1 + 2.0**-7)
    assert mxf.fake_quantize(x.astype(np.float32), fmt)[0] == np.float32(1.0)


def test_nan_block_is_all_nan_and_other_blocks_are_untouched():
    x = np.ones((2, 64), np.float32)
    x[0, 5] = np.nan
    for fmt in (mxf.MXINT8, mxf.MXFP8_E5M2, mxf.BMF((32,), 4, 3, 8), mxf.BL((32,), 5, 8)):
        y = mxf.fake_quantize(x, fmt)
        assert np.isnan(y[0, :32]).all() and (y[0, 32:] == 1).all() and (y[1] == 1).all()
        assert mxf.quantize(x, fmt).scales[0, 0] == fmt.scale_nan


def test_ocp_nan_block_has_scale_code_0xff():
    x = np.r_[np.float32(np.inf), np.ones(31, np.float32)]
    q = mxf.quantize(x, mxf.MXFP8_E4M3)
    assert q.scale_codes().tolist() == [0xFF]


def test_stochastic_rounding_is_seeded_and_unbiased():
    x = np.full((64, 256), 0.3, np.float32)  # 0.3 on an MXInt grid of quantum 2^-3
    fmt = mxf.MXInt((16,), 8, 3)  # s = -2 for 0.3 -> quantum 2^-4
    a = mxf.fake_quantize(x, fmt, rounding="stochastic", seed=1)
    b = mxf.fake_quantize(x, fmt, rounding="stochastic", seed=1)
    c = mxf.fake_quantize(x, fmt, rounding="stochastic", seed=2)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert set(np.unique(a).tolist()) == {0.25, 0.3125}
    # E[result] = 0.3: 16384 draws, std of the mean ~ 0.0625 * 0.49 / 128 = 2.4e-4
    assert abs(a.mean() - 0.3) < 1.5e-3


def test_mxint_shared_exponent_from_the_bits_not_a_float_log2():
    below_eight = np.nextafter(np.float32(8), np.float32(0))
    assert np.floor(np.log2(below_eight)) == 3.0  # the trap: float32 log2 rounds up to 3
    x = np.r_[below_eight, np.zeros(15, np.float32)]
    assert mxf.quantize(x, mxf.MXInt((16,), 8, 7)).scales.tolist() == [2]


@pytest.mark.parametrize("fmt", [mxf.MXInt((16, 2), 8, 5), mxf.MXINT8, mxf.MXFP6_E2M3, mxf.BMF((16, 2), 4, 3, 8),
                                 mxf.BL((16, 2), 7, 8), mxf.Fixed(8, 4), mxf.MiniFloat(4, 3, 7)], ids=str)
@pytest.mark.parametrize("rounding", ["nearest_even", "toward_zero"])
def test_parallel_kernels_on_a_large_tensor_equal_the_serial_ones_on_its_slices(fmt, rounding):
    from mx_formats.kernels import PARALLEL_MIN_ELEMENTS

    x = wide_random((512, 300), 21)
    x[7, 40] = np.nan
    assert x.size >= PARALLEL_MIN_ELEMENTS and 16 * x.shape[1] < PARALLEL_MIN_ELEMENTS
    whole = mxf.fake_quantize(x, fmt, rounding=rounding)
    pieces = np.concatenate([mxf.fake_quantize(x[i:i + 16], fmt, rounding=rounding) for i in range(0, 512, 16)])
    assert np.array_equal(whole, pieces, equal_nan=True)
    if fmt.is_block:
        q = mxf.quantize(x, fmt, rounding=rounding)
        assert np.array_equal(mxf.dequantize(q), whole, equal_nan=True)


@pytest.mark.parametrize("fmt", [mxf.MiniFloat(7, 23, 63), mxf.BMF((4,), 3, 23, 4), mxf.BMF((16, 2), 2, 23, 8)], ids=str)
def test_23_mantissa_bits_drop_nothing_in_the_top_binades(fmt):
    # Found while writing the torch kernels: with 23 fraction bits the nearest-even hot path
    # drops 0 bits, and its rounding offset (half - 1) took one ulp off every even significand.
    x = np.r_[np.float32(1.0), np.float32(1.5), np.float32(-3.0), wide_random((61,), 2)].reshape(2, 32)
    assert_matches_reference(x, fmt)
    assert mxf.fake_quantize(np.float32(1.0), mxf.MiniFloat(7, 23, 63)) == 1.0  # was 0.99999994
