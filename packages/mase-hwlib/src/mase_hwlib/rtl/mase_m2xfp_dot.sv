// mase_m2xfp_dot: M2XFP (metadata-augmented MXFP4, ASPLOS 2026) tiled dot
// product: activations x in the extra-mantissa variant (M2XFP_EM), weights w
// in the extra-scale variant (M2XFP_ES), as the format's authors pair them.
// Same tiles, stream layout and back end as mase_mxfp4_dot, plus 2 bits of
// metadata per SUBGROUP elements of every row.
//
// Each beat: one block of X_ROWS rows of x and one of W_ROWS rows of w, each
// row BLOCK_K FP4 codes (sign << 3 | k), one E8M0 code e = s + 127 (255: NaN
// block) and G = BLOCK_K / SUBGROUP metadata codes (subgroup g of row i at
// [2(i*G + g) +: 2]), as mx_formats.quantize(..., M2XFP_EM / M2XFP_ES) gives them.
// Decode (integers only):
//   x (EM): value eighth * 2^(s_x - 3): the FP4 value (eighth = 4 half) except
//     the subgroup's picked element (largest FP4 code, first index on ties),
//     which reads its FP6 window; mase_m2xfp_em_decode gives that element's
//     index and its signed difference delta (eighths, -4..8) from the FP4 value;
//   w (ES): value half * (4 + meta) * 2^(s_w - 3) (scale r = 1 + meta/4 of the
//     subgroup), |half| <= 12 (mase_fp4_decode).
// So the datapath keeps the MXFP4 FP4 x FP4 products (mase_fp4_dot_tree) for
// every element and adds, per lane and subgroup, one correction product and one
// multiply by the subgroup's 4 + meta:
//   partial_g(i,j) = 4 sum_{k in g} half_x[i,k] half_w[j,k] + delta_x[i,g] half_w[j,pick_x[i,g]]
//                  = sum_{k in g} eighth_x[i,k] half_w[j,k],     |partial| <= 672 SUBGROUP < 2^(PW-1)
//   P_b(i,j) = sum_g (4 + meta_w[j,g]) partial_g(i,j)  on the LSB  L = e_x[i] + e_w[j] - 260
//     (= s_x + s_w - 6),  |P| <= 4704 BLOCK_K < 2^(TW-1);  NaN when either row's scale is 255.
// The metadata hardware on top of mase_mxfp4_dot at the same tile: one EM decode
// unit per x subgroup, and per lane and subgroup a SUBGROUP:1 select of a 4-bit
// w code, a 5 x 5-bit product, a PW x 3-bit product, and wider sums (TW, ACC_W).
// Accumulation across the NUM_BLOCKS beats, widths, error bound and output are
// those of mase_mxfp4_dot with this TW and LSB range [-260, 250]:
//   ACC_WIDTH = -1 (default): ACC_W = TW + clog2(N+1) + clog2(N) + 2, error < 2^(Lmax-3)
//     (nearest-even); e.g. BLOCK_K = 32, N = 4: TW = 19, ACC_W = 26;
//   ACC_WIDTH >= TW + clog2(N+1): that width; ACC_WIDTH = 0: exact (F = 510).
// Output lane l = i*W_ROWS + j is y_data(l) * 2^(y_exp(l)), NaN when y_nan(l)
// (per-lane exponents: see mase_mxfp4_dot for why no MXInt block).
// Bit-exact model: mase_hwlib.golden.m2xfp.m2xfp_dot.
`default_nettype none

module mase_m2xfp_dot #(
    parameter int BLOCK_K    = 32,  // elements per block along the reduction axis
    parameter int SUBGROUP   = 8,   // elements per metadata code (>= 2, divides BLOCK_K)
    parameter int X_ROWS     = 1,   // rows (blocks) of x per beat
    parameter int W_ROWS     = 1,   // rows (blocks) of w per beat
    parameter int NUM_BLOCKS = 4,   // beats per dot product (reduction length / BLOCK_K)
    parameter int ACC_WIDTH  = -1,  // accumulator bits per lane: -1 derived default, 0 exact
    parameter int ACC_ROUND  = 1,   // bits shifted out of the accumulator: 0 truncate, 1 nearest-even
    localparam int G       = BLOCK_K / SUBGROUP,                   // subgroups per row
    localparam int PW      = $clog2(672 * SUBGROUP + 1) + 1,       // signed subgroup partial sum
    localparam int TW      = $clog2(4704 * BLOCK_K + 1) + 1,       // signed block-pair sum
    localparam int CARRY   = $clog2(NUM_BLOCKS + 1),
    localparam int LSB_MIN = -260,  // e_x + e_w - 260 over every E8M0 code (255 included)
    localparam int LSB_MAX = 250,
    localparam int ACC_W   = ACC_WIDTH > 0 ? ACC_WIDTH
                           : ACC_WIDTH == 0 ? TW + CARRY + (LSB_MAX - LSB_MIN)   // exact
                           : TW + CARRY + $clog2(NUM_BLOCKS) + 2,                // derived default
    localparam int FRAC    = ACC_W - TW - CARRY,
    localparam int LW      = $clog2((-LSB_MIN > LSB_MAX ? -LSB_MIN : LSB_MAX) + ACC_W + 1) + 1,
    localparam int OUT_WIDTH = 32 * ((ACC_W + 31) / 32),
    localparam int LANES   = X_ROWS * W_ROWS
) (
    input  wire                           clk,
    input  wire                           rst,      // synchronous, active high
    // x (activations, M2XFP_EM): element (i, k) at [(i*BLOCK_K + k)*4 +: 4], scale of row i
    // at [8i +: 8], metadata of subgroup g of row i at [2(i*G + g) +: 2]
    input  wire [X_ROWS*BLOCK_K*4-1:0]    x_data,
    input  wire [X_ROWS*8-1:0]            x_scale,
    input  wire [X_ROWS*G*2-1:0]          x_meta,
    input  wire                           x_valid,
    output wire                           x_ready,
    // w (weights, M2XFP_ES): the same layout with W_ROWS rows
    input  wire [W_ROWS*BLOCK_K*4-1:0]    w_data,
    input  wire [W_ROWS*8-1:0]            w_scale,
    input  wire [W_ROWS*G*2-1:0]          w_meta,
    input  wire                           w_valid,
    output wire                           w_ready,
    // sums: lane l = i*W_ROWS + j at [l*OUT_WIDTH +: OUT_WIDTH], value y_data * 2^(y_exp)
    output wire [LANES*OUT_WIDTH-1:0]     y_data,
    output wire [LANES*LW-1:0]            y_exp,
    output wire [LANES-1:0]               y_nan,
    output wire                           y_valid,
    input  wire                           y_ready
);
    // ---- decode units: per x subgroup the picked element and its correction ----
    localparam int IW = $clog2(SUBGROUP);
    wire [X_ROWS*G*IW-1:0] x_pick;
    wire [X_ROWS*G*5-1:0]  x_delta;
    for (genvar s = 0; s < X_ROWS * G; s++) begin : g_x
        mase_m2xfp_em_decode #(.SUBGROUP(SUBGROUP)) u_dec (
            .codes(x_data[s*SUBGROUP*4 +: SUBGROUP*4]), .meta(x_meta[2*s +: 2]),
            .pick(x_pick[s*IW +: IW]), .delta(x_delta[s*5 +: 5]));
    end

    // ---- per lane and subgroup: FP4 x FP4 products, the correction, 4 + meta_w --
    wire [LANES*TW-1:0] t_data;
    wire [LANES*LW-1:0] t_lsb;
    wire [LANES-1:0]    t_nan;
    for (genvar i = 0; i < X_ROWS; i++) begin : g_i
        for (genvar j = 0; j < W_ROWS; j++) begin : g_j
            localparam int L = i * W_ROWS + j;
            wire [G*PW-1:0] partial;
            for (genvar g = 0; g < G; g++) begin : g_sub
                localparam int XS = i * G + g;  // x subgroup
                localparam int WS = j * G + g;  // w subgroup
                wire [SUBGROUP*4-1:0] w_codes = w_data[WS*SUBGROUP*4 +: SUBGROUP*4];
                wire signed [PW-1:0] fp4_sum;  // sum of half_x * half_w, quarter units
                mase_fp4_dot_tree #(.N(SUBGROUP), .OUT_WIDTH(PW)) u_dot (
                    .a(x_data[XS*SUBGROUP*4 +: SUBGROUP*4]), .b(w_codes), .y(fp4_sum));
                // the picked x element's extra value times the w element it meets
                wire signed [4:0] w_half;
                mase_fp4_decode u_sel (.code(w_codes[4*x_pick[XS*IW +: IW] +: 4]), .half(w_half));
                wire signed [9:0] correction = $signed(x_delta[XS*5 +: 5]) * w_half;
                assign partial[g*PW +: PW] = (fp4_sum <<< 2) + PW'(correction);
            end
            logic signed [TW-1:0] block_sum;
            always_comb begin
                block_sum = '0;
                for (int g = 0; g < G; g++) begin
                    block_sum = block_sum + TW'($signed(partial[g*PW +: PW])) * $signed({1'b0, 1'b1, w_meta[2*(j*G + g) +: 2]});
                end
            end
            wire [7:0] ex = x_scale[8*i +: 8];
            wire [7:0] ew = w_scale[8*j +: 8];
            assign t_data[L*TW +: TW] = block_sum;
            assign t_lsb[L*LW +: LW] = LW'(ex) + LW'(ew) - LW'(260);
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
