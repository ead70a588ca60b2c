import mase_ir
import pytest
import torch

from mase_passes.search_space import SearchSpace, slot_labels

GROUP = r"(?<=layers\.)\d+"


class Stack(torch.nn.Module):
    """Two residual layers and a head: the same tensor kinds repeat per layer."""

    def __init__(self):
        super().__init__()
        self.layers = torch.nn.ModuleList([torch.nn.Linear(8, 8) for _ in range(2)])
        self.head = torch.nn.Linear(8, 3)

    def forward(self, x):
        for layer in self.layers:
            x = torch.relu(layer(x)) + x
        return self.head(x)


@pytest.fixture
def stack():
    torch.manual_seed(0)
    return mase_ir.trace(Stack().eval(), {"x": torch.randn(4, 8)})


def test_labels_name_tensors_by_module_op_and_occurrence(stack):
    labels = slot_labels(stack)
    assert labels["linear.weight"] == "layers.0:linear.weight"
    assert labels["linear_1.data_out"] == "layers.1:linear.data_out"
    assert labels["relu.data_out"] == "model:relu.data_out"      # top-level ops: module "model"
    assert labels["relu_1.data_out"] == "model:relu#1.data_out"  # second relu of the same module
    assert labels["linear_2.bias"] == "head:linear.bias"
    assert len(labels) == 13  # 3 linears x (out, weight, bias) + 2 relu + 2 add


def test_default_space_is_one_dimension_per_tensor(stack):
    space = SearchSpace.build(stack, (2, 6))
    assert [d.name for d in space.dims] == list(slot_labels(stack))
    assert all((d.lo, d.hi) == (2, 6) for d in space.dims) and not space.fixed


def test_group_by_ties_layers_and_ranges_fix_small_tensors(stack):
    space = SearchSpace.build(stack, (2, 6), ranges=[(r"\.bias$", (7, 7)), (r"^head:", (5, 5))],
                              group_by=GROUP)
    names = {d.name: d for d in space.dims}
    # biases and the head are fixed; per layer: linear out + weight grouped over the two layers
    assert set(names) == {"layers.*:linear.data_out", "layers.*:linear.weight",
                          "model:relu.data_out", "model:add.data_out",
                          "model:relu#1.data_out", "model:add#1.data_out"}
    assert names["layers.*:linear.weight"].keys == ("linear.weight", "linear_1.weight")
    assert names["layers.*:linear.weight"].numel == 128
    # first matching pattern wins: the head's bias is a bias (7), not a head tensor (5)
    assert space.fixed == {"linear.bias": 7, "linear_1.bias": 7, "linear_2.data_out": 5,
                           "linear_2.weight": 5, "linear_2.bias": 7}
    widths = space.widths({d.name: 3 for d in space.dims})
    assert widths["linear_1.weight"] == 3 and widths["linear_2.weight"] == 5
    # element-weighted mean by hand: activations 4x8=32 each (2 linear, 2 relu, 2 add at 3;
    # head out 4x3=12 at 5), weights 64 each at 3, head weight 24 at 5, biases 8+8+3 at 7
    num = 6 * 32 * 3 + 12 * 5 + 2 * 64 * 3 + 24 * 5 + 19 * 7
    den = 6 * 32 + 12 + 2 * 64 + 24 + 16 + 3
    assert space.mean_mantissa(widths) == pytest.approx(num / den)
    assert space.min_mean_mantissa() == pytest.approx((num - 6 * 32 - 2 * 64) / den)


def test_config_gives_every_tensor_its_width(stack):
    space = SearchSpace.build(stack, (2, 6), group_by=GROUP)
    conf = space.config(space.widths({d.name: 4 for d in space.dims}), lambda m: f"MXInt((16,2),8,{m})")
    assert conf["node"]["linear_1"] == {"data_out": "MXInt((16,2),8,4)", "weight": "MXInt((16,2),8,4)",
                                        "bias": "MXInt((16,2),8,4)"}
    assert sum(len(v) for v in conf["node"].values()) == 13


def test_seeds_clip_to_ranges_and_match_names_or_regexes(stack):
    space = SearchSpace.build(stack, (2, 6), ranges=[(r"weight$", (4, 6))], group_by=GROUP)
    assert space.seed(2)["layers.*:linear.weight"] == 4      # clipped up to the range
    s = space.seed({"layers.*:linear.weight": 5, r"relu": 6, ".*": 3})
    assert s["layers.*:linear.weight"] == 5 and s["model:relu#1.data_out"] == 6 and s["model:add.data_out"] == 3
    with pytest.raises(ValueError, match="model:add.data_out"):
        space.seed({"relu": 6, "linear": 3})


def test_bad_space_options_are_named(stack):
    with pytest.raises(ValueError, match=r"mixes mantissa ranges"):
        SearchSpace.build(stack, (2, 6), ranges=[(r"layers\.0:linear\.weight", (3, 5))], group_by=GROUP)
    with pytest.raises(ValueError, match=r"'\(' is not a regex"):
        SearchSpace.build(stack, (2, 6), ranges=[("(", (3, 5))])
    with pytest.raises(ValueError, match="1 <= lo <= hi"):
        SearchSpace.build(stack, (2, 6), ranges=[("bias", (5, 3))])
    with pytest.raises(ValueError, match="regex, \\(lo, hi\\)"):
        SearchSpace.build(stack, (2, 6), ranges=[("bias",)])
