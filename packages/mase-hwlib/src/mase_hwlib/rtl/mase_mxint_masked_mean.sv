// mase_mxint_masked_mean: mean over the kept rows of a [ROWS, N] MXInt tensor (masked mean
// pooling of a sentence encoder: sum_i m_i h_i / sum_i m_i), integer-only, fixed-point output.
//
// Per input: one mask beat (ROWS bits, bit i = 1 keeps row i), then ROWS rows of ROW_BLOCKS
// beats of BLOCK elements (N = BLOCK*ROW_BLOCKS). Elements go to fixed point first
// (mase_mxint_to_fixed: X_WIDTH bits, X_FRAC fraction bits, floor, saturating); with
// K = sum_i m_i the kept-row count,
//   S_c   = sum_{i: m_i = 1} x_{i,c}                     (exact, SUM_WIDTH bits)
//   y_c   = trunc(S_c * 2^(OUT_FRAC - X_FRAC) / K)      (toward zero; 0 when K = 0)
// saturated to OUT_WIDTH bits (signed), OUT_FRAC >= X_FRAC. That is (h * m).mean(1) / m.mean(1)
// of the float model, rounded once.
//
// Schedule per input: the mask beat, ROWS * ROW_BLOCKS beats in (accumulate), ROW_BLOCKS beats
// out (divide): ROW_BLOCKS * (ROWS + 1) + 1 cycles; inputs do not overlap.
`default_nettype none

module mase_mxint_masked_mean #(
    parameter int BLOCK = 16,       // elements per block (one block per beat)
    parameter int ROW_BLOCKS = 16,  // blocks per row (N = BLOCK * ROW_BLOCKS features)
    parameter int ROWS = 8,         // rows per input (the mask's bits)
    parameter int EXP_BITS = 8,     // shared exponent bits
    parameter int MAN_BITS = 7,     // element mantissa bits m
    parameter int X_WIDTH = 16,     // internal fixed-point bits
    parameter int X_FRAC = 8,       // internal fraction bits
    parameter int OUT_WIDTH = 16,   // output bits (two's complement, saturated)
    parameter int OUT_FRAC = 8      // output fraction bits (>= X_FRAC)
) (
    input  wire                          clk,
    input  wire                          rst,
    // MXInt input block: element e at [e*(MAN_BITS+1) +: MAN_BITS+1]
    input  wire [BLOCK*(MAN_BITS+1)-1:0] x_mant,
    input  wire [EXP_BITS-1:0]           x_exp,
    input  wire                          x_valid,
    output wire                          x_ready,
    // row mask: bit i = 1 keeps row i (one beat per input)
    input  wire [ROWS-1:0]               mask_data,
    input  wire                          mask_valid,
    output wire                          mask_ready,
    // means: element e at [e*OUT_WIDTH +: OUT_WIDTH], value y * 2^-OUT_FRAC
    output wire [BLOCK*OUT_WIDTH-1:0]    y_data,
    output wire                          y_valid,
    input  wire                          y_ready
);
    localparam int CNT_WIDTH = $clog2(ROWS + 1);
    localparam int SUM_WIDTH = X_WIDTH + CNT_WIDTH;
    localparam int NUM_WIDTH = SUM_WIDTH + OUT_FRAC - X_FRAC + 1;
    localparam int INDEX_WIDTH = (ROW_BLOCKS > 1) ? $clog2(ROW_BLOCKS) : 1;
    localparam int ROW_WIDTH = (ROWS > 1) ? $clog2(ROWS) : 1;
    localparam logic [INDEX_WIDTH-1:0] LAST_INDEX = INDEX_WIDTH'(ROW_BLOCKS - 1);
    localparam logic [ROW_WIDTH-1:0] LAST_ROW = ROW_WIDTH'(ROWS - 1);
    localparam logic signed [NUM_WIDTH-1:0] OUT_MAX = NUM_WIDTH'((64'sd1 <<< (OUT_WIDTH - 1)) - 1);
    localparam logic signed [NUM_WIDTH-1:0] OUT_MIN = NUM_WIDTH'(-(64'sd1 <<< (OUT_WIDTH - 1)));

    localparam logic [1:0] S_MASK = 2'd0, S_RECV = 2'd1, S_SEND = 2'd2;

    reg [1:0]                   state_reg;
    reg [INDEX_WIDTH-1:0]       index_reg;
    reg [ROW_WIDTH-1:0]         row_reg;
    reg [ROWS-1:0]              mask_reg;
    reg [CNT_WIDTH-1:0]         count_reg;
    reg [BLOCK*SUM_WIDTH-1:0]   acc_mem [ROW_BLOCKS];

    wire last = (index_reg == LAST_INDEX);
    wire keep = mask_reg[row_reg];

    // kept rows of a mask beat
    reg [CNT_WIDTH-1:0] mask_count;
    always @* begin  // not always_comb: Icarus 11 rejects loop-indexed bit selects there
        mask_count = '0;
        for (int i = 0; i < ROWS; i = i + 1) mask_count = mask_count + CNT_WIDTH'(mask_data[i]);
    end

    // ---- input: convert the beat and add it to its columns' sums ----
    wire [BLOCK*X_WIDTH-1:0] x_fixed;
    wire [BLOCK*SUM_WIDTH-1:0] acc_now = acc_mem[index_reg];
    wire [BLOCK*SUM_WIDTH-1:0] acc_next;
    genvar e;
    generate
        for (e = 0; e < BLOCK; e = e + 1) begin : g_in
            mase_mxint_to_fixed #(.EXP_BITS(EXP_BITS), .MAN_BITS(MAN_BITS), .X_WIDTH(X_WIDTH), .X_FRAC(X_FRAC))
                u_to_fixed (.mant(x_mant[e*(MAN_BITS+1) +: MAN_BITS+1]), .exp(x_exp),
                            .fixed(x_fixed[e*X_WIDTH +: X_WIDTH]));
            // the first row starts every sum from 0
            wire signed [SUM_WIDTH-1:0] base = (row_reg == '0) ? '0 : $signed(acc_now[e*SUM_WIDTH +: SUM_WIDTH]);
            wire signed [SUM_WIDTH-1:0] term = keep ? SUM_WIDTH'($signed(x_fixed[e*X_WIDTH +: X_WIDTH])) : '0;
            assign acc_next[e*SUM_WIDTH +: SUM_WIDTH] = base + term;
        end
    endgenerate

    // ---- output: one beat of sums divided by the kept-row count (toward zero) ----
    generate
        for (e = 0; e < BLOCK; e = e + 1) begin : g_out
            wire signed [SUM_WIDTH-1:0] sum = $signed(acc_now[e*SUM_WIDTH +: SUM_WIDTH]);
            wire signed [NUM_WIDTH-1:0] num = NUM_WIDTH'(sum) <<< (OUT_FRAC - X_FRAC);
            wire [NUM_WIDTH-1:0] mag = num[NUM_WIDTH-1] ? NUM_WIDTH'(-num) : NUM_WIDTH'(num);
            wire [NUM_WIDTH-1:0] quot = (count_reg == '0) ? '0 : mag / NUM_WIDTH'(count_reg);
            wire signed [NUM_WIDTH-1:0] q = num[NUM_WIDTH-1] ? -$signed(quot) : $signed(quot);
            /* verilator lint_off UNUSEDSIGNAL */  // saturated into OUT_WIDTH bits: the top bits are sign copies
            wire signed [NUM_WIDTH-1:0] sat = (q > OUT_MAX) ? OUT_MAX : ((q < OUT_MIN) ? OUT_MIN : q);
            /* verilator lint_on UNUSEDSIGNAL */
            assign y_data[e*OUT_WIDTH +: OUT_WIDTH] = sat[OUT_WIDTH-1:0];
        end
    endgenerate

    assign mask_ready = (state_reg == S_MASK);
    assign x_ready = (state_reg == S_RECV);
    assign y_valid = (state_reg == S_SEND);

    always_ff @(posedge clk) begin
        if (rst) begin
            state_reg <= S_MASK;
            index_reg <= '0;
            row_reg   <= '0;
            mask_reg  <= '0;
            count_reg <= '0;
        end else begin
            case (state_reg)
                S_MASK: if (mask_valid) begin
                    mask_reg  <= mask_data;
                    count_reg <= mask_count;
                    state_reg <= S_RECV;
                end
                S_RECV: if (x_valid) begin
                    acc_mem[index_reg] <= acc_next;
                    index_reg <= last ? '0 : index_reg + 1'b1;
                    if (last) begin
                        row_reg <= (row_reg == LAST_ROW) ? '0 : row_reg + 1'b1;
                        if (row_reg == LAST_ROW) state_reg <= S_SEND;
                    end
                end
                S_SEND: if (y_ready) begin
                    index_reg <= last ? '0 : index_reg + 1'b1;
                    if (last) state_reg <= S_MASK;
                end
                default: state_reg <= S_MASK;
            endcase
        end
    end
endmodule

`default_nettype wire
