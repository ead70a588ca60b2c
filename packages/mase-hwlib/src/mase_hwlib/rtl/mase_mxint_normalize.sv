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
// PIPELINE = 0: combinational (clk, en unused). PIPELINE = 1: the block
// scale (magnitudes, signs, shift, exponent) is registered when en is high and
// the rounding (mase_mxint_round_lane) reads the register, splitting the
// longest path in two; the output then follows the input by one en.
`default_nettype none

module mase_mxint_normalize #(
    parameter int LANES     = 4,   // elements per block
    parameter int IN_WIDTH  = 16,  // bits of each signed input integer A_j
    parameter int LSB_WIDTH = 10,  // bits of the signed LSB exponent L
    parameter int OUT_MAN   = 7,   // output mantissa bits (magnitude), m
    parameter int OUT_EXP   = 8,   // output shared-exponent bits, e
    parameter int PIPELINE  = 0    // 1: a register (enable en) between the block scale and the rounding
) (
    input  wire [LANES*IN_WIDTH-1:0]    in_int,   // lane j at [j*IN_WIDTH +: IN_WIDTH]
    input  wire signed [LSB_WIDTH-1:0]  in_lsb,   // L
    output wire  [LANES*(OUT_MAN+1)-1:0] out_mant,
    output wire  [OUT_EXP-1:0]           out_exp,
    // PIPELINE=1 only: the block scale is registered on en, the rounding follows it
    input  wire                          clk,
    input  wire                          en
);
    localparam int EMAX = (1 << (OUT_EXP - 1)) - 1;
    localparam int OW   = OUT_MAN + 1;
    // signed width that holds L, msb index, +-EMAX, OUT_MAN and their sums
    localparam int SW0  = (LSB_WIDTH > OUT_EXP) ? LSB_WIDTH : OUT_EXP;
    localparam int SW1  = (SW0 > $clog2(IN_WIDTH) + 1) ? SW0 : $clog2(IN_WIDTH) + 1;
    localparam int SW   = ((SW1 > 6) ? SW1 : 6) + 3;

    logic [IN_WIDTH-1:0] mag [LANES];
    logic [IN_WIDTH-1:0] union_mag;
    logic signed [SW-1:0] msb, s_raw, s, shift;
    logic [OUT_EXP-1:0]   exp_c;

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
        exp_c = OUT_EXP'(s);
    end

    // ---- optional register between the block scale and the rounding ---------------
    logic [LANES*IN_WIDTH-1:0] mag_c, mag_r;
    logic [LANES-1:0]          neg_c, neg_r;
    logic signed [SW-1:0]      shift_r;
    logic [OUT_EXP-1:0]        exp_r;
    for (genvar j = 0; j < LANES; j++) begin : g_pack
        assign mag_c[j*IN_WIDTH +: IN_WIDTH] = mag[j];
        assign neg_c[j] = in_int[j*IN_WIDTH + IN_WIDTH - 1];
    end
    if (PIPELINE != 0) begin : g_reg
        always_ff @(posedge clk) begin
            if (en) begin
                mag_r   <= mag_c;
                neg_r   <= neg_c;
                shift_r <= shift;
                exp_r   <= exp_c;
            end
        end
    end else begin : g_comb
        assign mag_r   = mag_c;
        assign neg_r   = neg_c;
        assign shift_r = shift;
        assign exp_r   = exp_c;
        /* verilator lint_off UNUSEDSIGNAL */
        wire unused = &{1'b0, clk, en};
        /* verilator lint_on UNUSEDSIGNAL */
    end
    assign out_exp = exp_r;

    // ---- per element: |A| * 2^-shift rounded half to even, saturated, signed -----
    for (genvar j = 0; j < LANES; j++) begin : g_lane
        mase_mxint_round_lane #(.IN_WIDTH(IN_WIDTH), .SHIFT_WIDTH(SW), .OUT_MAN(OUT_MAN)) u_round (
            .mag(mag_r[j*IN_WIDTH +: IN_WIDTH]), .neg(neg_r[j]), .sh(shift_r), .mant(out_mant[j*OW +: OW])
        );
    end
endmodule

`default_nettype wire
