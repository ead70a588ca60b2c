// mase_mxint_linear: y = x W^T (+ b) on MXInt tiles, weights streamed or in a ROM.
//
// x arrives as groups of IN_TILES tiles (X_ROWS x BLOCK_K each, lane
// r*BLOCK_K + k): one group is X_ROWS rows of in_features = IN_TILES*BLOCK_K.
// The group is held in a small buffer and, for each output tile o of
// OUT_TILES, combined with the weight tiles W[o, k] (OUT_TILE x BLOCK_K, lane
// c*BLOCK_K + k, i.e. W blocked (BLOCK_K, OUT_TILE) along (in, out)):
//   * WEIGHTS_IN_ROM = 0: from the w stream, OUT_TILES*IN_TILES beats per x
//     group in order (o, k), and with HAS_BIAS one b beat per output tile;
//   * WEIGHTS_IN_ROM = 1: from ROMs loaded with $readmemh from WEIGHT_FILE
//     (word o*IN_TILES + k = {exp, mant}) and BIAS_FILE (word o = {exp, mant});
//     see mase_hwlib.rom for the file format.
// The bias tile (OUT_TILE lanes) is added to every row. Each output tile
// (X_ROWS x OUT_TILE, lane r*OUT_TILE + c) is the sum of the bias and the
// IN_TILES exact tile products in a bounded accumulator of ACC_WIDTH bits per
// lane (mase_mxint_tile_dot: aligned to the largest exponent so far, shifted-out
// bits rounded by ACC_ROUND; N = IN_TILES + HAS_BIAS terms, default width
// TW + clog2(N+1) + clog2(N) + 2 with TW = X_MAN + W_MAN + clog2(BLOCK_K+1) + 2,
// error below 2^(Lmax-3), Lmax the largest term LSB exponent; 33 bits for
// BLOCK_K = 16, MAN = 7, 384 inputs; ACC_WIDTH = 0 exact), rounded once, half to
// even, into MXInt(OUT_MAN, OUT_EXP).
// Timing: one tile pair per cycle. x groups are double-buffered: the next
// group loads while the current one is multiplied, so in steady state the
// module is compute-bound at OUT_TILES*IN_TILES cycles per x group.
`default_nettype none

module mase_mxint_linear #(
    parameter int BLOCK_K        = 4,  // elements along in_features per tile
    parameter int X_ROWS         = 1,  // rows of an x tile (x's second block extent)
    parameter int OUT_TILE       = 2,  // out_features per weight / output tile (W's second block extent)
    parameter int IN_TILES       = 2,  // in_features / BLOCK_K
    parameter int OUT_TILES      = 2,  // out_features / OUT_TILE
    parameter int X_MAN          = 7,  // x mantissa bits (magnitude)
    parameter int X_EXP          = 8,  // x shared-exponent bits
    parameter int W_MAN          = 7,  // weight mantissa bits (magnitude)
    parameter int W_EXP          = 8,  // weight shared-exponent bits
    parameter int HAS_BIAS       = 0,  // 1: add a bias per output feature
    parameter int BIAS_MAN       = 7,  // bias mantissa bits (magnitude)
    parameter int BIAS_EXP       = 8,  // bias shared-exponent bits
    parameter int OUT_MAN        = 7,  // output mantissa bits (magnitude)
    parameter int OUT_EXP        = 8,  // output shared-exponent bits
    parameter int WEIGHTS_IN_ROM = 0,  // 1: weights (and bias) from ROM files, no w / b streams
    parameter        WEIGHT_FILE = "", // $readmemh image of the weight ROM (WEIGHTS_IN_ROM = 1)
    parameter        BIAS_FILE   = "", // $readmemh image of the bias ROM (WEIGHTS_IN_ROM = 1, HAS_BIAS = 1)
    parameter int ACC_WIDTH      = -1, // accumulator bits per lane: -1 derived default, 0 exact (Kulisch)
    parameter int ACC_ROUND      = 1   // bits shifted out of the accumulator: 0 truncate, 1 nearest-even
) (
    input  wire                                    clk,
    input  wire                                    rst,      // synchronous, active high
    // activation tiles
    input  wire                                    x_valid,
    output wire                                    x_ready,
    input  wire [X_ROWS*BLOCK_K*(X_MAN+1)-1:0]     x_mant,
    input  wire [X_EXP-1:0]                        x_exp,
    // weight tiles (WEIGHTS_IN_ROM = 0)
    input  wire                                    w_valid,
    output wire                                    w_ready,
    input  wire [OUT_TILE*BLOCK_K*(W_MAN+1)-1:0]   w_mant,
    input  wire [W_EXP-1:0]                        w_exp,
    // bias tiles (HAS_BIAS = 1, WEIGHTS_IN_ROM = 0)
    input  wire                                    b_valid,
    output wire                                    b_ready,
    input  wire [OUT_TILE*(BIAS_MAN+1)-1:0]        b_mant,
    input  wire [BIAS_EXP-1:0]                     b_exp,
    // output tiles
    output wire                                    y_valid,
    input  wire                                    y_ready,
    output wire [X_ROWS*OUT_TILE*(OUT_MAN+1)-1:0]  y_mant,
    output wire [OUT_EXP-1:0]                      y_exp
);
    localparam int XMW = X_ROWS * BLOCK_K * (X_MAN + 1);
    localparam int WMW = OUT_TILE * BLOCK_K * (W_MAN + 1);
    localparam int BMW = OUT_TILE * (BIAS_MAN + 1);
    // index widths (at least 1 bit): they address xbuf and the ROMs exactly
    localparam int KW  = IN_TILES > 1 ? $clog2(IN_TILES) : 1;
    localparam int OW  = OUT_TILES > 1 ? $clog2(OUT_TILES) : 1;
    localparam int AW  = OUT_TILES * IN_TILES > 1 ? $clog2(OUT_TILES * IN_TILES) : 1;
    localparam int XAW = $clog2(2 * IN_TILES);

    // ---- x group buffers (two: one fills while the other is used) and sequencing ----
    logic [XMW+X_EXP-1:0] xbuf [2 * IN_TILES];
    logic [1:0]           full_reg;     // bank holds a complete x group
    logic                 ld_bank_reg;  // bank being filled
    logic                 run_bank_reg; // bank being multiplied
    logic [KW-1:0]        ld_k_reg;     // next x tile of the group being loaded
    logic [KW-1:0]        k_reg;        // next k of the output tile being computed
    logic [OW-1:0]        o_reg;        // output tile being computed
    wire ld_last = ld_k_reg == KW'(IN_TILES - 1);
    wire k_last  = k_reg == KW'(IN_TILES - 1);
    wire o_last  = o_reg == OW'(OUT_TILES - 1);
    wire x_fire  = x_valid && x_ready;

    assign x_ready = !full_reg[ld_bank_reg];

    // ---- weight and bias source -----------------------------------------------------
    logic [WMW-1:0]      w_mant_sel;
    logic [W_EXP-1:0]    w_exp_sel;
    logic [BMW-1:0]      b_mant_sel;
    logic [BIAS_EXP-1:0] b_exp_sel;
    logic                src_valid;      // weight (and, at k = 0, bias) available
    wire                 p_ready;
    wire                 run = full_reg[run_bank_reg];
    wire                 p_valid = run && src_valid;
    wire                 p_fire = p_valid && p_ready;

    if (WEIGHTS_IN_ROM != 0) begin : g_rom
        logic [WMW+W_EXP-1:0] wrom [OUT_TILES * IN_TILES];
        initial $readmemh(WEIGHT_FILE, wrom);
        wire [AW-1:0] addr = AW'(o_reg) * AW'(IN_TILES) + AW'(k_reg);
        assign {w_exp_sel, w_mant_sel} = wrom[addr];
        if (HAS_BIAS != 0) begin : g_bias
            logic [BMW+BIAS_EXP-1:0] brom [OUT_TILES];
            initial $readmemh(BIAS_FILE, brom);
            assign {b_exp_sel, b_mant_sel} = brom[o_reg];
        end else begin : g_nobias
            assign {b_exp_sel, b_mant_sel} = '0;
        end
        assign src_valid = 1'b1;
        assign w_ready = 1'b0;
        assign b_ready = 1'b0;
        /* verilator lint_off UNUSEDSIGNAL */
        wire unused = &{1'b0, w_valid, w_mant, w_exp, b_valid, b_mant, b_exp};
        /* verilator lint_on UNUSEDSIGNAL */
    end else begin : g_stream
        // the bias beat of output tile o is taken together with its first weight tile
        wire need_b = (HAS_BIAS != 0) && k_reg == '0;
        assign w_mant_sel = w_mant;
        assign w_exp_sel  = w_exp;
        assign b_mant_sel = b_mant;
        assign b_exp_sel  = b_exp;
        assign src_valid  = w_valid && (!need_b || b_valid);
        assign w_ready    = run && p_ready && (!need_b || b_valid);
        assign b_ready    = run && p_ready && need_b && w_valid;
    end

    wire [XAW-1:0] ld_addr  = XAW'(ld_bank_reg) * XAW'(IN_TILES) + XAW'(ld_k_reg);
    wire [XAW-1:0] run_addr = XAW'(run_bank_reg) * XAW'(IN_TILES) + XAW'(k_reg);
    wire           group_done = p_fire && k_last && o_last;

    always_ff @(posedge clk) begin
        if (x_fire) xbuf[ld_addr] <= {x_exp, x_mant};
        if (rst) begin
            full_reg     <= 2'b00;
            ld_bank_reg  <= 1'b0;
            run_bank_reg <= 1'b0;
            ld_k_reg     <= '0;
            k_reg        <= '0;
            o_reg        <= '0;
        end else begin
            if (x_fire) begin
                ld_k_reg <= ld_last ? '0 : ld_k_reg + 1'b1;
                if (ld_last) ld_bank_reg <= !ld_bank_reg;
            end
            if (p_fire) begin
                k_reg <= k_last ? '0 : k_reg + 1'b1;
                if (k_last) o_reg <= o_last ? '0 : o_reg + 1'b1;
                if (group_done) run_bank_reg <= !run_bank_reg;
            end
            // a bank fills with its last x tile and empties after its last output tile
            for (int b = 0; b < 2; b++) begin
                if (x_fire && ld_last && ld_bank_reg == 1'(b)) full_reg[b] <= 1'b1;
                if (group_done && run_bank_reg == 1'(b)) full_reg[b] <= 1'b0;
            end
        end
    end

    wire [XMW+X_EXP-1:0] x_sel = xbuf[run_addr];

    mase_mxint_tile_dot #(
        .BLOCK_K(BLOCK_K), .ROWS(X_ROWS), .COLS(OUT_TILE), .K_TILES(IN_TILES),
        .A_MAN(X_MAN), .A_EXP(X_EXP), .B_MAN(W_MAN), .B_EXP(W_EXP),
        .HAS_BIAS(HAS_BIAS), .BIAS_MAN(BIAS_MAN), .BIAS_EXP(BIAS_EXP),
        .OUT_MAN(OUT_MAN), .OUT_EXP(OUT_EXP), .ACC_WIDTH(ACC_WIDTH), .ACC_ROUND(ACC_ROUND)
    ) u_dot (
        .clk(clk), .rst(rst),
        .p_valid(p_valid), .p_ready(p_ready),
        .p_a_mant(x_sel[XMW-1:0]), .p_a_exp(x_sel[XMW +: X_EXP]),
        .p_b_mant(w_mant_sel), .p_b_exp(w_exp_sel),
        .p_bias_mant(b_mant_sel), .p_bias_exp(b_exp_sel),
        .p_first(k_reg == '0), .p_last(k_last),
        .y_valid(y_valid), .y_ready(y_ready), .y_mant(y_mant), .y_exp(y_exp)
    );
endmodule

`default_nettype wire
