"""Names that reach Verilog, files and ROM images (issue 18, item 6): two SSA names that the one
sanitizer (hardware.design.sv_name) maps to one identifier or ROM file are refused before any
file is written, instead of one layer's weights silently overwriting the other's; a name that
could inject text into top.sv cannot enter the IR."""

import pytest

from mase_passes.hardware import examples
from mase_passes.hardware.design import MappingError, check_names, sv_name
from mase_passes.hardware.mapping import map_graph
from mase_passes.passes.emit import Emit


def test_two_nodes_with_one_rom_file_name_are_refused_before_any_file(tmp_path):
    _, _, q = examples.mlp()
    q.rename("linear", "fc.1")
    q.rename("linear_1", "fc_1")
    assert sv_name("fc.1") == sv_name("fc_1")  # the collision this guards against
    with pytest.raises(MappingError, match=r"'fc_1' and 'fc.1' both become the SystemVerilog name 'fc_1'"):
        Emit().apply(q, tmp_path / "design")
    assert list(tmp_path.iterdir()) == []


def test_distinct_sanitized_names_emit_one_rom_per_layer(tmp_path):
    _, _, q = examples.mlp()
    q.rename("linear", "fc.1")
    q.rename("linear_1", "fc.2")
    res = Emit().apply(q, tmp_path / "design")
    roms = sorted(p.name for p in (res.out_dir / "mem").iterdir())
    assert "fc_1_weight.hex" in roms and "fc_2_weight.hex" in roms
    weights = [p for p in roms if p.endswith("_weight.hex")]
    assert len(weights) == 3  # one per linear layer, none overwritten


def test_a_rom_file_shared_by_two_stages_is_refused():
    _, _, q = examples.mlp()
    design = map_graph(q)
    linears = [s for s in design.stages if "WEIGHT_FILE" in s.params]
    linears[1].params["WEIGHT_FILE"] = linears[0].params["WEIGHT_FILE"]
    with pytest.raises(MappingError, match="both the ROM file"):
        check_names(design)


@pytest.mark.parametrize("bad", ["fc\n// injected", "a b", "x/../../y", "", "ü", 'q"'])
def test_rename_refuses_names_the_text_form_cannot_hold(bad):
    _, _, q = examples.mlp()
    with pytest.raises(ValueError, match="not a value name"):
        q.rename("linear", bad)
    assert q.nodes[0].name == "linear"


def test_verify_and_emit_refuse_a_name_set_behind_renames_back(tmp_path):
    import mase_ir
    _, _, q = examples.mlp()
    bad = "relu\n    assign out = 0; //"
    for n in q.nodes:  # what rename did before it checked the name
        n.name = bad if n.name == "relu" else n.name
        for a in n.args:
            a.name = bad if a.name == "relu" else a.name
    with pytest.raises(mase_ir.VerifyError, match="not a value name"):
        q.verify()
    with pytest.raises(MappingError, match="not a value name"):
        check_names(map_graph(q))
