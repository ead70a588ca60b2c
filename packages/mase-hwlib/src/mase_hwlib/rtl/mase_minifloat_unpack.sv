// mase_minifloat_unpack: splits one sign/exponent/fraction element code into
// an integer significand and a non-negative exponent offset.
//
// Code layout (MSB first): sign | exponent code c (EXP_BITS) | fraction f (MAN_BITS).
// The element's magnitude is  mag * 2^(exp_off) * 2^(1 - bias - MAN_BITS)  with
//   c >= 1: mag = 2^MAN_BITS + f, exp_off = c - 1   (normal: 2^(c-bias) * (1 + f/2^M))
//   c == 0: mag = f,              exp_off = 0       (subnormal: 2^(1-bias) * f/2^M)
// so products and sums of elements sharing one bias are plain integers.
// Shared by the block-minifloat and the scalar minifloat dot products.
`default_nettype none

module mase_minifloat_unpack #(
    parameter int EXP_BITS = 4,  // exponent code bits E (>= 1)
    parameter int MAN_BITS = 3,  // fraction bits M (>= 1)
    localparam int CODE_WIDTH = 1 + EXP_BITS + MAN_BITS
) (
    input  wire [CODE_WIDTH-1:0] code,     // element code
    output wire                  sign,     // 1 = negative
    output wire [MAN_BITS:0]     mag,      // integer significand, M+1 bits
    output wire [EXP_BITS-1:0]   exp_off   // max(c, 1) - 1
);
    wire [EXP_BITS-1:0] exp_code = code[CODE_WIDTH-2 -: EXP_BITS];
    wire                normal   = (exp_code != '0);

    assign sign    = code[CODE_WIDTH-1];
    assign mag     = {normal, code[MAN_BITS-1:0]};
    assign exp_off = normal ? exp_code - 1'b1 : '0;
endmodule

`default_nettype wire
