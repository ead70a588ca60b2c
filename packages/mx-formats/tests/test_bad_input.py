"""Bad input gets a ValueError/TypeError that names the problem, never a numba traceback."""

import numpy as np
import pytest

import mx_formats as mxf

X = np.ones((4, 32), np.float32)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: mxf.fake_quantize(np.ones(4, np.int32), mxf.MXINT8), TypeError, "dtype int32"),
        (lambda: mxf.fake_quantize(np.ones(4, bool), mxf.MXINT8), TypeError, "floating-point"),
        (lambda: mxf.fake_quantize(X, "MXInt((16,2),8)"), ValueError, "column"),
        (lambda: mxf.fake_quantize(X, 42), TypeError, "format object or a format string"),
        (lambda: mxf.fake_quantize(X, mxf.MXINT8, axes=2), ValueError, "axis 2 is out of range"),
        (lambda: mxf.fake_quantize(X, mxf.MXINT8, axes=(0, 1)), ValueError, "needs 1 blocked axes"),
        (lambda: mxf.fake_quantize(X, mxf.MXInt((16, 2), 8, 7), axes=(1, 1)), ValueError, "must differ"),
        (lambda: mxf.fake_quantize(X, mxf.MXINT8, axes=1.5), TypeError, "axes must be"),
        (lambda: mxf.fake_quantize(X, mxf.Fixed(8, 4), axes=0), ValueError, "scalar format"),
        (lambda: mxf.fake_quantize(X, mxf.MXINT8, rounding="nearest"), ValueError, "unknown rounding 'nearest'"),
        (lambda: mxf.fake_quantize(X, mxf.MXINT8, seed=-1), ValueError, "seed"),
        (lambda: mxf.fake_quantize(X, mxf.MXINT8, nonfinite="ignore"), ValueError, "nonfinite"),
        (lambda: mxf.fake_quantize(X, mxf.MXINT8, out=np.empty((4, 32), np.float64)), ValueError, "out must be"),
        (lambda: mxf.dequantize(X), TypeError, "MXArray"),
    ],
)
def test_bad_arguments_are_named(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_nonfinite_error_names_the_first_bad_element():
    x = np.ones((3, 40), np.float32)
    x[2, 7] = np.inf
    with pytest.raises(ValueError, match=r"x\[2, 7\] = inf is not finite"):
        mxf.fake_quantize(x, mxf.MXINT8, nonfinite="error")


def test_scalar_formats_refuse_nan_when_packing():
    with pytest.raises(ValueError, match="Fixed\\(8,4\\) has no code for NaN"):
        mxf.quantize(np.array([1.0, np.nan], np.float32), mxf.Fixed(8, 4))
    # fake quantization still propagates it
    assert np.isnan(mxf.fake_quantize(np.array([1.0, np.nan], np.float32), mxf.Fixed(8, 4))[1])


def test_block_larger_than_the_tensor_and_empty_and_scalar_tensors_are_fine():
    fmt = mxf.MXInt((64, 4), 8, 7)
    small = np.array([[0.5, -3.0]], np.float32)
    assert np.array_equal(mxf.fake_quantize(small, fmt), small)
    assert mxf.fake_quantize(np.empty((0, 32), np.float32), fmt).shape == (0, 32)
    assert mxf.dequantize(mxf.quantize(np.empty((3, 0), np.float32), fmt)).shape == (3, 0)
    assert mxf.fake_quantize(np.float32(1.25), fmt).shape == ()
    assert mxf.fake_quantize(np.arange(5, dtype=np.float32), fmt).shape == (5,)  # 1-D under a 2-D block
