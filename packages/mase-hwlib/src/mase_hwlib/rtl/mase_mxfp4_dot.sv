// mase_mxfp4_dot: OCP MXFP4 (FP4 E2M1 elements, one E8M0 scale per block of
// BLOCK_K along the reduction axis) tiled dot product: the baseline of the
// M2XFP dot product (mase_m2xfp_dot), on the same tiles and back end.
//
// Each beat carries one block of X_ROWS rows of x and one of W_ROWS rows of w:
// element codes (sign << 3 | k, as mx_formats stores them) and per row one
// E8M0 code e = s + 127 (255: a NaN block, mx_formats' scale 128). An element
// is half * 2^(s - 1) (half = value * 2, |half| <= 12, mase_fp4_decode), so
// output (i, j) of beat b is the exact integer
//   P_b(i,j) = sum_k half_x[i,k] * half_w[j,k]   on the LSB  L = e_x[i] + e_w[j] - 256
// (= s_x + s_w - 2), |P| <= 144 * BLOCK_K < 2^(TW-1), TW = clog2(144 BLOCK_K + 1) + 1,
// from mase_fp4_dot_tree (sign-magnitude products of the codes, a balanced
// tree), and NaN when either row's scale is 255.
// The NUM_BLOCKS beats of a sum go through mase_scaled_block_accumulator: per
// lane a bounded accumulator (its own exponent, since every lane pairs its
// own two scales), ACC_W bits, F = ACC_W - TW - clog2(N+1) below the largest L:
//   ACC_WIDTH = -1 (default): F = clog2(N) + 2, ACC_W = TW + clog2(N+1) + clog2(N) + 2,
//     |y - exact| <= (N-1) 2^(Lmax-F-1) < 2^(Lmax-3) with ACC_ROUND = 1
//     ((N-1) 2^(Lmax-F) truncating); e.g. BLOCK_K = 32, N = 4: TW = 14, ACC_W = 21;
//   ACC_WIDTH >= TW + clog2(N+1): that width (the catalog refuses narrower);
//   ACC_WIDTH = 0: exact, for verification (F = 510, the largest L gap; ACC_W = 527 at the example).
// Output: lane l = i*W_ROWS + j is y_data(l) * 2^(y_exp(l)), NaN when y_nan(l);
// y_data lanes sign-extended to whole 32-bit chunks (OUT_WIDTH).
// Why an integer and an exponent per lane, not an MXInt block: the lanes of a
// tile carry different scale pairs, so a shared output exponent would round
// every lane but the largest a second time; the consumer (the next layer's
// online MXFP4 / M2XFP quantizer, or a float accumulator) rounds once from the
// exact-as-built per-lane value instead.
// Bit-exact model: mase_hwlib.golden.m2xfp.mxfp4_dot.
`default_nettype none

module mase_mxfp4_dot #(
    parameter int BLOCK_K    = 32,  // elements per block along the reduction axis (OCP: 32)
    parameter int X_ROWS     = 1,   // rows (blocks) of x per beat
    parameter int W_ROWS     = 1,   // rows (blocks) of w per beat
    parameter int NUM_BLOCKS = 4,   // beats per dot product (reduction length / BLOCK_K)
    parameter int ACC_WIDTH  = -1,  // accumulator bits per lane: -1 derived default, 0 exact
    parameter int ACC_ROUND  = 1,   // bits shifted out of the accumulator: 0 truncate, 1 nearest-even
    localparam int TW      = $clog2(144 * BLOCK_K + 1) + 1,  // signed block-pair sum
    localparam int CARRY   = $clog2(NUM_BLOCKS + 1),
    localparam int LSB_MIN = -256,  // e_x + e_w - 256 over every E8M0 code (255 included)
    localparam int LSB_MAX = 254,
    localparam int ACC_W   = ACC_WIDTH > 0 ? ACC_WIDTH
                           : ACC_WIDTH == 0 ? TW + CARRY + (LSB_MAX - LSB_MIN)   // exact
                           : TW + CARRY + $clog2(NUM_BLOCKS) + 2,                // derived default
    localparam int FRAC    = ACC_W - TW - CARRY,
    // signed exponent width that holds every L, R - F and their differences
    localparam int LW      = $clog2((-LSB_MIN > LSB_MAX ? -LSB_MIN : LSB_MAX) + ACC_W + 1) + 1,
    localparam int OUT_WIDTH = 32 * ((ACC_W + 31) / 32),
    localparam int LANES   = X_ROWS * W_ROWS
) (
    input  wire                           clk,
    input  wire                           rst,      // synchronous, active high
    // x blocks: element (i, k) at [(i*BLOCK_K + k)*4 +: 4], scale of row i at [8i +: 8]
    input  wire [X_ROWS*BLOCK_K*4-1:0]    x_data,
    input  wire [X_ROWS*8-1:0]            x_scale,
    input  wire                           x_valid,
    output wire                           x_ready,
    // w blocks: element (j, k) at [(j*BLOCK_K + k)*4 +: 4], scale of row j at [8j +: 8]
    input  wire [W_ROWS*BLOCK_K*4-1:0]    w_data,
    input  wire [W_ROWS*8-1:0]            w_scale,
    input  wire                           w_valid,
    output wire                           w_ready,
    // sums: lane l = i*W_ROWS + j at [l*OUT_WIDTH +: OUT_WIDTH], value y_data * 2^(y_exp)
    output wire [LANES*OUT_WIDTH-1:0]     y_data,
    output wire [LANES*LW-1:0]            y_exp,
    output wire [LANES-1:0]               y_nan,
    output wire                           y_valid,
    input  wire                           y_ready
);
    // ---- per lane: the exact block-pair sum, its LSB exponent, NaN ------------
    wire [LANES*TW-1:0] t_data;
    wire [LANES*LW-1:0] t_lsb;
    wire [LANES-1:0]    t_nan;
    for (genvar i = 0; i < X_ROWS; i++) begin : g_i
        for (genvar j = 0; j < W_ROWS; j++) begin : g_j
            localparam int L = i * W_ROWS + j;
            wire [7:0] ex = x_scale[8*i +: 8];
            wire [7:0] ew = w_scale[8*j +: 8];
            mase_fp4_dot_tree #(.N(BLOCK_K), .OUT_WIDTH(TW)) u_dot (
                .a(x_data[i*BLOCK_K*4 +: BLOCK_K*4]), .b(w_data[j*BLOCK_K*4 +: BLOCK_K*4]), .y(t_data[L*TW +: TW]));
            assign t_lsb[L*LW +: LW] = LW'(ex) + LW'(ew) - LW'(256);
            assign t_nan[L] = (ex == 8'hFF) || (ew == 8'hFF);
        end
    end

    // ---- join the two operand streams; accumulate per lane ---------------------
    wire t_ready;
    assign x_ready = t_ready && w_valid;
    assign w_ready = t_ready && x_valid;
    mase_scaled_block_accumulator #(
        .LANES(LANES), .TERM_WIDTH(TW), .ACC_WIDTH(ACC_W), .FRAC_BITS(FRAC), .EXP_WIDTH(LW),
        .NUM_BLOCKS(NUM_BLOCKS), .ROUND(ACC_ROUND), .OUT_WIDTH(OUT_WIDTH)
    ) u_acc (
        .clk(clk), .rst(rst),
        .t_data(t_data), .t_lsb(t_lsb), .t_nan(t_nan), .t_valid(x_valid && w_valid), .t_ready(t_ready),
        .y_data(y_data), .y_exp(y_exp), .y_nan(y_nan), .y_valid(y_valid), .y_ready(y_ready)
    );
endmodule

`default_nettype wire
