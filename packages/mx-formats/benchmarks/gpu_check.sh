#!/usr/bin/env bash
# The GPU record of issue 19 in one command, from the repository root of a GPU machine:
#
#     bash packages/mx-formats/benchmarks/gpu_check.sh [LOG_DIR]
#
# 1. the bit-exactness tests on CUDA through the torch.compile'd path the wrapper uses,
# 2. the benchmark (bench_gpu.py: 8192x8192 float32 and bfloat16, ratio to a copy in the same run),
# 3. the same tests' full set (or those EAGER_TESTS selects with -k) on CUDA in eager torch (every format, rounding mode, edge case, axes,
#    shapes, hypothesis), against the numba kernels on the host.
# Runs from the source folders (PYTHONPATH); logs go to LOG_DIR (default: ./gpu-logs).
set -o pipefail
LOG=${1:-gpu-logs}
mkdir -p "$LOG"
export PYTHONPATH=packages/mx-formats/src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,temperature.gpu --format=csv | tee "$LOG/gpu.txt"
python3 -c "import torch, numba, numpy, hypothesis, triton; print('torch', torch.__version__, 'numba', numba.__version__,
'numpy', numpy.__version__, 'hypothesis', hypothesis.__version__, 'triton', triton.__version__)" | tee -a "$LOG/gpu.txt"
echo "== compiled path on CUDA"
MX_FORMATS_TEST_DEVICE=cuda MX_FORMATS_TEST_COMPILE=1 timeout "${COMPILED_TIMEOUT:-190}" python3 -m pytest -q \
  -p no:cacheprovider packages/mx-formats/tests/test_torch_kernels.py -k "compiled or value_constructions" 2>&1 \
  | tee "$LOG/cuda_compiled.txt" | tail -n 15
timeout "${BENCH_TIMEOUT:-250}" python3 packages/mx-formats/benchmarks/bench_gpu.py --json "$LOG/bench.json" 2>&1 \
  | tee "$LOG/bench.txt"
echo "== eager torch on CUDA (${EAGER_TESTS:-all})"
MX_FORMATS_TEST_DEVICE=cuda timeout "${EAGER_TIMEOUT:-150}" python3 -m pytest -q -p no:cacheprovider \
  packages/mx-formats/tests/test_torch_kernels.py ${EAGER_TESTS:+-k "$EAGER_TESTS"} 2>&1 | tee "$LOG/cuda_eager.txt" \
  | tail -n 15
