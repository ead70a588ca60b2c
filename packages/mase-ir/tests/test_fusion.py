"""Raising passes over the MASE graph: data-movement chains fuse into one reorder
and compute the same values as the unfused chain."""

import copy

import torch

import mase_ir
from mase_ir.patterns import fuse_data_movement

CHAIN = """graph(%x: f32[2,6,12]) {
  %a: f32[2,6,3,4] = reshape(%x: f32[2,6,12]) {shape = [2,6,3,4]}
  %b: f32[2,3,6,4] = transpose(%a: f32[2,6,3,4]) {dim0 = 1, dim1 = 2}
  %c: f32[2,3,4,6] = transpose(%b: f32[2,3,6,4]) {dim0 = -1, dim1 = -2}
  %d: f32[6,24] = reshape(%c: f32[2,3,4,6]) {shape = [6,24]}
  %e: f32[24,6] = transpose(%d: f32[6,24]) {dim0 = 0, dim1 = 1}
  %f: f32[24,6] = relu(%e: f32[24,6])
  %g: f32[6,24] = transpose(%f: f32[24,6]) {dim0 = 0, dim1 = 1}
  %h: f32[6,4,6] = reshape(%g: f32[6,24]) {shape = [6,4,6]}
  return %h, %b
}
"""


def test_chain_fuses_to_reshape_permute_reshape_and_computes_the_same():
    g = mase_ir.parse(CHAIN)
    g.verify()
    fused = copy.deepcopy(g)
    fuse_data_movement(fused)
    fused.verify()
    ops = [(n.name, n.op) for n in fused.nodes]
    # %a,%b fuse (reshape, permute) and the chain is cut after %b, which has two users;
    # %c..%e holds two permutations split by a reshape: %c,%d fuse and %e stays;
    # %g,%h fuse (permute, reshape) across nothing but themselves (%f is not data movement).
    # Fused nodes are renamed after their op; consumers and outputs follow.
    assert ops == [("reorder", "reorder"), ("reorder_1", "reorder"), ("e", "transpose"), ("f", "relu"),
                   ("reorder_2", "reorder")]
    assert fused.node("reorder").attrs == {"shape": [2, 6, 3, 4], "dims": [0, 2, 1, 3]}
    assert fused.node("reorder_1").attrs == {"dims": [0, 1, 3, 2], "out_shape": [6, 24]}
    assert fused.node("reorder_2").attrs == {"dims": [1, 0], "out_shape": [6, 4, 6]}
    assert fused.outputs == ["reorder_2", "reorder"] and fused.node("e").args[0].name == "reorder_1"
    x = torch.randn(2, 6, 12)
    for a, b in zip(g(x=x), fused(x=x)):
        assert torch.equal(a, b)
    assert mase_ir.parse(fused.to_text()).to_text() == fused.to_text()


def test_attention_head_split_and_merge_are_single_reorders(tiny):
    g = tiny.graph
    for attn in [n for n in g.nodes if n.op == "scaled_dot_product_attention"]:
        users = [n for n in g.nodes if any(a.name == attn.name for a in n.args)]
        # (batch, heads, seq, head_dim) -> (batch, seq, hidden): one reorder buffer
        assert [u.op for u in users] == ["reorder"]
        assert users[0].attrs["dims"] == [0, 2, 1, 3] and users[0].attrs["out_shape"] == [2, 8, 32]
        if tiny.name != "llama":  # LLaMA's query/key pass through the rotary embedding first
            for a in attn.args[:3]:
                split = g.node(a.name)
                assert split.op == "reorder" and split.attrs["dims"] == [0, 2, 1, 3]
