// mase_bl_dot: block-logarithm (BL) tiled dot product with a bounded
// (block-floating) accumulator.
//
// BL element code (MSB first): sign | exponent code c (EXP_BITS); c = 0 is zero,
// c >= 1 is 2^(c - beta) with one shared bias beta per block. A product of two
// non-zero elements is a signed power of two, so beat b contributes the exact term
//   P_b(i,j) = S_b(i,j) * 2^(L_b),   L_b = 2 - beta_x - beta_w,
//   S_b(i,j) = sum_k [c_x != 0 and c_w != 0] (-1)^(sx^sw) 2^(c_x - 1 + c_w - 1)
// with |S_b| <= BLOCK_K 2^(2(2^E-2)) < 2^(TW-1), TW = 2(2^E-2) + 1 + clog2(BLOCK_K) + 1.
// L_b spans [2 - 2*BIAS_HI, 2 + 2^BIAS_BITS] (every two's-complement bias code is
// accepted), a gap of up to G = 4*BIAS_HI + 2, BIAS_HI = 2^(BIAS_BITS-1) - 1.
//
// Across the N = NUM_BLOCKS beats the terms go into a bounded accumulator exactly
// as in mase_bmf_dot (mase_dot_accumulator ALIGN=1 -> mase_bounded_accumulator):
// F = ACC_W - TW - clog2(N+1) bits below the largest L_b, shifted-out bits rounded
// by ACC_ROUND; output y(i,j) = y_data(i,j) * 2^(y_exp), y_exp = max_b L_b - F.
//
// Width and worst-case error (Lmax = max_b L_b):
//   ACC_WIDTH = -1 (default): F = clog2(N) + 2, ACC_W = TW + clog2(N+1) + clog2(N) + 2;
//   ACC_WIDTH >= TW + clog2(N+1): that width (the catalog refuses narrower, naming the minimum);
//   |y - exact| <= (N-1) 2^(Lmax-F) (ACC_ROUND = 0), (N-1) 2^(Lmax-F-1) (ACC_ROUND = 1),
//   below 2^(Lmax-3) with the default. E.g. BLOCK_K = 16, E = 7, 4 blocks: TW = 258,
//   ACC_W = 265 (exact: 771).
//   ACC_WIDTH = 0: exact, for verification: F = G, ACC_W = TW + clog2(N+1) + G; the output
//   y_data * 2^(y_exp) then equals the exact sum.
// Each lane leaves sign-extended to OUT_WIDTH bits (whole 32-bit chunks), output
// (i, j) at lane i*W_ROWS + j. No multiplier: each product is one shifted bit (the
// point of the format). Bit-exact model: mase_hwlib.golden.dot.bl_dot.
`default_nettype none

module mase_bl_dot #(
    parameter int BLOCK_K = 16,    // block extent along the reduction axis
    parameter int X_ROWS = 1,      // rows of x sharing one bias (block's second extent)
    parameter int W_ROWS = 1,      // rows of w sharing one bias (block's second extent)
    parameter int EXP_BITS = 7,    // element exponent code bits E
    parameter int BIAS_BITS = 8,   // shared bias bits (two's complement)
    parameter int NUM_BLOCKS = 4,  // blocks per dot product (reduction length / BLOCK_K)
    parameter int ACC_WIDTH = -1,  // accumulator bits per lane: -1 derived default, 0 exact
    parameter int ACC_ROUND = 1,   // bits shifted out of the accumulator: 0 truncate, 1 nearest-even
    localparam int EL_WIDTH = 1 + EXP_BITS,
    localparam int BIAS_HI = (1 << (BIAS_BITS - 1)) - 1,
    localparam int GAP_MAX = 4 * BIAS_HI + 2,  // largest L_b difference
    localparam int PROD_WIDTH = 2 * ((1 << EXP_BITS) - 2) + 1,
    localparam int TW = PROD_WIDTH + $clog2(BLOCK_K) + 1,  // signed block sum S_b
    localparam int CARRY = $clog2(NUM_BLOCKS + 1),
    localparam int ACC_W = ACC_WIDTH > 0 ? ACC_WIDTH
                         : ACC_WIDTH == 0 ? TW + CARRY + GAP_MAX            // exact
                         : TW + CARRY + $clog2(NUM_BLOCKS) + 2,             // derived default
    localparam int FRAC = ACC_W - TW - CARRY,
    localparam int LSB_MIN = 2 - 2 * BIAS_HI,
    localparam int LSB_MAX = 2 + 2 * (BIAS_HI + 1),
    // signed exponent width that holds every L_b, R - F and their differences
    localparam int LSB_ABS = (-LSB_MIN > LSB_MAX ? -LSB_MIN : LSB_MAX) + ACC_W,
    localparam int LW = $clog2(LSB_ABS + 1) + 1,
    // rounded up to whole 32-bit chunks, so software reads lanes as 32-bit words
    localparam int OUT_WIDTH = 32 * ((ACC_W + 31) / 32),
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
    // sums, output (i, j) at [(i*W_ROWS + j)*OUT_WIDTH +: OUT_WIDTH], value y_data * 2^(y_exp)
    output wire [LANES*OUT_WIDTH-1:0]        y_data,
    output wire [LW-1:0]                     y_exp,
    output wire                              y_valid,
    input  wire                              y_ready
);
    // ---- the beat's LSB exponent, shared by every lane ----
    wire signed [LW-1:0] term_lsb = LW'(2) - LW'($signed(x_bias)) - LW'($signed(w_bias));

    // ---- per-lane exact block sums S_b ----
    wire [LANES*TW-1:0] term_data;
    genvar i, j, k;
    generate
        for (i = 0; i < X_ROWS; i = i + 1) begin : g_i
            for (j = 0; j < W_ROWS; j = j + 1) begin : g_j
                wire signed [TW-1:0] signed_term [BLOCK_K];
                for (k = 0; k < BLOCK_K; k = k + 1) begin : g_k
                    wire [EL_WIDTH-1:0] xc = x_data[(i*BLOCK_K+k)*EL_WIDTH +: EL_WIDTH];
                    wire [EL_WIDTH-1:0] wc = w_data[(j*BLOCK_K+k)*EL_WIDTH +: EL_WIDTH];
                    wire [EXP_BITS-1:0] x_code = xc[EXP_BITS-1:0];
                    wire [EXP_BITS-1:0] w_code = wc[EXP_BITS-1:0];
                    wire nonzero = (x_code != '0) && (w_code != '0);
                    // (c_x - 1) + (c_w - 1), only used when both codes are >= 1
                    wire [EXP_BITS:0] off_sum = (EXP_BITS + 1)'(x_code) + (EXP_BITS + 1)'(w_code) - (EXP_BITS + 1)'(2);
                    wire signed [TW-1:0] term = nonzero ? $signed(TW'(1) << off_sum) : '0;
                    assign signed_term[k] = (xc[EL_WIDTH-1] ^ wc[EL_WIDTH-1]) ? -term : term;
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

    // ---- join the two input streams and accumulate ----
    wire term_ready;
    wire [LANES*ACC_W-1:0] acc_data;
    wire signed [LW-1:0] acc_lsb;
    assign x_ready = term_ready && w_valid;
    assign w_ready = term_ready && x_valid;

    mase_dot_accumulator #(
        .LANES(LANES), .TERM_WIDTH(TW), .ACC_WIDTH(ACC_W), .NUM_BLOCKS(NUM_BLOCKS),
        .ALIGN(1), .FRAC_BITS(FRAC), .EXP_WIDTH(LW), .ROUND(ACC_ROUND)
    ) u_acc (
        .clk(clk), .rst(rst),
        .term_data(term_data), .term_lsb(term_lsb), .term_valid(x_valid && w_valid), .term_ready(term_ready),
        .y_data(acc_data), .y_lsb(acc_lsb), .y_valid(y_valid), .y_ready(y_ready));

    // the accumulators are ACC_W wide; the port sign-extends each to whole 32-bit chunks
    assign y_exp = acc_lsb;
    genvar lane;
    generate
        for (lane = 0; lane < LANES; lane = lane + 1) begin : g_extend
            assign y_data[lane*OUT_WIDTH +: OUT_WIDTH] = OUT_WIDTH'($signed(acc_data[lane*ACC_W +: ACC_W]));
        end
    endgenerate
endmodule

`default_nettype wire
