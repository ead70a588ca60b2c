"""MXArray: packed size, bytes round trip, signed mantissas."""

import numpy as np
import pytest

import mx_formats as mxf

FORMATS = [mxf.MXInt((16, 2), 8, 3), mxf.MXInt((8,), 5, 10), mxf.MXINT8, mxf.MXFP4_E2M1, mxf.MXFP6_E3M2,
           mxf.BMF((16, 2), 2, 1, 5), mxf.BL((8,), 3, 6), mxf.Fixed(5, 2), mxf.MiniFloat(3, 2, 3), mxf.F32]


@pytest.mark.parametrize("fmt", FORMATS, ids=str)
def test_bytes_round_trip_and_true_packed_size(fmt):
    x = np.random.default_rng(0).standard_normal((6, 37)).astype(np.float32)
    if fmt.is_block:
        x[0, 3] = np.nan  # a NaN block survives the trip too
    q = mxf.quantize(x, fmt)
    data = q.to_bytes()
    back = mxf.MXArray.from_bytes(data)
    assert back.fmt == fmt and back.shape == q.shape and back.axes == q.axes
    assert np.array_equal(back.elements, q.elements) and np.array_equal(back.scales, q.scales)
    assert np.array_equal(mxf.dequantize(back), mxf.dequantize(q), equal_nan=True)
    n_scales = q.scales.size if fmt.is_block else 0
    expected = -(-x.size * fmt.element_bits // 8) + (-(-n_scales * fmt.scale_bits // 8) if fmt.is_block else 0)
    assert q.nbytes == expected
    assert len(data) - q.nbytes < 200  # the rest is a small header


def test_sub_byte_codes_are_really_packed():
    x = np.random.default_rng(1).standard_normal(1024).astype(np.float32)
    q = mxf.quantize(x, mxf.MXFP4_E2M1)
    assert q.nbytes == 1024 // 2 + 1024 // 32  # 4-bit elements, one 8-bit scale per 32


@pytest.mark.parametrize("data, message", [(b"nope", "bad magic"), (b"MXA1\x05\x00\x00\x00{bad}", "corrupt header")])
def test_corrupt_bytes_are_refused(data, message):
    with pytest.raises(ValueError, match=message):
        mxf.MXArray.from_bytes(data)


def test_truncated_payload_is_refused():
    data = mxf.quantize(np.ones(64, np.float32), mxf.MXINT8).to_bytes()
    with pytest.raises(ValueError, match="expected .* bytes"):
        mxf.MXArray.from_bytes(data[:-3])


def test_mantissas_are_the_signed_integers_of_the_grid():
    x = np.array([[1.0, -0.75, 0.5, -1.96875] + [0.0] * 28], np.float32)
    q = mxf.quantize(x, mxf.MXInt((32,), 8, 5))  # s = 0, quantum 2^-4
    assert q.scales.tolist() == [[0]]
    assert q.mantissas()[0, :4].tolist() == [16, -12, 8, -31]
    with pytest.raises(TypeError, match="mantissas"):
        mxf.quantize(x, mxf.MXFP8_E4M3).mantissas()
