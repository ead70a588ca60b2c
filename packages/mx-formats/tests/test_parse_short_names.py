"""Short names users type (OCP family names, the MASE paper's row names) parse to the format they
mean; printing still writes the one canonical string (issue 22, item 6)."""

import numpy as np
import pytest

import mx_formats as mxf

# Expected objects written from the OCP MX v1.0 element table and the paper's eq. 1, not from ALIASES
SHORT = [
    ("MXFP4", mxf.MXFP4_E2M1, "MXFP4_E2M1", 4.25),
    ("MXFP6", mxf.MXFP6_E2M3, "MXFP6_E2M3", 6.25),
    ("MXFP8", mxf.MXFP8_E4M3, "MXFP8_E4M3", 8.25),
    ("MXINT8", mxf.MXINT8, "MXINT8", 8.25),
    ("MXInt8", mxf.MXInt((16, 2), 8, 7), "MXInt((16,2),8,7)", 8.25),
    ("MXInt6", mxf.MXInt((16, 2), 8, 5), "MXInt((16,2),8,5)", 6.25),
    ("MXInt4", mxf.MXInt((16, 2), 8, 3), "MXInt((16,2),8,3)", 4.25),
    ("BMF8", mxf.BMF((16, 2), 4, 3, 8), "BMF((16,2),4,3,8)", 8.25),
    ("BL8", mxf.BL((16, 2), 7, 8), "BL((16,2),7,8)", 8.25),
]


@pytest.mark.parametrize("short, fmt, canonical, bits", SHORT)
def test_a_short_name_parses_to_its_format_and_prints_canonically(short, fmt, canonical, bits):
    parsed = mxf.parse(f" {short} ")
    assert parsed == fmt and str(parsed) == canonical
    assert parsed.bits_per_element == pytest.approx(bits)
    assert mxf.parse(canonical) == parsed


def test_a_short_name_quantizes_exactly_like_its_canonical_string():
    x = np.random.default_rng(3).standard_normal((4, 64)).astype(np.float32)
    for short, _, canonical, _ in SHORT:
        assert np.array_equal(mxf.fake_quantize(x, mxf.parse(short)), mxf.fake_quantize(x, mxf.parse(canonical)))


def test_the_bare_fp6_name_is_the_one_with_the_smaller_error_on_normal_data():
    # why MXFP6 means E2M3 (parse's docstring): more mantissa, lower error at this range
    x = np.random.default_rng(0).standard_normal((256, 1024)).astype(np.float32)

    def rel_mse(fmt):
        return float(np.mean((mxf.fake_quantize(x, fmt) - x) ** 2) / np.mean(x**2))

    assert rel_mse(mxf.parse("MXFP6")) < rel_mse(mxf.MXFP6_E3M2) / 3
    assert rel_mse(mxf.parse("MXFP8")) < rel_mse(mxf.MXFP8_E5M2) / 3


@pytest.mark.parametrize("text, column, expected", [
    ("MXFP4(32)", 6, "end of text"),
    ("mxfp4", 1, "MXFP4"),  # case matters (MXInt8 and MXINT8 are different formats); the list names it
    ("MXFP5", 1, "one of"),
])
def test_a_near_miss_short_name_is_a_parse_error_with_its_column(text, column, expected):
    with pytest.raises(mxf.FormatParseError) as info:
        mxf.parse(text)
    assert info.value.pos + 1 == column and expected in str(info.value)
