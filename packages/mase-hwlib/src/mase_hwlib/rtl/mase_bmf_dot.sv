// mase_bmf_dot: block-minifloat (BMF) tiled dot product with exact accumulation.
//
// Each beat carries one BMF block of x (X_ROWS rows x BLOCK_K elements along the
// reduction axis, one shared bias beta_x) and one block of w (W_ROWS x BLOCK_K,
// beta_w). Beat b contributes, for every output (i, j),
//   P_b(i,j) = sum_k x[i,k] * w[j,k]
//            = S_b(i,j) * 2^(2 - beta_x - beta_w - 2M),
//   S_b(i,j) = sum_k (-1)^(sx^sw) * mag_x*mag_w * 2^(off_x + off_w)   (an integer)
// (see mase_minifloat_unpack). Blocks with different biases are aligned
// exactly onto one fixed least significant bit by shifting S_b left by
//   shift_b = 2*BIAS_HI - beta_x - beta_w   in [0, 4*BIAS_HI + 2]
// (BIAS_HI = 2^(BIAS_BITS-1) - 1; every two's-complement bias code is accepted).
// After NUM_BLOCKS beats the output is the exact sum
//   y(i,j) = acc(i,j) * 2^(2 - 2*BIAS_HI - 2*MAN_BITS)          (= 2^OUT_LSB_EXP)
// held in ACC_BITS-bit two's-complement accumulators and sent
// sign-extended to ACC_WIDTH bits (whole 32-bit chunks), output (i, j) at lane i*W_ROWS + j.
// The accumulator spans the whole bias range, so it is wide (ACC_BITS = 553,
// ACC_WIDTH = 576 for BLOCK_K = 16, E = 4, M = 3, BIAS_BITS = 8, NUM_BLOCKS = 4);
// each bias bit less halves the 4*BIAS_HI + 2 bits of alignment range.
`default_nettype none

module mase_bmf_dot #(
    parameter int BLOCK_K = 16,    // block extent along the reduction axis
    parameter int X_ROWS = 1,      // rows of x sharing one bias (block's second extent)
    parameter int W_ROWS = 1,      // rows of w sharing one bias (block's second extent)
    parameter int EXP_BITS = 4,    // element exponent bits E
    parameter int MAN_BITS = 3,    // element fraction bits M (>= 1; M = 0 is mase_bl_dot)
    parameter int BIAS_BITS = 8,   // shared bias bits (two's complement)
    parameter int NUM_BLOCKS = 4,  // blocks per dot product (reduction length / BLOCK_K)
    localparam int EL_WIDTH = 1 + EXP_BITS + MAN_BITS,
    localparam int BIAS_HI = (1 << (BIAS_BITS - 1)) - 1,
    localparam int SHIFT_MAX = 4 * BIAS_HI + 2,
    // |mag_x*mag_w| < 2^(2M+2), shifted by at most 2*(2^E - 2)
    localparam int TERM_WIDTH = 2 * (MAN_BITS + 1) + 2 * ((1 << EXP_BITS) - 2),
    localparam int BLOCK_SUM_WIDTH = TERM_WIDTH + $clog2(BLOCK_K) + 1,
    localparam int ACC_BITS = BLOCK_SUM_WIDTH + SHIFT_MAX + $clog2(NUM_BLOCKS),
    // rounded up to whole 32-bit chunks, so software reads lanes as 32-bit words
    localparam int ACC_WIDTH = 32 * ((ACC_BITS + 31) / 32),
    localparam int LANES = X_ROWS * W_ROWS
) (
    input  wire                              clk,
    input  wire                              rst,
    // x blocks: element (i, k) at [(i*BLOCK_K + k)*EL_WIDTH +: EL_WIDTH]
    input  wire [X_ROWS*BLOCK_K*EL_WIDTH-1:0] x_data,
    input  wire [BIAS_BITS-1:0]              x_bias,
    input  wire                              x_valid,
    output wire                              x_ready,
    // w blocks: element (j, k) at [(j*BLOCK_K + k)*EL_WIDTH +: EL_WIDTH]
    input  wire [W_ROWS*BLOCK_K*EL_WIDTH-1:0] w_data,
    input  wire [BIAS_BITS-1:0]              w_bias,
    input  wire                              w_valid,
    output wire                              w_ready,
    // exact sums, output (i, j) at [(i*W_ROWS + j)*ACC_WIDTH +: ACC_WIDTH]
    output wire [LANES*ACC_WIDTH-1:0]        y_data,
    output wire                              y_valid,
    input  wire                              y_ready
);
    // ---- decode every element ----
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

    // ---- block alignment shift, shared by every lane of the beat ----
    wire signed [BIAS_BITS+2:0] shift_signed =
        (BIAS_BITS + 3)'(2 * BIAS_HI) - (BIAS_BITS + 3)'($signed(x_bias)) - (BIAS_BITS + 3)'($signed(w_bias));
    wire [BIAS_BITS+2:0] shift = shift_signed;

    // ---- per-lane block sums, aligned onto the accumulator LSB ----
    wire [LANES*ACC_BITS-1:0] term_data;
    generate
        for (i = 0; i < X_ROWS; i = i + 1) begin : g_i
            for (j = 0; j < W_ROWS; j = j + 1) begin : g_j
                wire signed [BLOCK_SUM_WIDTH-1:0] signed_term [BLOCK_K];
                for (k = 0; k < BLOCK_K; k = k + 1) begin : g_k
                    wire [2*MAN_BITS+1:0] mag_prod =
                        (2*MAN_BITS + 2)'(x_mag[i*BLOCK_K+k]) * (2*MAN_BITS + 2)'(w_mag[j*BLOCK_K+k]);
                    wire [EXP_BITS:0] off_sum =
                        (EXP_BITS + 1)'(x_off[i*BLOCK_K+k]) + (EXP_BITS + 1)'(w_off[j*BLOCK_K+k]);
                    wire signed [BLOCK_SUM_WIDTH-1:0] term =
                        $signed(BLOCK_SUM_WIDTH'(mag_prod) << off_sum);
                    assign signed_term[k] = (x_sign[i*BLOCK_K+k] ^ w_sign[j*BLOCK_K+k]) ? -term : term;
                end
                reg signed [BLOCK_SUM_WIDTH-1:0] block_sum;
                always_comb begin
                    block_sum = '0;
                    for (int kk = 0; kk < BLOCK_K; kk = kk + 1) block_sum = block_sum + signed_term[kk];
                end
                wire signed [ACC_BITS-1:0] widened = ACC_BITS'(block_sum);
                assign term_data[(i*W_ROWS+j)*ACC_BITS +: ACC_BITS] = widened <<< shift;
            end
        end
    endgenerate

    // ---- join the two input streams and accumulate ----
    wire term_ready;
    wire [LANES*ACC_BITS-1:0] acc_data;
    assign x_ready = term_ready && w_valid;
    assign w_ready = term_ready && x_valid;

    mase_dot_accumulator #(.LANES(LANES), .ACC_WIDTH(ACC_BITS), .NUM_BLOCKS(NUM_BLOCKS)) u_acc (
        .clk(clk), .rst(rst),
        .term_data(term_data), .term_valid(x_valid && w_valid), .term_ready(term_ready),
        .y_data(acc_data), .y_valid(y_valid), .y_ready(y_ready));

    // the accumulators are ACC_BITS wide; the port sign-extends each to whole 32-bit chunks
    genvar lane;
    generate
        for (lane = 0; lane < LANES; lane = lane + 1) begin : g_extend
            assign y_data[lane*ACC_WIDTH +: ACC_WIDTH] = ACC_WIDTH'($signed(acc_data[lane*ACC_BITS +: ACC_BITS]));
        end
    endgenerate
endmodule

`default_nettype wire
