"""DSP48E1 counts from the RTL's multipliers (features.structural_dsp) against Yosys's counts."""

from mase_cost import dataset
from mase_cost.features import STRUCTURAL_DSP, structural_dsp
from mase_cost.model import CostModel
from mase_hwlib import catalog


def _dsp_rows():
    rows = []
    for r in dataset.load():
        if r["module"] not in STRUCTURAL_DSP:
            continue
        try:
            resolved = catalog.get(r["module"]).resolve(r["params"])
        except ValueError:  # a row of parameters the installed catalog no longer has
            continue
        rows.append((r, resolved))
    return rows


def test_counts_equal_every_synthesized_point():
    """Oracle: the DSP column of every shipped synthesis record of these modules."""
    rows = _dsp_rows()
    mapped = [(r, p) for r, p in rows if not r["nodsp"]]
    assert len(mapped) >= 80, "the shipped dataset lost its DSP-mapped points"
    assert sum(r["dsp"] > 0 for r, _ in mapped) >= 20
    wrong = [(r["module"], r["params"], r["dsp"], structural_dsp(r["module"], p, False))
             for r, p in mapped if structural_dsp(r["module"], p, False) != r["dsp"]]
    assert not wrong, wrong[:5]
    assert all(structural_dsp(r["module"], p, True) == 0 == r["dsp"] for r, p in rows if r["nodsp"])


def test_products_wider_than_one_dsp48_take_several():
    spec = catalog.get("mase_fixed_linear")
    base = dict(BLOCK_K=4, X_ROWS=1, OUT_TILE=1, IN_TILES=2, OUT_TILES=2, HAS_BIAS=0)
    narrow = spec.resolve({**base, "X_WIDTH": 8, "W_WIDTH": 8, "OUT_WIDTH": 8})
    assert structural_dsp("mase_fixed_linear", narrow, False) == 4  # 4 products of 8 x 8 bits
    assert structural_dsp("mase_fixed_linear", narrow, True) == 0
    wide = spec.resolve({**base, "X_WIDTH": 26, "W_WIDTH": 26, "OUT_WIDTH": 16})
    assert structural_dsp("mase_fixed_linear", wide, False) == 4 * 2 * 2  # 26 x 26: 2 x 2 DSP48E1s each
    edge = spec.resolve({**base, "X_WIDTH": 25, "W_WIDTH": 18, "OUT_WIDTH": 16})
    assert structural_dsp("mase_fixed_linear", edge, False) == 4  # 25 x 18 is one DSP48E1


def test_default_model_predicts_the_count():
    """A matmul point never synthesized with DSPs at this size: 2 x 4 lanes x 16 products."""
    model = CostModel.default()
    p = {"A_MAN": 5, "B_MAN": 5, "OUT_MAN": 7, "BLOCK_K": 16, "A_ROWS": 2, "B_COLS": 4, "K_TILES": 4,
         "A_EXP": 8, "B_EXP": 8, "OUT_EXP": 8}
    assert model.predict("mase_mxint_matmul", p, nodsp=False, extrapolate=True)["dsp"] == 2 * 4 * 16
    assert model.predict("mase_mxint_matmul", p, nodsp=True, extrapolate=True)["dsp"] == 0
    assert model.families[("mase_mxint_matmul", "dsp")] == "structural"
