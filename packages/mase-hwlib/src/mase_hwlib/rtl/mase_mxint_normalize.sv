// mase_mxint_normalize: combinational. Turns an exact block of LANES signed
// integers A_j with a common LSB exponent L (value A_j * 2^L) into an MXInt
// block (OUT_MAN mantissa bits + sign per element, OUT_EXP-bit shared exponent):
//
//   s   = clamp(msb(OR_j |A_j|) + L, -EMAX, EMAX)    EMAX = 2^(OUT_EXP-1) - 1
//   q_j = clamp(round_half_even(A_j * 2^(L - s + OUT_MAN - 1)), +-(2^OUT_MAN - 1))
//   all-zero block: s = -EMAX, q = 0
//
// The OR of the magnitudes has the same top bit as their maximum, so no
// comparator tree is needed. Equals mx_formats.quantize(..., "nearest_even")
// on the exact values. Used by every MXInt operator that produces a block.
`default_nettype none

module mase_mxint_normalize #(
    parameter int LANES     = 4,   // elements per block
    parameter int IN_WIDTH  = 16,  // bits of each signed input integer A_j
    parameter int LSB_WIDTH = 10,  // bits of the signed LSB exponent L
    parameter int OUT_MAN   = 7,   // output mantissa bits (magnitude), m
    parameter int OUT_EXP   = 8    // output shared-exponent bits, e
) (
    input  wire [LANES*IN_WIDTH-1:0]    in_int,   // lane j at [j*IN_WIDTH +: IN_WIDTH]
    input  wire signed [LSB_WIDTH-1:0]  in_lsb,   // L
    output wire  [LANES*(OUT_MAN+1)-1:0] out_mant,
    output logic [OUT_EXP-1:0]           out_exp
);
    localparam int EMAX = (1 << (OUT_EXP - 1)) - 1;
    localparam int OW   = OUT_MAN + 1;
    // signed width that holds L, msb index, +-EMAX, OUT_MAN and their sums
    localparam int SW0  = (LSB_WIDTH > OUT_EXP) ? LSB_WIDTH : OUT_EXP;
    localparam int SW1  = (SW0 > $clog2(IN_WIDTH) + 1) ? SW0 : $clog2(IN_WIDTH) + 1;
    localparam int SW   = ((SW1 > 6) ? SW1 : 6) + 3;
    localparam int QW   = IN_WIDTH + OUT_MAN + 1;  // magnitude after a left shift < 2^OUT_MAN
    localparam logic [QW-1:0] SAT = QW'((1 << OUT_MAN) - 1);

    logic [IN_WIDTH-1:0] mag [LANES];
    logic [IN_WIDTH-1:0] union_mag;
    logic signed [SW-1:0] msb, s_raw, s, shift;

    always_comb begin
        union_mag = '0;
        for (int j = 0; j < LANES; j++) begin
            // |A_j| fits IN_WIDTH unsigned bits, even for the most negative A_j
            mag[j] = in_int[j*IN_WIDTH + IN_WIDTH - 1] ? IN_WIDTH'(-in_int[j*IN_WIDTH +: IN_WIDTH])
                                                       : in_int[j*IN_WIDTH +: IN_WIDTH];
            union_mag = union_mag | mag[j];
        end
        msb = '0;
        for (int i = 0; i < IN_WIDTH; i++) begin
            if (union_mag[i]) msb = SW'(i);
        end
        s_raw = msb + SW'(in_lsb);
        if (union_mag == '0 || s_raw < SW'(-EMAX)) s = SW'(-EMAX);
        else if (s_raw > SW'(EMAX)) s = SW'(EMAX);
        else s = s_raw;
        // right shift that puts the top bit of the block maximum at 2^(OUT_MAN-1)
        shift = s - SW'(OUT_MAN - 1) - SW'(in_lsb);
        out_exp = OUT_EXP'(s);
    end

    // one element: |A| * 2^-shift rounded half to even, saturated, sign restored
    function automatic logic [OW-1:0] round_lane(input logic [IN_WIDTH-1:0] m, input logic neg,
                                                 input logic signed [SW-1:0] sh);
        logic [QW-1:0] wide, trunc, rem, half, q;
        logic          up;
        wide = QW'(m);
        if (sh > 0) begin
            if (sh > SW'(IN_WIDTH)) begin
                q = '0;  // |A| < 2^IN_WIDTH <= half an output step
            end else begin
                trunc = wide >> sh;
                rem   = wide & ((QW'(1) << sh) - QW'(1));
                half  = QW'(1) << (sh - SW'(1));
                up    = (rem > half) || (rem == half && trunc[0]);
                q     = trunc + QW'(up);
            end
        end else if (-sh >= SW'(OUT_MAN)) begin
            q = (wide != '0) ? SAT : '0;  // any non-zero |A| * 2^-sh >= 2^OUT_MAN
        end else begin
            q = wide << (-sh);
        end
        if (q > SAT) q = SAT;
        round_lane = neg ? OW'(-q) : OW'(q);  // (no 'return': Yosys 0.23)
    endfunction

    for (genvar j = 0; j < LANES; j++) begin : g_lane
        assign out_mant[j*OW +: OW] = round_lane(mag[j], in_int[j*IN_WIDTH + IN_WIDTH - 1], shift);
    end
endmodule

`default_nettype wire
