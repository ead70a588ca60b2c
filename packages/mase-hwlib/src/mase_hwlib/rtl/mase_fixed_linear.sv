// mase_fixed_linear: y = x W^T (+ b) on fixed-point tiles, weights streamed or in a ROM.
//
// Fixed(W, F): two's complement integer v of W bits, value v * 2^-F
// (mx_formats.Fixed). Tiles as in mase_mxint_linear, so parallelize's tile
// knobs mean the same: x arrives as groups of IN_TILES tiles (X_ROWS x
// BLOCK_K lanes of X_WIDTH bits, lane r*BLOCK_K + k); for each output tile o
// of OUT_TILES the group meets the weight tiles W[o, k] (OUT_TILE x BLOCK_K
// lanes of W_WIDTH bits, lane c*BLOCK_K + k) in order (o, k):
//   * WEIGHTS_IN_ROM = 0: from the w stream, with HAS_BIAS one b beat
//     (OUT_TILE lanes of B_WIDTH bits) per output tile, with its first weight tile;
//   * WEIGHTS_IN_ROM = 1: from ROMs loaded with $readmemh from WEIGHT_FILE
//     (word o*IN_TILES + k) and BIAS_FILE (word o); see mase_hwlib.rom_fixed.
// Sequencing: mase_linear_sequencer (x groups double-buffered); arithmetic:
// mase_fixed_tile_dot — exact integer products, an exact accumulator of
//   ACC_W = max(X_WIDTH + W_WIDTH - 2 + PSH, B_WIDTH - 1 + BSH) + clog2(IN_TILES*BLOCK_K + HAS_BIAS) + 2
// bits on the grid ACC_FRAC = max(X_FRAC + W_FRAC, B_FRAC) (PSH, BSH: the left
// shifts that put products and bias on it, the bias aligned exactly), then one
// rounding half to even into Fixed(OUT_WIDTH, OUT_FRAC), saturating. The output
// tile (X_ROWS x OUT_TILE, lane r*OUT_TILE + c) therefore equals
// mx_formats.quantize(x W^T + b, Fixed(OUT_WIDTH, OUT_FRAC)) of the exact values.
// Timing: one tile pair per cycle, OUT_TILES*IN_TILES cycles per x group in
// steady state; latency 2*IN_TILES cycles from the first x tile to the first output.
`default_nettype none

module mase_fixed_linear #(
    parameter int BLOCK_K        = 4,  // elements along in_features per tile
    parameter int X_ROWS         = 1,  // rows of an x tile
    parameter int OUT_TILE       = 2,  // out_features per weight / output tile
    parameter int IN_TILES       = 2,  // in_features / BLOCK_K
    parameter int OUT_TILES      = 2,  // out_features / OUT_TILE
    parameter int X_WIDTH        = 8,  // x lane bits (two's complement)
    parameter int X_FRAC         = 4,  // x fraction bits
    parameter int W_WIDTH        = 8,  // weight lane bits (two's complement)
    parameter int W_FRAC         = 4,  // weight fraction bits
    parameter int HAS_BIAS       = 0,  // 1: add a bias per output feature
    parameter int B_WIDTH        = 8,  // bias lane bits (two's complement)
    parameter int B_FRAC         = 4,  // bias fraction bits
    parameter int OUT_WIDTH      = 8,  // output lane bits (two's complement)
    parameter int OUT_FRAC       = 4,  // output fraction bits
    parameter int WEIGHTS_IN_ROM = 0,  // 1: weights (and bias) from ROM files, no w / b streams
    parameter        WEIGHT_FILE = "", // $readmemh image of the weight ROM (WEIGHTS_IN_ROM = 1)
    parameter        BIAS_FILE   = ""  // $readmemh image of the bias ROM (WEIGHTS_IN_ROM = 1, HAS_BIAS = 1)
) (
    input  wire                                  clk,
    input  wire                                  rst,      // synchronous, active high
    // activation tiles
    input  wire                                  x_valid,
    output wire                                  x_ready,
    input  wire [X_ROWS*BLOCK_K*X_WIDTH-1:0]     x_data,
    // weight tiles (WEIGHTS_IN_ROM = 0)
    input  wire                                  w_valid,
    output wire                                  w_ready,
    input  wire [OUT_TILE*BLOCK_K*W_WIDTH-1:0]   w_data,
    // bias tiles (HAS_BIAS = 1, WEIGHTS_IN_ROM = 0)
    input  wire                                  b_valid,
    output wire                                  b_ready,
    input  wire [OUT_TILE*B_WIDTH-1:0]           b_data,
    // output tiles
    output wire                                  y_valid,
    input  wire                                  y_ready,
    output wire [X_ROWS*OUT_TILE*OUT_WIDTH-1:0]  y_data
);
    localparam int XB = X_ROWS * BLOCK_K * X_WIDTH;
    localparam int WB = OUT_TILE * BLOCK_K * W_WIDTH;
    localparam int BB = OUT_TILE * B_WIDTH;

    wire          p_valid, p_ready, p_first, p_last;
    wire [XB-1:0] p_x;
    wire [WB-1:0] p_w;
    wire [BB-1:0] p_b;

    mase_linear_sequencer #(
        .IN_TILES(IN_TILES), .OUT_TILES(OUT_TILES), .X_BITS(XB), .W_BITS(WB), .B_BITS(BB),
        .HAS_BIAS(HAS_BIAS), .WEIGHTS_IN_ROM(WEIGHTS_IN_ROM), .WEIGHT_FILE(WEIGHT_FILE), .BIAS_FILE(BIAS_FILE)
    ) u_seq (
        .clk(clk), .rst(rst),
        .x_valid(x_valid), .x_ready(x_ready), .x_data(x_data),
        .w_valid(w_valid), .w_ready(w_ready), .w_data(w_data),
        .b_valid(b_valid), .b_ready(b_ready), .b_data(b_data),
        .p_valid(p_valid), .p_ready(p_ready), .p_x(p_x), .p_w(p_w), .p_b(p_b),
        .p_first(p_first), .p_last(p_last)
    );

    mase_fixed_tile_dot #(
        .BLOCK_K(BLOCK_K), .ROWS(X_ROWS), .COLS(OUT_TILE), .K_TILES(IN_TILES),
        .A_WIDTH(X_WIDTH), .A_FRAC(X_FRAC), .B_WIDTH(W_WIDTH), .B_FRAC(W_FRAC),
        .HAS_BIAS(HAS_BIAS), .BIAS_WIDTH(B_WIDTH), .BIAS_FRAC(B_FRAC),
        .OUT_WIDTH(OUT_WIDTH), .OUT_FRAC(OUT_FRAC)
    ) u_dot (
        .clk(clk), .rst(rst),
        .p_valid(p_valid), .p_ready(p_ready), .p_a(p_x), .p_b(p_w), .p_bias(p_b),
        .p_first(p_first), .p_last(p_last),
        .y_valid(y_valid), .y_ready(y_ready), .y_data(y_data)
    );
endmodule

`default_nettype wire
