// mase_fixed_matmul: C = A @ B on fixed-point tiles from two activation streams.
//
// Fixed(W, F): two's complement integer v of W bits, value v * 2^-F. A is
// tiled along K (A_ROWS x BLOCK_K lanes of A_WIDTH bits, lane r*BLOCK_K + k),
// B along K too (tiles of B transposed, B_COLS x BLOCK_K lanes of B_WIDTH bits,
// lane n*BLOCK_K + k), as mase_mxint_matmul. Every K_TILES consecutive tile
// pairs, consumed together, give one A_ROWS x B_COLS output tile (lane
// r*B_COLS + n): the exact K-sum on the grid A_FRAC + B_FRAC in
//   ACC_W = A_WIDTH + B_WIDTH + clog2(K_TILES*BLOCK_K) bits (mase_fixed_tile_dot)
// rounded once, half to even, saturated into Fixed(OUT_WIDTH, OUT_FRAC).
// Pairing: mase_tile_pair_join. Throughput: one tile pair per cycle; latency:
// one cycle after the last pair.
`default_nettype none

module mase_fixed_matmul #(
    parameter int BLOCK_K   = 4,  // elements along K per tile
    parameter int A_ROWS    = 1,  // rows of an A tile (= output tile rows)
    parameter int B_COLS    = 1,  // columns of a B tile (= output tile columns)
    parameter int K_TILES   = 2,  // tiles along K per output tile (K = K_TILES * BLOCK_K)
    parameter int A_WIDTH   = 8,  // A lane bits (two's complement)
    parameter int A_FRAC    = 4,  // A fraction bits
    parameter int B_WIDTH   = 8,  // B lane bits (two's complement)
    parameter int B_FRAC    = 4,  // B fraction bits
    parameter int OUT_WIDTH = 8,  // output lane bits (two's complement)
    parameter int OUT_FRAC  = 4   // output fraction bits
) (
    input  wire                                 clk,
    input  wire                                 rst,      // synchronous, active high
    // A tiles
    input  wire                                 a_valid,
    output wire                                 a_ready,
    input  wire [A_ROWS*BLOCK_K*A_WIDTH-1:0]    a_data,
    // B tiles (transposed: B_COLS x BLOCK_K)
    input  wire                                 b_valid,
    output wire                                 b_ready,
    input  wire [B_COLS*BLOCK_K*B_WIDTH-1:0]    b_data,
    // C tiles
    output wire                                 y_valid,
    input  wire                                 y_ready,
    output wire [A_ROWS*B_COLS*OUT_WIDTH-1:0]   y_data
);
    wire p_valid, p_ready, p_first, p_last;
    mase_tile_pair_join #(.K_TILES(K_TILES)) u_join (
        .clk(clk), .rst(rst),
        .a_valid(a_valid), .a_ready(a_ready), .b_valid(b_valid), .b_ready(b_ready),
        .p_valid(p_valid), .p_ready(p_ready), .p_first(p_first), .p_last(p_last)
    );

    mase_fixed_tile_dot #(
        .BLOCK_K(BLOCK_K), .ROWS(A_ROWS), .COLS(B_COLS), .K_TILES(K_TILES),
        .A_WIDTH(A_WIDTH), .A_FRAC(A_FRAC), .B_WIDTH(B_WIDTH), .B_FRAC(B_FRAC),
        .HAS_BIAS(0), .BIAS_WIDTH(2), .BIAS_FRAC(0), .OUT_WIDTH(OUT_WIDTH), .OUT_FRAC(OUT_FRAC)
    ) u_dot (
        .clk(clk), .rst(rst),
        .p_valid(p_valid), .p_ready(p_ready), .p_a(a_data), .p_b(b_data), .p_bias('0),
        .p_first(p_first), .p_last(p_last),
        .y_valid(y_valid), .y_ready(y_ready), .y_data(y_data)
    );
endmodule

`default_nettype wire
