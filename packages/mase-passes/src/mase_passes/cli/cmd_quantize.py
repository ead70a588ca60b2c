"""mase quantize CONFIG: apply [quantize] config to the traced model and score it against FP32.

Uses [quantize] config (a TOML path or inline table; --quant PATH overrides it) in the mode
[quantize] mode (ptq, or qat on the calibration samples); evaluates FP32 and the quantized
graph on the evaluation samples; prints the metric, agreement and average bits (paper eq. 1);
writes OUT/quantized/ (the quantized graph) and OUT/artifacts/chosen_config.toml.
"""

from __future__ import annotations

from mase_passes.cli import device as dev
from mase_passes.cli import stages as st
from mase_passes.cli.prepare import prepare
from mase_passes.cli.progress import Stages
from mase_passes.cli.schema import RunConfigError
from mase_passes.passes.evaluate import reference_logits

HELP = "quantize with [quantize] config and evaluate against FP32"


def add_arguments(p) -> None:
    from mase_passes.cli.main import add_config_arguments
    add_config_arguments(p)
    p.add_argument("--quant", metavar="TOML", help="quantization config file (overrides [quantize] config)")


def main(args, stages: Stages) -> int:
    if args.quant:
        args.set = list(args.set) + [f"quantize.config='{args.quant}'"]
    from mase_passes.cli.prepare import check
    cfg, _ = check(args)
    if cfg.quantize["config"] is None:
        raise RunConfigError(f"{args.config}: mase quantize needs [quantize] config (or --quant FILE)")
    p = prepare(args, stages, profile=False)
    wl = p.wl
    with stages.stage("quantize") as s:
        reference = reference_logits(p.graph, wl.evaluation)
        fp32 = st.evaluate(p.graph, wl, reference)
        q = st.quantize_chosen(p.graph, wl, cfg.quantize["config"], cfg.quantize, stages)
        r = st.evaluate(q, wl, reference)
        dev.to_device(q, dev.CPU).save(p.folder.claim("quantized"))  # weights saved from the host
        st.write_chosen_config(cfg.quantize["config"], p.artifacts / "chosen_config.toml",
                               f"{wl.metric} {r.value:.4f}, {r.average_bits:.3f} average bits")
        s.summary = f"{wl.metric} {r.value:.4f} (FP32 {fp32.value:.4f}), {r.average_bits:.2f} bits"
    agreement = "" if r.agreement is None else f", agreement with FP32 {r.agreement:.4f}"
    print(f"FP32 {wl.metric} {fp32.value:.4f}; quantized {wl.metric} {r.value:.4f}{agreement}; "
          f"average bits {r.average_bits:.3f}")
    print(cfg.out_dir / "quantized")
    return 0
