// mase_mxint_gelu: GELU on MXInt blocks, integer-only (after I-BERT's i-GELU).
//
//   gelu(x) = x/2 * (1 + erf(x/sqrt2)),   erf(x/sqrt2) ~ sgn(x) * L(|x|),
//   L(a) = 1 - A * (min(a, C) - C)^2,     A = 0.1444, C = 1.769*sqrt2 = 2.50174
// (I-BERT's second-order erf fit a(min(|u|,-b)+b)^2 + 1 with a = -0.2888,
// b = -1.769, rewritten in |x| so no 1/sqrt2 multiply is needed).
// Each element is first converted to fixed point (mase_mxint_to_fixed, X_FRAC
// fraction bits, floor, saturating); with F = X_FRAC:
//   d  = C_FX - min(|x|, C_FX),            C_FX = floor(C * 2^F + 1/2)
//   t  = (A_16 * d*d) >> (16 + F),         A_16 = floor(A * 2^16 + 1/2) = 9463
//   L  = 2^F - t
//   y  = (x * (2^F + L)) >>> (F+1)   if x >= 0
//        (x * (2^F - L)) >>> (F+1)   if x <  0
// y is on the same X_WIDTH/X_FRAC grid as x (|y| <= |x| + 1 LSB never overflows).
// One block per beat, one register stage; the output is fixed point, not MXInt.
`default_nettype none

module mase_mxint_gelu #(
    parameter int BLOCK = 16,     // elements per block (one block per beat)
    parameter int EXP_BITS = 8,   // shared exponent bits
    parameter int MAN_BITS = 7,   // element mantissa bits m
    parameter int X_WIDTH = 16,   // internal and output fixed-point bits (>= X_FRAC + 3)
    parameter int X_FRAC = 8      // internal and output fraction bits (<= 16)
) (
    input  wire                         clk,
    input  wire                         rst,
    // MXInt input block: element e at [e*(MAN_BITS+1) +: MAN_BITS+1]
    input  wire [BLOCK*(MAN_BITS+1)-1:0] x_mant,
    input  wire [EXP_BITS-1:0]          x_exp,
    input  wire                         x_valid,
    output wire                         x_ready,
    // fixed-point output block: element e at [e*X_WIDTH +: X_WIDTH], value y * 2^-X_FRAC
    output reg  [BLOCK*X_WIDTH-1:0]     y_data,
    output reg                          y_valid,
    input  wire                         y_ready
);
    localparam logic signed [63:0] C_FX = 64'($rtoi(2.5017385 * (2.0 ** X_FRAC) + 0.5));  // X_FRAC <= 16: fits $rtoi's 32 bits
    localparam logic signed [63:0] A_16 = 9463;
    localparam logic signed [63:0] ONE = 64'sd1 << X_FRAC;

    wire [BLOCK*X_WIDTH-1:0] y_next;
    genvar e;
    generate
        for (e = 0; e < BLOCK; e = e + 1) begin : g_elem
            wire [X_WIDTH-1:0] x_bits;
            mase_mxint_to_fixed #(.EXP_BITS(EXP_BITS), .MAN_BITS(MAN_BITS), .X_WIDTH(X_WIDTH), .X_FRAC(X_FRAC))
                u_to_fixed (.mant(x_mant[e*(MAN_BITS+1) +: MAN_BITS+1]), .exp(x_exp), .fixed(x_bits));
            wire signed [63:0] x = 64'($signed(x_bits));
            wire signed [63:0] a = (x < 0) ? -x : x;
            wire signed [63:0] d = C_FX - ((a < C_FX) ? a : C_FX);
            wire signed [63:0] t = (A_16 * d * d) >>> (16 + X_FRAC);
            wire signed [63:0] l = ONE - t;
            wire signed [63:0] gain = (x < 0) ? ONE - l : ONE + l;
            // |y| <= |x|, so the bits above X_WIDTH are sign copies
            /* verilator lint_off UNUSEDSIGNAL */
            wire signed [63:0] y = (x * gain) >>> (X_FRAC + 1);
            /* verilator lint_on UNUSEDSIGNAL */
            assign y_next[e*X_WIDTH +: X_WIDTH] = y[X_WIDTH-1:0];
        end
    endgenerate

    assign x_ready = !y_valid || y_ready;

    always_ff @(posedge clk) begin
        if (rst) begin
            y_valid <= 1'b0;
            y_data  <= '0;
        end else if (x_ready) begin
            y_valid <= x_valid;
            if (x_valid) y_data <= y_next;
        end
    end
endmodule

`default_nettype wire
