"""GPU throughput of fake_quantize against a device copy of the same tensor, in one run (issue 19).

    PYTHONPATH=packages/mx-formats/src python packages/mx-formats/benchmarks/bench_gpu.py [--size 8192]

For float32 and bfloat16 inputs of size x size, prints per format the time of
``mx_formats.torch.fake_quantize`` (the autograd wrapper users call, under
torch.compile on CUDA), its GB/s counting bytes read plus bytes written (as for the
copy), the ratio to ``torch.Tensor.copy_`` of the same tensor measured in the same
run, and giga-elements per second; for float32 also ``quantize`` to codes,
stochastic rounding, and whether the values equal the numba kernels' on the host;
and torchao's MX emulation (``to_mx`` + ``to_dtype``, compiled) when importable. Times are medians of
``triton.testing.do_bench`` (L2 flushed before each call). Goals: >= 0.8x copy for
MXINT8 and MXInt((16,2),8,7), >= 0.6x for MXFP8/6/4, BMF and BL.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

import mx_formats as mxf
import mx_formats.torch as mxt
from mx_formats import torch_kernels as TK

FORMATS = [
    ("MXINT8", mxf.MXINT8, 0.8),
    ("MXInt((16,2),8,7)", mxf.MXInt((16, 2), 8, 7), 0.8),
    ("MXFP8_E4M3", mxf.MXFP8_E4M3, 0.6),
    ("MXFP8_E5M2", mxf.MXFP8_E5M2, 0.6),
    ("MXFP6_E3M2", mxf.MXFP6_E3M2, 0.6),
    ("MXFP6_E2M3", mxf.MXFP6_E2M3, 0.6),
    ("MXFP4_E2M1", mxf.MXFP4_E2M1, 0.6),
    ("BMF((16,2),4,3,8)", mxf.BMF((16, 2), 4, 3, 8), 0.6),
    ("BL((16,2),7,8)", mxf.BL((16, 2), 7, 8), 0.6),
]


def loop_ms(fn, n: int = 30) -> float:
    """Mean time of n back-to-back calls: includes the host's per-call cost when it exceeds the GPU's."""
    fn()
    if not torch.cuda.is_available():
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        return (time.perf_counter() - t0) * 1e3 / n
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(n):
        fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / n


def median_ms(fn) -> float:
    if not torch.cuda.is_available():  # a dry run of the script on CPU
        return loop_ms(fn, 3)
    try:
        from triton.testing import do_bench

        return float(do_bench(fn, warmup=25, rep=200, return_mode="median"))
    except ImportError:  # pragma: no cover - torch on CUDA ships triton
        for _ in range(3):
            fn()
        times = []
        for _ in range(50):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(end))
        return statistics.median(times)


def torchao_fns():
    """{format name: fake-quantize function} of torchao's MX emulation, or a reason it is absent."""
    try:
        from torchao.prototype.mx_formats.mx_tensor import to_dtype, to_mx
        from torchao.prototype.mx_formats.constants import DTYPE_FP6_E2M3, DTYPE_FP6_E3M2
    except Exception as exc:  # noqa: BLE001 - any import problem: report it
        return f"torchao not importable ({type(exc).__name__}: {exc})"
    elems = {"MXFP8_E4M3": torch.float8_e4m3fn, "MXFP8_E5M2": torch.float8_e5m2, "MXFP6_E3M2": DTYPE_FP6_E3M2,
             "MXFP6_E2M3": DTYPE_FP6_E2M3, "MXFP4_E2M1": torch.float4_e2m1fn_x2}
    fns = {}
    torch._dynamo.config.recompile_limit = 64  # one compile per element type and input dtype
    for name, elem in elems.items():
        def fq(x, elem=elem):
            scale, data = to_mx(x, elem, 32)
            return to_dtype(data, scale, elem, 32, x.dtype)
        fns[name] = torch.compile(fq)
    return fns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=8192)
    parser.add_argument("--json", help="also write every number to this file")
    parser.add_argument("--quick", action="store_true", help="float32 only, no extra columns")
    parser.add_argument("--dtypes", default="float32,bfloat16")
    parser.add_argument("--no-extra", action="store_true", help="skip the codes, stochastic and numba columns")
    parser.add_argument("--no-torchao", action="store_true")
    parser.add_argument("--passes", type=int, default=1, help="time every format this many times, in turn")
    args = parser.parse_args()
    if torch.cuda.is_available():
        dev = torch.device("cuda")
        props = torch.cuda.get_device_properties(dev)
        name = f"{props.name}, {props.multi_processor_count} SMs"
    else:
        dev, name = torch.device("cpu"), "no CUDA device: a dry run on CPU tensors (eager torch kernels)"
        mxt.HOST_DEVICE_TYPES = set()
    print(f"device: {name}; torch {torch.__version__}; size {args.size}x{args.size}; median of "
          f"triton.testing.do_bench; loop: mean of 30 back-to-back calls", flush=True)
    records = []
    gen = torch.Generator(device=dev).manual_seed(0)
    dtypes = [torch.float32] if args.quick else [getattr(torch, d) for d in args.dtypes.split(",")]
    ao = "torchao skipped (--no-torchao)" if args.no_torchao else torchao_fns()
    if isinstance(ao, str):
        print(ao)
    for dtype in dtypes:
        x = torch.randn(args.size, args.size, device=dev, generator=gen).to(dtype)
        out = torch.empty_like(x)
        nbytes = 2 * x.numel() * x.element_size()  # read + write, as for the copy
        def sync():
            if dev.type == "cuda":
                torch.cuda.synchronize()

        copy_ms = median_ms(lambda: out.copy_(x))
        print(f"\n{dtype}: copy_ {copy_ms:.4f} ms = {nbytes / copy_ms / 1e6:.0f} GB/s", flush=True)
        print(f"{'format':<20}{'ms':>9}{'GB/s':>8}{'x copy':>8}{'Gelem/s':>9}{'goal':>6}{'loop ms':>9}{'kern':>5}  "
              f"{'codes ms':>9}{'stoch ms':>9}{'=numba':>8}{'torchao ms':>11}{'ao x copy':>10}")
        for pass_, (name, fmt, goal) in [(p, f) for p in range(args.passes) for f in FORMATS]:
            try:
                from torch._inductor import metrics
                metrics.reset()
            except ImportError:  # pragma: no cover
                metrics = None
            t0 = time.perf_counter()
            with torch.no_grad():
                y = mxt.fake_quantize(x, fmt)
            sync()
            compile_s = time.perf_counter() - t0
            kernels = metrics.generated_kernel_count if metrics else -1
            ms = median_ms(lambda: mxt.fake_quantize(x, fmt))
            with torch.no_grad():
                loop = loop_ms(lambda: mxt.fake_quantize(x, fmt))
            rec = {"format": name, "dtype": str(dtype), "ms": ms, "gbps": nbytes / ms / 1e6, "x_copy": copy_ms / ms,
                   "gelem_s": x.numel() / ms / 1e6, "goal": goal, "copy_ms": copy_ms, "first_call_s": compile_s,
                   "loop_ms": loop, "kernels": kernels, "pass": pass_}
            extra = ""
            if not args.quick and not args.no_extra and dtype == torch.float32 and pass_ == 0:
                rec["codes_ms"] = median_ms(lambda: TK.quantize(x, fmt))
                rec["stochastic_ms"] = median_ms(lambda: TK.fake_quantize(x, fmt, rounding="stochastic", seed=1))
                extra = f"{rec['codes_ms']:>9.4f}{rec['stochastic_ms']:>9.4f}"
            else:
                extra = f"{'':>18}"
            if pass_ == 0:
                want = mxf.fake_quantize(x.float().cpu().numpy(), fmt)  # the numba kernels on the host
                rec["numba_equal"] = bool(torch.equal(torch.from_numpy(want).to(dtype), y.cpu()))
                extra += f"{'yes' if rec['numba_equal'] else 'NO':>8}"
            else:
                extra += f"{'':>8}"
            if not isinstance(ao, str) and name in ao and pass_ == 0:
                try:
                    ya = ao[name](x)
                    rec["torchao_ms"] = median_ms(lambda: ao[name](x))
                    rec["torchao_equal"] = bool(torch.equal(ya.float(), y.float()))
                    extra += f"{rec['torchao_ms']:>11.4f}{copy_ms / rec['torchao_ms']:>10.2f}"
                except Exception as exc:  # noqa: BLE001
                    rec["torchao_error"] = f"{type(exc).__name__}: {exc}"[:200]
            records.append(rec)
            flag = "" if rec["x_copy"] >= goal else "  below goal"
            label = name + ("" if pass_ == 0 else f" #{pass_ + 1}")
            print(f"{label:<20}{ms:>9.4f}{rec['gbps']:>8.0f}{rec['x_copy']:>8.2f}{rec['gelem_s']:>9.1f}{goal:>6.2f}"
                  f"{loop:>9.4f}{kernels:>5}  "
                  f"{extra}{flag}", flush=True)
        x = out = None  # free this dtype's tensors before the next one allocates
    below = [f"{r['format']} {r['dtype']}" for r in records if r["x_copy"] < r["goal"]]
    print("\nall goals met" if not below else f"\nbelow goal: {', '.join(below)}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(records, f, indent=1)


if __name__ == "__main__":
    main()
