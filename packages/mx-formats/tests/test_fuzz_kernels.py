"""Run the kernel fuzz (fuzz_kernels_checked.py) in a child process with numba bounds checks.

``NUMBA_BOUNDSCHECK`` is read when numba is imported, so the checked build needs its own
process; ``NUMBA_CACHE_DIR`` points at a temporary directory, so the kernels are really
compiled with checks there (not loaded from the unchecked cache) and the checked machine
code never replaces the fast one in the normal cache. The child's example count is set
by ``MX_FUZZ_EXAMPLES`` (default below: about a minute here, compile included).
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent


@pytest.mark.slow
def test_kernels_under_numba_bounds_checks_equal_the_reference(tmp_path):
    env = dict(os.environ, NUMBA_BOUNDSCHECK="1", NUMBA_CACHE_DIR=str(tmp_path / "numba-cache"),
               MX_FUZZ_EXAMPLES=os.environ.get("MX_FUZZ_EXAMPLES", "120"))
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                        "--import-mode=importlib", str(HERE / "fuzz_kernels_checked.py")],
                       env=env, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-3000:]
    assert "2 passed" in r.stdout, r.stdout[-2000:]
    # the checked kernels were compiled into the private cache, not taken from the normal one
    assert any((tmp_path / "numba-cache").rglob("*.nbi")), "no checked kernel was cached in the private dir"
