// mase_fixed_dot: two's-complement fixed-point tiled dot product (the int8
// baseline) with exact accumulation.
//
// x elements are X_WIDTH-bit integers qx (value qx * 2^-X_FRAC), w elements
// W_WIDTH-bit integers qw (value qw * 2^-W_FRAC). Every product has the same LSB,
// so no alignment ever happens and the accumulator (mase_dot_accumulator ALIGN=0,
// a plain integer sum) is exact and bounded by construction. After NUM_BLOCKS
// beats of BLOCK_K elements,
//   y(i,j) = y_data(i,j) * 2^-(X_FRAC + W_FRAC),   y_data(i,j) = sum qx[i,k] * qw[j,k]
// exactly. Width: |qx*qw| <= 2^(X_WIDTH-1) 2^(W_WIDTH-1) (both most negative), so a
// sum of BLOCK_K*NUM_BLOCKS products lies in [-2^S, 2^S], S = X_WIDTH + W_WIDTH - 2 +
// clog2(BLOCK_K*NUM_BLOCKS): the exact minimum is
//   ACC_MIN = X_WIDTH + W_WIDTH + clog2(BLOCK_K*NUM_BLOCKS)   (22 for int8 x int8, 16 x 4)
// (the positive end 2^S needs S+2 signed bits; the test drives it). ACC_WIDTH = -1 or 0
// builds ACC_MIN; a wider ACC_WIDTH (e.g. the classic 32-bit int8 accumulator) only
// sign-extends; the catalog refuses narrower ones, naming the minimum. Each lane leaves
// sign-extended to OUT_WIDTH bits (whole 32-bit chunks) at lane i*W_ROWS + j. The
// fraction widths only fix the output LSB; the datapath is integer only.
`default_nettype none

module mase_fixed_dot #(
    parameter int BLOCK_K = 16,    // elements per beat along the reduction axis
    parameter int X_ROWS = 1,      // rows of x per beat
    parameter int W_ROWS = 1,      // rows of w per beat
    parameter int X_WIDTH = 8,     // x element bits (two's complement)
    parameter int W_WIDTH = 8,     // w element bits (two's complement)
    parameter int NUM_BLOCKS = 4,  // beats per dot product (reduction length / BLOCK_K)
    parameter int ACC_WIDTH = -1,  // accumulator bits per lane: -1 / 0 the exact minimum ACC_MIN, else >= ACC_MIN
    localparam int TW = X_WIDTH + W_WIDTH + $clog2(BLOCK_K),  // signed block sum (same bound, BLOCK_K products)
    localparam int ACC_MIN = X_WIDTH + W_WIDTH + $clog2(BLOCK_K * NUM_BLOCKS),
    localparam int ACC_W = ACC_WIDTH > 0 ? ACC_WIDTH : ACC_MIN,
    // rounded up to whole 32-bit chunks, so software reads lanes as 32-bit words
    localparam int OUT_WIDTH = 32 * ((ACC_W + 31) / 32),
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
    // exact sums, output (i, j) at [(i*W_ROWS + j)*OUT_WIDTH +: OUT_WIDTH]
    output wire [LANES*OUT_WIDTH-1:0]        y_data,
    output wire                              y_valid,
    input  wire                              y_ready
);
    wire [LANES*TW-1:0] term_data;
    genvar i, j, k;
    generate
        for (i = 0; i < X_ROWS; i = i + 1) begin : g_i
            for (j = 0; j < W_ROWS; j = j + 1) begin : g_j
                wire signed [TW-1:0] product [BLOCK_K];
                for (k = 0; k < BLOCK_K; k = k + 1) begin : g_k
                    wire signed [X_WIDTH-1:0] qx = x_data[(i*BLOCK_K+k)*X_WIDTH +: X_WIDTH];
                    wire signed [W_WIDTH-1:0] qw = w_data[(j*BLOCK_K+k)*W_WIDTH +: W_WIDTH];
                    assign product[k] = TW'(qx) * TW'(qw);
                end
                reg signed [TW-1:0] block_sum;
                always_comb begin
                    block_sum = '0;
                    for (int kk = 0; kk < BLOCK_K; kk = kk + 1) block_sum = block_sum + product[kk];
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
