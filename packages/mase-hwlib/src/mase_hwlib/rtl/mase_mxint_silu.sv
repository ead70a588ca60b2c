// mase_mxint_silu: SiLU (x * sigmoid(x), the gate of LLaMA's FFN) on MXInt blocks, integer-only.
//
// Each element is first converted to fixed point (mase_mxint_to_fixed, X_FRAC
// fraction bits, floor, saturating). sigmoid(|x|) = 1 / (1 + e^-|x|), and e^-|x|
// is the softmax's integer exponential (mase_mxint_softmax, same constants):
//   exp(-a) = 2^-(u),  u = a * log2(e) >= 0,  u = z + r, z integer, r in [0,1)
//   2^-r ~ 1 - 0.6699 r + 0.1699 r^2   (exact at r = 0 and r = 1, max rel. error 0.27%)
// in integers (16 fraction bits for r and for the exponential), F = X_FRAC:
//   u_q = |x| * LOG2E_16                (F + 16 fraction bits, LOG2E_16 = 94548)
//   z   = u_q >> (F + 16),   r = (u_q >> F) mod 2^16
//   p   = 2^16 - ((43903 * r) >> 16) + ((11135 * r * r) >> 32)
//   e   = p >> min(z, 17)                (~ 2^16 e^-|x|, e <= 2^16)
// then one division per element, sigmoid(x) = 2^16/(2^16 + e) for x >= 0 and
// e/(2^16 + e) below 0:
//   y = trunc(x * (x >= 0 ? 2^16 : e) / (2^16 + e))       (toward zero)
// y is on the same X_WIDTH/X_FRAC grid as x (|y| <= |x| never overflows). Max error
// against float SiLU on [-16, 16): 0.0044 at X_FRAC = 8, 0.0016 at 10, 0.00084 at 12.
// One block per beat, one register stage; the output is fixed point, not MXInt.
`default_nettype none

module mase_mxint_silu #(
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
    localparam logic signed [63:0] LOG2E_16 = 94548;
    localparam logic signed [63:0] POLY_A1 = 43903;
    localparam logic signed [63:0] POLY_A2 = 11135;
    localparam logic signed [63:0] ONE_16 = 64'sd65536;

    wire [BLOCK*X_WIDTH-1:0] y_next;
    genvar e;
    generate
        for (e = 0; e < BLOCK; e = e + 1) begin : g_elem
            wire [X_WIDTH-1:0] x_bits;
            mase_mxint_to_fixed #(.EXP_BITS(EXP_BITS), .MAN_BITS(MAN_BITS), .X_WIDTH(X_WIDTH), .X_FRAC(X_FRAC))
                u_to_fixed (.mant(x_mant[e*(MAN_BITS+1) +: MAN_BITS+1]), .exp(x_exp), .fixed(x_bits));
            wire signed [63:0] x = 64'($signed(x_bits));
            wire [63:0] a = (x < 0) ? 64'(-x) : 64'(x);
            wire [63:0] u_q = a * LOG2E_16;
            wire [63:0] z = u_q >> (X_FRAC + 16);
            wire [63:0] r = (u_q >> X_FRAC) & 64'hFFFF;
            wire [63:0] p = 64'd65536 - ((POLY_A1 * r) >> 16) + ((POLY_A2 * r * r) >> 32);
            wire [63:0] e_value = p >> ((z > 64'd17) ? 64'd17 : z);   // <= 2^16
            wire signed [63:0] gate = (x < 0) ? $signed(e_value) : ONE_16;
            wire signed [63:0] denominator = ONE_16 + $signed(e_value);
            // both operands signed: the division truncates toward zero
            /* verilator lint_off UNUSEDSIGNAL */
            wire signed [63:0] y = (x * gate) / denominator;   // |y| <= |x|: upper bits are sign copies
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
