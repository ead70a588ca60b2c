from importlib.metadata import version

import mase_passes


def test_installed_version_is_the_version_file():
    assert mase_passes.__version__ == version("mase-passes")
