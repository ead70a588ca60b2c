// mase_mxint_matmul: C = A @ B on MXInt tiles from two activation streams.
// A is blocked along K (its tiles are A_ROWS x BLOCK_K, lane r*BLOCK_K + k);
// B along K too (tiles of B transposed, B_COLS x BLOCK_K, lane n*BLOCK_K + k),
// as mx_formats lays out a (-2)-blocked operand. Every K_TILES consecutive
// tile pairs (a_i, b_i), consumed together, give one output tile of
// A_ROWS x B_COLS elements (lane r*B_COLS + n), blocked as
// MXInt((B_COLS, A_ROWS), OUT_EXP, OUT_MAN) along (-1, -2) of C. The K-sum
// runs in a bounded accumulator of ACC_WIDTH bits per lane (mase_mxint_tile_dot:
// aligned to the largest tile exponent, shifted-out bits rounded by ACC_ROUND;
// default width TW + clog2(K_TILES+1) + clog2(K_TILES) + 2, error below
// 2^(Lmax-3); ACC_WIDTH = 0 exact) and rounded once, half to even. Which tiles
// are paired is up to the producer (e.g. a mase_transpose re-streams B);
// pairing: mase_tile_pair_join.
// Throughput: one tile pair per cycle; latency: one cycle after the last pair.
`default_nettype none

module mase_mxint_matmul #(
    parameter int BLOCK_K = 4,  // elements along K per tile
    parameter int A_ROWS  = 1,  // rows of an A tile (= output tile rows)
    parameter int B_COLS  = 1,  // columns of a B tile (= output tile columns)
    parameter int K_TILES = 2,  // tiles along K per output tile (K = K_TILES * BLOCK_K)
    parameter int A_MAN   = 7,  // A mantissa bits (magnitude)
    parameter int A_EXP   = 8,  // A shared-exponent bits
    parameter int B_MAN   = 7,  // B mantissa bits (magnitude)
    parameter int B_EXP   = 8,  // B shared-exponent bits
    parameter int OUT_MAN = 7,  // output mantissa bits (magnitude)
    parameter int OUT_EXP = 8,  // output shared-exponent bits
    parameter int ACC_WIDTH = -1, // accumulator bits per lane: -1 derived default, 0 exact (Kulisch)
    parameter int ACC_ROUND = 1   // bits shifted out of the accumulator: 0 truncate, 1 nearest-even
) (
    input  wire                                  clk,
    input  wire                                  rst,      // synchronous, active high
    // A tiles
    input  wire                                  a_valid,
    output wire                                  a_ready,
    input  wire [A_ROWS*BLOCK_K*(A_MAN+1)-1:0]   a_mant,
    input  wire [A_EXP-1:0]                      a_exp,
    // B tiles (transposed: B_COLS x BLOCK_K)
    input  wire                                  b_valid,
    output wire                                  b_ready,
    input  wire [B_COLS*BLOCK_K*(B_MAN+1)-1:0]   b_mant,
    input  wire [B_EXP-1:0]                      b_exp,
    // C tiles
    output wire                                  y_valid,
    input  wire                                  y_ready,
    output wire [A_ROWS*B_COLS*(OUT_MAN+1)-1:0]  y_mant,
    output wire [OUT_EXP-1:0]                    y_exp
);
    wire p_valid, p_ready, p_first, p_last;
    mase_tile_pair_join #(.K_TILES(K_TILES)) u_join (
        .clk(clk), .rst(rst),
        .a_valid(a_valid), .a_ready(a_ready), .b_valid(b_valid), .b_ready(b_ready),
        .p_valid(p_valid), .p_ready(p_ready), .p_first(p_first), .p_last(p_last)
    );

    mase_mxint_tile_dot #(
        .BLOCK_K(BLOCK_K), .ROWS(A_ROWS), .COLS(B_COLS), .K_TILES(K_TILES),
        .A_MAN(A_MAN), .A_EXP(A_EXP), .B_MAN(B_MAN), .B_EXP(B_EXP),
        .HAS_BIAS(0), .BIAS_MAN(1), .BIAS_EXP(1), .OUT_MAN(OUT_MAN), .OUT_EXP(OUT_EXP),
        .ACC_WIDTH(ACC_WIDTH), .ACC_ROUND(ACC_ROUND)
    ) u_dot (
        .clk(clk), .rst(rst),
        .p_valid(p_valid), .p_ready(p_ready),
        .p_a_mant(a_mant), .p_a_exp(a_exp), .p_b_mant(b_mant), .p_b_exp(b_exp),
        .p_bias_mant('0), .p_bias_exp('0), .p_first(p_first), .p_last(p_last),
        .y_valid(y_valid), .y_ready(y_ready), .y_mant(y_mant), .y_exp(y_exp)
    );
endmodule

`default_nettype wire
