// mase_mxint_linear: y = x W^T (+ b) on MXInt tiles, weights streamed or in a ROM.
//
// x arrives as groups of IN_TILES tiles (X_ROWS x BLOCK_K each, lane
// r*BLOCK_K + k): one group is X_ROWS rows of in_features = IN_TILES*BLOCK_K.
// The group is held in a buffer (mase_linear_sequencer) and, for each output tile o of
// OUT_TILES, combined with the weight tiles W[o, k] (OUT_TILE x BLOCK_K, lane
// c*BLOCK_K + k, i.e. W blocked (BLOCK_K, OUT_TILE) along (in, out)):
//   * WEIGHTS_IN_ROM = 0: from the w stream, OUT_TILES*IN_TILES beats per x
//     group in order (o, k), and with HAS_BIAS one b beat per output tile;
//   * WEIGHTS_IN_ROM = 1: from ROMs loaded with $readmemh from WEIGHT_FILE
//     (word o*IN_TILES + k = {exp, mant}) and BIAS_FILE (word o = {exp, mant});
//     see mase_hwlib.rom for the file format.
// The bias tile (OUT_TILE lanes) is added to every row. Each output tile
// (X_ROWS x OUT_TILE, lane r*OUT_TILE + c) is the sum of the bias and the
// IN_TILES exact tile products in a bounded accumulator of ACC_WIDTH bits per
// lane (mase_mxint_tile_dot: aligned to the largest exponent so far, shifted-out
// bits rounded by ACC_ROUND; N = IN_TILES + HAS_BIAS terms, default width
// TW + clog2(N+1) + clog2(N) + 2 with TW = X_MAN + W_MAN + clog2(BLOCK_K+1) + 2,
// error below 2^(Lmax-3), Lmax the largest term LSB exponent; 33 bits for
// BLOCK_K = 16, MAN = 7, 384 inputs; ACC_WIDTH = 0 exact), rounded once, half to
// even, into MXInt(OUT_MAN, OUT_EXP).
// Timing: one tile pair per cycle. x groups are double-buffered: the next
// group loads while the current one is multiplied, so in steady state the
// module is compute-bound at OUT_TILES*IN_TILES cycles per x group.
`default_nettype none

module mase_mxint_linear #(
    parameter int BLOCK_K        = 4,  // elements along in_features per tile
    parameter int X_ROWS         = 1,  // rows of an x tile (x's second block extent)
    parameter int OUT_TILE       = 2,  // out_features per weight / output tile (W's second block extent)
    parameter int IN_TILES       = 2,  // in_features / BLOCK_K
    parameter int OUT_TILES      = 2,  // out_features / OUT_TILE
    parameter int X_MAN          = 7,  // x mantissa bits (magnitude)
    parameter int X_EXP          = 8,  // x shared-exponent bits
    parameter int W_MAN          = 7,  // weight mantissa bits (magnitude)
    parameter int W_EXP          = 8,  // weight shared-exponent bits
    parameter int HAS_BIAS       = 0,  // 1: add a bias per output feature
    parameter int BIAS_MAN       = 7,  // bias mantissa bits (magnitude)
    parameter int BIAS_EXP       = 8,  // bias shared-exponent bits
    parameter int OUT_MAN        = 7,  // output mantissa bits (magnitude)
    parameter int OUT_EXP        = 8,  // output shared-exponent bits
    parameter int WEIGHTS_IN_ROM = 0,  // 1: weights (and bias) from ROM files, no w / b streams
    parameter        WEIGHT_FILE = "", // $readmemh image of the weight ROM (WEIGHTS_IN_ROM = 1)
    parameter        BIAS_FILE   = "", // $readmemh image of the bias ROM (WEIGHTS_IN_ROM = 1, HAS_BIAS = 1)
    parameter int ACC_WIDTH      = -1, // accumulator bits per lane: -1 derived default, 0 exact (Kulisch)
    parameter int ACC_ROUND      = 1   // bits shifted out of the accumulator: 0 truncate, 1 nearest-even
) (
    input  wire                                    clk,
    input  wire                                    rst,      // synchronous, active high
    // activation tiles
    input  wire                                    x_valid,
    output wire                                    x_ready,
    input  wire [X_ROWS*BLOCK_K*(X_MAN+1)-1:0]     x_mant,
    input  wire [X_EXP-1:0]                        x_exp,
    // weight tiles (WEIGHTS_IN_ROM = 0)
    input  wire                                    w_valid,
    output wire                                    w_ready,
    input  wire [OUT_TILE*BLOCK_K*(W_MAN+1)-1:0]   w_mant,
    input  wire [W_EXP-1:0]                        w_exp,
    // bias tiles (HAS_BIAS = 1, WEIGHTS_IN_ROM = 0)
    input  wire                                    b_valid,
    output wire                                    b_ready,
    input  wire [OUT_TILE*(BIAS_MAN+1)-1:0]        b_mant,
    input  wire [BIAS_EXP-1:0]                     b_exp,
    // output tiles
    output wire                                    y_valid,
    input  wire                                    y_ready,
    output wire [X_ROWS*OUT_TILE*(OUT_MAN+1)-1:0]  y_mant,
    output wire [OUT_EXP-1:0]                      y_exp
);
    localparam int XMW = X_ROWS * BLOCK_K * (X_MAN + 1);
    localparam int WMW = OUT_TILE * BLOCK_K * (W_MAN + 1);
    localparam int BMW = OUT_TILE * (BIAS_MAN + 1);

    wire                       p_valid, p_ready, p_first, p_last;
    wire [XMW+X_EXP-1:0]       p_x;
    wire [WMW+W_EXP-1:0]       p_w;
    wire [BMW+BIAS_EXP-1:0]    p_b;

    mase_mxint_tile_dot #(
        .BLOCK_K(BLOCK_K), .ROWS(X_ROWS), .COLS(OUT_TILE), .K_TILES(IN_TILES),
        .A_MAN(X_MAN), .A_EXP(X_EXP), .B_MAN(W_MAN), .B_EXP(W_EXP),
        .HAS_BIAS(HAS_BIAS), .BIAS_MAN(BIAS_MAN), .BIAS_EXP(BIAS_EXP),
        .OUT_MAN(OUT_MAN), .OUT_EXP(OUT_EXP), .ACC_WIDTH(ACC_WIDTH), .ACC_ROUND(ACC_ROUND)
    ) u_dot (
        .clk(clk), .rst(rst),
        .p_valid(p_valid), .p_ready(p_ready),
        .p_a_mant(p_x[XMW-1:0]), .p_a_exp(p_x[XMW +: X_EXP]),
        .p_b_mant(p_w[WMW-1:0]), .p_b_exp(p_w[WMW +: W_EXP]),
        .p_bias_mant(p_b[BMW-1:0]), .p_bias_exp(p_b[BMW +: BIAS_EXP]),
        .p_first(p_first), .p_last(p_last),
        .y_valid(y_valid), .y_ready(y_ready), .y_mant(y_mant), .y_exp(y_exp)
    );

    mase_linear_sequencer #(
        .IN_TILES(IN_TILES), .OUT_TILES(OUT_TILES), .X_BITS(XMW + X_EXP), .W_BITS(WMW + W_EXP),
        .B_BITS(BMW + BIAS_EXP), .HAS_BIAS(HAS_BIAS), .WEIGHTS_IN_ROM(WEIGHTS_IN_ROM),
        .WEIGHT_FILE(WEIGHT_FILE), .BIAS_FILE(BIAS_FILE)
    ) u_seq (
        .clk(clk), .rst(rst),
        .x_valid(x_valid), .x_ready(x_ready), .x_data({x_exp, x_mant}),
        .w_valid(w_valid), .w_ready(w_ready), .w_data({w_exp, w_mant}),
        .b_valid(b_valid), .b_ready(b_ready), .b_data({b_exp, b_mant}),
        .p_valid(p_valid), .p_ready(p_ready), .p_x(p_x), .p_w(p_w), .p_b(p_b),
        .p_first(p_first), .p_last(p_last)
    );
endmodule

`default_nettype wire
