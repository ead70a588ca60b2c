// mase_bl_linear: y = x W^T (+ b) on block-logarithm (BL) tiles, weights
// streamed or in a ROM.
//
// Tiles and order are those of mase_mxint_linear (mase_linear_sequencer): x
// arrives as groups of IN_TILES tiles (X_ROWS x BLOCK_K codes, lane
// r*BLOCK_K + k, one shared bias each); for each output tile o of OUT_TILES the
// group meets the weight tiles W[o, k] (OUT_TILE x BLOCK_K, lane c*BLOCK_K + k,
// one bias each, i.e. W blocked (BLOCK_K, OUT_TILE) along (in, out)):
//   * WEIGHTS_IN_ROM = 0: from the w stream, OUT_TILES*IN_TILES beats per x
//     group in order (o, k), and with HAS_BIAS one b beat per output tile;
//   * WEIGHTS_IN_ROM = 1: from ROMs loaded with $readmemh from WEIGHT_FILE
//     (word o*IN_TILES + k = {bias, data}) and BIAS_FILE (word o); see
//     mase_hwlib.rom_bmf for the file format.
// x, W and the bias tile (OUT_TILE codes, added to every row) share one BL
// element format: code sign | c (EXP_BITS), value 0 (c = 0) or 2^(c - beta);
// a product is one shifted bit (no multiplier).
// Products inside a tile pair are exact; across the IN_TILES pairs (+ bias)
// they are summed in the bounded accumulator (mase_bmf_tile_dot: ACC_WIDTH bits
// per lane, default TW + clog2(N+1) + clog2(N) + 2, TW = 2(2^E-2) + 1 +
// clog2(BLOCK_K) + 1, N = IN_TILES + HAS_BIAS; error below 2^(Lmax-3) with
// ACC_ROUND = 1, Lmax the largest term's LSB exponent; 270 bits for BL(16,7,8)
// with 24 tiles, exact 773; ACC_WIDTH = 0 exact). OUT_GROUP consecutive output tiles
// make one output block (X_ROWS x OUT_GROUP*OUT_TILE, lane
// r*OUT_GROUP*OUT_TILE + g*OUT_TILE + c), rounded once into BL(OUT_EXP_BITS,
// OUT_BIAS_BITS) exactly as mx_formats.quantize rounds the accumulated sums
// (mase_bmf_quantize, LOG = 1: nearest power of two, ties up). OUT_TILES must be a multiple of OUT_GROUP.
// Timing: one tile pair per cycle; x groups double-buffered, so in steady
// state OUT_TILES*IN_TILES cycles per x group, an output block every
// OUT_GROUP*IN_TILES cycles. Bit-exact model: mase_hwlib.golden.bmf.bl_linear.
`default_nettype none

module mase_bl_linear #(
    parameter int BLOCK_K        = 4,  // elements along in_features per tile
    parameter int X_ROWS         = 1,  // rows of an x tile (x's second block extent)
    parameter int OUT_TILE       = 2,  // out_features per weight / output tile (W's second block extent)
    parameter int IN_TILES       = 2,  // in_features / BLOCK_K
    parameter int OUT_TILES      = 2,  // out_features / OUT_TILE
    parameter int EXP_BITS       = 7,  // x / W / bias element exponent code bits E
    parameter int BIAS_BITS      = 8,  // x / W / bias shared-bias bits (two's complement)
    parameter int HAS_BIAS       = 0,  // 1: add a bias per output feature
    parameter int OUT_EXP_BITS   = 7,  // output element exponent code bits
    parameter int OUT_BIAS_BITS  = 8,  // output shared-bias bits
    parameter int OUT_GROUP      = 1,  // output tiles per output block (a divisor of OUT_TILES)
    parameter int WEIGHTS_IN_ROM = 0,  // 1: weights (and bias) from ROM files, no w / b streams
    parameter        WEIGHT_FILE = "", // $readmemh image of the weight ROM (WEIGHTS_IN_ROM = 1)
    parameter        BIAS_FILE   = "", // $readmemh image of the bias ROM (WEIGHTS_IN_ROM = 1, HAS_BIAS = 1)
    parameter int ACC_WIDTH      = -1, // accumulator bits per lane: -1 derived default, 0 exact
    parameter int ACC_ROUND      = 1,  // bits shifted out of the accumulator: 0 truncate, 1 nearest-even
    localparam int EL_WIDTH      = 1 + EXP_BITS,
    localparam int OUT_EL_WIDTH  = 1 + OUT_EXP_BITS
) (
    input  wire                                         clk,
    input  wire                                         rst,      // synchronous, active high
    // activation tiles
    input  wire                                         x_valid,
    output wire                                         x_ready,
    input  wire [X_ROWS*BLOCK_K*EL_WIDTH-1:0]           x_data,
    input  wire [BIAS_BITS-1:0]                         x_bias,
    // weight tiles (WEIGHTS_IN_ROM = 0)
    input  wire                                         w_valid,
    output wire                                         w_ready,
    input  wire [OUT_TILE*BLOCK_K*EL_WIDTH-1:0]         w_data,
    input  wire [BIAS_BITS-1:0]                         w_bias,
    // bias tiles (HAS_BIAS = 1, WEIGHTS_IN_ROM = 0)
    input  wire                                         b_valid,
    output wire                                         b_ready,
    input  wire [OUT_TILE*EL_WIDTH-1:0]                 b_data,
    input  wire [BIAS_BITS-1:0]                         b_bias,
    // output blocks
    output wire                                         y_valid,
    input  wire                                         y_ready,
    output wire [X_ROWS*OUT_GROUP*OUT_TILE*OUT_EL_WIDTH-1:0] y_data,
    output wire [OUT_BIAS_BITS-1:0]                     y_bias
);
    localparam int XW = X_ROWS * BLOCK_K * EL_WIDTH;
    localparam int WW = OUT_TILE * BLOCK_K * EL_WIDTH;
    localparam int BW = OUT_TILE * EL_WIDTH;

    wire                    p_valid, p_ready, p_first, p_last;
    wire [XW+BIAS_BITS-1:0] p_x;
    wire [WW+BIAS_BITS-1:0] p_w;
    wire [BW+BIAS_BITS-1:0] p_b;

    mase_bmf_tile_dot #(
        .BLOCK_K(BLOCK_K), .ROWS(X_ROWS), .COLS(OUT_TILE), .K_TILES(IN_TILES),
        .EXP_BITS(EXP_BITS), .MAN_BITS(0), .BIAS_BITS(BIAS_BITS), .HAS_BIAS(HAS_BIAS),
        .ACC_WIDTH(ACC_WIDTH), .ACC_ROUND(ACC_ROUND), .GROUP(OUT_GROUP),
        .OUT_EXP_BITS(OUT_EXP_BITS), .OUT_MAN_BITS(0), .OUT_BIAS_BITS(OUT_BIAS_BITS), .LOG(1)
    ) u_dot (
        .clk(clk), .rst(rst),
        .p_valid(p_valid), .p_ready(p_ready),
        .p_a_data(p_x[XW-1:0]), .p_a_bias(p_x[XW +: BIAS_BITS]),
        .p_b_data(p_w[WW-1:0]), .p_b_bias(p_w[WW +: BIAS_BITS]),
        .p_bias_data(p_b[BW-1:0]), .p_bias_bias(p_b[BW +: BIAS_BITS]),
        .p_first(p_first), .p_last(p_last),
        .y_valid(y_valid), .y_ready(y_ready), .y_data(y_data), .y_bias(y_bias)
    );

    mase_linear_sequencer #(
        .IN_TILES(IN_TILES), .OUT_TILES(OUT_TILES), .X_BITS(XW + BIAS_BITS), .W_BITS(WW + BIAS_BITS),
        .B_BITS(BW + BIAS_BITS), .HAS_BIAS(HAS_BIAS), .WEIGHTS_IN_ROM(WEIGHTS_IN_ROM),
        .WEIGHT_FILE(WEIGHT_FILE), .BIAS_FILE(BIAS_FILE)
    ) u_seq (
        .clk(clk), .rst(rst),
        .x_valid(x_valid), .x_ready(x_ready), .x_data({x_bias, x_data}),
        .w_valid(w_valid), .w_ready(w_ready), .w_data({w_bias, w_data}),
        .b_valid(b_valid), .b_ready(b_ready), .b_data({b_bias, b_data}),
        .p_valid(p_valid), .p_ready(p_ready), .p_x(p_x), .p_w(p_w), .p_b(p_b),
        .p_first(p_first), .p_last(p_last)
    );
endmodule

`default_nettype wire
