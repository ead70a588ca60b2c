// mase_mxint_round_lane: combinational. One element of an MXInt normaliser:
// the magnitude |A| shifted right by SH (left by -SH when SH <= 0), rounded
// half to even, saturated to OUT_MAN bits, with its sign put back:
//
//   q = min(round_half_even(|A| * 2^-SH), 2^OUT_MAN - 1),   out = neg ? -q : q
//
// For SH > 0 the rounding reads the guard bit |A|[SH-1] and the sticky OR of
// the bits below it (round up when guard and (sticky or the kept LSB)), which
// is the same decision as comparing the remainder with half an LSB but needs
// no wide comparator. SH > IN_WIDTH gives 0 (|A| < 2^IN_WIDTH is below half an
// output LSB); SH <= -OUT_MAN saturates any non-zero |A|. Shared by
// mase_mxint_normalize (one SH for the block) and mase_mxint_normalize_lanes
// (one SH per lane).
`default_nettype none

module mase_mxint_round_lane #(
    parameter int IN_WIDTH    = 16,  // bits of the unsigned magnitude |A|
    parameter int SHIFT_WIDTH = 12,  // bits of the signed shift SH
    parameter int OUT_MAN     = 7    // output mantissa bits (magnitude)
) (
    input  wire [IN_WIDTH-1:0]           mag,   // |A|
    input  wire                          neg,   // A < 0
    input  wire signed [SHIFT_WIDTH-1:0] sh,    // right shift
    output logic [OUT_MAN:0]             mant   // two's-complement mantissa
);
    localparam int QW = IN_WIDTH + OUT_MAN + 1;  // |A| << (OUT_MAN - 1) at most
    localparam logic [QW-1:0] SAT = QW'((1 << OUT_MAN) - 1);
    localparam int DW = $clog2(IN_WIDTH + 1);    // holds a right shift of 1..IN_WIDTH

    wire [DW-1:0] d = DW'(sh);  // the right shift when 0 < sh <= IN_WIDTH
    logic [IN_WIDTH-1:0] guard_mask, sticky_mask;
    always_comb begin
        for (int i = 0; i < IN_WIDTH; i++) begin
            guard_mask[i]  = (DW+1)'(i) + 1'b1 == (DW+1)'(d);
            sticky_mask[i] = (DW+1)'(i) + 1'b1 <  (DW+1)'(d);
        end
    end

    wire [IN_WIDTH-1:0] trunc = mag >> d;
    logic [QW-1:0] q;
    always_comb begin
        if (sh > 0) begin
            if (sh > SHIFT_WIDTH'(IN_WIDTH)) q = '0;
            else q = QW'(trunc) + QW'(|(mag & guard_mask) && (|(mag & sticky_mask) || trunc[0]));
        end else if (-sh >= SHIFT_WIDTH'(OUT_MAN)) begin
            q = (mag != '0) ? SAT : '0;  // any non-zero |A| * 2^-sh >= 2^OUT_MAN
        end else begin
            q = QW'(mag) << (-sh);
        end
        if (q > SAT) q = SAT;
        mant = neg ? (OUT_MAN+1)'(-q) : (OUT_MAN+1)'(q);
    end
endmodule

`default_nettype wire
