// mase_mxint_normalize_lanes: combinational. Like mase_mxint_normalize, but
// every lane j brings its own LSB exponent L_j (value A_j * 2^L_j), as when a
// block is gathered from elements of several source blocks:
//
//   s   = clamp(max_j (msb(|A_j|) + L_j) over A_j != 0, -EMAX, EMAX)
//   q_j = clamp(round_half_even(A_j * 2^(L_j - s + OUT_MAN - 1)), +-(2^OUT_MAN - 1))
//   all-zero block: s = -EMAX, q = 0
//
// Each lane is shifted by its own amount, so no common alignment (and no wide
// adder) is needed; the result equals normalising the exactly aligned block,
// i.e. mx_formats.quantize(..., "nearest_even") of the exact values.
`default_nettype none

module mase_mxint_normalize_lanes #(
    parameter int LANES     = 4,   // elements per block
    parameter int IN_WIDTH  = 8,   // bits of each signed input integer A_j
    parameter int LSB_WIDTH = 10,  // bits of each signed LSB exponent L_j
    parameter int OUT_MAN   = 7,   // output mantissa bits (magnitude), m
    parameter int OUT_EXP   = 8    // output shared-exponent bits, e
) (
    input  wire [LANES*IN_WIDTH-1:0]     in_int,   // lane j at [j*IN_WIDTH +: IN_WIDTH]
    input  wire [LANES*LSB_WIDTH-1:0]    in_lsb,   // L_j at [j*LSB_WIDTH +: LSB_WIDTH], signed
    output wire [LANES*(OUT_MAN+1)-1:0]  out_mant,
    output logic [OUT_EXP-1:0]           out_exp
);
    localparam int EMAX = (1 << (OUT_EXP - 1)) - 1;
    localparam int OW   = OUT_MAN + 1;
    // signed width that holds L_j, msb index, +-EMAX, OUT_MAN and their sums
    localparam int SW0  = (LSB_WIDTH > OUT_EXP) ? LSB_WIDTH : OUT_EXP;
    localparam int SW1  = (SW0 > $clog2(IN_WIDTH) + 1) ? SW0 : $clog2(IN_WIDTH) + 1;
    localparam int SW   = ((SW1 > 6) ? SW1 : 6) + 3;

    logic [IN_WIDTH-1:0]  mag [LANES];
    logic signed [SW-1:0] lsb [LANES];
    logic signed [SW-1:0] top_lane [LANES];  // msb(|A_j|) + L_j
    logic                 nz [LANES];        // A_j != 0
    logic signed [SW-1:0] top, s;
    logic                 any;

    // per lane (in parallel): magnitude, its top bit and that bit's exponent
    always_comb begin
        for (int j = 0; j < LANES; j++) begin
            // |A_j| fits IN_WIDTH unsigned bits, even for the most negative A_j
            mag[j] = in_int[j*IN_WIDTH + IN_WIDTH - 1] ? IN_WIDTH'(-in_int[j*IN_WIDTH +: IN_WIDTH])
                                                       : in_int[j*IN_WIDTH +: IN_WIDTH];
            lsb[j] = SW'($signed(in_lsb[j*LSB_WIDTH +: LSB_WIDTH]));
            nz[j] = mag[j] != '0;
            top_lane[j] = lsb[j];
            for (int i = 1; i < IN_WIDTH; i++) begin
                if (mag[j][i]) top_lane[j] = SW'(i) + lsb[j];
            end
        end
    end

    // the block's top exponent: the largest over the non-zero lanes, clamped
    always_comb begin
        any = 1'b0;
        top = '0;
        for (int j = 0; j < LANES; j++) begin
            if (nz[j] && (!any || top_lane[j] > top)) begin
                top = top_lane[j];
                any = 1'b1;
            end
        end
        if (!any || top < SW'(-EMAX)) s = SW'(-EMAX);
        else if (top > SW'(EMAX)) s = SW'(EMAX);
        else s = top;
        out_exp = OUT_EXP'(s);
    end

    for (genvar j = 0; j < LANES; j++) begin : g_lane
        // right shift that puts the block maximum's top bit at 2^(OUT_MAN-1), for this lane's LSB
        wire signed [SW-1:0] shift = s - SW'(OUT_MAN - 1) - lsb[j];
        mase_mxint_round_lane #(.IN_WIDTH(IN_WIDTH), .SHIFT_WIDTH(SW), .OUT_MAN(OUT_MAN)) u_round (
            .mag(mag[j]), .neg(in_int[j*IN_WIDTH + IN_WIDTH - 1]), .sh(shift), .mant(out_mant[j*OW +: OW])
        );
    end
endmodule

`default_nettype wire
