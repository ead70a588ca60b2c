"""Format objects, canonical strings, the parser and the OCP specification tables."""

import numpy as np
import pytest

import mx_formats as mxf

CANONICAL = [
    "MXInt((16,2),8,7)",
    "MXInt((32,),8,7)",
    "MXInt((8,),4,3)",
    "BMF((16,2),4,3,8)",
    "BMF((32,),2,1,4)",
    "BL((16,2),7,8)",
    "BL((4,),3,3)",
    "MXFP8_E4M3",
    "MXFP8_E5M2",
    "MXFP6_E3M2",
    "MXFP6_E2M3",
    "MXFP4_E2M1",
    "MXINT8",
    "Fixed(8,4)",
    "Fixed(16,-2)",
    "MiniFloat(4,3,7)",
    "MiniFloat(5,2,15)",
    "f32",
]


@pytest.mark.parametrize("text", CANONICAL)
def test_canonical_string_parses_back_to_an_equal_hashable_format(text):
    fmt = mxf.parse(text)
    assert str(fmt) == text
    assert mxf.parse(str(fmt)) == fmt
    assert hash(mxf.parse(text)) == hash(fmt)
    with pytest.raises(AttributeError):
        fmt.block = (1,)  # frozen


def test_parser_accepts_spaces_and_a_bare_block_extent():
    assert mxf.parse(" MXInt( (16, 2) , 8 , 7 ) ") == mxf.MXInt((16, 2), 8, 7)
    assert mxf.parse("MXInt(32,8,7)") == mxf.MXInt((32,), 8, 7)


@pytest.mark.parametrize(
    "fmt, bits",
    [
        (mxf.MXInt((16, 2), 8, 7), 8.25),  # the paper's eq. 1 example
        (mxf.MXInt((16, 2), 8, 3), 8 / 32 + 4),
        (mxf.MXINT8, 8 + 8 / 32),
        (mxf.MXFP4_E2M1, 4 + 8 / 32),
        (mxf.MXFP6_E3M2, 6 + 8 / 32),
        (mxf.BMF((16, 2), 4, 3, 8), 8 + 8 / 32),
        (mxf.BL((16, 2), 7, 8), 8 + 8 / 32),
        (mxf.Fixed(8, 4), 8),
        (mxf.MiniFloat(4, 3, 7), 8),
        (mxf.F32, 32),
    ],
)
def test_bits_per_element_follows_paper_eq1(fmt, bits):
    assert fmt.bits_per_element == pytest.approx(bits)


@pytest.mark.parametrize(
    "text, column, expected",
    [
        ("MXInt((16,2),8,7", 17, "')'"),
        ("MXInt((16,2),8,x)", 16, "integer"),
        ("MXint((16,2),8,7)", 1, "one of"),
        ("MXFP8_E4M3 junk", 12, "end of text"),
        ("", 1, "format name"),
        ("BMF((16,2),4,3)", 15, "','"),
    ],
)
def test_parse_errors_name_the_column_and_what_was_expected(text, column, expected):
    with pytest.raises(mxf.FormatParseError) as info:
        mxf.parse(text)
    assert info.value.pos + 1 == column
    assert f"column {column}" in str(info.value)
    assert expected in str(info.value)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: mxf.MXInt((16, 2), 9, 7), "exp_bits=9"),
        (lambda: mxf.MXInt((16, 2), 8, 0), "man_bits=0"),
        (lambda: mxf.MXInt((0,), 8, 7), "block extent=0"),
        (lambda: mxf.MXInt((2, 2, 2), 8, 7), "one or two"),
        (lambda: mxf.BMF((16,), 8, 3, 8), "exp_bits=8"),
        (lambda: mxf.Fixed(40, 4), "width=40"),
        (lambda: mxf.MiniFloat(8, 3, -10), "exceeds float32"),
        (lambda: mxf.parse("MXInt((16,2),8,99)"), "man_bits=99"),
    ],
)
def test_impossible_widths_are_refused_with_the_parameter_named(make, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        make()


def test_non_int_width_is_a_type_error():
    with pytest.raises(TypeError, match="exp_bits must be an int"):
        mxf.MXInt((16, 2), 8.0, 7)


def _all_values(fmt):
    """Every value an OCP float element can take, decoded through dequantize with scale 2^0."""
    codes = np.arange(1 << fmt.element_bits, dtype=np.uint8)
    q = mxf.MXArray(fmt, (codes.size,), (0,), np.zeros((-(-codes.size // 32),), np.int16), codes)
    return mxf.dequantize(q).astype(np.float64)


# OCP Microscaling v1.0, table of element formats: max normal, min subnormal, and (E2M1) the
# whole grid.
OCP_TABLE = {
    "MXFP8_E4M3": (448.0, 2.0**-9),
    "MXFP8_E5M2": (57344.0, 2.0**-16),
    "MXFP6_E3M2": (28.0, 2.0**-4),
    "MXFP6_E2M3": (7.5, 2.0**-3),
    "MXFP4_E2M1": (6.0, 0.5),
}


@pytest.mark.parametrize("name", sorted(OCP_TABLE))
def test_ocp_element_range_matches_the_specification(name):
    fmt = mxf.OCP_FORMATS[name]
    top, smallest = OCP_TABLE[name]
    values = _all_values(fmt)
    positive = values[values > 0]
    assert fmt.elem_max == top
    assert positive.min() == smallest
    # Saturation: quantize never goes past elem_max * X (E4M3's NaN code S.1111.111 and
    # E5M2's Inf codes are never produced), even for blocks the OCP scale clips.
    x = np.random.default_rng(0).standard_normal((64, 32)).astype(np.float32) * np.float32(3.9)
    q = mxf.quantize(x, fmt)
    assert np.array_equal(q.max_magnitude()[:, 0], fmt.elem_max * np.exp2(q.scales[:, 0].astype(float)))
    assert (np.abs(mxf.dequantize(q)) <= q.max_magnitude()).all()
    assert (np.abs(mxf.dequantize(q)) == q.max_magnitude()).any()  # some blocks do saturate


def test_e2m1_grid_is_the_specification_grid():
    values = sorted(set(np.abs(_all_values(mxf.MXFP4_E2M1)).tolist()))
    assert values == [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0]


def test_ocp_scale_is_floor_log2_amax_minus_emax_elem():
    x = np.zeros(32, np.float32)
    x[3] = 5.0  # floor(log2 5) = 2
    for fmt, emax in [(mxf.MXFP8_E4M3, 8), (mxf.MXFP8_E5M2, 15), (mxf.MXFP6_E3M2, 4), (mxf.MXFP6_E2M3, 2),
                      (mxf.MXFP4_E2M1, 2), (mxf.MXINT8, 0)]:
        assert mxf.quantize(x, fmt).scales.tolist() == [2 - emax]


def test_mxint_32_8_7_is_mxint8_bit_for_bit():
    x = np.random.default_rng(1).standard_normal((7, 96)).astype(np.float32) * 3
    a, b = mxf.quantize(x, mxf.MXINT8), mxf.quantize(x, mxf.MXInt((32,), 8, 7))
    assert np.array_equal(a.elements, b.elements) and np.array_equal(a.scales, b.scales)
    assert np.array_equal(mxf.fake_quantize(x, mxf.MXINT8), mxf.fake_quantize(x, mxf.MXInt((32,), 8, 7)))
    # OCP INT8 elements are two's complement q * 2^-6 with |q| <= 127
    q = a.mantissas()
    assert q.min() >= -127 and q.max() <= 127


def test_bl_docstring_worked_example():
    q = mxf.quantize(np.array([0.3, -1.6, 0.05, 0.0], np.float32), mxf.BL((4,), 3, 8))
    assert q.scales.tolist() == [6]
    assert mxf.dequantize(q).tolist() == [0.25, -2.0, 0.0625, 0.0]
    sign = 1 << 3
    assert q.elements.tolist() == [4, 7 | sign, 2, 0]
