"""Measured error of the bounded accumulator against the exact datapath, per operator.

    python packages/mase-hwlib/benchmarks/bounded_error.py

Prints the table of docs/bounded-accumulation.md: for mase_mxint_linear (384 -> 16,
MXInt((16,2),8,7), bias), mase_mxint_matmul (K = 128) and mase_mxint_add (blocks of 16x2),
on the input kinds of mase_hwlib.bounded_error (random, cancel, huge), at the default
ACC_WIDTH and the narrowest legal one, both roundings: output elements that differ from the
exact datapath and the largest difference in LSBs of the exact output. Golden models only
(bit-exact with the RTL), seeded, a few seconds; tests/test_bounded_accumulation.py pins the
numbers.
"""

from __future__ import annotations

from mase_hwlib.bounded_error import CONFIGS, INPUT_KINDS, measure

SETTINGS = ((-1, 1), (-1, 0), ("min", 1), ("min", 0))
ROUND = {0: "truncate", 1: "nearest"}


def main() -> None:
    print("| operator | inputs | ACC_WIDTH (F) | rounding | differing elements | max error (output LSBs) |")
    print("|---|---|---|---|---|---|")
    for module in CONFIGS:
        for kind in INPUT_KINDS:
            for width, rnd in SETTINGS:
                m = measure(module, kind, width, rnd)
                label = f"{m['ACC_WIDTH']} (F={m['F']})" + (" default" if width == -1 else " min")
                print(f"| {module} | {kind} | {label} | {ROUND[rnd]} | {m['differing']} / {m['elements']} "
                      f"| {m['max_lsb']} |")


if __name__ == "__main__":
    main()
