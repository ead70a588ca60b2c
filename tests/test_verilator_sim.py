"""Integration: the Verilator path of the emitted designs (mase_passes.hardware.verilator).

Four emitted designs (the paper's toy network, the mixed-precision MXInt MLP, the int8 MLP, a
block-minifloat linear) run several inputs back to back under Icarus (the emitted cocotb bench)
and under Verilator (the C++ harness). Oracles: the golden chain run on each input separately (bit for bit), and Icarus itself
(the same draws of idle cycles and back-pressure, so the same cycle for every output beat). The
measured initiation interval is checked against the cycles Icarus measured and the estimate."""

import json
import os
import shutil
import sys

import mase_ir
import numpy as np
import pytest
import torch
from mase_hwlib import streams
from mase_hwlib.golden import bmf as bmf_golden
from mase_passes.hardware import emulate, examples, fixed_map, topgen, verilator
from mase_passes.passes import get_pass
from mase_passes.passes.quantize import Quantize

sys.path.insert(0, os.path.dirname(__file__))
from emit_flow import assert_bit_exact, flow
from test_emit_int8_mlp import _int8_mlp

pytestmark = pytest.mark.skipif(shutil.which("verilator") is None or shutil.which("iverilog") is None,
                                reason="Verilator or Icarus Verilog not installed")

INPUTS = 3  # back to back: two intervals between successive inputs
DESIGNS = ("toy", "mlp", "int8", "bmf")


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A build cache of this module only, so the tests can see what is built and what is reused."""
    root = tmp_path_factory.mktemp("verilator_cache")
    old = os.environ.get("MASE_VERILATOR_BUILD")
    os.environ["MASE_VERILATOR_BUILD"] = str(root)
    yield root
    if old is None:
        del os.environ["MASE_VERILATOR_BUILD"]
    else:
        os.environ["MASE_VERILATOR_BUILD"] = old


class _Linear(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(32, 32)  # whole (16, 2) blocks

    def forward(self, x):
        return self.fc(x)


def _emit(name, out_dir):
    if name == "toy":
        _, x, q = examples.toy()
        opts = {"budget": "u250", "max_block": 16}
    elif name == "mlp":
        _, x, q = examples.mlp()
        opts = {"budget": "u250", "max_block": 16, "allow_unmodelled": True}
    elif name == "int8":
        _, x, q = _int8_mlp()
        opts = {"budget": "u250", "max_block": 16, "allow_unmodelled": True}
    else:  # BMF8: element codes and a shared bias per block (the _data / _bias ports)
        torch.manual_seed(2)
        x = torch.randn(4, 32)
        q = Quantize(config={"default": "BMF((16,2),4,3,8)"}).apply(mase_ir.trace(_Linear().eval(), {"x": x}))
        opts = None  # emitted as quantized (as tests of mase-passes do: test_hw_bmf.py)
    if opts is None:
        r = get_pass("emit")().apply(q, out_dir, sample_inputs={"x": x})
    else:
        _, _, r = flow(q, x, out_dir, **opts)
    gen = torch.Generator().manual_seed(1)
    xs = [{"x": x}] + [{"x": torch.randn(x.shape, generator=gen)} for _ in range(INPUTS - 1)]
    vec = verilator.vectors_for(r, xs)
    (r.out_dir / "stacked.json").write_text(json.dumps(vec))
    return r, xs, vec


@pytest.fixture(scope="module")
def designs(cache, tmp_path_factory):
    root = tmp_path_factory.mktemp("designs")
    return {name: _emit(name, root / name) for name in DESIGNS}


def _per_input(r, seen: dict, k: int) -> dict:
    """Input k's output values decoded from the beats a simulation produced."""
    out, ports = {}, topgen.port_names(r.design)
    for v in r.design.outputs:
        beats = seen[ports[v.name]]
        per = len(beats["cycle"]) // INPUTS
        if v.fixed is not None:
            out[v.name] = fixed_map.untile(np.array(beats["data"][k * per:(k + 1) * per]), v.shape, *v.tile)
            continue
        if "bias" in beats:  # block minifloat: compared as beats (codes and shared biases)
            out[v.name] = {f: beats[f][k * per:(k + 1) * per] for f in ("data", "bias")}
            continue
        axes = (-1, -2) if len(v.fmt.block) == 2 else (-1,)
        out[v.name] = streams.beats_to_mx({"mant": np.array(beats["mant"][k * per:(k + 1) * per], dtype=np.int64),
                                           "exp": np.array(beats["exp"][k * per:(k + 1) * per],
                                                           dtype=np.int64).reshape(-1, 1)},
                                          v.fmt, v.shape, axes)
    return out


def _simulate_both(r, idle, bp, seed):
    vectors = r.out_dir / "stacked.json"
    assert r.run_simulation(idle=idle, backpressure=bp, seed=seed, vectors=vectors)  # Icarus (the default)
    icarus = json.loads((r.out_dir / "sim_out" / "outputs.json").read_text())
    assert r.run_simulation(idle=idle, backpressure=bp, seed=seed, vectors=vectors, simulator="verilator")
    vl = json.loads((r.out_dir / "sim_out" / "outputs.json").read_text())
    assert vl["simulator"] == "verilator" and not vl["errors"]
    return icarus, vl


@pytest.mark.slow
@pytest.mark.parametrize("name", DESIGNS)
@pytest.mark.parametrize("idle,bp,seed", [(0.0, 0.0, 0), (0.3, 0.3, 5)])
def test_verilator_equals_icarus_and_the_golden_chain(designs, name, idle, bp, seed):
    r, xs, _ = designs[name]
    icarus, vl = _simulate_both(r, idle, bp, seed)
    # cycle for cycle: the same beats at the same cycles as the cocotb bench on Icarus
    assert vl["outputs"] == icarus["outputs"] and vl["cycles"] == icarus["cycles"]
    # bit for bit against the golden chain run on each input alone (not the stacked expected beats)
    for k, x in enumerate(xs):
        sim, ex = _per_input(r, vl["outputs"], k), emulate.exact(r.design, x)
        for v in r.design.outputs:
            if v.fixed is not None:
                np.testing.assert_array_equal(sim[v.name], ex[v.name])
            elif isinstance(sim[v.name], dict):
                want = bmf_golden.block_beats(ex[v.name])
                assert sim[v.name] == {"data": want["data"].astype(int).tolist(),
                                       "bias": want["bias"].reshape(-1).astype(int).tolist()}
            else:
                assert_bit_exact(sim[v.name], ex[v.name])
    assert vl["inputs_count"] == INPUTS and len(vl["done"]) == INPUTS


@pytest.mark.parametrize("name", DESIGNS)
def test_measured_initiation_interval(designs, name):
    """With no idle cycles or back-pressure, input k is done when its last output beat is taken;
    the measured II is the mean interval, taken from Verilator's and from Icarus's beat cycles."""
    r, _, vec = designs[name]
    run = verilator.simulate(r.out_dir, vec)
    icarus, _ = _simulate_both(r, 0.0, 0.0, 0)
    (port,) = icarus["outputs"]
    per = len(icarus["outputs"][port]["cycle"]) // INPUTS
    icarus_done = [icarus["outputs"][port]["cycle"][(k + 1) * per - 1] for k in range(INPUTS)]
    assert run.done == icarus_done
    assert run.measured_ii == (icarus_done[-1] - icarus_done[0]) / (INPUTS - 1)
    assert run.estimated_ii == r.estimate.cycles_per_input
    # the pipeline overlaps inputs: an interval is shorter than one input's latency
    assert run.measured_ii < run.done[0]
    # the cost formulas' estimate is what the design does: measured equal on all four designs
    # (16, 32, 64 and 64 cycles per input); the criterion for whole models is 20%
    assert run.measured_ii == run.estimated_ii, run.summary()
    assert "measured" in run.summary() and "estimated" in run.summary()


def test_verilator_detects_a_wrong_beat(designs):
    r, _, vec = designs["toy"]
    bad = json.loads(json.dumps(vec))
    port = next(iter(bad["outputs"]))
    n = len(bad["outputs"][port]["mant"])
    bad["outputs"][port]["mant"][n - 1][0] ^= 1  # last beat of the last input
    run = verilator.simulate(r.out_dir, bad, out_dir=r.out_dir / "bad_out")
    assert not run.passed
    assert len(run.errors) == 1 and run.errors[0].startswith(f"{port} beat {n - 1} ")


def test_build_is_cached_per_design(designs, cache, tmp_path):
    """One executable per design: a second emit of the same design (new folder, new vectors)
    reuses it; a different design has its own."""
    exes = {name: verilator.build(r.out_dir, vec) for name, (r, _, vec) in designs.items()}
    built = sorted(cache.glob("*/Vtop_sim"))
    assert sorted(exes.values()) == built and len(built) == len(designs)
    stamp = exes["toy"].stat().st_mtime_ns
    r, _, vec = _emit("toy", tmp_path / "toy_again")
    assert verilator.build(r.out_dir, vec) == exes["toy"] and exes["toy"].stat().st_mtime_ns == stamp
    assert sorted(cache.glob("*/Vtop_sim")) == built
    run = verilator.simulate(r.out_dir, vec)
    assert run.passed and run.build_s < 5.0  # hashing and a lock, no compiler


def test_bad_vectors_and_options_are_refused(designs):
    r, _, vec = designs["mlp"]
    bad = json.loads(json.dumps(vec))
    port = next(iter(bad["inputs"]))
    bad["inputs"][port]["mant"][2] = bad["inputs"][port]["mant"][2][:-1]
    with pytest.raises(verilator.VerilatorError, match=rf"input port '{port}' field 'mant' beat 2 has \d+ lanes"):
        verilator.simulate(r.out_dir, bad)
    with pytest.raises(verilator.VerilatorError, match=r"the vectors' input ports \['in_flatten'\] are not the "
                                                       r"design's \['in_x'\]"):
        verilator.simulate(r.out_dir, designs["toy"][2])
    with pytest.raises(verilator.VerilatorError, match=r"seed must be in \[0, 2\^32\)"):
        verilator.simulate(r.out_dir, vec, seed=-1)
    with pytest.raises(verilator.VerilatorError, match=r"no test vectors at .*missing.json"):
        verilator.simulate(r.out_dir, r.out_dir / "missing.json")
    with pytest.raises(ValueError, match=r"simulator must be 'icarus' or 'verilator', got 'vcs'"):
        r.run_simulation(simulator="vcs")


def test_stack_refuses_vector_sets_of_other_ports(designs):
    _, _, toy = designs["toy"]
    _, _, mlp = designs["mlp"]
    with pytest.raises(verilator.VerilatorError, match=r"vector set 1 has no input port 'in_flatten'"):
        verilator.stack([toy, mlp])



def test_emitted_runner_takes_the_verilator_option(designs):
    """``python3 run_sim.py --simulator verilator`` in the emitted folder: the same check, exit 0."""
    import subprocess

    r, _, _ = designs["int8"]
    p = subprocess.run([sys.executable, "run_sim.py", "--simulator", "verilator", "--vectors", "stacked.json",
                        "--idle", "0.2", "--backpressure", "0.2", "--seed", "4"],
                       cwd=r.out_dir, capture_output=True, text=True, timeout=600, check=False)
    assert p.returncode == 0 and "PASS" in p.stdout, p.stdout + p.stderr
    seen = json.loads((r.out_dir / "sim_out" / "outputs.json").read_text())
    assert seen["simulator"] == "verilator" and seen["inputs_count"] == INPUTS and not seen["errors"]
