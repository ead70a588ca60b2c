// mase_mxint_reblock: changes the block shape of an MXInt tensor stream.
//
// A band of ROWS x COLS elements arrives as IN_B1 x IN_B0 blocks (lane
// r*IN_B0 + c), row-major over the band's block grid, and leaves as
// OUT_B1 x OUT_B0 blocks, row-major over the new grid; lanes inside an output
// block are row-major (r*OUT_B0 + c) or, with OUT_COL_MAJOR = 1, column-major
// (c*OUT_B1 + r: the tile transposed, as mase_mxint_matmul's B operand wants
// it). A tensor of several bands is simply several bands in a row: row-major
// block order over a tensor is band after band when a band spans all columns.
//
// Each output block is re-rounded from the exact input values
// (mase_mxint_normalize_lanes: every element keeps its input block's LSB
// exponent s_in - IN_MAN + 1):
//   s   = clamp(max_j floor(log2 |x_j|), -EMAX, EMAX)
//   q_j = clamp(round_half_even(x_j 2^(-s + OUT_MAN - 1)), +-(2^OUT_MAN - 1))
// = mx_formats.quantize(dequantize(input), MXInt((OUT_B0, OUT_B1), OUT_EXP, OUT_MAN)).
// Splitting blocks (every output block inside one input block) with
// OUT_MAN >= IN_MAN and OUT_EXP >= IN_EXP loses nothing.
//
// BANKS = 1: the band fills (one block per cycle), then drains (one block per
// cycle, registered output); x_ready is low while it drains. BANKS = 2: the
// next band fills while one drains (twice the registers, no input stall).
`default_nettype none

module mase_mxint_reblock #(
    parameter int ROWS          = 2,  // band rows (a multiple of IN_B1 and of OUT_B1)
    parameter int COLS          = 8,  // band columns (a multiple of IN_B0 and of OUT_B0)
    parameter int IN_B0         = 4,  // input block columns
    parameter int IN_B1         = 2,  // input block rows
    parameter int OUT_B0        = 2,  // output block columns
    parameter int OUT_B1        = 2,  // output block rows
    parameter int OUT_COL_MAJOR = 0,  // 1: output lanes column-major inside the block
    parameter int IN_MAN        = 7,  // input mantissa bits (magnitude)
    parameter int IN_EXP        = 8,  // input shared-exponent bits
    parameter int OUT_MAN       = 7,  // output mantissa bits (magnitude)
    parameter int OUT_EXP       = 8,  // output shared-exponent bits
    parameter int BANKS         = 1   // 1: fill, then drain; 2: ping-pong bands
) (
    input  wire                                 clk,
    input  wire                                 rst,      // synchronous, active high
    // input stream: one IN_B1 x IN_B0 block per beat
    input  wire                                 x_valid,
    output wire                                 x_ready,
    input  wire [IN_B0*IN_B1*(IN_MAN+1)-1:0]    x_mant,
    input  wire [IN_EXP-1:0]                    x_exp,
    // output stream: one OUT_B1 x OUT_B0 block per beat
    output wire                                 y_valid,
    input  wire                                 y_ready,
    output wire [OUT_B0*OUT_B1*(OUT_MAN+1)-1:0] y_mant,
    output wire [OUT_EXP-1:0]                   y_exp
);
    localparam int IW        = IN_MAN + 1;
    localparam int LW        = (IN_EXP > 6 ? IN_EXP : 6) + 2;  // holds s - IN_MAN + 1
    localparam int IN_TC     = COLS / IN_B0;                   // input blocks per band row
    localparam int IN_TILES  = (ROWS / IN_B1) * IN_TC;
    localparam int OUT_TC    = COLS / OUT_B0;
    localparam int OUT_TR    = ROWS / OUT_B1;
    localparam int OUT_LANES = OUT_B0 * OUT_B1;
    localparam int OUT_TILES = OUT_TR * OUT_TC;
    localparam int ELEMS     = ROWS * COLS;
    localparam int TW        = $clog2(IN_TILES + 1);
    localparam int OTW       = $clog2(OUT_TILES + 1);
    // an output lane picks one of BANKS*OUT_TILES elements (at least 2 entries: whole index bits)
    localparam int NSEL      = BANKS * OUT_TILES > 1 ? BANKS * OUT_TILES : 2;
    localparam int SELW      = $clog2(NSEL);

    logic [TW-1:0] in_idx_reg;      // input block being written (row-major)
    logic [OTW-1:0] out_idx_reg;    // output block being read (row-major)
    logic [1:0]    full_reg;        // bank holds a complete band (bit 1 unused with one bank)
    logic          wr_bank_reg;     // bank being filled
    logic          rd_bank_reg;     // bank being drained
    logic          out_valid_reg;
    wire           x_fire   = x_valid && x_ready;
    wire           out_free = !out_valid_reg || y_ready;
    wire           load     = full_reg[rd_bank_reg] && out_free;
    wire           in_last  = in_idx_reg == TW'(IN_TILES - 1);
    wire           out_last = out_idx_reg == OTW'(OUT_TILES - 1);

    // ---- band storage: every element has its own register, written from a fixed lane ----
    logic [IW-1:0] elem     [BANKS * ELEMS];
    logic [LW-1:0] elem_lsb [BANKS * ELEMS];   // the LSB exponent of the element's input block
    for (genvar b = 0; b < BANKS; b++) begin : g_bank
        for (genvar t = 0; t < IN_TILES; t++) begin : g_tile
            wire we = x_fire && in_idx_reg == TW'(t) && wr_bank_reg == 1'(b);
            logic [IN_EXP-1:0] exp_reg;
            always_ff @(posedge clk) begin
                if (we) exp_reg <= x_exp;
            end
            wire signed [LW-1:0] lsb = LW'($signed(exp_reg)) - LW'(IN_MAN - 1);
            for (genvar l = 0; l < IN_B0 * IN_B1; l++) begin : g_lane
                // element (row, col) of the band held by lane l of input block t
                localparam int ROW = (t / IN_TC) * IN_B1 + l / IN_B0;
                localparam int COL = (t % IN_TC) * IN_B0 + l % IN_B0;
                logic [IW-1:0] q_reg;
                always_ff @(posedge clk) begin
                    if (we) q_reg <= x_mant[l*IW +: IW];
                end
                assign elem[b*ELEMS + ROW*COLS + COL]     = q_reg;
                assign elem_lsb[b*ELEMS + ROW*COLS + COL] = lsb;
            end
        end
    end

    // ---- gather the output block and re-round it ----
    logic [OUT_LANES*IW-1:0]       gather_int;
    logic [OUT_LANES*LW-1:0]       gather_lsb;
    logic [OUT_LANES*(OUT_MAN+1)-1:0] norm_mant;
    logic [OUT_EXP-1:0]            norm_exp;
    wire [SELW-1:0] sel = SELW'(rd_bank_reg) * SELW'(OUT_TILES) + SELW'(out_idx_reg);
    for (genvar j = 0; j < OUT_LANES; j++) begin : g_out_lane
        // lane j is element (R, C) of the output block; its candidates, one per output
        // block (and bank), are fixed at elaboration, so the lane is a small multiplexer
        localparam int R = OUT_COL_MAJOR != 0 ? j % OUT_B1 : j / OUT_B0;
        localparam int C = OUT_COL_MAJOR != 0 ? j / OUT_B1 : j % OUT_B0;
        logic [IW-1:0] cand_q   [NSEL];
        logic [LW-1:0] cand_lsb [NSEL];
        for (genvar b = 0; b < BANKS; b++) begin : g_bank
            for (genvar t = 0; t < OUT_TILES; t++) begin : g_tile
                localparam int E = ((t / OUT_TC) * OUT_B1 + R) * COLS + (t % OUT_TC) * OUT_B0 + C;
                assign cand_q[b*OUT_TILES + t]   = elem[b*ELEMS + E];
                assign cand_lsb[b*OUT_TILES + t] = elem_lsb[b*ELEMS + E];
            end
        end
        if (BANKS * OUT_TILES < 2) begin : g_pad
            assign cand_q[1]   = '0;
            assign cand_lsb[1] = '0;
        end
        assign gather_int[j*IW +: IW] = cand_q[sel];
        assign gather_lsb[j*LW +: LW] = cand_lsb[sel];
    end

    mase_mxint_normalize_lanes #(
        .LANES(OUT_LANES), .IN_WIDTH(IW), .LSB_WIDTH(LW), .OUT_MAN(OUT_MAN), .OUT_EXP(OUT_EXP)
    ) u_normalize (
        .in_int(gather_int), .in_lsb(gather_lsb), .out_mant(norm_mant), .out_exp(norm_exp)
    );

    // ---- sequencing and the output register ----
    logic [OUT_LANES*(OUT_MAN+1)-1:0] out_mant_reg;
    logic [OUT_EXP-1:0]               out_exp_reg;
    assign x_ready = !full_reg[wr_bank_reg];
    assign y_valid = out_valid_reg;
    assign y_mant  = out_mant_reg;
    assign y_exp   = out_exp_reg;

    always_ff @(posedge clk) begin
        if (load) begin
            out_mant_reg <= norm_mant;
            out_exp_reg  <= norm_exp;
        end
        if (rst) begin
            in_idx_reg    <= '0;
            out_idx_reg   <= '0;
            full_reg      <= 2'b00;
            wr_bank_reg   <= 1'b0;
            rd_bank_reg   <= 1'b0;
            out_valid_reg <= 1'b0;
        end else begin
            if (out_free) out_valid_reg <= load;
            if (x_fire) begin
                in_idx_reg <= in_last ? '0 : in_idx_reg + 1'b1;
                if (in_last) wr_bank_reg <= (BANKS > 1) && !wr_bank_reg;
            end
            if (load) begin
                out_idx_reg <= out_last ? '0 : out_idx_reg + 1'b1;
                if (out_last) rd_bank_reg <= (BANKS > 1) && !rd_bank_reg;
            end
            // a bank fills on its last write and empties on its last read
            for (int b = 0; b < 2; b++) begin
                if (x_fire && in_last && wr_bank_reg == 1'(b)) full_reg[b] <= 1'b1;
                if (load && out_last && rd_bank_reg == 1'(b)) full_reg[b] <= 1'b0;
            end
        end
    end
endmodule

`default_nettype wire
