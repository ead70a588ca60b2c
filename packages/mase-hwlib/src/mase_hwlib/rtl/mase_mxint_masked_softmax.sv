// mase_mxint_masked_softmax: softmax over rows of MXInt blocks with a boolean key mask,
// integer-only (attention with a padding or causal mask).
//
// The arithmetic is mase_mxint_softmax's (same constants, same rounding): a row is
// ROW_BLOCKS consecutive blocks of BLOCK elements (N = BLOCK*ROW_BLOCKS), converted to
// fixed point (mase_mxint_to_fixed: X_WIDTH bits, F = X_FRAC fraction bits, floor,
// saturating). A mask row k (N bits, bit j = 1: element j is attended, 0: masked) selects
// the kept elements K. With m = max over K of x:
//   e_j = 2^16 * 2^-((m - x_j) log2 e)   (softmax's polynomial)   for j in K
//   e_j = 0                                                        for j not in K
//   y_j = floor(e_j * 2^OUT_FRAC / sum_row(e))
// so a masked element gets probability exactly 0 and the kept ones a softmax over K
// alone: what float32 softmax gives for an additive mask of -inf (or of a large negative
// value, e.g. -3.4e38 in transformers, whose exponential underflows to 0). A row with no
// kept element (K empty) is uniform, e_j = 2^16 for every j, y_j = floor(2^OUT_FRAC / N):
// float's answer when every score carries the same huge negative offset.
//
// Mask reuse: the rows of one input arrive in groups of MASK_ROWS * MASK_REPEAT; row t
// of a group uses mask row (t mod MASK_ROWS) of the group's MASK_ROWS mask rows, which
// arrive on the mask stream (one beat per mask row) with the group's first MASK_ROWS
// rows and are held for the repetitions. Multi-head attention streams the rows of one
// query tile once per head, so MASK_ROWS = query rows per tile and MASK_REPEAT = heads:
// the mask of a [seq, seq] attention is seq beats per input, not seq * heads.
//
// Schedule per row: ROW_BLOCKS beats in (store, track the max of the kept elements),
// ROW_BLOCKS cycles of exponentials (store, sum), ROW_BLOCKS beats out (divide): >= 3 *
// ROW_BLOCKS cycles, as mase_mxint_softmax. The next mask beat is taken into a one-beat
// register whenever it is empty, so the mask never stalls a row once it is available.
`default_nettype none

module mase_mxint_masked_softmax #(
    parameter int BLOCK = 16,       // elements per block (one block per beat)
    parameter int ROW_BLOCKS = 4,   // blocks per softmax row
    parameter int EXP_BITS = 8,     // shared exponent bits
    parameter int MAN_BITS = 7,     // element mantissa bits m
    parameter int X_WIDTH = 16,     // internal fixed-point bits
    parameter int X_FRAC = 8,       // internal fraction bits
    parameter int OUT_FRAC = 12,    // output fraction bits (output is OUT_FRAC+1 bits, unsigned)
    parameter int MASK_ROWS = 1,    // distinct mask rows per group of rows
    parameter int MASK_REPEAT = 1,  // times each group of MASK_ROWS rows repeats with the same mask rows
    localparam int OUT_WIDTH = OUT_FRAC + 1,
    localparam int N = BLOCK * ROW_BLOCKS
) (
    input  wire                          clk,
    input  wire                          rst,
    // MXInt input block: element e at [e*(MAN_BITS+1) +: MAN_BITS+1]
    input  wire [BLOCK*(MAN_BITS+1)-1:0] x_mant,
    input  wire [EXP_BITS-1:0]           x_exp,
    input  wire                          x_valid,
    output wire                          x_ready,
    // mask row: bit j = 1 keeps element j of the row, 0 masks it
    input  wire [N-1:0]                  mask_data,
    input  wire                          mask_valid,
    output wire                          mask_ready,
    // probabilities: element e at [e*OUT_WIDTH +: OUT_WIDTH], value y * 2^-OUT_FRAC
    output wire [BLOCK*OUT_WIDTH-1:0]    y_data,
    output wire                          y_valid,
    input  wire                          y_ready
);
    localparam int EXP_WIDTH = 17;                         // e in [0, 2^16]
    localparam int SUM_WIDTH = EXP_WIDTH + $clog2(N) + 1;
    localparam int DIV_WIDTH = SUM_WIDTH + OUT_FRAC;
    localparam int INDEX_WIDTH = (ROW_BLOCKS > 1) ? $clog2(ROW_BLOCKS) : 1;
    localparam int MROW_WIDTH = (MASK_ROWS > 1) ? $clog2(MASK_ROWS) : 1;
    localparam int REP_WIDTH = (MASK_REPEAT > 1) ? $clog2(MASK_REPEAT) : 1;
    localparam logic [INDEX_WIDTH-1:0] LAST_INDEX = INDEX_WIDTH'(ROW_BLOCKS - 1);
    localparam logic [MROW_WIDTH-1:0] LAST_MROW = MROW_WIDTH'(MASK_ROWS - 1);
    localparam logic [REP_WIDTH-1:0] LAST_REP = REP_WIDTH'(MASK_REPEAT - 1);
    localparam logic signed [X_WIDTH-1:0] X_MIN = {1'b1, {(X_WIDTH - 1){1'b0}}};
    localparam logic signed [63:0] LOG2E_16 = 94548;
    localparam logic signed [63:0] POLY_A1 = 43903;
    localparam logic signed [63:0] POLY_A2 = 11135;

    localparam logic [1:0] S_RECV = 2'd0, S_EXP = 2'd1, S_SEND = 2'd2;

    reg [1:0]                 state_reg;
    reg [INDEX_WIDTH-1:0]     index_reg;
    reg [MROW_WIDTH-1:0]      mrow_reg;       // mask row of the current row within its group
    reg [REP_WIDTH-1:0]       rep_reg;        // repetition of the current row's group
    reg signed [X_WIDTH-1:0]  max_reg;
    reg [SUM_WIDTH-1:0]       sum_reg;
    reg [N-1:0]               row_mask_reg;   // mask of the current row (from its first beat on)
    reg [N-1:0]               next_mask_reg;  // the next mask beat, taken ahead
    reg                       next_full_reg;
    reg [N-1:0]               mask_mem [MASK_ROWS];
    reg [BLOCK*X_WIDTH-1:0]   x_mem [ROW_BLOCKS];
    reg [BLOCK*EXP_WIDTH-1:0] e_mem [ROW_BLOCKS];

    wire last = (index_reg == LAST_INDEX);
    wire row_start = (index_reg == '0);
    wire first_rep = (rep_reg == '0);

    // ---- the mask of the beat being received: at a row's first beat it comes from the
    // prefetch register (first repetition) or the held rows, later from row_mask_reg ----
    wire [N-1:0] held_mask = mask_mem[mrow_reg];
    wire [N-1:0] start_mask = first_rep ? next_mask_reg : held_mask;
    wire [N-1:0] cur_mask = row_start ? start_mask : row_mask_reg;
    wire [BLOCK-1:0] beat_keep = cur_mask[index_reg*BLOCK +: BLOCK];

    // ---- input: convert the beat and find the maximum of its kept elements ----
    wire [BLOCK*X_WIDTH-1:0] x_fixed;
    genvar e;
    generate
        for (e = 0; e < BLOCK; e = e + 1) begin : g_in
            mase_mxint_to_fixed #(.EXP_BITS(EXP_BITS), .MAN_BITS(MAN_BITS), .X_WIDTH(X_WIDTH), .X_FRAC(X_FRAC))
                u_to_fixed (.mant(x_mant[e*(MAN_BITS+1) +: MAN_BITS+1]), .exp(x_exp),
                            .fixed(x_fixed[e*X_WIDTH +: X_WIDTH]));
        end
    endgenerate

    // X_MIN is the grid's smallest value, so starting from it gives the max of the kept elements
    // (and X_MIN for a beat without one, which never raises the row maximum)
    reg signed [X_WIDTH-1:0] beat_max;
    always @* begin  // not always_comb: Icarus 11 rejects loop-indexed part selects there
        beat_max = X_MIN;
        for (int i = 0; i < BLOCK; i = i + 1)
            if (beat_keep[i] && $signed(x_fixed[i*X_WIDTH +: X_WIDTH]) > beat_max)
                beat_max = $signed(x_fixed[i*X_WIDTH +: X_WIDTH]);
    end

    // ---- exponentials of one stored beat (masked lanes 0; a row without kept lanes uniform) ----
    wire row_any = |row_mask_reg;
    wire [BLOCK-1:0] stored_keep = row_mask_reg[index_reg*BLOCK +: BLOCK];
    wire [BLOCK*X_WIDTH-1:0]   x_stored = x_mem[index_reg];
    wire [BLOCK*EXP_WIDTH-1:0] e_beat;
    generate
        for (e = 0; e < BLOCK; e = e + 1) begin : g_exp
            wire signed [63:0] diff = 64'(max_reg) - 64'($signed(x_stored[e*X_WIDTH +: X_WIDTH]));
            wire [63:0] u_q = diff * LOG2E_16;
            wire [63:0] z = u_q >> (X_FRAC + 16);
            wire [63:0] r = (u_q >> X_FRAC) & 64'hFFFF;
            wire [63:0] p = 64'd65536 - ((POLY_A1 * r) >> 16) + ((POLY_A2 * r * r) >> 32);
            /* verilator lint_off UNUSEDSIGNAL */
            wire [63:0] e_value = p >> ((z > 64'd17) ? 64'd17 : z);   // <= 2^16
            /* verilator lint_on UNUSEDSIGNAL */
            assign e_beat[e*EXP_WIDTH +: EXP_WIDTH] =
                !row_any ? EXP_WIDTH'(65536) : (stored_keep[e] ? e_value[EXP_WIDTH-1:0] : '0);
        end
    endgenerate

    reg [SUM_WIDTH-1:0] beat_sum;
    always_comb begin
        beat_sum = '0;
        for (int i = 0; i < BLOCK; i = i + 1) beat_sum = beat_sum + SUM_WIDTH'(e_beat[i*EXP_WIDTH +: EXP_WIDTH]);
    end

    // ---- output: divide one stored beat by the row sum (>= 2^16: the row maximum, or uniform) ----
    wire [BLOCK*EXP_WIDTH-1:0] e_stored = e_mem[index_reg];
    generate
        for (e = 0; e < BLOCK; e = e + 1) begin : g_out
            wire [DIV_WIDTH-1:0] numerator = DIV_WIDTH'(e_stored[e*EXP_WIDTH +: EXP_WIDTH]) << OUT_FRAC;
            // the quotient is <= 2^OUT_FRAC because e <= sum
            /* verilator lint_off UNUSEDSIGNAL */
            wire [DIV_WIDTH-1:0] quotient = numerator / DIV_WIDTH'(sum_reg);
            /* verilator lint_on UNUSEDSIGNAL */
            assign y_data[e*OUT_WIDTH +: OUT_WIDTH] = quotient[OUT_WIDTH-1:0];
        end
    endgenerate

    // a row's first beat in the first repetition waits for its mask row
    assign x_ready = (state_reg == S_RECV) && (!row_start || !first_rep || next_full_reg);
    assign mask_ready = !next_full_reg;
    assign y_valid = (state_reg == S_SEND);

    wire take_mask = x_valid && x_ready && row_start && first_rep;

    always_ff @(posedge clk) begin
        if (rst) begin
            next_full_reg <= 1'b0;
        end else if (take_mask) begin
            next_full_reg <= 1'b0;
        end else if (mask_valid && mask_ready) begin
            next_full_reg <= 1'b1;
        end
        if (mask_valid && mask_ready) next_mask_reg <= mask_data;
        if (take_mask) mask_mem[mrow_reg] <= next_mask_reg;
    end

    always_ff @(posedge clk) begin
        if (rst) begin
            state_reg    <= S_RECV;
            index_reg    <= '0;
            mrow_reg     <= '0;
            rep_reg      <= '0;
            max_reg      <= '0;
            sum_reg      <= '0;
            row_mask_reg <= '0;
        end else begin
            case (state_reg)
                S_RECV: if (x_valid && x_ready) begin
                    x_mem[index_reg] <= x_fixed;
                    if (row_start) row_mask_reg <= start_mask;
                    if (row_start || beat_max > max_reg) max_reg <= beat_max;
                    index_reg <= last ? '0 : index_reg + 1'b1;
                    if (last) begin
                        state_reg <= S_EXP;
                        sum_reg   <= '0;
                    end
                end
                S_EXP: begin
                    e_mem[index_reg] <= e_beat;
                    sum_reg   <= sum_reg + beat_sum;
                    index_reg <= last ? '0 : index_reg + 1'b1;
                    if (last) state_reg <= S_SEND;
                end
                S_SEND: if (y_ready) begin
                    index_reg <= last ? '0 : index_reg + 1'b1;
                    if (last) begin
                        state_reg <= S_RECV;
                        // next row of the group: mask row, then repetition
                        mrow_reg <= (mrow_reg == LAST_MROW) ? '0 : mrow_reg + 1'b1;
                        if (mrow_reg == LAST_MROW) rep_reg <= (rep_reg == LAST_REP) ? '0 : rep_reg + 1'b1;
                    end
                end
                default: state_reg <= S_RECV;
            endcase
        end
    end
endmodule

`default_nettype wire
