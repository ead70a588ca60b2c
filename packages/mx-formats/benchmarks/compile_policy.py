"""What torch.compile costs and buys for the GPU path, per format and shape (issue 19).

    PYTHONPATH=packages/mx-formats/src python3 packages/mx-formats/benchmarks/compile_policy.py \\
        --formats 'MXInt((16,2),8,5);MXINT8;MXFP4;BMF8;BL8' --variants eager,default,static,dynamic --json out.json

For each variant, format and shape (MiniLM's activation / weight / attention shapes, then
8192x8192): the first call's seconds (the compile), the minimum of 10 synchronized calls in ms
(wrapper and launches included, unlike bench_gpu.py's do_bench), the same for a clone of the
tensor, and whether the values equal the numba kernels (below 4M elements). Variants:

* ``eager``   -- the torch ops as written (``torch_kernels._encode``);
* ``default`` -- one torch.compile wrapper per format, torch's default ``dynamic`` (recompiles
  when the shape changes);
* ``static``  -- one torch.compile per format and shape (``dynamic=False``), what
  ``torch_kernels`` does;
* ``dynamic`` -- one torch.compile per format with symbolic shapes (``dynamic=True``).

The figures chose ``torch_kernels.COMPILE_MIN_NUMEL`` / ``COMPILE_AFTER``; the H200 run is in
results/h200_2026-12-03_compile_policy.json and the package README.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import types

import numpy as np
import torch

import mx_formats as mxf
import mx_formats.torch_kernels as T

SHAPES = [(50, 32, 384), (384, 384), (1536, 384), (50, 32, 1536), (50, 12, 32, 32), (8192, 8192)]


def _timed(fn, x):
    torch.cuda.synchronize()
    t = time.perf_counter()
    y = fn(x)
    torch.cuda.synchronize()
    return y, time.perf_counter() - t


def quantizer(variant: str):
    """fake_quantize (values only, nearest-even) of one variant, with its own compile cache."""
    cache: dict = {}

    def run(x, fmt):
        spec, layout, geom = T._plan(fmt, tuple(x.shape), None)
        args = (x, None, spec, geom, 0, True, False, torch.float32)
        if variant == "eager":
            return T._encode(*args)[0]
        key = (spec, layout.axes, layout.b_row, layout.b_col, len(layout.shape))
        if variant == "static":
            key += (tuple(x.shape),)
        fn = cache.get(key)
        if fn is None:
            code = T._encode_blocks.__code__.replace(co_name=f"_encode_blocks_{variant}_{len(cache)}")
            clone = types.FunctionType(code, T._encode_blocks.__globals__, code.co_name, T._encode_blocks.__defaults__)
            dynamic = {"default": None, "static": False, "dynamic": True}[variant]
            fn = cache[key] = torch.compile(clone, fullgraph=True, dynamic=dynamic)
        return T._finish(fn(*args), geom, True, False)[0]

    return run


def measure(variant: str, name: str, shape) -> dict:
    fmt = mxf.parse(name)
    run = quantizer(variant)
    xc = torch.randn(shape, generator=torch.Generator().manual_seed(0)) * 3
    x = xc.cuda()
    row = {"variant": variant, "fmt": name, "shape": list(shape)}
    try:
        y, first = _timed(lambda t: run(t, fmt), x)
        calls = [_timed(lambda t: run(t, fmt), x)[1] for _ in range(10)]
        copies = [_timed(lambda t: t.clone(), x)[1] for _ in range(10)]
        equal = None
        if x.numel() < 1 << 22:
            equal = bool(np.array_equal(y.cpu().numpy(), np.asarray(mxf.fake_quantize(xc.numpy(), fmt))))
        row.update(first_s=round(first, 3), min_ms=round(min(calls) * 1e3, 4),
                   median_ms=round(statistics.median(calls) * 1e3, 4), copy_min_ms=round(min(copies) * 1e3, 4),
                   equal=equal)
    except Exception as exc:  # noqa: BLE001 - a compiler failure is a result here
        row["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--formats", default="MXInt((16,2),8,5);MXINT8;MXFP4;BMF8;BL8", help="';'-separated")
    ap.add_argument("--variants", default="eager,default,static,dynamic")
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    rows = []
    for variant in a.variants.split(","):
        torch._dynamo.reset()
        for name in a.formats.split(";"):
            for shape in SHAPES:
                rows.append(measure(variant, name, shape))
                print(json.dumps(rows[-1]), flush=True)
                if a.json:
                    with open(a.json, "w") as f:
                        json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
