"""Train the builtin causal LM ``llama-debtext`` from scratch, in FP32 or with MX GEMMs (issue 21).

A LLaMA-architecture model (transformers' LlamaForCausalLM: RMSNorm, SwiGLU MLP, rotary
position embeddings; tied input/output embeddings) of about 5.9M parameters on the Debian text
corpus of tools/make_text_corpus.py, with a byte-level BPE tokenizer (``tokenizers``) trained
on the train split. The shipped model was made by these two commands (the second on a GPU;
``--device cpu`` runs the same recipe on a CPU, slowly; with the repository's packages on the
path, e.g. ``PYTHONPATH=packages/mx-formats/src``):

    python3 tools/make_text_corpus.py --out build/debtext --seed 0 \\
        --ship packages/mase-passes/src/mase_passes/data/debtext
    python3 tools/train_causal_lm.py --corpus build/debtext --out build/debtext-tok --tokenizer-only
    python3 tools/train_causal_lm.py --corpus build/debtext --tokenizer build/debtext-tok \\
        --out build/llama-debtext --recipe fp32 --steps 2000 --save

The MX-training benchmark (packages/mase-passes/benchmarks/causal_lm_mx_training.py) runs the
last command once per ``--recipe`` (without ``--save``), all four at once on one GPU.

``--recipe`` chooses the formats of every decoder linear layer's GEMMs (mx_formats.nn.MXLinear;
the embedding, the tied LM head, norms and softmax stay FP32; attention's two matmuls too unless
``--mx-attention``, which runs ``Q K^T`` and ``P V`` through mx_formats.nn.mx_matmul with the
recipe's activation format forward and its gradient format backward, :func:`mx_attention`):

* ``fp32``        — no quantization;
* ``mxfp8``       — MXFP8: E4M3 weights and activations, E5M2 output gradients;
* ``mxfp6``       — MXFP6 E3M2 for weights, activations and output gradients;
* ``mxfp4w6a``    — MXFP4 (E2M1) weights, MXFP6 E3M2 activations and output gradients.

Recipe (the same for every ``--recipe``): AdamW (beta 0.9 / 0.95, weight decay 0.1 on matrices),
peak learning rate 3e-3 after 100 warm-up steps, cosine decay to 10%, gradient clipping at 1.0, 2000 steps of
batches of 32 random windows of 256 tokens from the train split drawn by ``torch.Generator``
seeded with ``--seed``. Every ``--eval-every`` steps the validation loss on 64 fixed windows is
logged. At the end the model is scored on the whole validation and test splits (non-overlapping
windows of 128 tokens, the workload's protocol: exp of the mean next-token cross-entropy) and on
the CI subset (the 64 evenly spaced test windows of 128 tokens that the package test uses).

Outputs in ``--out``: ``log.json`` (recipe, losses, perplexities, seconds, device) and, with
``--save``, the Hugging Face checkpoint (config.json, model.safetensors, tokenizer files) plus
``training.json`` (the same numbers), the folder the builtin workload loads.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

MODEL = dict(vocab_size=4096, hidden_size=256, intermediate_size=704, num_hidden_layers=6,
             num_attention_heads=8, num_key_value_heads=8, max_position_embeddings=256,
             rope_theta=10000.0, rms_norm_eps=1e-5, tie_word_embeddings=True)
EOS = "<|endoftext|>"
EVAL_LENGTH = 128  # the workload's windows (examples/causal_lm_perplexity.toml max_length)
CI_WINDOWS = 64


def attention_spec(spec):
    """The matmul TrainingSpec of attention under a linear recipe ``spec``: both operands are
    activations, so they take its forward input format; the output gradient its gradient format."""
    from mx_formats.training import TrainingSpec

    return TrainingSpec.mx(spec["forward", "input"].format, spec["input_grad", "grad_output"].format, op="matmul",
                           elementwise=spec.elementwise, ste=spec.ste, rounding=spec.rounding)


def recipe_spec(name: str):
    """The TrainingSpec of a recipe, or None for fp32."""
    from mx_formats.training import TrainingSpec

    specs = {"fp32": None,
             "mxfp8": lambda: TrainingSpec.mx("MXFP8_E4M3", "MXFP8_E5M2"),
             "mxfp6": lambda: TrainingSpec.mx("MXFP6_E3M2", "MXFP6_E3M2"),
             "mxfp4w6a": lambda: TrainingSpec.mx("MXFP6_E3M2", "MXFP6_E3M2", weight="MXFP4_E2M1")}
    if name not in specs:
        raise SystemExit(f"train_causal_lm: --recipe {name!r}; choose one of {list(specs)}")
    return specs[name]() if specs[name] else None


def mx_attention(spec):
    """A transformers attention function (``AttentionInterface``) computing eager attention with
    both matmuls in MX: ``S = mx_matmul(Q, K^T) * scale`` (+ the causal mask), ``P = softmax(S)`` in
    float32, ``O = mx_matmul(P, V)``; ``spec`` is a TrainingSpec with ``op="matmul"``."""
    from mx_formats.nn import mx_matmul

    def attend(module, query, key, value, attention_mask, scaling, dropout=0.0, **kwargs):
        groups = module.num_key_value_groups  # grouped-query attention: each KV head serves `groups` heads
        key, value = key.repeat_interleave(groups, dim=1), value.repeat_interleave(groups, dim=1)
        scores = mx_matmul(query, key.transpose(2, 3), spec) * scaling
        if attention_mask is not None:
            scores = scores.masked_fill(~attention_mask, float("-inf")) if attention_mask.dtype == torch.bool \
                else scores + attention_mask
        probs = torch.nn.functional.softmax(scores, dim=-1, dtype=torch.float32).to(query.dtype)
        probs = torch.nn.functional.dropout(probs, p=dropout, training=module.training)
        return mx_matmul(probs, value, spec).transpose(1, 2).contiguous(), probs

    return attend


def use_mx_attention(model, spec) -> None:
    """Register :func:`mx_attention` as ``"mx_eager"`` (with eager attention's additive float mask)
    and switch ``model`` to it."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, eager_mask

    AttentionInterface.register("mx_eager", mx_attention(spec))
    AttentionMaskInterface.register("mx_eager", eager_mask)
    model.set_attn_implementation("mx_eager")


def train_tokenizer(train_txt: Path, out: Path, vocab_size: int):
    """A byte-level BPE tokenizer trained on the train split, saved as a transformers fast tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[EOS],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train([str(train_txt)], trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS, bos_token=EOS, unk_token=EOS,
                                   model_max_length=10**9)
    fast.save_pretrained(str(out))
    return fast


def token_ids(tok, path: Path) -> torch.Tensor:
    """The whole text file as one token stream, as the workload tokenizes it (no special tokens)."""
    return torch.tensor(tok(path.read_text(encoding="utf-8"), add_special_tokens=False)["input_ids"])


def windows(ids: torch.Tensor, length: int) -> torch.Tensor:
    n = ids.numel() // length
    return ids[: n * length].reshape(n, length)


def evenly_spaced(n: int, limit: int) -> list[int]:
    """As mase_passes.workloads.textdata.evenly_spaced: ``limit`` indices spread over range(n)."""
    if limit >= n:
        return list(range(n))
    return [int(i * n / limit) for i in range(limit)]


@torch.no_grad()
def perplexity(model, wins: torch.Tensor, device, batch: int = 64) -> float:
    """exp(summed next-token cross-entropy within each window / predicted tokens)."""
    model.eval()
    nll, count = 0.0, 0
    for s in range(0, wins.shape[0], batch):
        ids = wins[s:s + batch].to(device)
        logits = model(input_ids=ids, use_cache=False).logits.float()
        nll += float(torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]),
                                                       ids[:, 1:].reshape(-1), reduction="sum"))
        count += ids[:, 1:].numel()
    model.train()
    return math.exp(nll / count)


def lr_at(step: int, steps: int, peak: float, warmup: int) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, required=True, help="folder with train.txt, validation.txt, test.txt")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--recipe", default="fp32")
    ap.add_argument("--mx-attention", action="store_true",
                    help="attention's two matmuls in MX too (the recipe's activation / gradient formats)")
    ap.add_argument("--tokenizer", type=Path, help="folder of an already trained tokenizer (default: train one)")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--save", action="store_true", help="write the Hugging Face checkpoint into --out")
    ap.add_argument("--tokenizer-only", action="store_true", help="train and save the tokenizer in --out, then stop")
    args = ap.parse_args(argv)
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    from mx_formats.nn import convert_linears

    spec = recipe_spec(args.recipe)  # a bad spec stops here, before any step
    attn_spec = attention_spec(spec) if args.mx_attention else None
    if args.mx_attention and spec is None:
        raise SystemExit("train_causal_lm: --mx-attention needs an MX --recipe (fp32 has no formats)")
    if args.save and spec:
        raise SystemExit("train_causal_lm: --save is for the fp32 recipe (the builtin model)")
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    if args.tokenizer:
        # from tokenizer.json itself: the tokenizer_config.json class name differs across transformers 5.x
        tok = PreTrainedTokenizerFast(tokenizer_file=str(args.tokenizer / "tokenizer.json"), eos_token=EOS,
                                      bos_token=EOS, unk_token=EOS, model_max_length=10**9)
        for name in ("tokenizer.json", "tokenizer_config.json"):
            shutil.copyfile(args.tokenizer / name, args.out / name)
    else:
        tok = train_tokenizer(args.corpus / "train.txt", args.out, MODEL["vocab_size"])
        if args.tokenizer_only:
            return 0
    train_ids = token_ids(tok, args.corpus / "train.txt")
    val_ids = token_ids(tok, args.corpus / "validation.txt")
    test_ids = token_ids(tok, args.corpus / "test.txt")
    print(f"tokens: train {train_ids.numel()}, validation {val_ids.numel()}, test {test_ids.numel()} "
          f"({time.time() - t0:.0f} s)", flush=True)

    torch.manual_seed(args.seed)
    config = LlamaConfig(**MODEL, bos_token_id=tok.eos_token_id, eos_token_id=tok.eos_token_id,
                         pad_token_id=tok.eos_token_id)
    model = LlamaForCausalLM(config).to(args.device)
    n_params = sum(p.numel() for p in model.parameters())
    replaced = convert_linears(model.model, spec) if spec else []
    if attn_spec is not None:
        use_mx_attention(model, attn_spec)
    decay = [p for p in model.parameters() if p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95))
    gen = torch.Generator().manual_seed(args.seed)
    val_w = windows(val_ids, args.seq)
    val_probe = val_w[evenly_spaced(val_w.shape[0], 64)]
    log = {"recipe": args.recipe, "spec": spec.describe() if spec else "fp32", "quantized_linears": len(replaced),
           "attention_spec": attn_spec.describe() if attn_spec else "fp32",
           "parameters": n_params, "model": MODEL, "args": {k: str(v) for k, v in vars(args).items()},
           "device": torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu",
           "train_tokens": train_ids.numel(), "train": [], "validation": []}
    high = train_ids.numel() - args.seq - 1
    t_train = time.time()
    for step in range(args.steps):
        if step % args.eval_every == 0 or step == args.steps - 1:
            v = math.log(perplexity(model, val_probe, args.device))
            log["validation"].append([step, v])
            print(f"step {step}: validation loss {v:.4f} ({time.time() - t_train:.0f} s)", flush=True)
            (args.out / "log.json").write_text(json.dumps(log) + "\n")  # a killed run keeps its curve
        starts = torch.randint(0, high, (args.batch,), generator=gen)
        ids = torch.stack([train_ids[s:s + args.seq] for s in starts.tolist()]).to(args.device)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, args.steps, args.lr, args.warmup)
        loss = model(input_ids=ids, labels=ids, use_cache=False).loss
        if step % 10 == 0:  # reading the loss waits for the GPU: every 10th step only
            value = float(loss.detach())
            log["train"].append([step, value])
            if not math.isfinite(value):
                log["diverged_at"] = step
                print(f"step {step}: loss {value}, stopping", flush=True)
                break
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    log["train_seconds"] = time.time() - t_train
    test_w = windows(test_ids, EVAL_LENGTH)
    log["perplexity"] = {"validation": perplexity(model, windows(val_ids, EVAL_LENGTH), args.device),
                         "test": perplexity(model, test_w, args.device),
                         "test_ci_subset": perplexity(model, test_w[evenly_spaced(test_w.shape[0], CI_WINDOWS)],
                                                      args.device),
                         "windows": EVAL_LENGTH, "test_windows": test_w.shape[0],
                         "ci_subset_windows": CI_WINDOWS, "measured": True}
    print(json.dumps(log["perplexity"]), flush=True)
    (args.out / "log.json").write_text(json.dumps(log, indent=1) + "\n")
    if args.save:
        model.to("cpu").save_pretrained(str(args.out))  # the tokenizer files are in --out already
        (args.out / "training.json").write_text(json.dumps({k: log[k] for k in log if k not in ("train",)},
                                                           indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
