"""Throughput of fake_quantize and quantize against np.copyto, measured in one run.

    python packages/mx-formats/benchmarks/bench_fake_quantize.py [--size 4096] [--repeat 7]

Prints, per format, the input GB/s (input bytes / median time) and the ratio to
the throughput of ``np.copyto`` of the same float32 array on the same machine in
the same run, and the time of ``quantize`` (packed MXArray) relative to
``fake_quantize``. Goals (issue 2): MXINT8 fake_quantize >= 0.5x copy, every
other format >= 0.25x, quantize within 2x of fake_quantize.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

import mx_formats as mxf

FORMATS = [
    ("MXINT8", mxf.MXINT8, 0.5),
    ("MXFP8_E4M3", mxf.MXFP8_E4M3, 0.25),
    ("MXFP4_E2M1", mxf.MXFP4_E2M1, 0.25),
    ("MXInt((16,2),8,7)", mxf.MXInt((16, 2), 8, 7), 0.25),
    ("BMF((16,2),4,3,8)", mxf.BMF((16, 2), 4, 3, 8), 0.25),
    ("BL((16,2),7,8)", mxf.BL((16, 2), 7, 8), 0.25),
]


def median_seconds(fn, repeat: int) -> float:
    fn()  # warm up (compilation, page faults of the output)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    x = np.random.default_rng(0).standard_normal((args.size, args.size)).astype(np.float32)
    gb = x.nbytes / 1e9
    out = np.empty_like(x)
    copy_s = median_seconds(lambda: np.copyto(out, x), args.repeat)
    import numba

    print(f"measured: {args.size}x{args.size} float32 ({x.nbytes / 2**20:.0f} MiB), {numba.get_num_threads()} numba "
          f"threads, {os.cpu_count()} cores, median of {args.repeat}")
    print(f"{'operation':<34}{'GB/s':>8}{'x copy':>9}{'goal':>7}{'quantize/fake':>15}")
    print(f"{'np.copyto (baseline)':<34}{gb / copy_s:>8.2f}{1.0:>9.2f}")
    failures = []
    for name, fmt, goal in FORMATS:
        fake_s = median_seconds(lambda: mxf.fake_quantize(x, fmt, out=out), args.repeat)
        quant_s = median_seconds(lambda: mxf.quantize(x, fmt), args.repeat)
        ratio = copy_s / fake_s
        ok = ratio >= goal and quant_s / fake_s <= 2.0
        failures += [] if ok else [name]
        print(f"{'fake_quantize ' + name:<34}{gb / fake_s:>8.2f}{ratio:>9.2f}{goal:>7.2f}{quant_s / fake_s:>15.2f}"
              f"{'' if ok else '  below goal'}")
    print("all goals met" if not failures else f"below goal: {', '.join(failures)}")


if __name__ == "__main__":
    main()
