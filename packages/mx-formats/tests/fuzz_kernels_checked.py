"""Hypothesis fuzz of the numba kernels against mx_formats.reference (run by test_fuzz_kernels.py).

Not collected on its own (no ``test_`` prefix): test_fuzz_kernels.py runs this file in a
child pytest with ``NUMBA_BOUNDSCHECK=1`` and a fresh ``NUMBA_CACHE_DIR``, so every kernel
is compiled with bounds checks (an out-of-range index raises IndexError instead of reading
or writing past an array) and the checked machine code never lands in the normal cache.

Each example draws a format (every family, random legal widths and block shapes), a shape
(0-4 dims, empty and non-multiple-of-block extents included), a dtype (float16, float32,
float64) and memory layout (contiguous, transposed, strided, reversed), the blocked axes,
a rounding mode and seed, and values mixing normal numbers with special ones (±0, ±Inf,
NaN, subnormals, float32 extremes, float64 beyond float32). The oracle is the slow
pure-Python reference, block by block: ``fake_quantize`` must equal its values (NaN where
it has NaN), ``quantize`` its codes and scales, and ``dequantize(quantize(x))`` must equal
``fake_quantize(x)``.
"""

import os

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mx_formats as mxf
from mx_formats.reference import reference_quantize

F32 = np.finfo(np.float32)
SPECIAL = [0.0, -0.0, np.inf, -np.inf, np.nan, float(F32.tiny), float(F32.tiny) / 8, 1.4e-45,
           float(F32.max), -float(F32.max), 1.0, -1.0, 0.5, 1.5, 2.5, -2.5, 448.0, 6.0, 1e-30, 3e38]
WIDE = [1e39, -1e300, 5e-324]  # float64 only: beyond float32's range, clipped or flushed


def _blocks():
    side = st.integers(1, 40)
    return st.one_of(st.tuples(side), st.tuples(side, st.integers(1, 8)))


@st.composite
def formats(draw):
    kind = draw(st.sampled_from(["MXInt", "BMF", "BL", "OCP", "Fixed", "MiniFloat"]))
    try:
        if kind == "MXInt":
            return mxf.MXInt(draw(_blocks()), draw(st.integers(1, 8)), draw(st.integers(1, 23)))
        if kind == "BMF":
            return mxf.BMF(draw(_blocks()), draw(st.integers(1, 7)), draw(st.integers(0, 10)), draw(st.integers(2, 8)))
        if kind == "BL":
            return mxf.BL(draw(_blocks()), draw(st.integers(1, 7)), draw(st.integers(2, 8)))
        if kind == "OCP":
            return draw(st.sampled_from(sorted(mxf.OCP_FORMATS.values(), key=str)))
        if kind == "Fixed":
            return mxf.Fixed(draw(st.integers(2, 24)), draw(st.integers(-20, 40)))
        return mxf.MiniFloat(draw(st.integers(1, 8)), draw(st.integers(0, 10)), draw(st.integers(-20, 140)))
    except ValueError:  # e.g. a MiniFloat whose range leaves float32: the format refuses it
        from hypothesis import reject

        reject()


@st.composite
def tensors(draw, fmt):
    ndim = draw(st.integers(0, 4))
    shape = tuple(draw(st.lists(st.integers(0, 12 if ndim > 2 else 40), min_size=ndim, max_size=ndim)))
    if int(np.prod(shape, dtype=np.int64)) > 3000:
        shape = tuple(min(s, 6) for s in shape)
    dtype = draw(st.sampled_from([np.float16, np.float32, np.float64]))
    n = int(np.prod(shape, dtype=np.int64))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    base = rng.standard_normal(n) * np.exp2(rng.integers(-40, 40, n))
    specials = SPECIAL + (WIDE if dtype == np.float64 else [])
    where = rng.random(n) < draw(st.sampled_from([0.0, 0.05, 0.3]))
    base[where] = rng.choice(np.array(specials), where.sum())
    with np.errstate(over="ignore", under="ignore"):
        x = base.astype(dtype).reshape(shape)
    layout = draw(st.sampled_from(["c", "transposed", "strided", "reversed"]))
    if layout == "transposed" and x.ndim >= 2:
        x = np.ascontiguousarray(np.swapaxes(x, -1, -2)).swapaxes(-1, -2)  # same values, F-like strides
    elif layout == "strided" and x.ndim >= 1:
        wide = np.zeros(x.shape[:-1] + (2 * x.shape[-1],), dtype)
        wide[..., ::2] = x
        x = wide[..., ::2]
    elif layout == "reversed" and x.ndim >= 1:
        x = np.ascontiguousarray(x[..., ::-1])[..., ::-1]
    axes = None
    if fmt.is_block and draw(st.booleans()):
        ndim_eff = max(x.ndim, len(fmt.block))
        picks = draw(st.permutations(range(ndim_eff)))[: len(fmt.block)]
        axes = tuple(a - ndim_eff if draw(st.booleans()) else a for a in picks)
    return x, axes


@st.composite
def cases(draw):
    fmt = draw(formats())
    x, axes = draw(tensors(fmt))
    return fmt, x, axes, draw(st.sampled_from(list(mxf.ROUNDING_MODES))), draw(st.integers(0, 2**63 - 1))


def test_bounds_checking_is_really_on():
    """The child must run checked builds, else the fuzz proves nothing about memory safety."""
    import numba

    assert os.environ.get("NUMBA_BOUNDSCHECK") == "1" and numba.config.BOUNDSCHECK == 1

    @numba.njit
    def read(a, i):
        return a[i]

    try:
        read(np.zeros(3), 3)
    except IndexError:
        return
    raise AssertionError("an out-of-range read did not raise: bounds checks are off")


@settings(max_examples=int(os.environ.get("MX_FUZZ_EXAMPLES", "250")), deadline=None, derandomize=False,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
@given(case=cases())
def test_kernels_equal_the_reference(case):
    fmt, x, axes, rounding, seed = case
    values, scales, codes = reference_quantize(x, fmt, axes, rounding, seed)
    fake = mxf.fake_quantize(x, fmt, axes, rounding, seed=seed)
    where = f"{fmt} axes={axes} {rounding} seed={seed} dtype={x.dtype} shape={x.shape} strides={x.strides}"
    assert fake.dtype == np.float32 and fake.shape == x.shape, where
    same = (fake == values) | (np.isnan(fake) & np.isnan(values))
    if not same.all():
        i = tuple(np.argwhere(~same)[0])
        raise AssertionError(f"{where}: x{list(i)}={x[i]!r} kernel={fake[i]!r} reference={values[i]!r}")
    if not fmt.is_block and not np.isfinite(x.astype(np.float64)).all():
        try:
            mxf.quantize(x, fmt, axes, rounding, seed=seed)
        except ValueError as exc:
            assert "is not finite" in str(exc), where
            return
        raise AssertionError(f"{where}: quantize accepted non-finite input for a scalar format")
    q = mxf.quantize(x, fmt, axes, rounding, seed=seed)
    assert np.array_equal(q.elements, codes), f"{where}: codes differ"
    if fmt.is_block:
        assert np.array_equal(q.scales, scales), f"{where}: scales differ"
    assert np.array_equal(mxf.dequantize(q), fake, equal_nan=True), f"{where}: dequantize(quantize) != fake"
