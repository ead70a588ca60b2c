"""mase_ir.save ties the text and the weights together (issue 18, item 7): a swapped or
half-replaced pair is refused on load, naming the file; names entering the IR are checked."""

import json
import shutil

import pytest
import torch

import mase_ir


class Two(torch.nn.Module):
    def __init__(self, seed):
        super().__init__()
        torch.manual_seed(seed)
        self.fc = torch.nn.Linear(4, 3)

    def forward(self, x):
        return self.fc(x)


def _saved(tmp_path, name, seed):
    g = mase_ir.trace(Two(seed).eval(), {"x": torch.randn(2, 4)})
    g.save(tmp_path / name)
    return g


def test_a_weight_file_from_another_save_is_refused(tmp_path):
    _saved(tmp_path, "a", 0)
    _saved(tmp_path, "b", 1)  # the same shapes: before, b's weights loaded under a's text silently
    shutil.copy(tmp_path / "b" / "weights.safetensors", tmp_path / "a" / "weights.safetensors")
    with pytest.raises(ValueError, match=r"weights.safetensors is not the file saved with the rest"):
        mase_ir.load(tmp_path / "a")


def test_a_saved_pair_loads_and_the_manifest_holds_both_hashes(tmp_path):
    g = _saved(tmp_path, "a", 0)
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert set(manifest) == {"format", "graph.mase", "weights.safetensors"}
    h = mase_ir.load(tmp_path / "a")
    assert h.to_text() == g.to_text()
    assert torch.equal(h.weights["fc.weight"], g.weights["fc.weight"])
    assert not [p for p in (tmp_path / "a").iterdir() if p.suffix == ".tmp"]


def test_an_edited_text_is_refused_and_a_folder_without_manifest_still_loads(tmp_path):
    _saved(tmp_path, "a", 0)
    text = tmp_path / "a" / "graph.mase"
    text.write_text(text.read_text() + "\n")
    with pytest.raises(ValueError, match="graph.mase is not the file saved"):
        mase_ir.load(tmp_path / "a")
    (tmp_path / "a" / "manifest.json").unlink()
    mase_ir.load(tmp_path / "a")  # saved before manifests: loads unchecked


def test_rename_checks_the_new_name():
    g = mase_ir.trace(Two(0).eval(), {"x": torch.randn(2, 4)})
    with pytest.raises(ValueError, match="not a value name"):
        g.rename(g.nodes[0].name, "fc\n%evil")
    g.rename(g.nodes[0].name, "fc.1")
    assert mase_ir.parse(g.to_text()).to_text() == g.to_text()
