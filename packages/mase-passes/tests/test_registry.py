import dataclasses

import pytest

import mase_passes
from mase_passes.passes import REGISTRY, get_pass


def test_registry_lists_the_passes_each_a_frozen_dataclass_named_as_registered():
    assert mase_passes.list_passes() == ["emit", "evaluate", "parallelize", "profile", "quantize", "reorder_channels", "search"]
    for name in REGISTRY:
        cls = get_pass(name)
        assert cls.name == name
        assert dataclasses.is_dataclass(cls)
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(cls(), "name_of_option_that_does_not_exist", 1)


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
