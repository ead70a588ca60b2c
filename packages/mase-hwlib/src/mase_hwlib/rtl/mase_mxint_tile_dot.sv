// mase_mxint_tile_dot: the exact accumulate-and-normalise engine behind
// mase_mxint_matmul and mase_mxint_linear.
//
// Each beat of the p stream is one pair of MXInt tiles: a (ROWS x BLOCK_K,
// lane r*BLOCK_K + k) and b (COLS x BLOCK_K, lane c*BLOCK_K + k), plus
// p_first / p_last marking the first and last of the K tiles that make one
// output tile. Per beat the integer tile product
//     P[r*COLS + c] = sum_k qa[r*BLOCK_K + k] * qb[c*BLOCK_K + k]
// (exact, A_MAN + B_MAN + clog2(BLOCK_K) + 1 bits) is shifted by its exponent
// sa + sb - (A_MAN-1) - (B_MAN-1) onto a fixed accumulator LSB and added: a
// Kulisch accumulator wide enough for every legal exponent, so the whole
// K-sum is exact. With HAS_BIAS, the bias tile (COLS lanes, broadcast over
// rows) given with p_first is the accumulator's starting value, also exact.
// On p_last the sum goes through mase_mxint_normalize into the output
// register: one output tile per K tiles, one tile pair per cycle.
`default_nettype none

module mase_mxint_tile_dot #(
    parameter int BLOCK_K  = 4,  // elements along the reduction axis per tile
    parameter int ROWS     = 1,  // rows of an a tile (and of the output tile)
    parameter int COLS     = 1,  // rows of a b tile = columns of the output tile
    parameter int K_TILES  = 1,  // tiles per output (sizes the accumulator's carry bits)
    parameter int A_MAN    = 7,  // a mantissa bits (magnitude)
    parameter int A_EXP    = 8,  // a shared-exponent bits
    parameter int B_MAN    = 7,  // b mantissa bits (magnitude)
    parameter int B_EXP    = 8,  // b shared-exponent bits
    parameter int HAS_BIAS = 0,  // 1: p_bias_* starts each output tile
    parameter int BIAS_MAN = 7,  // bias mantissa bits (magnitude)
    parameter int BIAS_EXP = 8,  // bias shared-exponent bits
    parameter int OUT_MAN  = 7,  // output mantissa bits (magnitude)
    parameter int OUT_EXP  = 8   // output shared-exponent bits
) (
    input  wire                                clk,
    input  wire                                rst,      // synchronous, active high
    // tile-pair stream
    input  wire                                p_valid,
    output wire                                p_ready,
    input  wire [ROWS*BLOCK_K*(A_MAN+1)-1:0]   p_a_mant,
    input  wire [A_EXP-1:0]                    p_a_exp,
    input  wire [COLS*BLOCK_K*(B_MAN+1)-1:0]   p_b_mant,
    input  wire [B_EXP-1:0]                    p_b_exp,
    input  wire [COLS*(BIAS_MAN+1)-1:0]        p_bias_mant,  // used with p_first when HAS_BIAS
    input  wire [BIAS_EXP-1:0]                 p_bias_exp,
    input  wire                                p_first,
    input  wire                                p_last,
    // output tile stream (lane r*COLS + c)
    output wire                                y_valid,
    input  wire                                y_ready,
    output wire [ROWS*COLS*(OUT_MAN+1)-1:0]    y_mant,
    output wire [OUT_EXP-1:0]                  y_exp
);
    localparam int LANES   = ROWS * COLS;
    localparam int EMAX_A  = (1 << (A_EXP - 1)) - 1;
    localparam int EMAX_B  = (1 << (B_EXP - 1)) - 1;
    localparam int EMAX_C  = (1 << (BIAS_EXP - 1)) - 1;
    localparam int PSUM_W  = A_MAN + B_MAN + $clog2(BLOCK_K + 1) + 2;   // signed tile-product lane
    localparam int PROD_LSB_MIN = -EMAX_A - EMAX_B - (A_MAN - 1) - (B_MAN - 1);
    localparam int PROD_LSB_MAX =  EMAX_A + EMAX_B - (A_MAN - 1) - (B_MAN - 1);
    localparam int BIAS_LSB_MIN = -EMAX_C - (BIAS_MAN - 1);
    localparam int BIAS_LSB_MAX =  EMAX_C - (BIAS_MAN - 1);
    localparam int ACC_LSB = (HAS_BIAS != 0 && BIAS_LSB_MIN < PROD_LSB_MIN) ? BIAS_LSB_MIN : PROD_LSB_MIN;
    localparam int PROD_TOP = PSUM_W + PROD_LSB_MAX - ACC_LSB;            // bits above ACC_LSB
    localparam int BIAS_TOP = BIAS_MAN + 2 + BIAS_LSB_MAX - ACC_LSB;
    localparam int TOP     = (HAS_BIAS != 0 && BIAS_TOP > PROD_TOP) ? BIAS_TOP : PROD_TOP;
    localparam int ACC_W   = TOP + $clog2(K_TILES + 2) + 1;                // exact Kulisch accumulator
    localparam int LW      = 12;                                           // holds any LSB exponent here
    localparam int SHW     = 11;                                           // holds any shift (< 1024)

    // ---- exact tile product and its alignment -----------------------------------
    logic [LANES*ACC_W-1:0] acc_reg, acc_next, term, base;
    wire [SHW-1:0] prod_shift = SHW'(LW'($signed(p_a_exp)) + LW'($signed(p_b_exp))
                                     - LW'(A_MAN - 1) - LW'(B_MAN - 1) - LW'(ACC_LSB));
    wire [SHW-1:0] bias_shift = SHW'(LW'($signed(p_bias_exp)) - LW'(BIAS_MAN - 1) - LW'(ACC_LSB));

    // exact dot product of one a row and one b row (BLOCK_K signed elements each)
    function automatic logic signed [PSUM_W-1:0] tile_row_dot(
        input logic [BLOCK_K*(A_MAN+1)-1:0] a, input logic [BLOCK_K*(B_MAN+1)-1:0] b);
        logic signed [PSUM_W-1:0] sum;
        sum = '0;
        for (int k = 0; k < BLOCK_K; k++) begin
            sum = sum + PSUM_W'($signed(a[k*(A_MAN+1) +: A_MAN+1])) * PSUM_W'($signed(b[k*(B_MAN+1) +: B_MAN+1]));
        end
        tile_row_dot = sum;  // (no 'return': Yosys 0.23)
    endfunction

    for (genvar r = 0; r < ROWS; r++) begin : g_row
        for (genvar c = 0; c < COLS; c++) begin : g_col
            wire signed [PSUM_W-1:0] psum = tile_row_dot(p_a_mant[r*BLOCK_K*(A_MAN+1) +: BLOCK_K*(A_MAN+1)],
                                                         p_b_mant[c*BLOCK_K*(B_MAN+1) +: BLOCK_K*(B_MAN+1)]);
            localparam int L = r * COLS + c;
            assign term[L*ACC_W +: ACC_W] = ACC_W'(psum) << prod_shift;
            if (HAS_BIAS != 0) begin : g_bias
                assign base[L*ACC_W +: ACC_W] = p_first
                    ? ACC_W'($signed(p_bias_mant[c*(BIAS_MAN+1) +: BIAS_MAN+1])) << bias_shift
                    : acc_reg[L*ACC_W +: ACC_W];
            end else begin : g_nobias
                assign base[L*ACC_W +: ACC_W] = p_first ? '0 : acc_reg[L*ACC_W +: ACC_W];
            end
            assign acc_next[L*ACC_W +: ACC_W] = base[L*ACC_W +: ACC_W] + term[L*ACC_W +: ACC_W];
        end
    end
    if (HAS_BIAS == 0) begin : g_unused_bias
        /* verilator lint_off UNUSEDSIGNAL */
        wire unused = &{1'b0, p_bias_mant, p_bias_exp, bias_shift};
        /* verilator lint_on UNUSEDSIGNAL */
    end

    // ---- normalise the finished sum -----------------------------------------------
    logic [LANES*(OUT_MAN+1)-1:0] norm_mant;
    logic [OUT_EXP-1:0]           norm_exp;
    mase_mxint_normalize #(
        .LANES(LANES), .IN_WIDTH(ACC_W), .LSB_WIDTH(LW), .OUT_MAN(OUT_MAN), .OUT_EXP(OUT_EXP)
    ) u_normalize (
        .in_int(acc_next), .in_lsb(LW'(ACC_LSB)), .out_mant(norm_mant), .out_exp(norm_exp)
    );

    // ---- handshake: only the last tile of a sum needs the output register ---------
    logic                         out_valid_reg;
    logic [LANES*(OUT_MAN+1)-1:0] out_mant_reg;
    logic [OUT_EXP-1:0]           out_exp_reg;
    wire out_free = !out_valid_reg || y_ready;
    assign p_ready = !p_last || out_free;
    wire fire = p_valid && p_ready;
    assign y_valid = out_valid_reg;
    assign y_mant  = out_mant_reg;
    assign y_exp   = out_exp_reg;

    always_ff @(posedge clk) begin
        if (fire) acc_reg <= acc_next;
        if (fire && p_last) begin
            out_mant_reg <= norm_mant;
            out_exp_reg  <= norm_exp;
        end
        if (rst) out_valid_reg <= 1'b0;
        else if (out_free) out_valid_reg <= fire && p_last;
    end
endmodule

`default_nettype wire
