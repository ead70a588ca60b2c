// mase_mxint_replay: block-stream reorder buffer. Holds a frame of
// FRAME_ROWS x FRAME_COLS MXInt blocks (arriving row-major: beat r*FRAME_COLS + c)
// and sends it out re-ordered and repeated, as a matmul operand needs it:
//
//   for o in 0 .. REPEAT_OUTER-1:
//     for g in 0 .. GROUPS-1:                 (column groups of GC = FRAME_COLS/GROUPS, e.g. heads)
//       for i in 0 .. REPEAT_INNER-1:
//         row-major (COL_MAJOR = 0):    for r: for c in group g: block (r, g*GC + c)
//         column-major (COL_MAJOR = 1): for c in group g: for r: block (r, g*GC + c)
//
// With TRANSPOSE_LANES = 1 each block's lanes, a TILE_ROWS x TILE_COLS tile
// (lane r*TILE_COLS + c), leave transposed (lane c*TILE_ROWS + r): wiring only.
// Attention uses it for Q row groups (replayed once per key tile), the whole
// of K (replayed once per query tile) and V (column-major, tiles transposed);
// see docs/attention.md.
// Two frame banks (ping-pong): the next frame loads while one is replayed.
// Output registered; one block per cycle while replaying.
`default_nettype none

module mase_mxint_replay #(
    parameter int LANES           = 4,  // elements per block
    parameter int MAN             = 7,  // mantissa bits (magnitude)
    parameter int EXP             = 8,  // shared-exponent bits
    parameter int FRAME_ROWS      = 2,  // block rows per frame
    parameter int FRAME_COLS      = 2,  // block columns per frame
    parameter int GROUPS          = 1,  // column groups (FRAME_COLS is a multiple)
    parameter int COL_MAJOR       = 0,  // 1: column-major inside a group
    parameter int REPEAT_INNER    = 1,  // passes over each group, back to back
    parameter int REPEAT_OUTER    = 1,  // passes over the whole group sequence
    parameter int TRANSPOSE_LANES = 0,  // 1: transpose each TILE_ROWS x TILE_COLS block
    parameter int TILE_COLS       = 1   // lanes per tile row (TRANSPOSE_LANES = 1)
) (
    input  wire                     clk,
    input  wire                     rst,      // synchronous, active high
    // input stream: blocks of a frame, row-major
    input  wire                     x_valid,
    output wire                     x_ready,
    input  wire [LANES*(MAN+1)-1:0] x_mant,
    input  wire [EXP-1:0]           x_exp,
    // output stream: the frame re-ordered and repeated
    output wire                     y_valid,
    input  wire                     y_ready,
    output wire [LANES*(MAN+1)-1:0] y_mant,
    output wire [EXP-1:0]           y_exp
);
    localparam int MW    = LANES * (MAN + 1);
    localparam int FRAME = FRAME_ROWS * FRAME_COLS;
    localparam int GC    = FRAME_COLS / GROUPS;
    localparam int AW    = $clog2(2 * FRAME);              // address over both banks
    localparam int IW    = $clog2(FRAME + 1);              // write index inside a frame
    // inner 2-D loop: a = outer index, b = inner index
    localparam int A_N   = COL_MAJOR != 0 ? GC : FRAME_ROWS;
    localparam int B_N   = COL_MAJOR != 0 ? FRAME_ROWS : GC;
    localparam int ABW   = $clog2((A_N > B_N ? A_N : B_N) + 1);
    localparam int GW    = $clog2(GROUPS + 1);
    localparam int RIW   = $clog2(REPEAT_INNER + 1);
    localparam int ROW   = $clog2(REPEAT_OUTER + 1);
    localparam int TILE_ROWS = LANES / TILE_COLS;

    logic [MW+EXP-1:0] mem [2 * FRAME];
    logic [1:0]        full_reg;         // bank holds a complete frame
    logic              wr_bank_reg, rd_bank_reg;
    logic [IW-1:0]     wr_idx_reg;
    logic [ABW-1:0]    a_reg, b_reg;
    logic [GW-1:0]     g_reg;
    logic [RIW-1:0]    ri_reg;
    logic [ROW-1:0]    ro_reg;
    logic              out_valid_reg;
    logic [MW+EXP-1:0] out_word_reg;

    wire write    = x_valid && x_ready;
    wire out_free = !out_valid_reg || y_ready;
    wire read     = out_free && full_reg[rd_bank_reg];
    wire wr_last  = wr_idx_reg == IW'(FRAME - 1);
    wire b_last   = b_reg == ABW'(B_N - 1);
    wire a_last   = a_reg == ABW'(A_N - 1);
    wire ri_last  = ri_reg == RIW'(REPEAT_INNER - 1);
    wire g_last   = g_reg == GW'(GROUPS - 1);
    wire ro_last  = ro_reg == ROW'(REPEAT_OUTER - 1);
    wire rd_last  = b_last && a_last && ri_last && g_last && ro_last;

    wire [ABW-1:0] r = COL_MAJOR != 0 ? b_reg : a_reg;
    wire [ABW-1:0] c = COL_MAJOR != 0 ? a_reg : b_reg;
    wire [AW-1:0] wr_addr = AW'(wr_bank_reg) * AW'(FRAME) + AW'(wr_idx_reg);
    wire [AW-1:0] rd_addr = AW'(rd_bank_reg) * AW'(FRAME) + AW'(r) * AW'(FRAME_COLS)
                            + AW'(g_reg) * AW'(GC) + AW'(c);

    assign x_ready = !full_reg[wr_bank_reg];
    assign y_valid = out_valid_reg;
    assign y_exp   = out_word_reg[MW +: EXP];
    for (genvar j = 0; j < LANES; j++) begin : g_lane
        // output lane j takes input lane src (the tile transposed when TRANSPOSE_LANES = 1)
        localparam int SRC = TRANSPOSE_LANES != 0 ? (j % TILE_ROWS) * TILE_COLS + j / TILE_ROWS : j;
        assign y_mant[j*(MAN+1) +: MAN+1] = out_word_reg[SRC*(MAN+1) +: MAN+1];
    end

    always_ff @(posedge clk) begin
        if (write) mem[wr_addr] <= {x_exp, x_mant};
        if (read) out_word_reg <= mem[rd_addr];
        if (rst) begin
            full_reg      <= 2'b00;
            wr_bank_reg   <= 1'b0;
            rd_bank_reg   <= 1'b0;
            wr_idx_reg    <= '0;
            a_reg         <= '0;
            b_reg         <= '0;
            g_reg         <= '0;
            ri_reg        <= '0;
            ro_reg        <= '0;
            out_valid_reg <= 1'b0;
        end else begin
            if (out_free) out_valid_reg <= read;
            if (write) begin
                wr_idx_reg <= wr_last ? '0 : wr_idx_reg + 1'b1;
                if (wr_last) wr_bank_reg <= !wr_bank_reg;
            end
            if (read) begin
                // nested counters, innermost first: b, a, inner repeat, group, outer repeat
                b_reg <= b_last ? '0 : b_reg + 1'b1;
                if (b_last) begin
                    a_reg <= a_last ? '0 : a_reg + 1'b1;
                    if (a_last) begin
                        ri_reg <= ri_last ? '0 : ri_reg + 1'b1;
                        if (ri_last) begin
                            g_reg <= g_last ? '0 : g_reg + 1'b1;
                            if (g_last) ro_reg <= ro_last ? '0 : ro_reg + 1'b1;
                        end
                    end
                end
                if (rd_last) rd_bank_reg <= !rd_bank_reg;
            end
            for (int bank = 0; bank < 2; bank++) begin
                if (write && wr_last && wr_bank_reg == 1'(bank)) full_reg[bank] <= 1'b1;
                if (read && rd_last && rd_bank_reg == 1'(bank)) full_reg[bank] <= 1'b0;
            end
        end
    end
endmodule

`default_nettype wire
