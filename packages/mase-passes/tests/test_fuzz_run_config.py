"""Config fuzzer (issue 18): TOML documents built from the run-config schema with wrong types,
unknown keys and extreme values. `mase check` never prints a traceback and always exits 0 (ok)
or 2 (config error, with the key named): never 1, which would mean an exception escaped the
checks and the config would have failed later, in the middle of a run."""

import json
import math
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mase_passes.cli.main import main
from mase_passes.cli.schema import SCHEMA


def _toml(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {_toml(x)}" for k, x in v.items()) + "}"


scalars = st.one_of(
    st.booleans(), st.integers(-(2**63), 2**63 - 1), st.sampled_from([0, -1, 1, 2**31, 2**32, -(2**63), 2**63 - 1]),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, -0.0, 1e308, -1e-308, 5e-324]),
    st.text(max_size=12), st.sampled_from(["", "tpe", "MXInt8", "f32", "(", "*", "..", "/etc/passwd", "\x00"]),
)
values = st.one_of(scalars, st.lists(scalars, max_size=4),
                   st.dictionaries(st.text(min_size=1, max_size=6), scalars, max_size=3))
known = [(s, k) for s, keys in SCHEMA.items() for k in keys]
entries = st.lists(st.one_of(
    st.tuples(st.sampled_from(known), values),
    st.tuples(st.tuples(st.sampled_from(list(SCHEMA) + ["nope", "Search"]), st.text(min_size=1, max_size=8)), values),
), max_size=8)


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(entries)
def test_mase_check_exits_0_or_2_and_never_prints_a_traceback(capsys, doc):
    tables: dict[str, dict] = {}
    for (section, key), value in doc:
        tables.setdefault(section, {})[key] = value
    text = "\n".join(f"[{json.dumps(s)}]\n" + "\n".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in t.items())
                     for s, t in tables.items()) + "\n"
    capsys.readouterr()  # the fixture is shared by the examples: start each one empty
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "run.toml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        rc = main(["check", str(path), "--out", str(Path(tmp) / "out"), "--config-only"])  # the config, not a model
    err = capsys.readouterr().err
    assert rc in (0, 2), (rc, text, err)
    assert "Traceback" not in err
