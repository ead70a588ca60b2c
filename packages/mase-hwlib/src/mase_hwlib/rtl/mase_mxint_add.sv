// mase_mxint_add: elementwise sum of two MXInt block streams with bounded
// exponent alignment. With La = sa - (A_MAN-1) and Lb = sb - (B_MAN-1) the
// block pair is a two-term sum of the bounded accumulator contract
// (mase_bounded_align, the same block the dot products use): a is term 0, b
// term 1, TW = max(A_MAN, B_MAN) + 1, N = 2, F = ACC_W - TW - 2 guard bits:
//
//   R = max(La, Lb),  A_j = rnd(qa_j << F, R - La) + rnd(qb_j << F, R - Lb)
//
// (only the operand with the smaller exponent is shifted; its shifted-out bits
// are rounded by ACC_ROUND: 0 floor, 1 half to even with guard + sticky), then
// A_j * 2^(R - F) is re-normalised into MXInt(OUT_MAN, OUT_EXP) by
// mase_mxint_normalize. Width and error:
//   ACC_WIDTH = -1 (default): F = 3, ACC_W = TW + 5;  ACC_WIDTH >= TW + 2: that width;
//   |bounded - exact| <= 2^(R-F) (ACC_ROUND=0), 2^(R-F-1) (ACC_ROUND=1) per element,
//   i.e. 1/16 of the larger operand's LSB with the default;
//   ACC_WIDTH = 0: exact, F = the largest possible |La - Lb| (~2^EXP bits).
// One block pair per cycle, registered output.
`default_nettype none

module mase_mxint_add #(
    parameter int BLOCK_0 = 4,  // block elements along the first blocked axis (tile columns)
    parameter int BLOCK_1 = 1,  // block elements along the second blocked axis (tile rows)
    parameter int A_MAN   = 7,  // operand a mantissa bits (magnitude)
    parameter int A_EXP   = 8,  // operand a shared-exponent bits
    parameter int B_MAN   = 7,  // operand b mantissa bits (magnitude)
    parameter int B_EXP   = 8,  // operand b shared-exponent bits
    parameter int OUT_MAN = 7,  // output mantissa bits (magnitude)
    parameter int OUT_EXP = 8,  // output shared-exponent bits
    parameter int ACC_WIDTH = -1, // aligned sum bits: -1 derived default (TW + 5), 0 exact
    parameter int ACC_ROUND = 1   // bits shifted out in the alignment: 0 truncate, 1 nearest-even
) (
    input  wire                                   clk,
    input  wire                                   rst,      // synchronous, active high
    // operand streams: one block per beat each, consumed together
    input  wire                                   a_valid,
    output wire                                   a_ready,
    input  wire [BLOCK_0*BLOCK_1*(A_MAN+1)-1:0]   a_mant,
    input  wire [A_EXP-1:0]                       a_exp,
    input  wire                                   b_valid,
    output wire                                   b_ready,
    input  wire [BLOCK_0*BLOCK_1*(B_MAN+1)-1:0]   b_mant,
    input  wire [B_EXP-1:0]                       b_exp,
    // output stream: one block per beat
    output wire                                   y_valid,
    input  wire                                   y_ready,
    output wire [BLOCK_0*BLOCK_1*(OUT_MAN+1)-1:0] y_mant,
    output wire [OUT_EXP-1:0]                     y_exp
);
    localparam int LANES  = BLOCK_0 * BLOCK_1;
    localparam int EMAX_A = (1 << (A_EXP - 1)) - 1;
    localparam int EMAX_B = (1 << (B_EXP - 1)) - 1;
    localparam int TW     = (A_MAN > B_MAN ? A_MAN : B_MAN) + 1;  // signed element
    localparam int LA_MIN = -EMAX_A - (A_MAN - 1);
    localparam int LB_MIN = -EMAX_B - (B_MAN - 1);
    localparam int LA_MAX =  EMAX_A - (A_MAN - 1);
    localparam int LB_MAX =  EMAX_B - (B_MAN - 1);
    localparam int LSB_MIN = LA_MIN < LB_MIN ? LA_MIN : LB_MIN;
    localparam int LSB_MAX = LA_MAX > LB_MAX ? LA_MAX : LB_MAX;
    localparam int ACC_W  = ACC_WIDTH > 0 ? ACC_WIDTH
                          : ACC_WIDTH == 0 ? TW + 2 + (LSB_MAX - LSB_MIN)  // exact
                          : TW + 5;                                        // derived default: F = 3
    localparam int F      = ACC_W - TW - 2;
    // signed exponent width that holds La, Lb, R - F and their differences
    localparam int LSB_ABS = (-LSB_MIN > LSB_MAX ? -LSB_MIN : LSB_MAX) + ACC_W;
    localparam int LW      = $clog2(LSB_ABS + 1) + 1;
    wire signed [LW-1:0] la = LW'($signed(a_exp)) - LW'(A_MAN - 1);
    wire signed [LW-1:0] lb = LW'($signed(b_exp)) - LW'(B_MAN - 1);

    // a as the running sum (a << F at reference La), b as the term
    logic [LANES*ACC_W-1:0]       a_acc, lanes_int;
    logic [LANES*TW-1:0]          b_term;
    wire signed [LW-1:0]          ref_out;
    logic [LANES*(OUT_MAN+1)-1:0] norm_mant;
    logic [OUT_EXP-1:0]           norm_exp;
    for (genvar j = 0; j < LANES; j++) begin : g_lane
        assign a_acc[j*ACC_W +: ACC_W] = ACC_W'($signed(a_mant[j*(A_MAN+1) +: A_MAN+1])) <<< F;
        assign b_term[j*TW +: TW]      = TW'($signed(b_mant[j*(B_MAN+1) +: B_MAN+1]));
    end
    mase_bounded_align #(
        .LANES(LANES), .TERM_WIDTH(TW), .ACC_WIDTH(ACC_W), .FRAC_BITS(F), .EXP_WIDTH(LW), .ROUND(ACC_ROUND)
    ) u_align (
        .acc_in(a_acc), .acc_ref(la), .term_in(b_term), .term_lsb(lb), .acc_out(lanes_int), .ref_out(ref_out)
    );
    wire signed [LW-1:0] lsb = ref_out - LW'(F);

    mase_mxint_normalize #(
        .LANES(LANES), .IN_WIDTH(ACC_W), .LSB_WIDTH(LW), .OUT_MAN(OUT_MAN), .OUT_EXP(OUT_EXP)
    ) u_normalize (
        .in_int(lanes_int), .in_lsb(lsb), .out_mant(norm_mant), .out_exp(norm_exp),
        .clk(clk), .en(1'b0)  // combinational (PIPELINE = 0)
    );

    // join the operands into the output register
    logic                         out_valid_reg;
    logic [LANES*(OUT_MAN+1)-1:0] out_mant_reg;
    logic [OUT_EXP-1:0]           out_exp_reg;
    wire load = !out_valid_reg || y_ready;
    wire fire = a_valid && b_valid && load;
    assign a_ready = load && b_valid;
    assign b_ready = load && a_valid;
    assign y_valid = out_valid_reg;
    assign y_mant  = out_mant_reg;
    assign y_exp   = out_exp_reg;

    always_ff @(posedge clk) begin
        if (fire) begin
            out_mant_reg <= norm_mant;
            out_exp_reg  <= norm_exp;
        end
        if (rst) out_valid_reg <= 1'b0;
        else if (load) out_valid_reg <= a_valid && b_valid;
    end
endmodule

`default_nettype wire
