// mase_int_dot_tree: combinational. The exact dot product of two vectors of N
// signed integers,
//     y = sum_k a[k] * b[k]   (a[k]: A_WIDTH bits, b[k]: B_WIDTH bits, two's complement)
// as N multipliers and a balanced tree of ceil(log2 N) adder levels, so the
// path through it grows with log2 N instead of N (a written-out running sum
// is a chain of N - 1 adders that synthesis keeps as a chain).
// Width: |a[k] b[k]| <= 2^(A_WIDTH-1) 2^(B_WIDTH-1), so |y| <= N 2^(A_WIDTH+B_WIDTH-2)
// and A_WIDTH + B_WIDTH + clog2(N) signed bits always hold it (the callers'
// OUT_WIDTH; a wider OUT_WIDTH only sign-extends, a narrower one wraps).
// Every partial sum is computed modulo 2^OUT_WIDTH, which is exact because the
// final value fits.
`default_nettype none

module mase_int_dot_tree #(
    parameter int N         = 4,   // elements per vector
    parameter int A_WIDTH   = 8,   // bits of each a element
    parameter int B_WIDTH   = 8,   // bits of each b element
    parameter int OUT_WIDTH = 18   // bits of y (>= A_WIDTH + B_WIDTH + clog2(N) for exactness)
) (
    input  wire [N*A_WIDTH-1:0]        a,  // a[k] at [k*A_WIDTH +: A_WIDTH]
    input  wire [N*B_WIDTH-1:0]        b,  // b[k] at [k*B_WIDTH +: B_WIDTH]
    output wire signed [OUT_WIDTH-1:0] y
);
    // level by level, in place: after a level of width w the first ceil(w/2)
    // slots hold the pairwise sums (slot i reads slots 2i and 2i+1, which no
    // earlier slot of the level has overwritten), an odd last slot moves down
    logic [N*OUT_WIDTH-1:0] s;
    always_comb begin
        for (int k = 0; k < N; k++) begin
            s[k*OUT_WIDTH +: OUT_WIDTH] = OUT_WIDTH'($signed(a[k*A_WIDTH +: A_WIDTH]))
                                        * OUT_WIDTH'($signed(b[k*B_WIDTH +: B_WIDTH]));
        end
        for (int w = N; w > 1; w = (w + 1) / 2) begin
            for (int i = 0; i < w / 2; i++) begin
                s[i*OUT_WIDTH +: OUT_WIDTH] = s[2*i*OUT_WIDTH +: OUT_WIDTH] + s[(2*i+1)*OUT_WIDTH +: OUT_WIDTH];
            end
            if (w % 2 != 0) s[(w/2)*OUT_WIDTH +: OUT_WIDTH] = s[(w-1)*OUT_WIDTH +: OUT_WIDTH];
        end
    end
    assign y = s[OUT_WIDTH-1:0];
endmodule

`default_nettype wire
