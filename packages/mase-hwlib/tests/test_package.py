from importlib.metadata import version

import mase_hwlib


def test_installed_version_is_the_version_file():
    assert mase_hwlib.__version__ == version("mase-hwlib")
