// mase_mxint_softmax: softmax over rows of MXInt blocks, integer-only.
//
// A row is ROW_BLOCKS consecutive blocks of BLOCK elements (N = BLOCK*ROW_BLOCKS).
// Elements go to fixed point first (mase_mxint_to_fixed: X_WIDTH bits, F = X_FRAC
// fraction bits, floor, saturating). Then, with m the row maximum,
//   exp(x - m) = 2^-(u),  u = (m - x) * log2(e) >= 0,  u = z + r, z integer, r in [0,1)
//   2^-r ~ 1 - 0.6699 r + 0.1699 r^2   (exact at r = 0 and r = 1, max rel. error 0.27%)
// in integers (16 fraction bits for r and for the exponential):
//   u_q = (m - x) * LOG2E_16            (F + 16 fraction bits, LOG2E_16 = 94548)
//   z   = u_q >> (F + 16),   r = (u_q >> F) mod 2^16
//   p   = 2^16 - ((43903 * r) >> 16) + ((11135 * r * r) >> 32)
//   e   = p >> min(z, 17)                (16 fraction bits, e <= 2^16)
//   y   = floor(e * 2^OUT_FRAC / sum_row(e))
// y is unsigned fixed point with OUT_FRAC fraction bits (OUT_FRAC + 1 bits, 1.0
// representable: the row maximum alone gives e = 2^16 so the sum is >= 2^16).
//
// Schedule per row: ROW_BLOCKS beats in (store, track the max), ROW_BLOCKS
// cycles of exponentials (store, sum), ROW_BLOCKS beats out (divide); rows do
// not overlap, so one row takes >= 3*ROW_BLOCKS cycles.
`default_nettype none

module mase_mxint_softmax #(
    parameter int BLOCK = 16,      // elements per block (one block per beat)
    parameter int ROW_BLOCKS = 4,  // blocks per softmax row
    parameter int EXP_BITS = 8,    // shared exponent bits
    parameter int MAN_BITS = 7,    // element mantissa bits m
    parameter int X_WIDTH = 16,    // internal fixed-point bits
    parameter int X_FRAC = 8,      // internal fraction bits
    parameter int OUT_FRAC = 12,   // output fraction bits (output is OUT_FRAC+1 bits, unsigned)
    localparam int OUT_WIDTH = OUT_FRAC + 1
) (
    input  wire                         clk,
    input  wire                         rst,
    // MXInt input block: element e at [e*(MAN_BITS+1) +: MAN_BITS+1]
    input  wire [BLOCK*(MAN_BITS+1)-1:0] x_mant,
    input  wire [EXP_BITS-1:0]          x_exp,
    input  wire                         x_valid,
    output wire                         x_ready,
    // probabilities: element e at [e*OUT_WIDTH +: OUT_WIDTH], value y * 2^-OUT_FRAC
    output wire [BLOCK*OUT_WIDTH-1:0]   y_data,
    output wire                         y_valid,
    input  wire                         y_ready
);
    localparam int N = BLOCK * ROW_BLOCKS;
    localparam int EXP_WIDTH = 17;                         // e in [0, 2^16]
    localparam int SUM_WIDTH = EXP_WIDTH + $clog2(N) + 1;
    localparam int DIV_WIDTH = SUM_WIDTH + OUT_FRAC;
    localparam int INDEX_WIDTH = (ROW_BLOCKS > 1) ? $clog2(ROW_BLOCKS) : 1;
    localparam logic [INDEX_WIDTH-1:0] LAST_INDEX = INDEX_WIDTH'(ROW_BLOCKS - 1);
    localparam logic signed [63:0] LOG2E_16 = 94548;
    localparam logic signed [63:0] POLY_A1 = 43903;
    localparam logic signed [63:0] POLY_A2 = 11135;

    localparam logic [1:0] S_RECV = 2'd0, S_EXP = 2'd1, S_SEND = 2'd2;

    reg [1:0]                 state_reg;
    reg [INDEX_WIDTH-1:0]     index_reg;
    reg signed [X_WIDTH-1:0]  max_reg;
    reg [SUM_WIDTH-1:0]       sum_reg;
    reg [BLOCK*X_WIDTH-1:0]   x_mem [ROW_BLOCKS];
    reg [BLOCK*EXP_WIDTH-1:0] e_mem [ROW_BLOCKS];

    wire last = (index_reg == LAST_INDEX);

    // ---- input: convert the beat and find its maximum ----
    wire [BLOCK*X_WIDTH-1:0] x_fixed;
    genvar e;
    generate
        for (e = 0; e < BLOCK; e = e + 1) begin : g_in
            mase_mxint_to_fixed #(.EXP_BITS(EXP_BITS), .MAN_BITS(MAN_BITS), .X_WIDTH(X_WIDTH), .X_FRAC(X_FRAC))
                u_to_fixed (.mant(x_mant[e*(MAN_BITS+1) +: MAN_BITS+1]), .exp(x_exp),
                            .fixed(x_fixed[e*X_WIDTH +: X_WIDTH]));
        end
    endgenerate

    reg signed [X_WIDTH-1:0] beat_max;
    always @* begin  // not always_comb: Icarus 11 rejects loop-indexed part selects there
        beat_max = $signed(x_fixed[X_WIDTH-1:0]);
        for (int i = 1; i < BLOCK; i = i + 1)
            if ($signed(x_fixed[i*X_WIDTH +: X_WIDTH]) > beat_max) beat_max = $signed(x_fixed[i*X_WIDTH +: X_WIDTH]);
    end

    // ---- exponentials of one stored beat ----
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
            assign e_beat[e*EXP_WIDTH +: EXP_WIDTH] = e_value[EXP_WIDTH-1:0];
        end
    endgenerate

    reg [SUM_WIDTH-1:0] beat_sum;
    always_comb begin
        beat_sum = '0;
        for (int i = 0; i < BLOCK; i = i + 1) beat_sum = beat_sum + SUM_WIDTH'(e_beat[i*EXP_WIDTH +: EXP_WIDTH]);
    end

    // ---- output: divide one stored beat by the row sum ----
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

    assign x_ready = (state_reg == S_RECV);
    assign y_valid = (state_reg == S_SEND);

    always_ff @(posedge clk) begin
        if (rst) begin
            state_reg <= S_RECV;
            index_reg <= '0;
            max_reg   <= '0;
            sum_reg   <= '0;
        end else begin
            case (state_reg)
                S_RECV: if (x_valid) begin
                    x_mem[index_reg] <= x_fixed;
                    if (index_reg == '0 || beat_max > max_reg) max_reg <= beat_max;
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
                    if (last) state_reg <= S_RECV;
                end
                default: state_reg <= S_RECV;
            endcase
        end
    end
endmodule

`default_nettype wire
