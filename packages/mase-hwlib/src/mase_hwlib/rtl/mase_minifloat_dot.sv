// mase_minifloat_dot: scalar minifloat (e.g. FP8 MiniFloat(4,3,7)) tiled dot
// product with an exact fixed-point (Kulisch) accumulator: the FP8 baseline.
//
// Elements are independent minifloats with the fixed bias EXP_BIAS (no shared
// scale). With mase_minifloat_unpack, x*w = (-1)^(sx^sw) mag_x*mag_w *
// 2^(off_x + off_w) * 2^(2 - 2*EXP_BIAS - 2*MAN_BITS), so every product is an
// integer on one common LSB: no alignment between beats ever happens, and the
// accumulator is exact and bounded by construction (mase_dot_accumulator ALIGN=0,
// a plain integer sum):
//   y(i,j) = y_data(i,j) * 2^(2 - 2*EXP_BIAS - 2*MAN_BITS)          (= 2^OUT_LSB_EXP)
// Width: |mag_x*mag_w| <= (2^(M+1)-1)^2 < 2^(2M+2), shifted by at most 2(2^E-2),
// so a product is below 2^PROD_WIDTH, PROD_WIDTH = 2(M+1) + 2(2^E-2); a block sum
// of BLOCK_K of them is below 2^(PROD_WIDTH + clog2(BLOCK_K)) (TW = that + 1 signed
// bits), and NUM_BLOCKS block sums below 2^(PROD_WIDTH + clog2(BLOCK_K) +
// clog2(NUM_BLOCKS)): the exact minimum is
//   ACC_MIN = PROD_WIDTH + clog2(BLOCK_K) + 1 + clog2(NUM_BLOCKS)   (43 for FP8 E4M3, 16 x 4).
// ACC_WIDTH = -1 or 0 builds ACC_MIN; a wider ACC_WIDTH is sign-extension only (e.g. a
// 64-bit accumulator); the catalog refuses narrower ones, naming the minimum.
// Each lane leaves sign-extended to OUT_WIDTH bits (whole 32-bit chunks), output
// (i, j) at lane i*W_ROWS + j. The bias only fixes the output LSB, so it is not an
// RTL parameter: golden.dot.minifloat_out_lsb_exp gives it.
`default_nettype none

module mase_minifloat_dot #(
    parameter int BLOCK_K = 16,    // elements per beat along the reduction axis
    parameter int X_ROWS = 1,      // rows of x per beat
    parameter int W_ROWS = 1,      // rows of w per beat
    parameter int EXP_BITS = 4,    // element exponent bits E
    parameter int MAN_BITS = 3,    // element fraction bits M (>= 1)
    parameter int NUM_BLOCKS = 4,  // beats per dot product (reduction length / BLOCK_K)
    parameter int ACC_WIDTH = -1,  // accumulator bits per lane: -1 / 0 the exact minimum ACC_MIN, else >= ACC_MIN
    localparam int EL_WIDTH = 1 + EXP_BITS + MAN_BITS,
    localparam int PROD_WIDTH = 2 * (MAN_BITS + 1) + 2 * ((1 << EXP_BITS) - 2),
    localparam int TW = PROD_WIDTH + $clog2(BLOCK_K) + 1,  // signed block sum
    localparam int ACC_MIN = TW + $clog2(NUM_BLOCKS),
    localparam int ACC_W = ACC_WIDTH > 0 ? ACC_WIDTH : ACC_MIN,
    // rounded up to whole 32-bit chunks, so software reads lanes as 32-bit words
    localparam int OUT_WIDTH = 32 * ((ACC_W + 31) / 32),
    localparam int LANES = X_ROWS * W_ROWS
) (
    input  wire                              clk,
    input  wire                              rst,
    // x tile: element (i, k) at [(i*BLOCK_K + k)*EL_WIDTH +: EL_WIDTH]
    input  wire [X_ROWS*BLOCK_K*EL_WIDTH-1:0] x_data,
    input  wire                              x_valid,
    output wire                              x_ready,
    // w tile: element (j, k) at [(j*BLOCK_K + k)*EL_WIDTH +: EL_WIDTH]
    input  wire [W_ROWS*BLOCK_K*EL_WIDTH-1:0] w_data,
    input  wire                              w_valid,
    output wire                              w_ready,
    // exact sums, output (i, j) at [(i*W_ROWS + j)*OUT_WIDTH +: OUT_WIDTH]
    output wire [LANES*OUT_WIDTH-1:0]        y_data,
    output wire                              y_valid,
    input  wire                              y_ready
);
    wire                x_sign [X_ROWS*BLOCK_K];
    wire [MAN_BITS:0]   x_mag  [X_ROWS*BLOCK_K];
    wire [EXP_BITS-1:0] x_off  [X_ROWS*BLOCK_K];
    wire                w_sign [W_ROWS*BLOCK_K];
    wire [MAN_BITS:0]   w_mag  [W_ROWS*BLOCK_K];
    wire [EXP_BITS-1:0] w_off  [W_ROWS*BLOCK_K];

    genvar e, i, j, k;
    generate
        for (e = 0; e < X_ROWS * BLOCK_K; e = e + 1) begin : g_x
            mase_minifloat_unpack #(.EXP_BITS(EXP_BITS), .MAN_BITS(MAN_BITS)) u_unpack (
                .code(x_data[e*EL_WIDTH +: EL_WIDTH]),
                .sign(x_sign[e]), .mag(x_mag[e]), .exp_off(x_off[e]));
        end
        for (e = 0; e < W_ROWS * BLOCK_K; e = e + 1) begin : g_w
            mase_minifloat_unpack #(.EXP_BITS(EXP_BITS), .MAN_BITS(MAN_BITS)) u_unpack (
                .code(w_data[e*EL_WIDTH +: EL_WIDTH]),
                .sign(w_sign[e]), .mag(w_mag[e]), .exp_off(w_off[e]));
        end
    endgenerate

    wire [LANES*TW-1:0] term_data;
    generate
        for (i = 0; i < X_ROWS; i = i + 1) begin : g_i
            for (j = 0; j < W_ROWS; j = j + 1) begin : g_j
                wire signed [TW-1:0] signed_term [BLOCK_K];
                for (k = 0; k < BLOCK_K; k = k + 1) begin : g_k
                    wire [2*MAN_BITS+1:0] mag_prod =
                        (2*MAN_BITS + 2)'(x_mag[i*BLOCK_K+k]) * (2*MAN_BITS + 2)'(w_mag[j*BLOCK_K+k]);
                    wire [EXP_BITS:0] off_sum =
                        (EXP_BITS + 1)'(x_off[i*BLOCK_K+k]) + (EXP_BITS + 1)'(w_off[j*BLOCK_K+k]);
                    wire signed [TW-1:0] term =
                        $signed(TW'(mag_prod) << off_sum);
                    assign signed_term[k] = (x_sign[i*BLOCK_K+k] ^ w_sign[j*BLOCK_K+k]) ? -term : term;
                end
                reg signed [TW-1:0] block_sum;
                always_comb begin
                    block_sum = '0;
                    for (int kk = 0; kk < BLOCK_K; kk = kk + 1) block_sum = block_sum + signed_term[kk];
                end
                assign term_data[(i*W_ROWS+j)*TW +: TW] = block_sum;
            end
        end
    endgenerate

    wire term_ready;
    wire [LANES*ACC_W-1:0] acc_data;
    assign x_ready = term_ready && w_valid;
    assign w_ready = term_ready && x_valid;

    // one common LSB: a plain integer sum (ALIGN = 0), exact in ACC_W >= ACC_MIN bits
    /* verilator lint_off PINCONNECTEMPTY */
    mase_dot_accumulator #(
        .LANES(LANES), .TERM_WIDTH(TW), .ACC_WIDTH(ACC_W), .NUM_BLOCKS(NUM_BLOCKS), .ALIGN(0)
    ) u_acc (
        .clk(clk), .rst(rst),
        .term_data(term_data), .term_lsb(2'b0), .term_valid(x_valid && w_valid), .term_ready(term_ready),
        .y_data(acc_data), .y_lsb(), .y_valid(y_valid), .y_ready(y_ready));
    /* verilator lint_on PINCONNECTEMPTY */

    // the accumulators are ACC_W wide; the port sign-extends each to whole 32-bit chunks
    genvar lane;
    generate
        for (lane = 0; lane < LANES; lane = lane + 1) begin : g_extend
            assign y_data[lane*OUT_WIDTH +: OUT_WIDTH] = OUT_WIDTH'($signed(acc_data[lane*ACC_W +: ACC_W]));
        end
    endgenerate
endmodule

`default_nettype wire
