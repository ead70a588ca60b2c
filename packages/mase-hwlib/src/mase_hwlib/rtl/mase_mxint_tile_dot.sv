// mase_mxint_tile_dot: the accumulate-and-normalise engine behind
// mase_mxint_matmul and mase_mxint_linear.
//
// Each beat of the p stream is one pair of MXInt tiles: a (ROWS x BLOCK_K,
// lane r*BLOCK_K + k) and b (COLS x BLOCK_K, lane c*BLOCK_K + k), plus
// p_first / p_last marking the first and last of the K tiles that make one
// output tile. Per beat the integer tile product
//     P[r*COLS + c] = sum_k qa[r*BLOCK_K + k] * qb[c*BLOCK_K + k]
// is exact (TW = A_MAN + B_MAN + clog2(BLOCK_K+1) + 2 signed bits), with LSB
// exponent L = sa + sb - (A_MAN-1) - (B_MAN-1). Across tiles the products go
// into a bounded (block-floating) accumulator (mase_bounded_accumulator):
// per lane an ACC_W-bit integer A aligned to the largest L so far, R, keeping
// F = ACC_W - TW - clog2(N+1) bits below it; the smaller-exponent operand is
// shifted and its shifted-out bits rounded (ACC_ROUND: 0 floor, 1 half to
// even). N = K_TILES + HAS_BIAS terms: with HAS_BIAS the bias tile (COLS lanes,
// broadcast over rows, LSB exponent s_bias - (BIAS_MAN-1)) given with p_first
// is term 0 (TW then also covers BIAS_MAN + 1). On p_last the sum A * 2^(R-F)
// goes through mase_mxint_normalize (one half-to-even rounding) into the
// output register: one output tile per K tiles, one tile pair per cycle.
// Register stages (mase_tile_dot_pipeline): the tile products (a balanced
// tree, mase_int_dot_tree), the accumulator, the finished sum, the block scale
// inside mase_mxint_normalize (PIPELINE=1), and the rounded output; y_valid
// rises four cycles after p_last is taken (three more than one stage).
//
// Width and error (Lmax = the largest L of the sum):
//   ACC_WIDTH = -1 (default): F = clog2(N) + 2, ACC_W = TW + clog2(N+1) + clog2(N) + 2;
//   ACC_WIDTH >= TW + clog2(N+1): that width (the catalog refuses narrower);
//   |bounded - exact| <= (N-1) 2^(Lmax-F) (ACC_ROUND=0), (N-1) 2^(Lmax-F-1) (ACC_ROUND=1),
//   below 2^(Lmax-3) with the default. E.g. BLOCK_K=16, MAN=7, 24 tiles: ACC_W = 33.
//   ACC_WIDTH = 0: exact (Kulisch), for verification: F = the largest possible
//   exponent gap, so no shifted-out bit is ever non-zero (~2^(EXP+1) bits per lane).
// Bit-exact model: mase_hwlib.golden.mxint (via golden.accumulate).
`default_nettype none

module mase_mxint_tile_dot #(
    parameter int BLOCK_K  = 4,  // elements along the reduction axis per tile
    parameter int ROWS     = 1,  // rows of an a tile (and of the output tile)
    parameter int COLS     = 1,  // rows of a b tile = columns of the output tile
    parameter int K_TILES  = 1,  // tiles per output (terms of the sum, with the bias)
    parameter int A_MAN    = 7,  // a mantissa bits (magnitude)
    parameter int A_EXP    = 8,  // a shared-exponent bits
    parameter int B_MAN    = 7,  // b mantissa bits (magnitude)
    parameter int B_EXP    = 8,  // b shared-exponent bits
    parameter int HAS_BIAS = 0,  // 1: p_bias_* starts each output tile
    parameter int BIAS_MAN = 7,  // bias mantissa bits (magnitude)
    parameter int BIAS_EXP = 8,  // bias shared-exponent bits
    parameter int OUT_MAN  = 7,  // output mantissa bits (magnitude)
    parameter int OUT_EXP  = 8,  // output shared-exponent bits
    parameter int ACC_WIDTH = -1, // accumulator bits per lane: -1 derived default, 0 exact (Kulisch)
    parameter int ACC_ROUND = 1   // bits shifted out of the accumulator: 0 truncate, 1 nearest-even
) (
    input  wire                                clk,
    input  wire                                rst,      // synchronous, active high
    // tile-pair stream
    input  wire                                p_valid,
    output wire                                p_ready,
    input  wire [ROWS*BLOCK_K*(A_MAN+1)-1:0]   p_a_mant,
    input  wire [A_EXP-1:0]                    p_a_exp,
    input  wire [COLS*BLOCK_K*(B_MAN+1)-1:0]   p_b_mant,
    input  wire [B_EXP-1:0]                    p_b_exp,
    input  wire [COLS*(BIAS_MAN+1)-1:0]        p_bias_mant,  // used with p_first when HAS_BIAS
    input  wire [BIAS_EXP-1:0]                 p_bias_exp,
    input  wire                                p_first,
    input  wire                                p_last,
    // output tile stream (lane r*COLS + c)
    output wire                                y_valid,
    input  wire                                y_ready,
    output wire [ROWS*COLS*(OUT_MAN+1)-1:0]    y_mant,
    output wire [OUT_EXP-1:0]                  y_exp
);
    localparam int LANES   = ROWS * COLS;
    localparam int EMAX_A  = (1 << (A_EXP - 1)) - 1;
    localparam int EMAX_B  = (1 << (B_EXP - 1)) - 1;
    localparam int EMAX_C  = (1 << (BIAS_EXP - 1)) - 1;
    localparam int PSUM_W  = A_MAN + B_MAN + $clog2(BLOCK_K + 1) + 2;   // signed tile-product lane
    localparam int TW      = (HAS_BIAS != 0 && BIAS_MAN + 1 > PSUM_W) ? BIAS_MAN + 1 : PSUM_W;
    localparam int N       = K_TILES + (HAS_BIAS != 0 ? 1 : 0);         // terms per sum
    localparam int CARRY   = $clog2(N + 1);
    // range of the LSB exponents (bounds the largest shift, for the exact mode)
    localparam int PROD_LSB_MIN = -EMAX_A - EMAX_B - (A_MAN - 1) - (B_MAN - 1);
    localparam int PROD_LSB_MAX =  EMAX_A + EMAX_B - (A_MAN - 1) - (B_MAN - 1);
    localparam int BIAS_LSB_MIN = -EMAX_C - (BIAS_MAN - 1);
    localparam int BIAS_LSB_MAX =  EMAX_C - (BIAS_MAN - 1);
    localparam int LSB_MIN = (HAS_BIAS != 0 && BIAS_LSB_MIN < PROD_LSB_MIN) ? BIAS_LSB_MIN : PROD_LSB_MIN;
    localparam int LSB_MAX = (HAS_BIAS != 0 && BIAS_LSB_MAX > PROD_LSB_MAX) ? BIAS_LSB_MAX : PROD_LSB_MAX;
    localparam int ACC_W   = ACC_WIDTH > 0 ? ACC_WIDTH
                           : ACC_WIDTH == 0 ? TW + CARRY + (LSB_MAX - LSB_MIN)   // exact
                           : TW + CARRY + $clog2(N) + 2;                         // derived default
    localparam int F       = ACC_W - TW - CARRY;
    // signed exponent width that holds every L, R - F and their differences
    localparam int LSB_ABS = (-LSB_MIN > LSB_MAX ? -LSB_MIN : LSB_MAX) + ACC_W;
    localparam int LW      = $clog2(LSB_ABS + 1) + 1;

    // ---- pipeline control (mase_tile_dot_pipeline) ---------------------------------
    // after the accumulator: the finished sum, the block scale (in the normaliser), the output
    wire       prod_load, acc_en, acc_first;
    wire [2:0] stage_load;
    mase_tile_dot_pipeline #(.OUT_STAGES(3)) u_pipe (
        .clk(clk), .rst(rst), .p_valid(p_valid), .p_ready(p_ready), .p_first(p_first), .p_last(p_last),
        .prod_load(prod_load), .acc_en(acc_en), .acc_first(acc_first), .stage_load(stage_load),
        .y_valid(y_valid), .y_ready(y_ready)
    );

    // ---- exact tile product per lane, registered -----------------------------------
    logic [LANES*TW-1:0] term;
    for (genvar r = 0; r < ROWS; r++) begin : g_row
        for (genvar c = 0; c < COLS; c++) begin : g_col
            localparam int L = r * COLS + c;
            wire signed [PSUM_W-1:0] psum;
            mase_int_dot_tree #(.N(BLOCK_K), .A_WIDTH(A_MAN + 1), .B_WIDTH(B_MAN + 1), .OUT_WIDTH(PSUM_W)) u_dot (
                .a(p_a_mant[r*BLOCK_K*(A_MAN+1) +: BLOCK_K*(A_MAN+1)]),
                .b(p_b_mant[c*BLOCK_K*(B_MAN+1) +: BLOCK_K*(B_MAN+1)]), .y(psum)
            );
            assign term[L*TW +: TW] = TW'(psum);
        end
    end
    wire signed [LW-1:0] prod_lsb = LW'($signed(p_a_exp)) + LW'($signed(p_b_exp)) - LW'(A_MAN - 1) - LW'(B_MAN - 1);

    logic [LANES*TW-1:0]  term_reg;
    logic signed [LW-1:0] prod_lsb_reg;
    always_ff @(posedge clk) begin
        if (prod_load) begin
            term_reg     <= term;
            prod_lsb_reg <= prod_lsb;
        end
    end

    // the bias tile (term 0 of a sum) travels with its first beat
    logic [LANES*ACC_W-1:0] init_acc;
    wire signed [LW-1:0]    init_ref;
    if (HAS_BIAS != 0) begin : g_bias
        logic [COLS*(BIAS_MAN+1)-1:0] bias_mant_reg;
        logic signed [LW-1:0]         bias_lsb_reg;
        always_ff @(posedge clk) begin
            if (prod_load) begin
                bias_mant_reg <= p_bias_mant;
                bias_lsb_reg  <= LW'($signed(p_bias_exp)) - LW'(BIAS_MAN - 1);
            end
        end
        for (genvar l = 0; l < LANES; l++) begin : g_lane
            assign init_acc[l*ACC_W +: ACC_W] = ACC_W'($signed(bias_mant_reg[(l % COLS)*(BIAS_MAN+1) +: BIAS_MAN+1])) <<< F;
        end
        assign init_ref = bias_lsb_reg;
    end else begin : g_nobias
        assign init_acc = '0;
        assign init_ref = prod_lsb_reg;
        /* verilator lint_off UNUSEDSIGNAL */
        wire unused = &{1'b0, p_bias_mant, p_bias_exp};
        /* verilator lint_on UNUSEDSIGNAL */
    end

    // ---- bounded accumulation across tiles; the finished sum registered ------------
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

    // ---- normalise the finished sum: block scale registered, rounding, output -----
    logic [LANES*(OUT_MAN+1)-1:0] norm_mant;
    logic [OUT_EXP-1:0]           norm_exp;
    mase_mxint_normalize #(
        .LANES(LANES), .IN_WIDTH(ACC_W), .LSB_WIDTH(LW), .OUT_MAN(OUT_MAN), .OUT_EXP(OUT_EXP), .PIPELINE(1)
    ) u_normalize (
        .in_int(sum_reg), .in_lsb(sum_lsb_reg), .out_mant(norm_mant), .out_exp(norm_exp),
        .clk(clk), .en(stage_load[1])
    );

    logic [LANES*(OUT_MAN+1)-1:0] out_mant_reg;
    logic [OUT_EXP-1:0]           out_exp_reg;
    assign y_mant = out_mant_reg;
    assign y_exp  = out_exp_reg;
    always_ff @(posedge clk) begin
        if (stage_load[2]) begin
            out_mant_reg <= norm_mant;
            out_exp_reg  <= norm_exp;
        end
    end
endmodule

`default_nettype wire
