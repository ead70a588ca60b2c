from importlib.metadata import version

import mase_cost


def test_installed_version_is_the_version_file():
    assert mase_cost.__version__ == version("mase-cost")
