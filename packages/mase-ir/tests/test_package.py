from importlib.metadata import version

import mase_ir


def test_installed_version_is_the_version_file():
    assert mase_ir.__version__ == version("mase-ir")
