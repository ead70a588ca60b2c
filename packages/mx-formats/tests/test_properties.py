"""Property tests (hypothesis): idempotence, on-grid outputs, half-step error bound."""

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import mx_formats as mxf

FORMATS = st.sampled_from([
    mxf.MXInt((16, 2), 8, 7), mxf.MXInt((8,), 4, 3), mxf.MXInt((4, 3), 2, 6), mxf.MXINT8, mxf.MXFP8_E4M3,
    mxf.MXFP8_E5M2, mxf.MXFP6_E2M3, mxf.MXFP4_E2M1, mxf.BMF((16, 2), 4, 3, 8), mxf.BMF((8,), 2, 2, 5),
    mxf.BL((16, 2), 7, 8), mxf.BL((4,), 3, 4), mxf.Fixed(8, 4), mxf.MiniFloat(4, 3, 7), mxf.MiniFloat(3, 1, 2),
])
FINITE = st.floats(width=32, allow_nan=False, allow_infinity=False)
ARRAYS = hnp.arrays(np.float32, hnp.array_shapes(min_dims=1, max_dims=3, max_side=40), elements=FINITE)
ROUNDING = st.sampled_from(list(mxf.ROUNDING_MODES))


@settings(max_examples=150, deadline=None)
@given(x=ARRAYS, fmt=FORMATS, rounding=ROUNDING)
def test_fake_quantize_is_idempotent(x, fmt, rounding):
    once = mxf.fake_quantize(x, fmt, rounding=rounding, seed=4)
    assert np.array_equal(mxf.fake_quantize(once, fmt, rounding=rounding, seed=9), once)


@settings(max_examples=150, deadline=None)
@given(x=ARRAYS, fmt=FORMATS, rounding=ROUNDING)
def test_every_output_is_on_the_grid_and_decodes_to_itself(x, fmt, rounding):
    y = mxf.fake_quantize(x, fmt, rounding=rounding)
    assert np.array_equal(mxf.dequantize(mxf.quantize(x, fmt, rounding=rounding)), y)
    # Re-quantizing with a rounding mode that never rounds up keeps it: y is on the grid.
    assert np.array_equal(mxf.fake_quantize(y, fmt, rounding="toward_zero"), y)
    assert np.isfinite(y).all()


def local_step(x: np.ndarray, fmt) -> np.ndarray:
    """Grid spacing around each element (for the error bound), from the format's math."""
    q = mxf.quantize(x, fmt)
    if isinstance(fmt, mxf.MXInt) or fmt == mxf.MXINT8:
        m = fmt.man_bits if isinstance(fmt, mxf.MXInt) else 7
        s = np.log2(q.max_magnitude() / ((1 << m) - 1)) + m - 1  # recover s from the block maximum
        return np.exp2(s - m + 1)
    if isinstance(fmt, mxf.Fixed):
        return np.full(x.shape, 2.0**-fmt.frac)
    if isinstance(fmt, mxf.BL):
        return None
    # minifloat grids: step 2^(max(e, emin) - M) with the block's emin
    if isinstance(fmt, mxf.OCPFormat):
        man, emin = fmt.elem_man_bits, fmt.elem_emin + np.log2(q.max_magnitude() / fmt.elem_max)
    elif isinstance(fmt, mxf.BMF):
        man = fmt.man_bits
        emax = np.log2(q.max_magnitude() / (2 - 2.0**-man))
        emin = emax - fmt.exp_code_max + 1
    else:
        man, emin = fmt.man_bits, 1 - fmt.bias
    e = np.floor(np.log2(np.where(x == 0, 1, np.abs(x.astype(np.float64)))))
    return np.exp2(np.maximum(e, emin) - man)


@settings(max_examples=150, deadline=None)
@given(x=ARRAYS, fmt=FORMATS)
# found by hypothesis: 2^-23 is half the block's smallest code 2^-22 and ties up to it
@example(x=np.array([1.5211807e31, 1.1920929e-07], dtype=np.float32), fmt=mxf.BL((16, 2), 7, 8))
def test_nearest_rounding_error_is_at_most_half_a_step_unless_saturated(x, fmt):
    y = mxf.fake_quantize(x, fmt).astype(np.float64)
    xd = x.astype(np.float64)
    saturated = np.abs(xd) > mxf.quantize(x, fmt).max_magnitude()
    step = local_step(x, fmt)
    if step is None:
        # BL: |x| in [2^k, 1.5*2^k) goes to 2^k, [1.5*2^k, 2^(k+1)) to 2^(k+1): |y|/|x| in (2/3, 4/3];
        # below the smallest code 2^(1-beta), nearest in the linear domain: [2^-beta, 2^(1-beta)) goes
        # up to 2^(1-beta) (ties to the larger magnitude), below 2^-beta to zero
        ratio = np.abs(y) / np.where(xd == 0, 1, np.abs(xd))
        smallest = mxf.quantize(x, fmt).max_magnitude() * 2.0 ** -((1 << fmt.exp_bits) - 2)
        underflow = (np.abs(y) == smallest) & (np.abs(xd) >= smallest / 2) & (np.abs(xd) < smallest)
        ok = (y == 0) | ((ratio <= 4 / 3) & (ratio > 2 / 3)) | underflow
        assert (ok | saturated).all()
        return
    err = np.abs(y - xd)
    assert ((err <= step / 2) | saturated).all()
