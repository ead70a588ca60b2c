// mase_bmf_tile_dot: the accumulate engine behind mase_bmf_linear and
// mase_bl_linear: exact block-minifloat tile products, summed across tiles in
// the bounded (block-floating) accumulator.
//
// Each beat of the p stream is one pair of tiles sharing one element format:
// a (ROWS x BLOCK_K codes, lane r*BLOCK_K + k, shared bias p_a_bias) and b
// (COLS x BLOCK_K, lane c*BLOCK_K + k, p_b_bias), plus p_first / p_last marking
// the first and last of the K_TILES pairs of one output tile. A code
// sign | c (EXP_BITS) | f (MAN_BITS) decodes to (-1)^s mag 2^off on the LSB
// 2^(1 - beta - M), mag = c ? 2^M + f : f, off = max(c,1) - 1; MAN_BITS = 0 is a
// block-logarithm code sign | c (mag = [c != 0], off = c - 1). Per beat the
// exact integer
//     P(r,c) = sum_k (-1)^(sa^sb) mag_a mag_b 2^(off_a + off_b)   on LSB  L = 2 - beta_a - beta_b - 2M
// is registered, |P| < 2^(TW-1), TW = 2(M+1) + 2(2^E-2) + clog2(BLOCK_K) + 1
// (2(2^E-2) + 1 + clog2(BLOCK_K) + 1 for M = 0), as in mase_bmf_dot. With
// HAS_BIAS the bias tile (COLS codes, shared bias p_bias_bias, given with
// p_first, broadcast over rows) is term 0 of the sum: (-1)^s mag 2^off on LSB
// 1 - beta - M. N = K_TILES + HAS_BIAS terms go into mase_bounded_accumulator:
// per lane ACC_W bits aligned to the largest L so far, R, F = ACC_W - TW -
// clog2(N+1) bits below it, shifted-out bits rounded by ACC_ROUND.
// The finished sums A_l * 2^(R - F) of GROUP consecutive output tiles go
// through mase_bmf_quantize into one output block (LOG = 0: block minifloat
// OUT_EXP_BITS / OUT_MAN_BITS / OUT_BIAS_BITS, LOG = 1: block logarithm),
// rounded as mx_formats.quantize rounds the real values A_l * 2^(R - F).
//
// Width and error (Lmax = the largest L of the sum):
//   ACC_WIDTH = -1 (default): F = clog2(N) + 2, ACC_W = TW + clog2(N+1) + clog2(N) + 2;
//   ACC_WIDTH >= TW + clog2(N+1): that width (the catalog refuses narrower);
//   |bounded - exact| <= (N-1) 2^(Lmax-F) (ACC_ROUND=0), (N-1) 2^(Lmax-F-1) (ACC_ROUND=1).
//   ACC_WIDTH = 0: exact, for verification: F = LSB_MAX - LSB_MIN, the largest
//   possible exponent gap, so no shifted-out bit is ever non-zero.
// Register stages (mase_tile_dot_pipeline, OUT_STAGES = 1): the tile products,
// the accumulator, the finished sum, then the quantizer's compact tile and its
// output register; y_valid rises four cycles after the last p beat of a group
// is taken.
// Bit-exact model: mase_hwlib.golden.bmf (linear_sums, quantize_bmf / quantize_bl).
`default_nettype none

module mase_bmf_tile_dot #(
    parameter int BLOCK_K   = 4,   // elements along the reduction axis per tile
    parameter int ROWS      = 1,   // rows of an a tile (and of the output tile)
    parameter int COLS      = 1,   // rows of a b tile = columns of the output tile
    parameter int K_TILES   = 1,   // tile pairs per output tile
    parameter int EXP_BITS  = 4,   // element exponent bits E
    parameter int MAN_BITS  = 3,   // element fraction bits M (0: block-logarithm codes)
    parameter int BIAS_BITS = 8,   // shared bias bits (two's complement)
    parameter int HAS_BIAS  = 0,   // 1: p_bias_* is term 0 of each output tile
    parameter int ACC_WIDTH = -1,  // accumulator bits per lane: -1 derived default, 0 exact
    parameter int ACC_ROUND = 1,   // bits shifted out of the accumulator: 0 truncate, 1 nearest-even
    parameter int GROUP     = 1,   // output tiles per output block (along the columns)
    parameter int OUT_EXP_BITS  = 4,  // output element exponent bits
    parameter int OUT_MAN_BITS  = 3,  // output element fraction bits (LOG = 1: 0)
    parameter int OUT_BIAS_BITS = 8,  // output shared-bias bits
    parameter int LOG       = 0,   // output format: 0 block minifloat, 1 block logarithm
    localparam int EL_WIDTH = 1 + EXP_BITS + MAN_BITS,
    localparam int OUT_EL_WIDTH = 1 + OUT_EXP_BITS + OUT_MAN_BITS,
    localparam int BIAS_HI  = (1 << (BIAS_BITS - 1)) - 1,
    localparam int PROD_WIDTH = MAN_BITS > 0 ? 2 * (MAN_BITS + 1) + 2 * ((1 << EXP_BITS) - 2)
                                             : 2 * ((1 << EXP_BITS) - 2) + 1,
    localparam int TW       = PROD_WIDTH + $clog2(BLOCK_K) + 1,  // signed tile-product lane
    localparam int N        = K_TILES + (HAS_BIAS != 0 ? 1 : 0),  // terms per sum
    localparam int CARRY    = $clog2(N + 1),
    // range of the LSB exponents over every bias code (bounds the largest shift, for the exact mode)
    localparam int PROD_LSB_MIN = 2 - 2 * BIAS_HI - 2 * MAN_BITS,
    localparam int PROD_LSB_MAX = 2 + 2 * (BIAS_HI + 1) - 2 * MAN_BITS,
    localparam int LSB_MIN  = (HAS_BIAS != 0 && 1 - BIAS_HI - MAN_BITS < PROD_LSB_MIN) ? 1 - BIAS_HI - MAN_BITS
                                                                                       : PROD_LSB_MIN,
    localparam int LSB_MAX  = (HAS_BIAS != 0 && 2 + BIAS_HI - MAN_BITS > PROD_LSB_MAX) ? 2 + BIAS_HI - MAN_BITS
                                                                                       : PROD_LSB_MAX,
    localparam int ACC_W    = ACC_WIDTH > 0 ? ACC_WIDTH
                            : ACC_WIDTH == 0 ? TW + CARRY + (LSB_MAX - LSB_MIN)   // exact
                            : TW + CARRY + $clog2(N) + 2,                         // derived default
    localparam int F        = ACC_W - TW - CARRY,
    // signed exponent width that holds every L, R - F and their differences
    localparam int LSB_ABS  = (-LSB_MIN > LSB_MAX ? -LSB_MIN : LSB_MAX) + ACC_W,
    localparam int LW       = $clog2(LSB_ABS + 1) + 1,
    localparam int LANES    = ROWS * COLS
) (
    input  wire                              clk,
    input  wire                              rst,      // synchronous, active high
    // tile-pair stream
    input  wire                              p_valid,
    output wire                              p_ready,
    input  wire [ROWS*BLOCK_K*EL_WIDTH-1:0]  p_a_data,
    input  wire [BIAS_BITS-1:0]              p_a_bias,
    input  wire [COLS*BLOCK_K*EL_WIDTH-1:0]  p_b_data,
    input  wire [BIAS_BITS-1:0]              p_b_bias,
    input  wire [COLS*EL_WIDTH-1:0]          p_bias_data,  // used with p_first when HAS_BIAS
    input  wire [BIAS_BITS-1:0]              p_bias_bias,
    input  wire                              p_first,
    input  wire                              p_last,
    // output blocks (ROWS x GROUP*COLS, lane r*GROUP*COLS + g*COLS + c)
    output wire                              y_valid,
    input  wire                              y_ready,
    output wire [GROUP*LANES*OUT_EL_WIDTH-1:0] y_data,
    output wire [OUT_BIAS_BITS-1:0]          y_bias
);
    localparam int SW = MAN_BITS + 1 + (1 << EXP_BITS) - 2 + 1;  // signed (+-mag << off) of one element

    // ---- pipeline control: product register, accumulator, finished-sum register -----
    wire       prod_load, acc_en, acc_first, sum_valid, sum_ready;
    wire [0:0] stage_load;
    mase_tile_dot_pipeline #(.OUT_STAGES(1)) u_pipe (
        .clk(clk), .rst(rst), .p_valid(p_valid), .p_ready(p_ready), .p_first(p_first), .p_last(p_last),
        .prod_load(prod_load), .acc_en(acc_en), .acc_first(acc_first), .stage_load(stage_load),
        .y_valid(sum_valid), .y_ready(sum_ready)
    );

    // ---- decode every element: sign, integer significand, exponent offset ----------
    localparam int MW = MAN_BITS + 1;  // significand bits
    wire [ROWS*BLOCK_K-1:0]          a_sign;
    wire [ROWS*BLOCK_K*MW-1:0]       a_mag;
    wire [ROWS*BLOCK_K*EXP_BITS-1:0] a_off;
    wire [COLS*BLOCK_K-1:0]          b_sign;
    wire [COLS*BLOCK_K*MW-1:0]       b_mag;
    wire [COLS*BLOCK_K*EXP_BITS-1:0] b_off;
    wire [COLS-1:0]                  c_sign;
    wire [COLS*MW-1:0]               c_mag;
    wire [COLS*EXP_BITS-1:0]         c_off;
    for (genvar e = 0; e < ROWS * BLOCK_K + COLS * BLOCK_K + COLS; e++) begin : g_unpack
        localparam bit IS_A = e < ROWS * BLOCK_K;
        localparam bit IS_B = !IS_A && e < (ROWS + COLS) * BLOCK_K;
        localparam int IDX  = IS_A ? e : IS_B ? e - ROWS * BLOCK_K : e - (ROWS + COLS) * BLOCK_K;
        wire [EL_WIDTH-1:0] code;
        wire                sign;
        wire [MAN_BITS:0]   mag;
        wire [EXP_BITS-1:0] off;
        if (IS_A) begin : g_a
            assign code = p_a_data[IDX*EL_WIDTH +: EL_WIDTH];
            assign a_sign[IDX] = sign;
            assign a_mag[IDX*MW +: MW] = mag;
            assign a_off[IDX*EXP_BITS +: EXP_BITS] = off;
        end else if (IS_B) begin : g_b
            assign code = p_b_data[IDX*EL_WIDTH +: EL_WIDTH];
            assign b_sign[IDX] = sign;
            assign b_mag[IDX*MW +: MW] = mag;
            assign b_off[IDX*EXP_BITS +: EXP_BITS] = off;
        end else begin : g_c
            assign code = p_bias_data[IDX*EL_WIDTH +: EL_WIDTH];
            assign c_sign[IDX] = sign;
            assign c_mag[IDX*MW +: MW] = mag;
            assign c_off[IDX*EXP_BITS +: EXP_BITS] = off;
        end
        if (MAN_BITS > 0) begin : g_minifloat
            mase_minifloat_unpack #(.EXP_BITS(EXP_BITS), .MAN_BITS(MAN_BITS)) u_unpack (
                .code(code), .sign(sign), .mag(mag), .exp_off(off));
        end else begin : g_log
            // block logarithm: c = 0 is zero, c >= 1 is 2^(c-1) on the LSB 2^(1 - beta)
            wire [EXP_BITS-1:0] c = code[EXP_BITS-1:0];
            assign sign = code[EL_WIDTH-1];
            assign mag  = (c != '0);
            assign off  = (c != '0) ? c - 1'b1 : '0;
        end
    end

    // ---- exact tile product per lane: BLOCK_K shifted products, a balanced adder tree ----
    logic [LANES*TW-1:0] term;
    for (genvar r = 0; r < ROWS; r++) begin : g_row
        for (genvar c = 0; c < COLS; c++) begin : g_col
            logic [BLOCK_K*TW-1:0] s;
            always_comb begin
                for (int k = 0; k < BLOCK_K; k++) begin
                    s[k*TW +: TW] = TW'((2*MW)'(a_mag[(r*BLOCK_K+k)*MW +: MW]) * (2*MW)'(b_mag[(c*BLOCK_K+k)*MW +: MW]))
                                    << ((EXP_BITS + 1)'(a_off[(r*BLOCK_K+k)*EXP_BITS +: EXP_BITS])
                                        + (EXP_BITS + 1)'(b_off[(c*BLOCK_K+k)*EXP_BITS +: EXP_BITS]));
                    if (a_sign[r*BLOCK_K+k] ^ b_sign[c*BLOCK_K+k]) s[k*TW +: TW] = -s[k*TW +: TW];
                end
                // level by level, in place (as mase_int_dot_tree): slot i takes slots 2i and 2i+1
                for (int w = BLOCK_K; w > 1; w = (w + 1) / 2) begin
                    for (int i = 0; i < w / 2; i++) begin
                        s[i*TW +: TW] = s[2*i*TW +: TW] + s[(2*i+1)*TW +: TW];
                    end
                    if (w % 2 != 0) s[(w/2)*TW +: TW] = s[(w-1)*TW +: TW];
                end
            end
            assign term[(r*COLS+c)*TW +: TW] = s[TW-1:0];
        end
    end
    wire signed [LW-1:0] prod_lsb = LW'(2 - 2 * MAN_BITS) - LW'($signed(p_a_bias)) - LW'($signed(p_b_bias));

    logic [LANES*TW-1:0]  term_reg;
    logic signed [LW-1:0] prod_lsb_reg;
    always_ff @(posedge clk) begin
        if (prod_load) begin
            term_reg     <= term;
            prod_lsb_reg <= prod_lsb;
        end
    end

    // ---- the bias tile (term 0 of a sum) travels with its first beat -------------------
    logic [LANES*ACC_W-1:0] init_acc;
    wire signed [LW-1:0]    init_ref;
    if (HAS_BIAS != 0) begin : g_bias
        wire  [COLS*SW-1:0]   bias_term;
        logic [COLS*SW-1:0]   bias_term_reg;
        logic signed [LW-1:0] bias_lsb_reg;
        for (genvar c = 0; c < COLS; c++) begin : g_col
            wire [SW-1:0] mag_shifted = SW'(c_mag[c*MW +: MW]) << c_off[c*EXP_BITS +: EXP_BITS];
            assign bias_term[c*SW +: SW] = c_sign[c] ? -mag_shifted : mag_shifted;
        end
        always_ff @(posedge clk) begin
            if (prod_load) begin
                bias_term_reg <= bias_term;
                bias_lsb_reg  <= LW'(1 - MAN_BITS) - LW'($signed(p_bias_bias));
            end
        end
        for (genvar l = 0; l < LANES; l++) begin : g_lane
            assign init_acc[l*ACC_W +: ACC_W] = ACC_W'($signed(bias_term_reg[(l % COLS)*SW +: SW])) <<< F;
        end
        assign init_ref = bias_lsb_reg;
    end else begin : g_nobias
        assign init_acc = '0;
        assign init_ref = prod_lsb_reg;
        /* verilator lint_off UNUSEDSIGNAL */
        wire unused = &{1'b0, p_bias_bias, c_sign, c_mag, c_off};
        /* verilator lint_on UNUSEDSIGNAL */
    end

    // ---- bounded accumulation across tiles; the finished sum is the output register ----
    logic [LANES*ACC_W-1:0] sum;
    wire signed [LW-1:0]    sum_lsb;
    mase_bounded_accumulator #(
        .LANES(LANES), .TERM_WIDTH(TW), .ACC_WIDTH(ACC_W), .FRAC_BITS(F), .EXP_WIDTH(LW), .ROUND(ACC_ROUND)
    ) u_acc (
        .clk(clk), .en(acc_en), .first(acc_first), .init_acc(init_acc), .init_ref(init_ref),
        .term(term_reg), .term_lsb(prod_lsb_reg), .sum(sum), .sum_lsb(sum_lsb)
    );

    logic [LANES*ACC_W-1:0] sum_reg;
    logic signed [LW-1:0]   sum_lsb_reg;
    always_ff @(posedge clk) begin
        if (stage_load[0]) begin
            sum_reg     <= sum;
            sum_lsb_reg <= sum_lsb;
        end
    end

    // ---- GROUP finished tiles -> one output block (the output register) -----------------
    mase_bmf_quantize #(
        .ROWS(ROWS), .COLS(COLS), .GROUP(GROUP), .IN_WIDTH(ACC_W), .LSB_WIDTH(LW),
        .EXP_BITS(OUT_EXP_BITS), .MAN_BITS(OUT_MAN_BITS), .BIAS_BITS(OUT_BIAS_BITS), .LOG(LOG)
    ) u_quantize (
        .clk(clk), .rst(rst), .in_valid(sum_valid), .in_ready(sum_ready), .in_acc(sum_reg), .in_lsb(sum_lsb_reg),
        .y_valid(y_valid), .y_ready(y_ready), .y_data(y_data), .y_bias(y_bias)
    );
endmodule

`default_nettype wire
