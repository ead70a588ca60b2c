"""torch_kernels (the device path) against the numba kernels, bit for bit.

The numba kernels are the oracle here (they are checked against reference.py in
test_kernels_vs_reference.py). CI runs these on CPU tensors in eager mode. On a GPU
machine the same file runs on CUDA:

    MX_FORMATS_TEST_DEVICE=cuda python -m pytest packages/mx-formats/tests/test_torch_kernels.py
    MX_FORMATS_TEST_DEVICE=cuda MX_FORMATS_TEST_COMPILE=1 python -m pytest ... -k compiled

(the first eager on CUDA, the second the torch.compile'd path the wrapper uses).
"""

import importlib.util
import os
import warnings
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

import mx_formats as mxf  # noqa: E402
import mx_formats.torch as mxt  # noqa: E402
from mx_formats import torch_kernels as TK  # noqa: E402

# The vectors of the numba-vs-reference tests (a sibling module: pytest runs in importlib mode).
_spec = importlib.util.spec_from_file_location("_vectors", Path(__file__).with_name("test_kernels_vs_reference.py"))
_vectors = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_vectors)
FORMATS, edge_block, wide_random = _vectors.FORMATS, _vectors.edge_block, _vectors.wide_random
# Widest grids too: with 23 mantissa bits nothing is dropped (d = 0 in the rounding).
WIDE_FORMATS = [mxf.MiniFloat(7, 23, 63), mxf.BMF((4,), 3, 23, 4), mxf.MXInt((8,), 8, 23), mxf.Fixed(24, 0)]

DEVICE = os.environ.get("MX_FORMATS_TEST_DEVICE", "cpu")
COMPILE = os.environ.get("MX_FORMATS_TEST_COMPILE", "0") == "1"
ROUNDINGS = list(mxf.ROUNDING_MODES)
BENCH_FORMATS = [mxf.MXINT8, mxf.MXInt((16, 2), 8, 7), mxf.MXFP8_E4M3, mxf.MXFP6_E2M3, mxf.MXFP4_E2M1,
                 mxf.BMF((16, 2), 4, 3, 8), mxf.BL((16, 2), 7, 8)]


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal float32 bit patterns, except that any NaN equals any NaN."""
    nan = np.isnan(a)
    return a.shape == b.shape and np.array_equal(nan, np.isnan(b)) and np.array_equal(
        a.view(np.uint32)[~nan], b.view(np.uint32)[~nan])


def assert_matches_numba(x: np.ndarray, fmt, axes=None, rounding="nearest_even", seed=11, compile=False,
                         codes=True):
    t = torch.from_numpy(x).to(DEVICE)
    want = mxf.fake_quantize(x, fmt, axes, rounding, seed=seed)
    got = TK.fake_quantize(t, fmt, axes, rounding, seed=seed, compile=compile).cpu().numpy()
    if not same_bits(want, got):
        bad = np.argwhere(~((want == got) & (np.signbit(want) == np.signbit(got)) | np.isnan(want) & np.isnan(got)))
        i = tuple(bad[0]) if len(bad) else ()
        raise AssertionError(f"{fmt} {rounding} axes={axes}: first difference at {i}: x={x[i]!r} "
                             f"numba={want[i]!r} torch={got[i]!r}")
    if not codes or not (fmt.is_block or np.isfinite(x).all()):
        return
    q = mxf.quantize(x, fmt, axes, rounding, seed=seed)
    scales, elements = TK.quantize(t, fmt, axes, rounding, seed=seed, compile=compile)
    assert np.array_equal(elements.cpu().numpy().astype(q.elements.dtype), q.elements), f"{fmt} {rounding}: codes"
    if fmt.is_block:
        assert np.array_equal(scales.cpu().numpy(), q.scales), f"{fmt} {rounding}: scales"


def edge_rows() -> np.ndarray:
    """Every edge case of test_kernels_vs_reference as a pair of equal rows (2-D blocks see both)."""
    return np.repeat(np.stack(list(edge_block().values())), 2, axis=0).astype(np.float32)


def mixed_tensor(seed: int) -> np.ndarray:
    """Edge rows and wide-range random rows, 37 columns (a ragged last block) and 65 rows."""
    rng = np.random.default_rng(seed)
    edges = edge_rows()
    edges = np.concatenate([edges, wide_random((len(edges), 5), seed)], axis=1)
    return np.concatenate([edges, wide_random((65 - len(edges), 37), seed + 1) * rng.choice([1, 1e-30], (1, 37))
                           .astype(np.float32)]).astype(np.float32)


@pytest.mark.parametrize("fmt", FORMATS + WIDE_FORMATS, ids=str)
@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_wide_range_data_and_edge_cases_equal_the_numba_kernels(fmt, rounding):
    assert_matches_numba(wide_random((3, 10, 37), hash((str(fmt), rounding)) % 2**32), fmt, rounding=rounding)
    assert_matches_numba(edge_rows(), fmt, rounding=rounding, seed=5)


@pytest.mark.parametrize("fmt", FORMATS, ids=str)
@pytest.mark.parametrize("shape", [(1,), (7,), (33,), (5, 31), (2, 3, 17, 9), ()])
def test_shapes_that_are_not_block_multiples(fmt, shape):
    x = np.random.default_rng(len(shape)).standard_normal(shape).astype(np.float32)
    assert_matches_numba(x, fmt, rounding="stochastic")
    assert_matches_numba(x, fmt)


@pytest.mark.parametrize("fmt", [mxf.MXInt((16, 2), 8, 5), mxf.BMF((8, 2), 3, 2, 6), mxf.MXFP8_E4M3,
                                 mxf.BL((4, 2), 4, 6)], ids=str)
@pytest.mark.parametrize("axes", [(0,), (1,), (-3,), (0, 2), (2, 1), (1, 0)])
def test_any_blocked_axes(fmt, axes):
    if len(axes) != len(fmt.block):
        axes = axes[:1] if len(fmt.block) == 1 else (axes[0], (axes[0] + 1) % 3)
    assert_matches_numba(wide_random((6, 9, 34), 5), fmt, axes=axes, rounding="stochastic")


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("fmt", BENCH_FORMATS + [mxf.Fixed(10, 3), mxf.MiniFloat(4, 3, 7)], ids=str)
def test_half_precision_inputs_are_widened_exactly(fmt, dtype):
    t = (torch.randn(4, 96, generator=torch.Generator().manual_seed(3)) * 7).to(dtype)
    want = mxf.fake_quantize(t.float().numpy(), fmt)
    got = TK.fake_quantize(t.to(DEVICE), fmt, out_dtype=dtype)
    assert got.dtype == dtype
    assert torch.equal(got.cpu(), torch.from_numpy(want).to(dtype))


def test_float16_and_bfloat16_bits_are_widened_like_torch_does():
    every = torch.arange(-(1 << 15), 1 << 15, dtype=torch.int32).to(torch.int16)  # all 65536 patterns
    for dtype in (torch.float16, torch.bfloat16):
        x = every.view(dtype).to(DEVICE)
        got = TK._bits32(x).view(torch.float32)
        want = x.to(torch.float32)
        nan = torch.isnan(want)
        assert torch.equal(torch.isnan(got), nan)
        assert torch.equal(got[~nan].view(torch.int32), want[~nan].view(torch.int32))


def test_both_value_constructions_of_the_integer_hot_path_agree(monkeypatch):
    x = mixed_tensor(2)
    for flag in (False, True):
        monkeypatch.setattr(TK, "_FLOAT_VALUES", flag)
        for fmt in (mxf.MXINT8, mxf.MXInt((16, 2), 8, 7)) if COMPILE else (mxf.MXINT8, mxf.MXInt((8,), 4, 2),
                                                                         mxf.Fixed(12, -3)):
            assert_matches_numba(x, fmt, compile=COMPILE, codes=False)
    assert not TK._COMPILE_FAILED


def test_unsupported_dtype_is_refused_by_the_kernels():
    with pytest.raises(TypeError, match="float64"):
        TK.fake_quantize(torch.ones(4, dtype=torch.float64, device=DEVICE), mxf.MXINT8)


def test_compiling_for_cpu_tensors_is_refused():
    with pytest.raises(ValueError, match="GPU"):
        TK.fake_quantize(torch.ones(4), mxf.MXINT8, compile=True)


FORMAT_ST = st.sampled_from(FORMATS + [mxf.MXInt((4, 3), 2, 6), mxf.BMF((8,), 2, 2, 5), mxf.MiniFloat(3, 1, 2)])
ARRAYS = hnp.arrays(np.float32, hnp.array_shapes(min_dims=1, max_dims=3, max_side=40),
                    elements=st.floats(width=32, allow_nan=True, allow_infinity=True))


@settings(max_examples=120, deadline=None)
@given(x=ARRAYS, fmt=FORMAT_ST, rounding=st.sampled_from(ROUNDINGS), seed=st.integers(0, 2**63 - 1))
def test_any_input_equals_the_numba_kernels(x, fmt, rounding, seed):
    assert_matches_numba(x, fmt, rounding=rounding, seed=seed)


# --------------------------------------------------------------------------- the compiled path
@pytest.mark.skipif(not COMPILE, reason="set MX_FORMATS_TEST_COMPILE=1 (a GPU machine) to check torch.compile")
@pytest.mark.parametrize("fmt", BENCH_FORMATS + [mxf.MXInt((5, 3), 3, 5), mxf.Fixed(8, 4), mxf.MiniFloat(4, 3, 7)],
                         ids=str)
def test_compiled_path_equals_the_numba_kernels(fmt):
    # A ragged tensor of edge cases (every format: values and codes; stochastic values for the
    # benchmark's formats), then a whole-block one of another shape (a dynamic-shape recompile).
    x = mixed_tensor(7)
    assert_matches_numba(x, fmt, compile=True)
    if fmt in BENCH_FORMATS:
        assert_matches_numba(x, fmt, rounding="stochastic", compile=True, codes=False)
        assert_matches_numba(wide_random((64, 96), 3), fmt, compile=True, codes=False)
    assert not TK._COMPILE_FAILED, "torch.compile failed (the eager fallback hid it)"


# --------------------------------------------------------------------------- the autograd wrapper
@pytest.fixture
def device_path(monkeypatch):
    """Route every tensor, CPU ones too, through the device kernels of mx_formats.torch."""
    monkeypatch.setattr(mxt, "HOST_DEVICE_TYPES", set())


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_wrapper_device_path_values_and_straight_through_gradient(device_path, dtype):
    fmt = mxf.MXInt((16, 2), 8, 4)
    t = torch.randn(6, 48, device=DEVICE).to(dtype).requires_grad_()
    y = mxt.fake_quantize(t, fmt)
    assert y.dtype == dtype and y.device == t.device
    assert torch.equal(y.cpu().float(), torch.from_numpy(mxf.fake_quantize(t.detach().float().cpu().numpy(), fmt)))
    upstream = torch.randn_like(y)
    y.backward(upstream)
    assert t.grad.device == t.device and torch.equal(t.grad, upstream)


@pytest.mark.parametrize("fmt", [mxf.MXInt((16,), 8, 2), mxf.MXFP4_E2M1, mxf.BMF((8, 2), 3, 1, 6), mxf.BL((8,), 3, 4),
                                 mxf.Fixed(4, 1), mxf.MiniFloat(2, 1, 1)], ids=str)
def test_wrapper_device_path_zeroes_the_same_saturated_gradients(device_path, fmt, monkeypatch):
    x = wide_random((4, 40), 8) + np.float32(3.0)
    t = torch.from_numpy(x).to(DEVICE).requires_grad_()
    mxt.fake_quantize(t, fmt, zero_saturated_grad=True).sum().backward()
    monkeypatch.setattr(mxt, "HOST_DEVICE_TYPES", {"cpu"})
    t_host = torch.from_numpy(x).requires_grad_()
    mxt.fake_quantize(t_host, fmt, zero_saturated_grad=True).sum().backward()
    assert torch.equal(t.grad.cpu(), t_host.grad) and 0 < int((t_host.grad == 0).sum()) < x.size


def test_wrapper_device_path_float64_falls_back_with_one_warning_line(device_path):
    t = torch.randn(4, 64, dtype=torch.float64, device=DEVICE)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        y = mxt.fake_quantize(t, mxf.MXINT8)
    assert len(caught) == 1 and "float64" in str(caught[0].message) and "\n" not in str(caught[0].message)
    assert y.dtype == torch.float64
    assert torch.equal(y.cpu(), torch.from_numpy(mxf.fake_quantize(t.cpu().numpy(), mxf.MXINT8)).double())


@pytest.mark.parametrize("fmt", [mxf.MXINT8, mxf.MXFP6_E3M2, mxf.BL((16, 2), 7, 8), mxf.MXInt((8,), 8, 15),
                                 mxf.Fixed(8, 4)], ids=str)
def test_wrapper_quantize_on_the_device_equals_the_host_mxarray(device_path, fmt):
    x = wide_random((5, 3, 40), 4)
    x[0, 0, 3] = np.nan if fmt.is_block else 0.0
    q = mxt.quantize(torch.from_numpy(x).to(DEVICE), fmt, axes=0 if fmt.is_block and len(fmt.block) == 1 else None)
    want = mxf.quantize(x, fmt, axes=0 if fmt.is_block and len(fmt.block) == 1 else None)
    assert q.elements.dtype == want.elements.dtype and np.array_equal(q.elements, want.elements)
    assert np.array_equal(q.scales, want.scales) and q.axes == want.axes
    assert q.to_bytes() == want.to_bytes()


def test_wrapper_quantize_refuses_nan_for_scalar_formats(device_path):
    with pytest.raises(ValueError, match="no code for NaN"):
        mxt.quantize(torch.tensor([1.0, float("nan")], device=DEVICE), mxf.Fixed(8, 4))


def test_default_compile_policy_compiles_big_tensors_at_once_and_small_ones_once_hot(monkeypatch):
    """compile=None on a GPU (TK._should_compile): measured compile costs of seconds per shape
    only pay off for big tensors or keys called many times (the module constants say why)."""
    monkeypatch.setattr(TK, "_CALLS", {})
    monkeypatch.setattr(TK, "_COMPILED", {})
    monkeypatch.setattr(TK, "COMPILE_AFTER", 3)
    assert TK._should_compile("big", TK.COMPILE_MIN_NUMEL)
    assert [TK._should_compile("small", 1000) for _ in range(5)] == [False, False, False, True, True]
    assert not TK._should_compile("other", 1000)  # counted per key
    TK._COMPILED["cold"] = object()  # an already compiled key stays compiled
    assert TK._should_compile("cold", 10)
