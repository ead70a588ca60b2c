"""The parser's memory grows with the graph it builds, not with a list of every token.

Measured (2026-12-03, a 31 MB text of 300k nodes): 69x the text size before the lexer became
a generator, 16x after; the rest is the graph's own objects. The test pins the bound on a
smaller text, with tracemalloc (peak Python allocations while parsing)."""

import tracemalloc

from mase_ir import parse


def _chain_text(n: int) -> str:
    lines = ["graph(%x: f32[2,8]) {"]
    prev = "x"
    for i in range(n):
        lines.append(f'  %linear_{i}: f32[2,8] = linear(%{prev}: f32[2,8]) [weight: f32[8,8] = "l.{i}.weight", '
                     f'bias: f32[8] = "l.{i}.bias"] {{module = "l.{i}"}}')
        lines.append(f"  %relu_{i}: f32[2,8] = relu(%linear_{i}: f32[2,8])")
        prev = f"relu_{i}"
    return "\n".join(lines + [f"  return %{prev}", "}"]) + "\n"


def test_parse_peak_memory_is_a_small_multiple_of_the_text():
    text = _chain_text(5000)  # ~1 MB
    tracemalloc.start()
    try:
        g = parse(text)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(g.nodes) == 10000
    # a token list alone cost ~50x the text; the graph itself ~16x
    assert peak < 30 * len(text), peak / len(text)
