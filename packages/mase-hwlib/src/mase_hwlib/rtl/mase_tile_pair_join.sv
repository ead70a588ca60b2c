// mase_tile_pair_join: joins two tile streams a and b into one stream of tile
// pairs for a tile-dot engine, marking the first and last of every K_TILES
// consecutive pairs (the tiles of one output tile). Handshake only: the data
// of the pair is a_* and b_* themselves, valid while p_valid is high.
// A pair is taken when both a and b are valid and p_ready is high; neither
// ready depends on its own valid (a_ready = p_ready && b_valid, and the
// mirror), so the join adds no cycle. Format-agnostic: used by
// mase_mxint_matmul and mase_fixed_matmul.
`default_nettype none

module mase_tile_pair_join #(
    parameter int K_TILES = 2  // tile pairs per output tile
) (
    input  wire clk,
    input  wire rst,      // synchronous, active high
    // operand streams (handshake only)
    input  wire a_valid,
    output wire a_ready,
    input  wire b_valid,
    output wire b_ready,
    // tile pairs (handshake only) and their position along K
    output wire p_valid,
    input  wire p_ready,
    output wire p_first,
    output wire p_last
);
    localparam int KW = $clog2(K_TILES + 1);
    logic [KW-1:0] k_reg;  // index of the next tile pair along K
    assign p_first = k_reg == '0;
    assign p_last  = k_reg == KW'(K_TILES - 1);
    assign p_valid = a_valid && b_valid;
    assign a_ready = p_ready && b_valid;
    assign b_ready = p_ready && a_valid;

    always_ff @(posedge clk) begin
        if (rst) k_reg <= '0;
        else if (p_valid && p_ready) k_reg <= p_last ? '0 : k_reg + 1'b1;
    end
endmodule

`default_nettype wire
