"""NVFP4 and M2XFP on the device path (torch_kernels) against the numba kernels, bit for bit.

The numba kernels are checked against the exact reference in test_metadata_formats.py. Runs on
CPU tensors in CI; ``MX_FORMATS_TEST_DEVICE=cuda`` runs it on a GPU.
"""

import importlib.util
import os
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

_spec = importlib.util.spec_from_file_location("_vectors", Path(__file__).with_name("test_kernels_vs_reference.py"))
_vectors = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_vectors)
edge_block, wide_random = _vectors.edge_block, _vectors.wide_random

DEVICE = os.environ.get("MX_FORMATS_TEST_DEVICE", "cpu")
FORMATS = [mxf.NVFP4(), mxf.M2XFP_ES, mxf.M2XFP_EM, mxf.M2XFP("ES", (16,), 4), mxf.M2XFP("EM", (8,), 2)]


def assert_matches_numba(x: np.ndarray, fmt, axes=None):
    t = torch.from_numpy(x).to(DEVICE)
    want = mxf.fake_quantize(x, fmt, axes)
    got = TK.fake_quantize(t, fmt, axes).cpu().numpy()
    nan = np.isnan(want)
    assert np.array_equal(nan, np.isnan(got)) and np.array_equal(want.view(np.uint32)[~nan], got.view(np.uint32)[~nan]), \
        f"{fmt}: values differ at {np.argwhere((want != got) & ~nan)[:1]}"
    q = mxf.quantize(x, fmt, axes)
    scales, codes, meta, tensor_scale = TK.quantize_metadata(t, fmt, axes)
    assert np.array_equal(codes.cpu().numpy(), q.elements), f"{fmt}: codes"
    assert np.array_equal(scales.cpu().numpy(), q.scales), f"{fmt}: scales"
    if q.meta is not None:
        assert np.array_equal(meta.cpu().numpy(), q.meta), f"{fmt}: meta"
    else:
        assert meta is None and np.float32(tensor_scale.item()) == q.tensor_scale


@pytest.mark.parametrize("fmt", FORMATS, ids=str)
def test_wide_range_edge_and_ragged_data_equal_the_numba_kernels(fmt):
    assert_matches_numba(wide_random((3, 10, 37), 7), fmt)
    assert_matches_numba(np.stack(list(edge_block().values())).astype(np.float32), fmt)
    for shape in [(1,), (7,), (33,), (5, 31), ()]:
        assert_matches_numba(np.random.default_rng(len(shape)).standard_normal(shape).astype(np.float32), fmt)


@pytest.mark.parametrize("fmt", FORMATS[:3], ids=str)
@pytest.mark.parametrize("axes", [0, 1])
def test_any_blocked_axis(fmt, axes):
    assert_matches_numba(wide_random((18, 5, 20), 4), fmt, axes=axes)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_inputs_are_widened_exactly(dtype):
    t = (torch.randn(4, 96, generator=torch.Generator().manual_seed(3)) * 7).to(dtype)
    for fmt in FORMATS[:3]:
        want = mxf.fake_quantize(t.float().numpy(), fmt)
        assert torch.equal(TK.fake_quantize(t.to(DEVICE), fmt).cpu(), torch.from_numpy(want))


@pytest.fixture
def device_path(monkeypatch):
    monkeypatch.setattr(mxt, "HOST_DEVICE_TYPES", set())


@pytest.mark.parametrize("fmt", FORMATS[:3], ids=str)
def test_wrapper_device_path_values_packing_and_straight_through_gradient(device_path, fmt):
    x = wide_random((6, 40), 2)
    x[1, 3] = np.nan
    t = torch.from_numpy(x).to(DEVICE).requires_grad_()
    y = mxt.fake_quantize(t, fmt)
    assert torch.equal(torch.isnan(y).cpu(), torch.from_numpy(np.isnan(mxf.fake_quantize(x, fmt))))
    y.backward(torch.ones_like(y))
    assert torch.equal(t.grad.cpu(), torch.ones_like(t.grad.cpu()))
    assert mxt.quantize(t, fmt).to_bytes() == mxf.quantize(x, fmt).to_bytes()
    with pytest.raises(ValueError, match="zero_saturated_grad"):
        mxt.fake_quantize(t, fmt, zero_saturated_grad=True)
    with pytest.raises(ValueError, match="nearest_even"):
        TK.fake_quantize(t.detach(), fmt, rounding="floor")


ARRAYS = hnp.arrays(np.float32, hnp.array_shapes(min_dims=1, max_dims=2, max_side=40),
                    elements=st.floats(width=32, allow_nan=True, allow_infinity=True))


@settings(max_examples=80, deadline=None)
@given(x=ARRAYS, fmt=st.sampled_from(FORMATS))
def test_any_input_equals_the_numba_kernels(x, fmt):
    assert_matches_numba(x, fmt)
