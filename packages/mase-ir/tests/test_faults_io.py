"""Corrupt saved graphs: every damaged file gives an error, never a graph that loads wrong.

A graph is saved once, then one file is damaged per case (truncated, garbage, missing,
a tensor with the wrong shape or missing). Each error names the damaged file.
docs/reliability.md lists each case.
"""

import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

import mase_ir


class MLP(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(8, 16)
        self.fc2 = torch.nn.Linear(16, 4)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    torch.manual_seed(0)
    d = tmp_path_factory.mktemp("saved")
    g = mase_ir.trace(MLP().eval(), {"x": torch.randn(2, 8)})
    g.save(d)
    return d


@pytest.fixture
def copy(saved, tmp_path):
    d = tmp_path / "g"
    shutil.copytree(saved, d)
    return d


def test_the_undamaged_copy_loads(copy):
    assert mase_ir.load(copy).to_text() == (copy / "graph.mase").read_text()


def test_truncated_text_is_a_parse_error_with_line_and_column(copy):
    text = (copy / "graph.mase").read_text()
    (copy / "graph.mase").write_text(text[: len(text) * 2 // 3])
    with pytest.raises(mase_ir.ParseError, match=r"graph\.mase: line \d+, column \d+: "):
        mase_ir.load(copy)


def test_binary_garbage_in_the_text_is_a_value_error(copy):
    """Not UTF-8: a ValueError naming the file and the first bad byte."""
    (copy / "graph.mase").write_bytes(b"graph(\x00\xff\xfe" * 10)
    with pytest.raises(ValueError, match=r"graph\.mase: not UTF-8 text \(byte 7"):
        mase_ir.load(copy)
    (copy / "graph.mase").write_bytes(b"graph(\x00\x01\x02" * 10)  # valid UTF-8 control characters
    with pytest.raises(mase_ir.ParseError, match="unexpected character"):
        mase_ir.load(copy)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_damaged_weights_are_refused(copy, damage):
    path = copy / "weights.safetensors"
    data = path.read_bytes()
    path.write_bytes({"truncate": data[: len(data) // 2], "garbage": b"\x07" * 64, "empty": b""}[damage])
    with pytest.raises(Exception, match="(?i)header|deserializ|incomplete|too small") as info:
        mase_ir.load(copy)
    assert not isinstance(info.value, (AssertionError, KeyError, IndexError))


def test_missing_weights_file_names_the_path(copy):
    (copy / "weights.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="weights.safetensors"):
        mase_ir.load(copy)


def test_a_weight_of_the_wrong_shape_is_a_verify_error_naming_node_and_parameter(copy):
    tensors = load_file(copy / "weights.safetensors")
    tensors["fc2.weight"] = torch.zeros(3, 3)
    save_file(tensors, copy / "weights.safetensors")
    with pytest.raises(mase_ir.VerifyError, match=r"parameter weight \(fc2\.weight\) is declared f32\[4,16\] "
                                                  r"but the weight is torch\.float32 \[3, 3\]"):
        mase_ir.load(copy)


def test_a_missing_tensor_is_a_verify_error_naming_it(copy):
    tensors = load_file(copy / "weights.safetensors")
    del tensors["fc1.bias"]
    save_file(tensors, copy / "weights.safetensors")
    with pytest.raises(mase_ir.VerifyError, match="refers to missing weight 'fc1.bias'"):
        mase_ir.load(copy)


def test_a_parse_error_on_load_names_the_file(copy):
    (copy / "graph.mase").write_text("graph(")
    with pytest.raises(mase_ir.ParseError, match="graph.mase"):
        mase_ir.load(copy)


def test_a_damaged_weight_file_error_names_the_file(copy):
    (copy / "weights.safetensors").write_bytes(b"\x07" * 64)
    with pytest.raises(Exception, match="weights.safetensors"):
        mase_ir.load(copy)
