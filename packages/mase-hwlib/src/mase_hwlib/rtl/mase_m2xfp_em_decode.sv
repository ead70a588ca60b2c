// mase_m2xfp_em_decode: combinational. The decode unit of one M2XFP
// extra-mantissa (EM, activation) subgroup: SUBGROUP FP4 E2M1 codes
// (sign << 3 | k) and the subgroup's 2-bit metadata.
//
// Every element is its FP4 value except one: the element of largest magnitude
// code k (ties: the lowest index, the rule of mx_formats' encoder, so encoder
// and decoder pick the same element), whose value is the FP6 E2M3 code
//   j = w + meta,   w = clamp(4k - 1, 0, 28) = (k ? 4k - 1 : 0)   (FP4 code k is FP6 code 4k)
// with the element's own sign bit. In eighths of the block scale (value
// eighth * 2^(s - 3)) the FP6 magnitude is
//   j < 16: j,   16 <= j < 24: 2j - 16,   j >= 24: 4j - 64        (j <= 30: <= 56)
// and the FP4 one 4 * half (mase_fp4_decode). This unit does not rewrite the
// element: it gives the picked index and the signed difference
//   delta = (-1)^sign (fp6_eighth(j) - 4 * half(k)),   -4 <= delta <= 8,
// so a dot product keeps its cheap FP4 x FP4 products for the whole subgroup
// and adds one correction product delta * w[pick] (mase_m2xfp_dot):
//   sum_k eighth_x[k] w[k] = 4 sum_k half_x[k] w[k] + delta w[pick].
// Cost: a SUBGROUP-1 long chain of 3-bit compares (the argmax), a 5-bit add,
// a 2-bit-select shift and a subtract, once per subgroup of a row.
`default_nettype none

module mase_m2xfp_em_decode #(
    parameter int SUBGROUP = 8,  // elements sharing one metadata code (>= 2)
    localparam int IW = $clog2(SUBGROUP)
) (
    input  wire [SUBGROUP*4-1:0] codes,  // element i at [4i +: 4]
    input  wire [1:0]            meta,   // FP6 code of the picked element minus w
    output logic [IW-1:0]        pick,   // index of the element with the extra mantissa
    output wire signed [4:0]     delta   // its value minus its FP4 value, in eighths
);
    // ---- the picked element: first index of the largest magnitude code --------
    logic [2:0] k_max;
    logic       sign;
    always_comb begin
        k_max = codes[2:0];
        sign  = codes[3];
        pick  = '0;
        for (int i = 1; i < SUBGROUP; i++) begin
            if (codes[4*i +: 3] > k_max) begin  // strictly larger: an equal later code never wins
                k_max = codes[4*i +: 3];
                sign  = codes[4*i + 3];
                pick  = IW'(i);
            end
        end
    end

    // ---- its FP6 E2M3 magnitude in eighths, and the FP4 one --------------------
    wire [4:0] window = (k_max == 3'd0) ? 5'd0 : {k_max, 2'b00} - 5'd1;  // 4k - 1 <= 27 < 28
    wire [4:0] j      = window + {3'b000, meta};
    logic [5:0] fp6_eighth;
    always_comb begin
        case (j[4:3])
            2'd0, 2'd1: fp6_eighth = {1'b0, j};                    // j
            2'd2:       fp6_eighth = {2'b00, j[2:0], 1'b0} + 6'd16; // 2j - 16 = 16 + 2f
            default:    fp6_eighth = {1'b0, j[2:0], 2'b00} + 6'd32; // 4j - 64 = 32 + 4f
        endcase
    end
    wire signed [4:0] fp4_half;
    mase_fp4_decode u_fp4 (.code({1'b0, k_max}), .half(fp4_half));
    // the difference lies in [-4, 8]: its low 5 bits are all of it
    /* verilator lint_off UNUSEDSIGNAL */
    wire signed [6:0] diff = $signed({1'b0, fp6_eighth}) - (7'(fp4_half) <<< 2);
    /* verilator lint_on UNUSEDSIGNAL */
    assign delta = sign ? -diff[4:0] : diff[4:0];
endmodule

`default_nettype wire
