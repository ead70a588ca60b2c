"""Test helpers of mase-ir: tiny random-weight BERT/OPT/LLaMA built from configs (no
hub access), example inputs, and the eager/graph output comparison."""

import torch


SEQ = 8


def _tiny(family: str):
    from transformers import (BertConfig, BertModel, LlamaConfig, LlamaForCausalLM, OPTConfig,
                              OPTForCausalLM)
    torch.manual_seed(0)
    if family == "bert":
        return BertModel(BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2,
                                    num_attention_heads=4, intermediate_size=64,
                                    max_position_embeddings=64)), {}
    if family == "opt":
        return OPTForCausalLM(OPTConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2,
                                        num_attention_heads=4, ffn_dim=64, max_position_embeddings=64,
                                        word_embed_proj_dim=32)), {"use_cache": False}
    if family == "llama":
        return LlamaForCausalLM(LlamaConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2,
                                            num_attention_heads=4, num_key_value_heads=2,
                                            intermediate_size=64, max_position_embeddings=64)), \
            {"use_cache": False}
    raise ValueError(family)


def _inputs(seed: int, extra: dict):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, 100, (2, SEQ), generator=g)
    mask = torch.ones(2, SEQ, dtype=torch.long)
    mask[1, -3:] = 0  # a padded second sequence exercises the attention mask
    return {"input_ids": ids, "attention_mask": mask, **extra}


class Traced:
    def __init__(self, name, model, example, graph):
        self.name, self.model, self.example, self.graph = name, model, example, graph

    def tensors(self, inputs):
        return {k: v for k, v in inputs.items() if isinstance(v, torch.Tensor)}


def eager_outputs(model, inputs) -> list[torch.Tensor]:
    """The eager model's tensor outputs in the order torch.export flattens them."""
    with torch.no_grad():
        out = model(**inputs)
    return [v for v in out.values() if isinstance(v, torch.Tensor)] if hasattr(out, "values") else [out]


def graph_outputs(graph, inputs) -> list[torch.Tensor]:
    with torch.no_grad():
        out = graph(**{k: v for k, v in inputs.items() if isinstance(v, torch.Tensor)})
    return list(out) if isinstance(out, tuple) else [out]
