"""Whole-tensor MXInt ops: tiling/untiling is right (result == quantize of the exact float
result) and the RTL backend gives the golden backend's bits."""

from fractions import Fraction

import mx_formats as mxf
import numpy as np
import pytest

from mase_hwlib import ops


def _exact(q):
    return np.vectorize(Fraction, otypes=[object])(mxf.dequantize(q).astype(np.float64))


def _same(a, b):
    np.testing.assert_array_equal(a.elements, b.elements)
    np.testing.assert_array_equal(a.scales, b.scales)
    assert a.shape == b.shape and a.fmt == b.fmt


@pytest.fixture
def linear_case():
    rng = np.random.default_rng(30)
    x, w, b = rng.standard_normal((4, 16)), rng.standard_normal((6, 16)), rng.standard_normal(6)
    qx = mxf.quantize(x, mxf.MXInt((8, 2), 8, 7), axes=(-1, -2))
    qw = mxf.quantize(w, mxf.MXInt((8, 3), 8, 5), axes=(-1, -2))
    qb = mxf.quantize(b, mxf.MXInt((3,), 8, 7))
    return qx, qw, qb, mxf.MXInt((3, 2), 8, 6)


def test_linear_equals_quantize_of_exact(linear_case):
    qx, qw, qb, fo = linear_case
    exact = (_exact(qx) @ _exact(qw).T + _exact(qb)).astype(np.float64)
    _same(ops.linear(qx, qw, qb, fo), mxf.quantize(exact, fo, axes=(-1, -2)))


def test_linear_rtl_streamed_and_rom_equal_golden(linear_case):
    qx, qw, qb, fo = linear_case
    golden = ops.linear(qx, qw, qb, fo)
    _same(ops.linear(qx, qw, qb, fo, backend="rtl", idle=0.2, backpressure=0.2), golden)
    _same(ops.linear(qx, qw, qb, fo, backend="rtl", weights_in_rom=True), golden)


def test_matmul_equals_quantize_of_exact_and_rtl_equals_golden():
    rng = np.random.default_rng(31)
    a, b = rng.standard_normal((4, 8)), rng.standard_normal((8, 6))
    qa = mxf.quantize(a, mxf.MXInt((4, 2), 8, 7), axes=(-1, -2))
    qb = mxf.quantize(b, mxf.MXInt((4, 3), 8, 7), axes=(-2, -1))
    fo = mxf.MXInt((3, 2), 8, 7)
    golden = ops.matmul(qa, qb, fo)
    _same(golden, mxf.quantize((_exact(qa) @ _exact(qb)).astype(np.float64), fo, axes=(-1, -2)))
    _same(ops.matmul(qa, qb, fo, backend="rtl", backpressure=0.3), golden)


def test_elementwise_ops_equal_quantize_of_exact():
    rng = np.random.default_rng(32)
    fmt, out = mxf.MXInt((4,), 8, 7), mxf.MXInt((4,), 8, 4)
    qa, qb = (mxf.quantize(rng.standard_normal((3, 8)), fmt), mxf.quantize(rng.standard_normal((3, 8)), fmt))
    ea, eb = _exact(qa), _exact(qb)
    for op, exact in ((ops.mul, ea * eb), (ops.add, ea + eb)):
        _same(op(qa, qb, out), mxf.quantize(exact.astype(np.float64), out))
    _same(ops.cast(qa, out), mxf.quantize(ea.astype(np.float64), out))
    _same(ops.relu(qa, out), mxf.quantize(np.maximum(ea, 0).astype(np.float64), out))


def test_bad_blocking_is_refused_with_the_rule(linear_case):
    qx, qw, qb, _ = linear_case
    with pytest.raises(ValueError, match=r"output format's block must be \(3, 2\) \(OUT_TILE, X_ROWS\)"):
        ops.linear(qx, qw, qb, mxf.MXInt((2, 3), 8, 7))
    with pytest.raises(ValueError, match="backend must be 'golden' or 'rtl'"):
        ops.linear(qx, qw, qb, mxf.MXInt((3, 2), 8, 7), backend="verilator")
