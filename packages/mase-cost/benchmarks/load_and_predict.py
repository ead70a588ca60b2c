"""Time CostModel.default() (cold, in a fresh interpreter) and one predict() call.

    python packages/mase-cost/benchmarks/load_and_predict.py
"""

import subprocess
import sys

CODE = """
import time
t0 = time.perf_counter()
from mase_cost import CostModel
t1 = time.perf_counter()
m = CostModel.default()
t2 = time.perf_counter()
module = m.modules[0]
from mase_hwlib import catalog
p = {k: lo for k, (lo, hi) in m.ranges[module].items()}
for _ in range(3):
    m.predict(module, p)
t3 = time.perf_counter()
n = 100
for _ in range(n):
    m.predict(module, p)
t4 = time.perf_counter()
print(f"import mase_cost: {t1 - t0:.3f} s; CostModel.default(): {t2 - t1:.3f} s; "
      f"predict: {(t4 - t3) / n * 1e3:.2f} ms/call ({module})")
"""

if __name__ == "__main__":
    for _ in range(3):
        subprocess.run([sys.executable, "-c", CODE], check=True)
