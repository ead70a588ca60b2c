// mase_fixed_dot: two's-complement fixed-point tiled dot product (the int8
// baseline) with exact accumulation.
//
// x elements are X_WIDTH-bit integers qx (value qx * 2^-X_FRAC), w elements
// W_WIDTH-bit integers qw (value qw * 2^-W_FRAC). After NUM_BLOCKS beats of
// BLOCK_K elements,
//   y(i,j) = acc(i,j) * 2^-(X_FRAC + W_FRAC),   acc(i,j) = sum qx[i,k] * qw[j,k]
// exactly, held in ACC_BITS-bit two's-complement accumulators and sent
// sign-extended to ACC_WIDTH bits (whole 32-bit chunks) at lane i*W_ROWS + j.
// The fraction widths only fix the output LSB; the datapath is integer only.
`default_nettype none

module mase_fixed_dot #(
    parameter int BLOCK_K = 16,    // elements per beat along the reduction axis
    parameter int X_ROWS = 1,      // rows of x per beat
    parameter int W_ROWS = 1,      // rows of w per beat
    parameter int X_WIDTH = 8,     // x element bits (two's complement)
    parameter int W_WIDTH = 8,     // w element bits (two's complement)
    parameter int NUM_BLOCKS = 4,  // beats per dot product (reduction length / BLOCK_K)
    // |qx*qw| <= 2^(X_WIDTH+W_WIDTH-2); a sum of BLOCK_K*NUM_BLOCKS of them fits in
    localparam int ACC_BITS = X_WIDTH + W_WIDTH + $clog2(BLOCK_K * NUM_BLOCKS),
    // rounded up to whole 32-bit chunks, so software reads lanes as 32-bit words
    localparam int ACC_WIDTH = 32 * ((ACC_BITS + 31) / 32),
    localparam int LANES = X_ROWS * W_ROWS
) (
    input  wire                              clk,
    input  wire                              rst,
    // x tile: element (i, k) at [(i*BLOCK_K + k)*X_WIDTH +: X_WIDTH]
    input  wire [X_ROWS*BLOCK_K*X_WIDTH-1:0] x_data,
    input  wire                              x_valid,
    output wire                              x_ready,
    // w tile: element (j, k) at [(j*BLOCK_K + k)*W_WIDTH +: W_WIDTH]
    input  wire [W_ROWS*BLOCK_K*W_WIDTH-1:0] w_data,
    input  wire                              w_valid,
    output wire                              w_ready,
    // exact sums, output (i, j) at [(i*W_ROWS + j)*ACC_WIDTH +: ACC_WIDTH]
    output wire [LANES*ACC_WIDTH-1:0]        y_data,
    output wire                              y_valid,
    input  wire                              y_ready
);
    wire [LANES*ACC_BITS-1:0] term_data;
    genvar i, j, k;
    generate
        for (i = 0; i < X_ROWS; i = i + 1) begin : g_i
            for (j = 0; j < W_ROWS; j = j + 1) begin : g_j
                wire signed [ACC_BITS-1:0] product [BLOCK_K];
                for (k = 0; k < BLOCK_K; k = k + 1) begin : g_k
                    wire signed [X_WIDTH-1:0] qx = x_data[(i*BLOCK_K+k)*X_WIDTH +: X_WIDTH];
                    wire signed [W_WIDTH-1:0] qw = w_data[(j*BLOCK_K+k)*W_WIDTH +: W_WIDTH];
                    assign product[k] = ACC_BITS'(qx) * ACC_BITS'(qw);
                end
                reg signed [ACC_BITS-1:0] block_sum;
                always_comb begin
                    block_sum = '0;
                    for (int kk = 0; kk < BLOCK_K; kk = kk + 1) block_sum = block_sum + product[kk];
                end
                assign term_data[(i*W_ROWS+j)*ACC_BITS +: ACC_BITS] = block_sum;
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
