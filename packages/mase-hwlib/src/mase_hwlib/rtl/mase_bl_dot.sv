// mase_bl_dot: block-logarithm (BL) tiled dot product with exact accumulation.
//
// BL element code (MSB first): sign | exponent code c (EXP_BITS); c = 0 is zero,
// c >= 1 is 2^(c - beta) with one shared bias beta per block. A product of two
// non-zero elements is a signed power of two, so beat b contributes
//   P_b(i,j) = S_b(i,j) * 2^(2 - beta_x - beta_w),
//   S_b(i,j) = sum_k [c_x != 0 and c_w != 0] (-1)^(sx^sw) 2^(c_x - 1 + c_w - 1)
// and, exactly as in mase_bmf_dot, blocks are aligned by
//   shift_b = 2*BIAS_HI - beta_x - beta_w,  BIAS_HI = 2^(BIAS_BITS-1) - 1,
// so after NUM_BLOCKS beats
//   y(i,j) = acc(i,j) * 2^(2 - 2*BIAS_HI)                     (= 2^OUT_LSB_EXP)
// held in ACC_BITS-bit two's-complement accumulators and sent
// sign-extended to ACC_WIDTH bits (whole 32-bit chunks), output (i, j) at lane i*W_ROWS + j.
// No multiplier: each product is one shifted bit (the point of the format).
`default_nettype none

module mase_bl_dot #(
    parameter int BLOCK_K = 16,    // block extent along the reduction axis
    parameter int X_ROWS = 1,      // rows of x sharing one bias (block's second extent)
    parameter int W_ROWS = 1,      // rows of w sharing one bias (block's second extent)
    parameter int EXP_BITS = 7,    // element exponent code bits E
    parameter int BIAS_BITS = 8,   // shared bias bits (two's complement)
    parameter int NUM_BLOCKS = 4,  // blocks per dot product (reduction length / BLOCK_K)
    localparam int EL_WIDTH = 1 + EXP_BITS,
    localparam int BIAS_HI = (1 << (BIAS_BITS - 1)) - 1,
    localparam int SHIFT_MAX = 4 * BIAS_HI + 2,
    localparam int TERM_WIDTH = 2 * ((1 << EXP_BITS) - 2) + 1,
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
    wire signed [BIAS_BITS+2:0] shift_signed =
        (BIAS_BITS + 3)'(2 * BIAS_HI) - (BIAS_BITS + 3)'($signed(x_bias)) - (BIAS_BITS + 3)'($signed(w_bias));
    wire [BIAS_BITS+2:0] shift = shift_signed;

    wire [LANES*ACC_BITS-1:0] term_data;
    genvar i, j, k;
    generate
        for (i = 0; i < X_ROWS; i = i + 1) begin : g_i
            for (j = 0; j < W_ROWS; j = j + 1) begin : g_j
                wire signed [BLOCK_SUM_WIDTH-1:0] signed_term [BLOCK_K];
                for (k = 0; k < BLOCK_K; k = k + 1) begin : g_k
                    wire [EL_WIDTH-1:0] xc = x_data[(i*BLOCK_K+k)*EL_WIDTH +: EL_WIDTH];
                    wire [EL_WIDTH-1:0] wc = w_data[(j*BLOCK_K+k)*EL_WIDTH +: EL_WIDTH];
                    wire [EXP_BITS-1:0] x_code = xc[EXP_BITS-1:0];
                    wire [EXP_BITS-1:0] w_code = wc[EXP_BITS-1:0];
                    wire nonzero = (x_code != '0) && (w_code != '0);
                    // (c_x - 1) + (c_w - 1), only used when both codes are >= 1
                    wire [EXP_BITS:0] off_sum = (EXP_BITS + 1)'(x_code) + (EXP_BITS + 1)'(w_code) - (EXP_BITS + 1)'(2);
                    wire signed [BLOCK_SUM_WIDTH-1:0] term =
                        nonzero ? $signed(BLOCK_SUM_WIDTH'(1) << off_sum) : '0;
                    assign signed_term[k] = (xc[EL_WIDTH-1] ^ wc[EL_WIDTH-1]) ? -term : term;
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
