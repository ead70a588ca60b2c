"""mx_formats.nn.mx_matmul: MX GEMMs in the forward and the backward of a (batched) matmul.

Oracle as in test_training_nn.py: numpy, mx_formats.fake_quantize (numba) applied by hand to
every GEMM operand along that GEMM's reduction axis, float64 products; the batch axes of the
attention shapes [batch, heads, m, k] @ [batch, heads, k, n], one operand broadcast.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import mx_formats as mxf  # noqa: E402
from mx_formats.nn import mx_matmul  # noqa: E402
from mx_formats.training import TrainingSpec, TrainingSpecError  # noqa: E402

M, K, N = 24, 40, 36  # K and N not multiples of 32: ragged blocks along both reduction axes


def _q(a, fmt, k):
    """``a`` [..., r, c] quantized by hand, blocks along its last-two axis ``k`` (0 or 1)."""
    if isinstance(fmt, mxf.Float32):
        return a
    nd = a.ndim
    axes = (nd - 2 + k,) if len(fmt.block) == 1 else (nd - 2 + k, nd - 1 - k)
    return mxf.fake_quantize(a.astype(np.float32), fmt, axes).astype(np.float64)


def _oracle(a, b, dc, f, flip=0):
    """(C, dA, dB) by hand; ``f``: the six formats; ``b`` already broadcast to a's batch;
    ``flip=1`` blocks every backward operand along its other axis (a wrong oracle)."""
    c = _q(a, f[0], 1) @ _q(b, f[1], 0)
    da = _q(dc, f[2], 1 - flip) @ np.swapaxes(_q(b, f[3], 1 - flip), -1, -2)
    db = np.swapaxes(_q(a, f[4], flip), -1, -2) @ _q(dc, f[5], flip)
    return c, da, db


def _spec(f):
    return TrainingSpec.from_dict({"forward": {"a": f[0], "b": f[1]}, "a_grad": {"grad_output": f[2], "b": f[3]},
                                   "b_grad": {"a": f[4], "grad_output": f[5]}}, op="matmul")


def _rel(x, ref):
    return float(np.linalg.norm(x - ref) / np.linalg.norm(ref))


SPECS = {
    "mxfp8": ("MXFP8_E4M3", "MXFP8_E4M3", "MXFP8_E5M2", "MXFP8_E4M3", "MXFP8_E4M3", "MXFP8_E5M2"),
    "mixed_families": ("MXInt((16,2),8,5)", "MXFP6_E2M3", "MXFP8_E5M2", "BMF((16,),4,3,8)", "MXFP6_E3M2",
                       "MXInt((16,2),8,6)"),
}


@pytest.mark.parametrize("name", list(SPECS))
def test_every_gemm_takes_its_operands_on_their_grids_along_its_reduction_axis(name):
    fmts = [mxf.parse(s) for s in SPECS[name]]
    rng = np.random.default_rng(3)
    a = (rng.standard_normal((2, 3, M, K)) * np.exp2(rng.integers(-6, 6, (2, 3, M, 1)))).astype(np.float32)
    b = (rng.standard_normal((3, K, N)) * np.exp2(rng.integers(-6, 6, (3, 1, N)))).astype(np.float32)  # broadcast
    dc = (rng.standard_normal((2, 3, M, N)) * np.exp2(rng.integers(-8, 8, (2, 3, M, 1)))).astype(np.float32)
    at = torch.from_numpy(a).requires_grad_(True)
    bt = torch.from_numpy(b).requires_grad_(True)
    c = mx_matmul(at, bt, _spec(fmts))
    c.backward(torch.from_numpy(dc))
    bb = np.broadcast_to(b, (2, 3, K, N)).astype(np.float64)
    want_c, want_da, want_db = _oracle(a.astype(np.float64), bb, dc.astype(np.float64), fmts)
    assert _rel(c.detach().double().numpy(), want_c) < 2e-6
    assert _rel(at.grad.double().numpy(), want_da) < 2e-6
    assert _rel(bt.grad.double().numpy(), want_db.sum(0)) < 2e-6  # the broadcast batch axis is summed
    # blocking each backward GEMM along the other axis is a visibly different gradient
    swapped = _oracle(a.astype(np.float64), bb, dc.astype(np.float64), fmts, flip=1)
    assert _rel(swapped[1], want_da) > 1e-3 and _rel(swapped[2], want_db) > 1e-3


def test_a_gradient_lies_on_the_output_gradient_grid_along_n():
    fmt = mxf.MXFP8_E5M2
    spec = TrainingSpec.from_dict({"a_grad": {"grad_output": fmt}}, op="matmul")
    a = torch.randn(64, 64, requires_grad=True)
    b = torch.eye(64)  # dA = Q(dC) exactly
    dc = torch.randn(64, 64) * torch.logspace(-12, 12, 64)[:, None]  # rows over more binades than E5M2 has
    mx_matmul(a, b, spec).backward(dc)
    g = a.grad.numpy()
    assert np.array_equal(mxf.fake_quantize(g, fmt, axes=-1), g)
    assert not np.array_equal(mxf.fake_quantize(g, fmt, axes=0), g)


def test_b_gradient_lies_on_the_output_gradient_grid_along_m():
    fmt = mxf.MXFP6_E3M2
    spec = TrainingSpec.from_dict({"b_grad": {"grad_output": fmt}}, op="matmul")
    a = torch.eye(64)  # dB = Q(dC) exactly
    b = torch.randn(64, 64, requires_grad=True)
    dc = torch.randn(64, 64) * torch.logspace(-6, 2, 64)[None, :]
    mx_matmul(a, b, spec).backward(dc)
    g = b.grad.numpy()
    assert np.array_equal(mxf.fake_quantize(g, fmt, axes=0), g)
    assert not np.array_equal(mxf.fake_quantize(g, fmt, axes=-1), g)


def test_zero_saturated_ste_zeroes_the_gradient_of_clipped_elements():
    spec = TrainingSpec.from_dict({"forward": {"b": mxf.Fixed(8, 4)}, "ste": "zero_saturated"}, op="matmul")
    a = torch.randn(M, K)
    b = torch.randn(K, N) * 4
    b[::5, ::3] = 20.0
    b.requires_grad_(True)
    dc = torch.randn(M, N)
    mx_matmul(a, b, spec).backward(dc)
    clipped = b.detach().abs() > 127 / 16
    assert clipped.any() and (~clipped).any()
    assert torch.equal(b.grad[clipped], torch.zeros(int(clipped.sum())))
    assert torch.allclose(b.grad[~clipped], (a.T @ dc)[~clipped], rtol=1e-5, atol=1e-5)


def test_the_mx_recipe_and_bfloat16_elementwise():
    spec = TrainingSpec.mx("MXFP8_E4M3", "MXFP8_E5M2", op="matmul", elementwise="bfloat16")
    assert str(spec["b_grad", "grad_output"].format) == "MXFP8_E5M2" and str(spec["forward", "b"].format) == \
        "MXFP8_E4M3"
    assert spec.describe().startswith("matmul: forward(a=MXFP8_E4M3, b=MXFP8_E4M3)")
    assert mx_matmul(torch.randn(2, M, K), torch.randn(K, N), spec).dtype == torch.bfloat16


@pytest.mark.parametrize("spec, match", [
    ({"a_grad": {"grad_output": {"format": "MXFP8_E5M2", "axis": "k"}}},
     r"matmul training spec \[a_grad\] grad_output: axis 'k' does not exist; the axes of grad_output are"),
    ({"b_grad": {"a": {"format": "MXFP8_E4M3", "axis": "k"}}},
     r"\[b_grad\] a: axis 'k' is not the b_grad GEMM's reduction axis 'm'"),
    ({"a_grad": {"grad_output": "Fixed(8,4)"}}, r"Fixed\(8,4\) has no backward semantics"),
    ({"forward": {"input": "MXFP8_E4M3"}}, r"\[forward\]: unknown operand 'input'; the forward GEMM takes \['a', 'b'\]"),
    ({"input_grad": {}}, r"unknown key 'input_grad'; the GEMMs of a matmul are \['forward', 'a_grad', 'b_grad'\]"),
])
def test_a_bad_matmul_spec_is_refused_when_it_is_made(spec, match):
    with pytest.raises(TrainingSpecError, match=match):
        TrainingSpec.from_dict(spec, op="matmul")


def test_wrong_spec_or_shapes_are_refused():
    with pytest.raises(TrainingSpecError, match="op='matmul', got a linear spec"):
        mx_matmul(torch.randn(4, 8), torch.randn(8, 4), TrainingSpec.mx("MXFP8_E4M3", "MXFP8_E5M2"))
    with pytest.raises(TrainingSpecError, match="op: 'conv'"):
        TrainingSpec.from_dict({}, op="conv")
    spec = TrainingSpec.mx("MXFP8_E4M3", "MXFP8_E5M2", op="matmul")
    with pytest.raises(ValueError, match=r"a is \[4, 8\] and b is \[6, 4\]"):
        mx_matmul(torch.randn(4, 8), torch.randn(6, 4), spec)
