"""The MASE paper's Table 1 on the builtin causal LM ``llama-debtext``: perplexity at ~8 bits.

    python3 packages/mase-passes/benchmarks/causal_lm_table1.py --out table1.json [--windows 1626] [--device cuda]

Rows (each one format on every tensor of the traced graph, weights, activations and outputs,
through the passes' public API: ``fixed_point`` and ``quantize`` with ``{"default": fmt}``, then
``freeze_weights`` and ``evaluate``): FP32; int8 fixed point (``Fixed(8, f)`` per tensor, f
from the profiled max |x|, the ``mase run`` int8 row); FP8 minifloat ``MiniFloat(4,3,7)`` (E4M3,
no shared scale); MXInt8 ``MXInt((16,2),8,7)``; BMF8 ``BMF((16,2),4,3,8)``; BL8
``BL((16,2),7,8)`` (mx_formats' aliases of the paper's rows, as ``mase run`` compares them). The
profile pass sees the first ``--batch`` validation windows. Perplexity: exp of the mean next-token
cross-entropy over ``--windows`` evenly spaced non-overlapping test windows of 128 tokens (all
1626 by default). Beside each row the paper's LLaMA number (MASE paper, Table 1), which is
another model on another corpus: compare the pattern, not the values.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

# (row, how it is made, the MASE paper's LLaMA perplexity in Table 1)
ROWS = [
    ("FP32", None, 7.06),
    ("int8", "fixed_point", 265.0),
    ("FP8", "MiniFloat(4,3,7)", 7.18),
    ("MXInt8", "MXInt8", 7.07),
    ("BMF8", "BMF8", 223e3),
    ("BL8", "BL8", 18.8),
]
MAX_LENGTH = 128


def _write(path: Path, out: dict) -> None:
    """After every row, so a run stopped early keeps the rows it finished."""
    path.write_text(json.dumps(out, indent=1) + "\n")


def main(argv=None) -> int:
    import mase_ir
    import mx_formats as mxf

    from mase_passes.bits import average_bits
    from mase_passes.cli.device import to_device
    from mase_passes.passes import get_pass
    from mase_passes.workloads import llama_debtext, textdata

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("causal_lm_table1.json"))
    ap.add_argument("--windows", type=int, default=None, help="test windows scored (default: all)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args(argv)
    model, tok = llama_debtext.load_model()
    test = llama_debtext.windows(tok, "test", MAX_LENGTH)
    idx = textdata.evenly_spaced(test.shape[0], args.windows)
    batches = to_device(textdata.lm_batches(test, args.batch, idx), args.device)
    val = llama_debtext.windows(tok, "validation", MAX_LENGTH)
    # the traced graph has a static batch: calibrate on one batch of the first validation windows
    calibration = to_device(textdata.lm_batches(val, args.batch, list(range(args.batch))), args.device)
    graph = to_device(mase_ir.trace(model, dict(textdata.lm_batches(test, args.batch, idx[:args.batch])[0][0])),
                      args.device)
    get_pass("profile")().apply(graph, calibration)
    evaluate = get_pass("evaluate")(metric="perplexity")
    freeze = get_pass("freeze_weights")()
    results = []
    for name, how, paper in ROWS:
        t = time.perf_counter()
        if how is None:
            q, fmt = graph, "f32"
        elif how == "fixed_point":
            q, fmt = get_pass("fixed_point")(width=8).apply(graph), "Fixed(8, f) per tensor"
        else:
            fmt = str(mxf.parse(how))
            q = get_pass("quantize")(config={"default": fmt}).apply(graph)
        r = evaluate.apply(freeze.apply(q), batches)
        bits = average_bits(q)  # on q: the frozen copy's parameters read f32 (graphs.freeze_weights)
        results.append({"row": name, "format": fmt, "perplexity": r.value, "average_bits": bits,
                        "paper_llama_perplexity": paper, "seconds": time.perf_counter() - t})
        _write(args.out, {"model": "llama-debtext", "split": "test", "windows": len(batches) * args.batch,
                          "window_tokens": MAX_LENGTH, "device": args.device, "measured": True, "rows": results})
        print(f"{name:7s} {fmt:22s} ppl {r.value:10.3f}  bits {bits:5.2f}  (paper LLaMA {paper:g}; "
              f"{time.perf_counter() - t:.0f} s)", flush=True)
    print("\n| row | format | perplexity (measured) | average bits | paper (LLaMA) |\n|---|---|---|---|---|")
    for r in results:
        print(f"| {r['row']} | `{r['format']}` | {r['perplexity']:.3f} | {r['average_bits']:.2f} | "
              f"{r['paper_llama_perplexity']:g} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
