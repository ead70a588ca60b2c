// mase_linear_sequencer: the format-agnostic sequencing of a tiled linear
// layer y = x W^T (+ b): turns the x tile stream and the weight / bias source
// into the stream of (x tile, weight tile, bias tile) triples a tile-dot
// engine consumes, in the order (o, k) per x group. Tiles are opaque bit
// vectors (X_BITS, W_BITS, B_BITS wide: an MXInt tile is {exp, mant}, a
// fixed-point tile its packed lanes).
//
// x arrives as groups of IN_TILES tiles (one group = the rows of one x tile
// row-block over all in_features). The group is held in a buffer and, for each
// output tile o of OUT_TILES, paired with the weight tiles W[o, k], k = 0 ..
// IN_TILES-1:
//   * WEIGHTS_IN_ROM = 0: from the w stream, OUT_TILES*IN_TILES beats per x
//     group in order (o, k), and with HAS_BIAS one b beat per output tile,
//     taken together with its first weight tile (k = 0);
//   * WEIGHTS_IN_ROM = 1: from ROMs loaded with $readmemh from WEIGHT_FILE
//     (word o*IN_TILES + k) and BIAS_FILE (word o); w / b are not used.
// p_first / p_last mark k = 0 / k = IN_TILES-1; p_b is meaningful with p_first.
// Timing: one triple per cycle. x groups are double-buffered: the next group
// loads while the current one is used, so in steady state the sequencer
// issues OUT_TILES*IN_TILES triples per x group back to back.
`default_nettype none

module mase_linear_sequencer #(
    parameter int IN_TILES       = 2,  // x tiles per group (in_features / BLOCK_K)
    parameter int OUT_TILES      = 2,  // output tiles per group (out_features / OUT_TILE)
    parameter int X_BITS         = 8,  // bits of one x tile
    parameter int W_BITS         = 8,  // bits of one weight tile
    parameter int B_BITS         = 8,  // bits of one bias tile
    parameter int HAS_BIAS       = 0,  // 1: a bias tile per output tile
    parameter int WEIGHTS_IN_ROM = 0,  // 1: weights (and bias) from ROM files, no w / b streams
    parameter        WEIGHT_FILE = "", // $readmemh image of the weight ROM (WEIGHTS_IN_ROM = 1)
    parameter        BIAS_FILE   = ""  // $readmemh image of the bias ROM (WEIGHTS_IN_ROM = 1, HAS_BIAS = 1)
) (
    input  wire              clk,
    input  wire              rst,      // synchronous, active high
    // activation tiles
    input  wire              x_valid,
    output wire              x_ready,
    input  wire [X_BITS-1:0] x_data,
    // weight tiles (WEIGHTS_IN_ROM = 0)
    input  wire              w_valid,
    output wire              w_ready,
    input  wire [W_BITS-1:0] w_data,
    // bias tiles (HAS_BIAS = 1, WEIGHTS_IN_ROM = 0)
    input  wire              b_valid,
    output wire              b_ready,
    input  wire [B_BITS-1:0] b_data,
    // triples for the tile-dot engine
    output wire              p_valid,
    input  wire              p_ready,
    output wire [X_BITS-1:0] p_x,
    output wire [W_BITS-1:0] p_w,
    output wire [B_BITS-1:0] p_b,
    output wire              p_first,
    output wire              p_last
);
    // index widths (at least 1 bit): they address xbuf and the ROMs exactly
    localparam int KW  = IN_TILES > 1 ? $clog2(IN_TILES) : 1;
    localparam int OW  = OUT_TILES > 1 ? $clog2(OUT_TILES) : 1;
    localparam int AW  = OUT_TILES * IN_TILES > 1 ? $clog2(OUT_TILES * IN_TILES) : 1;
    localparam int XAW = $clog2(2 * IN_TILES);

    // ---- x group buffers (two: one fills while the other is used) and sequencing ----
    logic [X_BITS-1:0] xbuf [2 * IN_TILES];
    logic [1:0]        full_reg;     // bank holds a complete x group
    logic              ld_bank_reg;  // bank being filled
    logic              run_bank_reg; // bank being used
    logic [KW-1:0]     ld_k_reg;     // next x tile of the group being loaded
    logic [KW-1:0]     k_reg;        // next k of the output tile being issued
    logic [OW-1:0]     o_reg;        // output tile being issued
    wire ld_last = ld_k_reg == KW'(IN_TILES - 1);
    wire k_last  = k_reg == KW'(IN_TILES - 1);
    wire o_last  = o_reg == OW'(OUT_TILES - 1);
    wire x_fire  = x_valid && x_ready;

    assign x_ready = !full_reg[ld_bank_reg];

    // ---- weight and bias source -----------------------------------------------------
    logic src_valid;      // weight (and, at k = 0, bias) available
    wire  run = full_reg[run_bank_reg];
    assign p_valid = run && src_valid;
    wire  p_fire = p_valid && p_ready;

    if (WEIGHTS_IN_ROM != 0) begin : g_rom
        logic [W_BITS-1:0] wrom [OUT_TILES * IN_TILES];
        initial $readmemh(WEIGHT_FILE, wrom);
        wire [AW-1:0] addr = AW'(o_reg) * AW'(IN_TILES) + AW'(k_reg);
        assign p_w = wrom[addr];
        if (HAS_BIAS != 0) begin : g_bias
            logic [B_BITS-1:0] brom [OUT_TILES];
            initial $readmemh(BIAS_FILE, brom);
            assign p_b = brom[o_reg];
        end else begin : g_nobias
            assign p_b = '0;
        end
        assign src_valid = 1'b1;
        assign w_ready = 1'b0;
        assign b_ready = 1'b0;
        /* verilator lint_off UNUSEDSIGNAL */
        wire unused = &{1'b0, w_valid, w_data, b_valid, b_data};
        /* verilator lint_on UNUSEDSIGNAL */
    end else begin : g_stream
        // the bias beat of output tile o is taken together with its first weight tile
        wire need_b = (HAS_BIAS != 0) && k_reg == '0;
        assign p_w       = w_data;
        assign p_b       = b_data;
        assign src_valid = w_valid && (!need_b || b_valid);
        assign w_ready   = run && p_ready && (!need_b || b_valid);
        assign b_ready   = run && p_ready && need_b && w_valid;
    end

    wire [XAW-1:0] ld_addr  = XAW'(ld_bank_reg) * XAW'(IN_TILES) + XAW'(ld_k_reg);
    wire [XAW-1:0] run_addr = XAW'(run_bank_reg) * XAW'(IN_TILES) + XAW'(k_reg);
    wire           group_done = p_fire && k_last && o_last;

    always_ff @(posedge clk) begin
        if (x_fire) xbuf[ld_addr] <= x_data;
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

    assign p_x     = xbuf[run_addr];
    assign p_first = k_reg == '0;
    assign p_last  = k_last;
endmodule

`default_nettype wire
