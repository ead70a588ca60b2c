import mx_formats as mxf
import pytest

from mase_passes.config import ConfigError, dump_toml, load_config, resolve
from mase_passes.passes.quantize import Quantize

A, B, C, D = (mxf.MXInt((16, 2), 8, m) for m in (7, 5, 3, 2))


def test_precedence_default_then_op_then_regex_then_node():
    conf = load_config({"default": str(A), "op": {"linear": {"weight": str(B)}},
                        "regex": {"^fc": str(C)}, "node": {"linear_1": {"bias": str(D)}}})
    # default only
    assert resolve(conf, "relu", "relu", "act", "data_out") == A
    # op level names the slot; other slots fall back to default
    assert resolve(conf, "linear", "linear", "x", "weight", is_param=True) == B
    assert resolve(conf, "linear", "linear", "x", "bias", is_param=True) == A
    # regex matches the module path and overrides op and default
    assert resolve(conf, "linear", "linear", "fc1", "weight", is_param=True) == C
    # node level wins over everything, for the slot it names
    assert resolve(conf, "linear", "linear_1", "fc2", "bias", is_param=True) == D
    assert resolve(conf, "linear", "linear_1", "fc2", "weight", is_param=True) == C


def test_apply_sets_every_tensor_and_data_in_overrides_the_producer(mlp):
    _, _, g = mlp
    q = Quantize(config={"default": str(A), "op": {"linear": {"weight": str(B)}},
                         "node": {"linear_1": {"data_in": str(C)}}}).apply(g)
    assert q.value_type("x").element == A                      # graph input, default data_in
    assert q.node("linear").params["weight"].type.element == B
    assert q.node("linear").params["bias"].type.element == A
    assert q.node("linear").result.element == A
    assert q.node("relu").result.element == C                   # linear_1's data_in wins
    assert q.node("linear_1").args[0].type.element == C
    q.verify()
    assert all(n.result.element == mxf.F32 for n in g.nodes)    # the input graph is untouched


def test_toml_round_trip(tmp_path):
    conf = {"default": str(A), "op": {"linear": {"weight": str(B), "bias": "f32"}},
            "regex": {r"layer\.[0-3]\.": str(C)}, "node": {"linear_1": {"data_out": str(D)}}}
    path = tmp_path / "q.toml"
    path.write_text(dump_toml(conf))
    assert load_config(path) == load_config(conf)


@pytest.mark.parametrize("conf, where", [
    ({"defaults": "f32"}, "unknown level"),
    ({"op": {"linear": {"weight": "MXInt((16,2),8)"}}}, "op.linear.weight"),
    ({"regex": {"(": "f32"}}, "regex '\\('"),
    ({"node": {"linear": 7}}, "node.linear"),
])
def test_bad_configs_name_the_entry(conf, where):
    with pytest.raises(ConfigError, match=where.replace("(", "\\(").replace(")", "\\)") if "regex" not in where else where):
        load_config(conf)


def test_missing_toml_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="nope.toml"):
        load_config(tmp_path / "nope.toml")
