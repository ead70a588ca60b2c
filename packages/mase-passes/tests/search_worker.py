"""Run a long search on the tiny MLP in a subprocess so a test can kill it mid-way."""

import sys

import mase_ir
import torch

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from conftest import TinyMLP  # noqa: E402

from mase_passes.passes.search import Search  # noqa: E402

if __name__ == "__main__":
    out = sys.argv[1]
    torch.manual_seed(0)
    model = TinyMLP().eval()
    x = torch.randn(16, 32)
    g = mase_ir.trace(model, {"x": x})
    with torch.no_grad():
        y = model(x).argmax(-1)
    Search(n_trials=10_000, out_dir=out, sampler="random").apply(g, [({"x": x}, y)])
