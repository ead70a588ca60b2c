// mase_fp4_dot_tree: combinational. The exact dot product of two vectors of N
// FP4 E2M1 codes (sign << 3 | k), in quarter units:
//     y = sum_k half(a[k]) * half(b[k])      (half: mase_fp4_decode, value * 2)
// in sign-magnitude form: the magnitude product half(ka) * half(kb)
// (<= 144, 8 bits) is a function of the two 3-bit magnitude codes only, six
// inputs, so each of its bits is one LUT6 (a signed product of the decoded
// two's-complement values would be a function of eight bits). The sign is
// applied without a negation per product:
//     -p = ~p + 1,   so   y = sum_k (s_k ? ~p_k : p_k) + sum_k s_k
// (the XOR folds into the first adder level; the count of set signs is one more
// leaf of the balanced tree). |y| <= 144 N, so OUT_WIDTH >= clog2(144 N + 1) + 1
// holds it; every partial sum is computed modulo 2^OUT_WIDTH, exact because the
// final value fits. Shared by the MXFP4 and M2XFP dot products.
`default_nettype none

module mase_fp4_dot_tree #(
    parameter int N         = 32,  // elements per vector
    parameter int OUT_WIDTH = 14   // bits of y (>= clog2(144 N + 1) + 1)
) (
    input  wire [N*4-1:0]              a,  // a[k] at [4k +: 4]
    input  wire [N*4-1:0]              b,  // b[k] at [4k +: 4]
    output wire signed [OUT_WIDTH-1:0] y
);
    // leaves 0..N-1: the sign-folded products; leaf N: the count of negative products
    localparam int LEAVES = N + 1;
    wire [N-1:0] neg;
    wire [N*OUT_WIDTH-1:0] folded;
    for (genvar k = 0; k < N; k++) begin : g_prod
        // the magnitudes: mase_fp4_decode of the codes with the sign bit cleared (>= 0)
        wire signed [4:0] half_a, half_b;
        mase_fp4_decode u_a (.code({1'b0, a[4*k +: 3]}), .half(half_a));
        mase_fp4_decode u_b (.code({1'b0, b[4*k +: 3]}), .half(half_b));
        /* verilator lint_off UNUSEDSIGNAL */  // bit 4 of a non-negative half is 0
        wire [4:0] mag_a = half_a, mag_b = half_b;
        /* verilator lint_on UNUSEDSIGNAL */
        wire [7:0]           mag = mag_a[3:0] * mag_b[3:0];  // <= 144
        wire [OUT_WIDTH-1:0] p   = {{(OUT_WIDTH - 8){1'b0}}, mag};
        assign neg[k] = a[4*k + 3] ^ b[4*k + 3];
        assign folded[k*OUT_WIDTH +: OUT_WIDTH] = neg[k] ? ~p : p;
    end
    localparam int CW = $clog2(N + 1);  // the count of negative products
    logic [CW-1:0] negatives;
    always_comb begin
        negatives = '0;
        for (int k = 0; k < N; k++) negatives = negatives + CW'(neg[k]);
    end
    logic [LEAVES*OUT_WIDTH-1:0] s;
    always_comb begin
        s = {OUT_WIDTH'(negatives), folded};
        // level by level, in place (as mase_int_dot_tree): slot i takes slots 2i and 2i+1
        for (int w = LEAVES; w > 1; w = (w + 1) / 2) begin
            for (int i = 0; i < w / 2; i++) begin
                s[i*OUT_WIDTH +: OUT_WIDTH] = s[2*i*OUT_WIDTH +: OUT_WIDTH] + s[(2*i+1)*OUT_WIDTH +: OUT_WIDTH];
            end
            if (w % 2 != 0) s[(w/2)*OUT_WIDTH +: OUT_WIDTH] = s[(w-1)*OUT_WIDTH +: OUT_WIDTH];
        end
    end
    assign y = s[OUT_WIDTH-1:0];
endmodule

`default_nettype wire
