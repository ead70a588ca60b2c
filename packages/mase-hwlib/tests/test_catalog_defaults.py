"""The catalog against the RTL it describes: every module's parameters, their defaults and their
kind (integer / string) are read from the module's own .sv header and compared with its entry."""

import re

import pytest
from mase_hwlib import catalog

# `parameter int NAME = value,` or `parameter NAME = "text",` in a module header (not localparam)
_PARAM = re.compile(r"^\s*parameter\s+(?:(int|integer|logic(?:\s*\[[^\]]*\])?)\s+)?(\w+)\s*=\s*([^,/)]+?)\s*[,)]?\s*(?://.*)?$")


def rtl_parameters(path) -> dict[str, str]:
    """NAME -> default text of the header parameters of the module defined in ``path``."""
    text = path.read_text()
    start = re.search(rf"^module\s+{path.stem}\b", text, re.M).start()
    end = re.compile(r"^\s*\)\s*\(", re.M).search(text, start).start()  # `) (`: the port list begins
    header = text[start:end]
    out = {}
    for line in header.splitlines():
        if "localparam" in line:
            continue
        m = _PARAM.match(line)
        if m:
            out[m.group(2)] = m.group(3).strip()
    return out


def _top_source(spec):
    (path,) = [p for p in spec.source_paths() if p.stem == spec.name]
    return path


@pytest.mark.parametrize("name", catalog.names())
def test_catalog_parameters_and_defaults_are_the_rtls(name):
    spec = catalog.get(name)
    rtl = rtl_parameters(_top_source(spec))
    assert rtl, f"{name}: no header parameters parsed"
    cat = {p.name: p for p in spec.params}
    assert set(cat) == set(rtl), (f"{name}: catalog only {sorted(set(cat) - set(rtl))}, "
                                  f"RTL only {sorted(set(rtl) - set(cat))}")
    for pname, p in cat.items():
        text = rtl[pname]
        if p.kind == "str":
            assert text.startswith('"') and text.strip('"') == p.default, (name, pname, text, p.default)
        else:
            assert int(text, 0) == p.default, f"{name}: {pname} defaults to {text} in RTL, {p.default} in the catalog"
