// mase_fixed_round: rounds exact fixed-point lanes once into another
// fixed-point format, half to even, saturating (combinational).
//
// Lane j of in_data is a two's complement integer v (IN_WIDTH bits), value
// v * 2^-IN_FRAC. With SHIFT = IN_FRAC - OUT_FRAC the output integer is
//   SHIFT <= 0: v << -SHIFT                                      (exact)
//   SHIFT >  0: t + (g & (s | t[0])),  t = v >>> SHIFT (floor),
//               g = v[SHIFT-1] (guard), s = |v[SHIFT-2:0] (sticky)
// i.e. round_half_even(v * 2^-SHIFT) on the signed value, then clamped to
// [-2^(OUT_WIDTH-1), 2^(OUT_WIDTH-1) - 1]. That is
// mx_formats.quantize(v * 2^-IN_FRAC, Fixed(OUT_WIDTH, OUT_FRAC)) exactly
// (golden: mase_hwlib.golden.fixed.requantize).
`default_nettype none

module mase_fixed_round #(
    parameter int LANES     = 1,   // lanes rounded in parallel
    parameter int IN_WIDTH  = 16,  // bits of an exact input lane (two's complement)
    parameter int IN_FRAC   = 8,   // fraction bits of the input lanes
    parameter int OUT_WIDTH = 8,   // bits of an output lane (two's complement)
    parameter int OUT_FRAC  = 4    // fraction bits of the output lanes
) (
    input  wire [LANES*IN_WIDTH-1:0]  in_data,
    output wire [LANES*OUT_WIDTH-1:0] out_data
);
    localparam int SHIFT = IN_FRAC - OUT_FRAC;
    localparam int LSH   = SHIFT < 0 ? -SHIFT : 0;   // left shift (finer output grid)
    localparam int RSH   = SHIFT > 0 ? SHIFT : 0;    // right shift (coarser output grid)
    // working width: the left-shifted lane, at least RSH + 2 bits so guard/sticky exist,
    // and one bit above OUT_WIDTH so the saturation compare sees any overflow
    localparam int W0    = IN_WIDTH + LSH + 1;
    localparam int W1    = W0 > RSH + 2 ? W0 : RSH + 2;
    localparam int WIDE  = W1 > OUT_WIDTH + 1 ? W1 : OUT_WIDTH + 1;
    localparam logic signed [WIDE-1:0] OUT_MAX = WIDE'((64'sd1 <<< (OUT_WIDTH - 1)) - 64'sd1);
    localparam logic signed [WIDE-1:0] OUT_MIN = WIDE'(-(64'sd1 <<< (OUT_WIDTH - 1)));

    for (genvar j = 0; j < LANES; j++) begin : g_lane
        wire signed [IN_WIDTH-1:0] v    = in_data[j*IN_WIDTH +: IN_WIDTH];
        wire signed [WIDE-1:0]     wide = WIDE'(v) <<< LSH;
        wire signed [WIDE-1:0]     rounded;
        if (RSH > 0) begin : g_round
            wire signed [WIDE-1:0] t      = wide >>> RSH;
            wire                   guard  = wide[RSH-1];
            wire                   sticky;
            if (RSH > 1) begin : g_sticky
                assign sticky = |wide[RSH-2:0];
            end else begin : g_nosticky
                assign sticky = 1'b0;
            end
            assign rounded = t + WIDE'(guard && (sticky || t[0]));
        end else begin : g_exact
            assign rounded = wide;
        end
        assign out_data[j*OUT_WIDTH +: OUT_WIDTH] =
            rounded > OUT_MAX ? OUT_MAX[OUT_WIDTH-1:0] :
            rounded < OUT_MIN ? OUT_MIN[OUT_WIDTH-1:0] : rounded[OUT_WIDTH-1:0];
    end
endmodule

`default_nettype wire
