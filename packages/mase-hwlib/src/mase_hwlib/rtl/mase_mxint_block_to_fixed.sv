// mase_mxint_block_to_fixed: MXInt blocks -> fixed-point lanes, one block per
// beat, the tile kept (lane r*BLOCK_0 + c on both sides): the bridge from an
// MXInt operator to a fixed-point one.
//
// An element with mantissa q (IN_MAN+1 bits, two's complement, |q| <= 2^IN_MAN - 1)
// and shared exponent s has the value q * 2^(s - IN_MAN + 1). On the grid of
// Fixed(OUT_WIDTH, OUT_FRAC) that is q * 2^sh, sh = s - IN_MAN + 1 + OUT_FRAC:
//   sh >= 0: q << min(sh, OUT_WIDTH)      (beyond OUT_WIDTH any q != 0 saturates)
//   sh <  0: round_half_even(q * 2^sh)    (|sh| clamped to IN_MAN + 1: the result is 0 there)
// then saturated to [-2^(OUT_WIDTH-1), 2^(OUT_WIDTH-1) - 1]:
// mx_formats.quantize(value, Fixed(OUT_WIDTH, OUT_FRAC)) exactly. (Unlike
// mase_mxint_to_fixed, the per-element floor used inside the non-linear operators,
// this rounds to nearest even, as the quantizer does.)
// One block per cycle, registered output (latency 1).
`default_nettype none

module mase_mxint_block_to_fixed #(
    parameter int BLOCK_0   = 4,  // block elements along the first blocked axis (tile columns)
    parameter int BLOCK_1   = 1,  // block elements along the second blocked axis (tile rows)
    parameter int IN_MAN    = 7,  // input mantissa bits (magnitude)
    parameter int IN_EXP    = 8,  // input shared-exponent bits
    parameter int OUT_WIDTH = 8,  // output lane bits (two's complement)
    parameter int OUT_FRAC  = 4   // output fraction bits
) (
    input  wire                                   clk,
    input  wire                                   rst,      // synchronous, active high
    // input stream: one MXInt block per beat
    input  wire                                   x_valid,
    output wire                                   x_ready,
    input  wire [BLOCK_0*BLOCK_1*(IN_MAN+1)-1:0]  x_mant,
    input  wire [IN_EXP-1:0]                      x_exp,
    // output stream: the block's elements as fixed-point lanes
    output wire                                   y_valid,
    input  wire                                   y_ready,
    output wire [BLOCK_0*BLOCK_1*OUT_WIDTH-1:0]   y_data
);
    localparam int LANES = BLOCK_0 * BLOCK_1;
    localparam int IW    = IN_MAN + 1;
    localparam int LMAX  = OUT_WIDTH;                 // largest useful left shift
    localparam int RMAX  = IN_MAN + 1;                // largest useful right shift
    localparam int WIDE  = IW + LMAX + 2;             // q << LMAX, with room for the rounding carry
    localparam int RW    = $clog2(RMAX + 1);
    localparam int LW    = $clog2(LMAX + 1);
    localparam logic signed [WIDE-1:0] OUT_MAX = WIDE'((64'sd1 <<< (OUT_WIDTH - 1)) - 64'sd1);
    localparam logic signed [WIDE-1:0] OUT_MIN = WIDE'(-(64'sd1 <<< (OUT_WIDTH - 1)));

    wire signed [31:0] sh = 32'($signed(x_exp)) - 32'(IN_MAN - 1) + 32'(OUT_FRAC);
    wire               left = !sh[31];
    wire [LW-1:0]      lsh  = sh > 32'(LMAX) ? LW'(LMAX) : LW'(sh);
    wire [RW-1:0]      rsh  = -sh > 32'(RMAX) ? RW'(RMAX) : RW'(-sh);

    wire [LANES*OUT_WIDTH-1:0] fixed;
    for (genvar j = 0; j < LANES; j++) begin : g_lane
        wire signed [IW-1:0]   q = x_mant[j*IW +: IW];
        wire signed [WIDE-1:0] qw = WIDE'(q);
        // right shift with guard and sticky: t = floor(q / 2^rsh), rounded half to even
        wire signed [WIDE-1:0] t = qw >>> rsh;
        wire [WIDE-1:0]        below = qw - (t <<< rsh);        // remainder, 0 .. 2^rsh - 1
        wire [WIDE-1:0]        half  = (WIDE'(1) << rsh) >> 1;  // 2^(rsh-1) (0 when rsh = 0)
        wire                   inc   = (rsh != '0) && (below > half || (below == half && t[0]));
        wire signed [WIDE-1:0] r = left ? (qw <<< lsh) : t + WIDE'(inc);
        assign fixed[j*OUT_WIDTH +: OUT_WIDTH] = r > OUT_MAX ? OUT_MAX[OUT_WIDTH-1:0] :
                                                 r < OUT_MIN ? OUT_MIN[OUT_WIDTH-1:0] : r[OUT_WIDTH-1:0];
    end

    // output register; x_ready passes y_ready through when it is full
    logic                       out_valid_reg;
    logic [LANES*OUT_WIDTH-1:0] out_data_reg;
    assign x_ready = !out_valid_reg || y_ready;
    assign y_valid = out_valid_reg;
    assign y_data  = out_data_reg;

    always_ff @(posedge clk) begin
        if (x_valid && x_ready) out_data_reg <= fixed;
        if (rst) out_valid_reg <= 1'b0;
        else if (x_ready) out_valid_reg <= x_valid;
    end
endmodule

`default_nettype wire
