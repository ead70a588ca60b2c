// mase_fixed_tile_dot: the exact accumulate-and-round engine behind
// mase_fixed_linear and mase_fixed_matmul.
//
// Each beat of the p stream is one pair of fixed-point tiles: a (ROWS x
// BLOCK_K, lane r*BLOCK_K + k, Fixed(A_WIDTH, A_FRAC)) and b (COLS x BLOCK_K,
// lane c*BLOCK_K + k, Fixed(B_WIDTH, B_FRAC)), plus p_first / p_last marking
// the first and last of the K_TILES tiles of one output tile. Per beat the
// integer tile product P[r*COLS + c] = sum_k a[r*BLOCK_K + k] * b[c*BLOCK_K + k]
// is exact on the grid A_FRAC + B_FRAC and is added to the accumulator; with
// HAS_BIAS the bias tile (COLS lanes, Fixed(BIAS_WIDTH, BIAS_FRAC), broadcast
// over rows) given with p_first is its starting value.
//
// Accumulator (exact, no shared exponent so nothing to align across tiles):
//   ACC_FRAC = max(A_FRAC + B_FRAC, BIAS_FRAC)   (bias grid only with HAS_BIAS)
//   PSH = ACC_FRAC - A_FRAC - B_FRAC, BSH = ACC_FRAC - BIAS_FRAC (left shifts)
//   every term |t| <= 2^E, E = max(A_WIDTH + B_WIDTH - 2 + PSH, BIAS_WIDTH - 1 + BSH)
//   K = K_TILES * BLOCK_K terms (+1 bias): |S| <= 2^(E + clog2(K + HAS_BIAS))
//   ACC_W = E + clog2(K + HAS_BIAS) + 2   (sign, and +2^(E+c) itself)
// reached by K products (-2^(A_WIDTH-1)) (-2^(B_WIDTH-1)), so it never wraps.
// On p_last the sum is rounded once, half to even, and saturated into
// Fixed(OUT_WIDTH, OUT_FRAC) (mase_fixed_round) into the output register:
// one output tile per K_TILES tile pairs, one tile pair per cycle.
// Three register stages (mase_tile_dot_pipeline): the tile products (a
// balanced tree, mase_int_dot_tree), the accumulator with the finished sum,
// and the rounded output; y_valid rises three cycles after p_last is taken.
`default_nettype none

module mase_fixed_tile_dot #(
    parameter int BLOCK_K    = 4,   // elements along the reduction axis per tile
    parameter int ROWS       = 1,   // rows of an a tile (and of the output tile)
    parameter int COLS       = 1,   // rows of a b tile = columns of the output tile
    parameter int K_TILES    = 1,   // tiles per output tile (sizes the accumulator)
    parameter int A_WIDTH    = 8,   // a lane bits (two's complement)
    parameter int A_FRAC     = 4,   // a fraction bits
    parameter int B_WIDTH    = 8,   // b lane bits (two's complement)
    parameter int B_FRAC     = 4,   // b fraction bits
    parameter int HAS_BIAS   = 0,   // 1: p_bias starts each output tile
    parameter int BIAS_WIDTH = 8,   // bias lane bits (two's complement)
    parameter int BIAS_FRAC  = 4,   // bias fraction bits
    parameter int OUT_WIDTH  = 8,   // output lane bits (two's complement)
    parameter int OUT_FRAC   = 4    // output fraction bits
) (
    input  wire                              clk,
    input  wire                              rst,      // synchronous, active high
    // tile-pair stream
    input  wire                              p_valid,
    output wire                              p_ready,
    input  wire [ROWS*BLOCK_K*A_WIDTH-1:0]   p_a,
    input  wire [COLS*BLOCK_K*B_WIDTH-1:0]   p_b,
    input  wire [COLS*BIAS_WIDTH-1:0]        p_bias,   // used with p_first when HAS_BIAS
    input  wire                              p_first,
    input  wire                              p_last,
    // output tile stream (lane r*COLS + c)
    output wire                              y_valid,
    input  wire                              y_ready,
    output wire [ROWS*COLS*OUT_WIDTH-1:0]    y_data
);
    localparam int LANES     = ROWS * COLS;
    localparam int PROD_FRAC = A_FRAC + B_FRAC;
    localparam int ACC_FRAC  = (HAS_BIAS != 0 && BIAS_FRAC > PROD_FRAC) ? BIAS_FRAC : PROD_FRAC;
    localparam int PSH       = ACC_FRAC - PROD_FRAC;
    localparam int BSH       = ACC_FRAC - BIAS_FRAC;
    localparam int PROD_TOP  = A_WIDTH + B_WIDTH - 2 + PSH;
    localparam int BIAS_TOP  = BIAS_WIDTH - 1 + BSH;
    localparam int E         = (HAS_BIAS != 0 && BIAS_TOP > PROD_TOP) ? BIAS_TOP : PROD_TOP;
    localparam int ACC_W     = E + $clog2(K_TILES * BLOCK_K + HAS_BIAS) + 2;
    localparam int PSUM_W    = A_WIDTH + B_WIDTH + $clog2(BLOCK_K);    // one tile row dot, exact

    // ---- pipeline control (mase_tile_dot_pipeline) ---------------------------------
    // after the accumulator: the finished sum, the output
    wire       prod_load, acc_en, acc_first;
    wire [1:0] stage_load;
    mase_tile_dot_pipeline #(.OUT_STAGES(2)) u_pipe (
        .clk(clk), .rst(rst), .p_valid(p_valid), .p_ready(p_ready), .p_first(p_first), .p_last(p_last),
        .prod_load(prod_load), .acc_en(acc_en), .acc_first(acc_first), .stage_load(stage_load),
        .y_valid(y_valid), .y_ready(y_ready)
    );

    // ---- stage 1: exact tile product per lane (and the bias), registered -----------
    logic [LANES*PSUM_W-1:0] psum, psum_reg;
    for (genvar r = 0; r < ROWS; r++) begin : g_row
        for (genvar c = 0; c < COLS; c++) begin : g_col
            mase_int_dot_tree #(.N(BLOCK_K), .A_WIDTH(A_WIDTH), .B_WIDTH(B_WIDTH), .OUT_WIDTH(PSUM_W)) u_dot (
                .a(p_a[r*BLOCK_K*A_WIDTH +: BLOCK_K*A_WIDTH]), .b(p_b[c*BLOCK_K*B_WIDTH +: BLOCK_K*B_WIDTH]),
                .y(psum[(r*COLS + c)*PSUM_W +: PSUM_W])
            );
        end
    end
    logic [COLS*BIAS_WIDTH-1:0] bias_reg;
    always_ff @(posedge clk) begin
        if (prod_load) begin
            psum_reg <= psum;
            bias_reg <= p_bias;
        end
    end
    if (HAS_BIAS == 0) begin : g_unused_bias
        /* verilator lint_off UNUSEDSIGNAL */
        wire unused = &{1'b0, bias_reg};
        /* verilator lint_on UNUSEDSIGNAL */
    end

    // ---- stage 2: exact accumulation; the finished sum registered -----------------
    logic [LANES*ACC_W-1:0] acc_reg, acc_next, sum_reg;
    for (genvar l = 0; l < LANES; l++) begin : g_lane
        wire signed [ACC_W-1:0] term = ACC_W'($signed(psum_reg[l*PSUM_W +: PSUM_W])) <<< PSH;
        wire signed [ACC_W-1:0] base;
        if (HAS_BIAS != 0) begin : g_bias
            wire signed [BIAS_WIDTH-1:0] bias = bias_reg[(l % COLS)*BIAS_WIDTH +: BIAS_WIDTH];
            assign base = acc_first ? ACC_W'(bias) <<< BSH : acc_reg[l*ACC_W +: ACC_W];
        end else begin : g_nobias
            assign base = acc_first ? '0 : acc_reg[l*ACC_W +: ACC_W];
        end
        assign acc_next[l*ACC_W +: ACC_W] = base + term;
    end
    always_ff @(posedge clk) begin
        if (acc_en) acc_reg <= acc_next;
        if (stage_load[0]) sum_reg <= acc_next;
    end

    // ---- stage 3: one rounding of the finished sum into the output register --------
    wire [LANES*OUT_WIDTH-1:0] rounded;
    mase_fixed_round #(
        .LANES(LANES), .IN_WIDTH(ACC_W), .IN_FRAC(ACC_FRAC), .OUT_WIDTH(OUT_WIDTH), .OUT_FRAC(OUT_FRAC)
    ) u_round (
        .in_data(sum_reg), .out_data(rounded)
    );
    logic [LANES*OUT_WIDTH-1:0] out_data_reg;
    assign y_data = out_data_reg;
    always_ff @(posedge clk) begin
        if (stage_load[1]) out_data_reg <= rounded;
    end
endmodule

`default_nettype wire
