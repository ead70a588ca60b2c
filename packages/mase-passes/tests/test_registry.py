import dataclasses

import pytest

import mase_passes
from mase_passes.passes import REGISTRY, get_pass
from mase_passes.passes.options import pass_options


def test_registry_lists_every_pass_the_flow_runs_each_a_frozen_dataclass_named_as_registered():
    assert mase_passes.list_passes() == [
        "allocate", "emit", "evaluate", "extract", "fixed_point", "freeze_weights", "parallelize", "profile",
        "quantize", "reblock", "reorder_channels", "search", "sensitivity", "transplant"]
    for name in REGISTRY:
        cls = get_pass(name)
        assert cls.name == name
        assert cls.kind in ("analysis", "transform"), name
        assert callable(cls.run), name  # the pipeline contract: run(graph, context) -> Outcome
        assert dataclasses.is_dataclass(cls)
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(cls(), "name_of_option_that_does_not_exist", 1)


def test_every_option_is_declared_with_a_one_line_doc():
    """The CLI and the pipeline read the options from these fields (mase_passes.passes.options)."""
    for name in REGISTRY:
        for spec in pass_options(get_pass(name)):
            assert spec.doc and "\n" not in spec.doc, f"{name}.{spec.name} has no one-line doc"


def test_unknown_pass_suggests_the_closest_name():
    with pytest.raises(KeyError, match="did you mean 'quantize'"):
        get_pass("quantise")


def test_unknown_pass_names_the_registered_ones():
    with pytest.raises(KeyError, match="registered passes: .*quantize"):
        get_pass("quantise")


def test_bad_options_are_refused_with_the_option_named():
    with pytest.raises(ValueError, match="sampler"):
        get_pass("search")(sampler="cmaes")
    with pytest.raises(ValueError, match="mode"):
        get_pass("quantize")(mode="int8")
    with pytest.raises(ValueError, match="metric"):
        get_pass("evaluate")(metric="bleu")
