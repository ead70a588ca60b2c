"""Trace OPT at the OPT-125M configuration (random weights: 12 layers, hidden 768,
12 heads, FFN 3072, vocab 50272) and print trace time and IR node count.

    python packages/mase-ir/benchmarks/bench_trace_opt125m.py [--seq 128]

The MASE paper reports 61 nodes and 23 s for OPT-125M (its nodes are blocks); the
node count here is module level (every linear, norm, activation, attention and
data-movement op is a node). Not a timed test: run it by hand.
"""

import argparse
import collections
import time

import torch
from transformers import OPTConfig, OPTForCausalLM

import mase_ir


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seq", type=int, default=128, help="sequence length of the example input")
    ap.add_argument("--batch", type=int, default=1)
    args = ap.parse_args()
    torch.manual_seed(0)
    config = OPTConfig(vocab_size=50272, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                       ffn_dim=3072, max_position_embeddings=2048, word_embed_proj_dim=768)
    t0 = time.perf_counter()
    model = OPTForCausalLM(config).eval()
    t_build = time.perf_counter() - t0
    ids = torch.randint(0, config.vocab_size, (args.batch, args.seq))
    example = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "use_cache": False}
    t0 = time.perf_counter()
    graph = mase_ir.trace(model, example)
    t_trace = time.perf_counter() - t0
    t0 = time.perf_counter()
    text = graph.to_text()
    t_print = time.perf_counter() - t0
    t0 = time.perf_counter()
    mase_ir.parse(text)
    t_parse = time.perf_counter() - t0
    with torch.no_grad():
        diff = (graph(input_ids=ids, attention_mask=example["attention_mask"])
                - model(**example).logits).abs().max().item()
    per_layer = collections.Counter(n.module.split(".")[3] for n in graph.nodes
                                    if n.module.startswith("model.decoder.layers."))
    s = graph.summary()
    print(f"OPT-125M config, batch {args.batch}, seq {args.seq} (model build {t_build:.1f} s)")
    print(f"trace time: {t_trace:.2f} s (paper: 23 s)")
    print(f"IR nodes: {s.nodes} (paper: 61 block-level nodes); per decoder layer: {per_layer['0']}")
    print(f"op histogram: {dict(sorted(s.op_histogram.items(), key=lambda kv: -kv[1]))}")
    print(f"parameters: {s.parameters}")
    print(f"text: {len(text.splitlines())} lines, print {t_print * 1e3:.0f} ms, parse {t_parse * 1e3:.0f} ms")
    print(f"max |graph - eager| on logits: {diff:.2e}")


if __name__ == "__main__":
    main()
