"""Resource budgets of target parts, in the units mase_cost predicts.

BRAM is counted in 18 Kb halves (RAMB18 = 1, RAMB36 = 2), as mase_cost records it. The
presets are the device totals from the vendors' product tables; the Alveo U250 entry is
"U250-sized" (its whole fabric, no shell deducted) — pass ``fraction`` to keep a margin.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Budget", "PRESETS", "budget"]


@dataclass(frozen=True)
class Budget:
    name: str
    lut: float
    ff: float
    dsp: float
    bram: float

    def limits(self) -> dict[str, float]:
        return {"lut": self.lut, "ff": self.ff, "dsp": self.dsp, "bram": self.bram}

    def scaled(self, fraction: float) -> "Budget":
        if not 0 < fraction <= 1:
            raise ValueError(f"budget fraction must be in (0, 1], got {fraction}")
        return Budget(f"{self.name}x{fraction:g}", self.lut * fraction, self.ff * fraction,
                      self.dsp * fraction, self.bram * fraction)

    def over(self, used: dict[str, float]) -> dict[str, tuple[float, float]]:
        """Resources where ``used`` exceeds the budget: name -> (used, limit)."""
        return {k: (used.get(k, 0.0), lim) for k, lim in self.limits().items() if used.get(k, 0.0) > lim}


PRESETS = {
    # Artix-7 XC7A100T: 63,400 LUT6, 126,800 FF, 240 DSP48E1, 135 RAMB36 (= 270 RAMB18)
    "xc7a100t": Budget("xc7a100t", 63_400, 126_800, 240, 270),
    # Alveo U250 (XCU250): 1,728k LUT, 3,456k FF, 12,288 DSP, 2,688 RAMB36 (= 5,376 RAMB18); URAM not counted
    "u250": Budget("u250", 1_728_000, 3_456_000, 12_288, 5_376),
}


def budget(spec) -> Budget:
    """A Budget from a preset name, a Budget, or a dict with lut/ff/dsp/bram (missing = unlimited)."""
    if isinstance(spec, Budget):
        return spec
    if isinstance(spec, str):
        if spec not in PRESETS:
            raise KeyError(f"unknown budget preset {spec!r}; presets: {sorted(PRESETS)}")
        return PRESETS[spec]
    if isinstance(spec, dict):
        unknown = set(spec) - {"lut", "ff", "dsp", "bram", "name"}
        if unknown:
            raise ValueError(f"budget has unknown resource(s) {sorted(unknown)}; use lut, ff, dsp, bram")
        inf = float("inf")
        vals = {k: float(spec.get(k, inf)) for k in ("lut", "ff", "dsp", "bram")}
        bad = [k for k, v in vals.items() if not v > 0]
        if bad:
            raise ValueError(f"budget resources must be positive: {bad}")
        return Budget(spec.get("name", "custom"), **vals)
    raise TypeError(f"budget must be a preset name, a dict or a Budget, got {type(spec).__name__}")
