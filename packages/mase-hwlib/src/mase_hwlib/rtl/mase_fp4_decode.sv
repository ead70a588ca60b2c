// mase_fp4_decode: combinational. One FP4 E2M1 element code (OCP MX v1.0,
// as mx_formats stores it: sign << 3 | k, k the 3-bit magnitude code e1 e0 m)
// as a signed integer in half units:
//
//   k      0  1    2  3    4  5  6  7
//   value  0  0.5  1  1.5  2  3  4  6      value = half / 2
//   half   0  1    2  3    4  6  8  12     e = k[2:1] = 0: half = k
//                                          e >= 1:     half = (2 + m) << (e - 1)
//
// so an FP4 product is an integer in quarter units and a block of them sums
// exactly. A set sign bit on magnitude 0 (mx_formats never writes one for a
// plain FP4 element) decodes to 0. Used by mase_fp4_dot_tree (magnitudes),
// mase_m2xfp_em_decode and mase_m2xfp_dot.
`default_nettype none

module mase_fp4_decode (
    input  wire [3:0]        code,  // sign | e (2 bits) | m
    output wire signed [4:0] half   // the element's value times 2, in [-12, 12]
);
    wire [1:0] e = code[2:1];
    wire [3:0] mag = (e == 2'd0) ? {3'b000, code[0]} : 4'({1'b1, code[0]}) << (e - 2'd1);

    assign half = code[3] ? -$signed({1'b0, mag}) : $signed({1'b0, mag});
endmodule

`default_nettype wire
