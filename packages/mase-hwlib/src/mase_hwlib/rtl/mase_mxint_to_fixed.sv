// mase_mxint_to_fixed: converts one MXInt element to a saturated fixed-point
// integer (the input stage of the non-linear operators).
//
// An MXInt element with mantissa q (MAN_BITS+1 bits, two's complement) and
// shared exponent s (EXP_BITS, two's complement) has the value q * 2^(s-MAN_BITS+1).
// On X_FRAC fraction bits that is q * 2^sh with sh = s - MAN_BITS + 1 + X_FRAC:
//   sh >= 0: q << min(sh, X_WIDTH)          (X_WIDTH already saturates any q != 0)
//   sh <  0: q >>> min(-sh, MAN_BITS + 1)   (floor; beyond that the result is 0 or -1)
// then saturated to [-2^(X_WIDTH-1), 2^(X_WIDTH-1) - 1].
`default_nettype none

module mase_mxint_to_fixed #(
    parameter int EXP_BITS = 8,   // shared exponent bits
    parameter int MAN_BITS = 7,   // element mantissa bits m (element is m+1 bits)
    parameter int X_WIDTH = 16,   // output fixed-point bits (two's complement)
    parameter int X_FRAC = 8      // output fraction bits
) (
    input  wire [MAN_BITS:0]   mant,   // element mantissa q
    input  wire [EXP_BITS-1:0] exp,    // shared exponent s
    output wire [X_WIDTH-1:0]  fixed   // round-toward-minus-infinity, saturated
);
    localparam int WIDE = MAN_BITS + X_WIDTH + 2;
    localparam logic signed [WIDE-1:0] FIXED_MAX = WIDE'((1 << (X_WIDTH - 1)) - 1);
    localparam logic signed [WIDE-1:0] FIXED_MIN = WIDE'(-(1 << (X_WIDTH - 1)));

    wire signed [31:0] sh = 32'($signed(exp)) - 32'(MAN_BITS - 1) + 32'(X_FRAC);
    wire [31:0] left_amount  = (sh > 32'(X_WIDTH)) ? 32'(X_WIDTH) : sh;
    wire [31:0] right_amount = (-sh > 32'(MAN_BITS + 1)) ? 32'(MAN_BITS + 1) : -sh;
    wire signed [WIDE-1:0] q_wide = WIDE'($signed(mant));
    wire signed [WIDE-1:0] shifted = (sh >= 0) ? (q_wide <<< left_amount) : (q_wide >>> right_amount);

    assign fixed = (shifted > FIXED_MAX) ? FIXED_MAX[X_WIDTH-1:0]
                 : (shifted < FIXED_MIN) ? FIXED_MIN[X_WIDTH-1:0]
                 : shifted[X_WIDTH-1:0];
endmodule

`default_nettype wire
