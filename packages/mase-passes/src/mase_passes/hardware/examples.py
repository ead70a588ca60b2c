"""Small example designs for the hardware flow (tests, benchmarks, docs): the paper's toy
network (flatten -> linear -> relu) and a 3-layer MLP, each with a mixed-precision MXInt config
whose blocks mase_mxint_linear can chain (activations (4,2), weights (4,4), 8-bit exponents)."""

import mase_ir
import torch

from mase_passes.passes.quantize import Quantize

# activations 4 features x 2 rows per block; weights 4x4 so a linear's output tile (OUT_TILE, X_ROWS)
# is again a (4, 2) block: the blocking mase_mxint_linear can chain without re-blocking
TOY_CONFIG = {"default": "MXInt((4,2),8,5)",
              "op": {"linear": {"weight": "MXInt((4,4),8,3)", "bias": "MXInt((4,4),8,6)",
                                "data_out": "MXInt((4,2),8,6)"}}}
MLP_CONFIG = {"default": "MXInt((4,2),8,5)",
              "op": {"linear": {"weight": "MXInt((4,4),8,4)", "bias": "MXInt((4,4),8,7)"}},
              "node": {"linear": {"data_out": "MXInt((4,2),8,7)"}, "relu": {"data_out": "MXInt((4,2),8,3)"},
                       "linear_1": {"weight": "MXInt((4,4),8,2)"}}}


class Toy(torch.nn.Module):
    """The paper's toy network: flatten -> linear -> relu."""

    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(32, 8)

    def forward(self, x):
        return torch.relu(self.fc(torch.flatten(x, 1)))


class MLP3(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(32, 16)
        self.fc2 = torch.nn.Linear(16, 16)
        self.fc3 = torch.nn.Linear(16, 4)

    def forward(self, x):
        return self.fc3(torch.relu(self.fc2(torch.relu(self.fc1(x)))))


def toy(seed=0):
    torch.manual_seed(seed)
    m = Toy().eval()
    x = torch.randn(4, 4, 8)
    return m, x, Quantize(config=TOY_CONFIG).apply(mase_ir.trace(m, {"x": x}))


def mlp(seed=0):
    torch.manual_seed(seed)
    m = MLP3().eval()
    x = torch.randn(4, 32)
    return m, x, Quantize(config=MLP_CONFIG).apply(mase_ir.trace(m, {"x": x}))


# one-row blocks: the non-linear operators (gelu, layer_norm) stream rows of (B0,) blocks
FFN_CONFIG = {"default": "MXInt((4,),8,6)",
              "op": {"linear": {"weight": "MXInt((4,4),8,5)", "bias": "MXInt((4,4),8,7)"}},
              "node": {"gelu": {"data_out": "MXInt((4,),8,4)"}, "linear": {"data_out": "MXInt((4,),8,7)"}}}


class FFN(torch.nn.Module):
    """A transformer feed-forward block with its residual: x + W2 gelu(W1 x + b1) + b2."""

    def __init__(self, d=16, hidden=32):
        super().__init__()
        self.fc1 = torch.nn.Linear(d, hidden)
        self.fc2 = torch.nn.Linear(hidden, d)

    def forward(self, x):
        return x + self.fc2(torch.nn.functional.gelu(self.fc1(x)))


class FFNPostLN(FFN):
    """BERT's output sub-layer: layer_norm(x + W2 gelu(W1 x + b1) + b2) with gamma and beta."""

    def __init__(self, d=16, hidden=32):
        super().__init__(d, hidden)
        self.ln = torch.nn.LayerNorm(d)
        with torch.no_grad():  # not the identity init, so gamma and beta matter
            self.ln.weight.uniform_(0.5, 1.5)
            self.ln.bias.uniform_(-0.5, 0.5)

    def forward(self, x):
        return self.ln(super().forward(x))


def ffn(seed=0, layer_norm=False):
    torch.manual_seed(seed)
    m = (FFNPostLN() if layer_norm else FFN()).eval()
    x = torch.randn(8, 16)
    return m, x, Quantize(config=FFN_CONFIG).apply(mase_ir.trace(m, {"x": x}))


BERT_CONFIG = {"default": "MXInt((4,),8,6)",
               "op": {"linear": {"weight": "MXInt((4,4),8,5)", "bias": "MXInt((4,4),8,7)"},
                      "softmax": {"data_out": "MXInt((4,),8,7)"}, "matmul": {"data_out": "MXInt((4,),8,7)"}}}


class BertEncoderLayer(torch.nn.Module):
    """One transformers BertLayer (eager attention) on hidden states ``x`` [1, seq, hidden]."""

    def __init__(self, hidden=32, heads=2, intermediate=64, attn="eager"):
        super().__init__()
        from transformers import BertConfig
        from transformers.models.bert.modeling_bert import BertLayer

        cfg = BertConfig(hidden_size=hidden, num_attention_heads=heads, intermediate_size=intermediate,
                         hidden_act="gelu", attn_implementation=attn)
        self.layer = BertLayer(cfg)

    def forward(self, x):
        out = self.layer(x)
        return out[0] if isinstance(out, tuple) else out


def bert_layer(seed=0, seq=8, hidden=32, heads=2, intermediate=64, attn="eager"):
    """``attn``: transformers' attention implementation, "eager" (matmul/softmax nodes) or "sdpa"
    (one fused node)."""
    torch.manual_seed(seed)
    m = BertEncoderLayer(hidden, heads, intermediate, attn).eval()
    with torch.no_grad():  # gamma/beta away from the identity init so they matter
        for ln in (m.layer.attention.output.LayerNorm, m.layer.output.LayerNorm):
            ln.weight.uniform_(0.5, 1.5)
            ln.bias.uniform_(-0.5, 0.5)
    x = torch.randn(1, seq, hidden)
    return m, x, Quantize(config=BERT_CONFIG).apply(mase_ir.trace(m, {"x": x}))


# what the search produces: MXInt((16,2),8,m) on every tensor, m chosen per tensor
SEARCH_CONFIG = {"default": "MXInt((16,2),8,5)",
                 "node": {"linear": {"weight": "MXInt((16,2),8,3)", "data_out": "MXInt((16,2),8,6)"},
                          "relu": {"data_out": "MXInt((16,2),8,4)"},
                          "linear_1": {"weight": "MXInt((16,2),8,4)", "bias": "MXInt((16,2),8,6)"}}}


class MLP2(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(32, 32)
        self.fc2 = torch.nn.Linear(32, 16)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


def search_mlp(seed=0):
    """A 2-layer MLP under the search's blocking (16,2): every linear needs a reblock after it."""
    torch.manual_seed(seed)
    m = MLP2().eval()
    x = torch.randn(4, 32)
    return m, x, Quantize(config=SEARCH_CONFIG).apply(mase_ir.trace(m, {"x": x}))
