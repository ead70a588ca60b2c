// mase_dot_accumulator: sums NUM_BLOCKS consecutive beats of LANES terms and
// emits one output beat per NUM_BLOCKS input beats: the sequencing, handshake
// and output register shared by the BMF, BL, fixed-point and minifloat dot
// products, which compute each beat's term (an exact block sum) combinationally.
//
// ALIGN = 0 (fixed point, scalar minifloat): every term has the same LSB, so
// the sum is a plain two's-complement integer sum, exact as long as ACC_WIDTH
// holds it (the caller derives ACC_WIDTH from the term bound); term_lsb is
// ignored and y_lsb is 0.
// ALIGN = 1 (BMF, BL): beat i carries its own LSB exponent L_i (term value
// P_i * 2^(L_i)); the terms go into mase_bounded_accumulator (ACC_WIDTH bits
// per lane, FRAC_BITS = F, ROUND), and the output is A * 2^(y_lsb),
// y_lsb = max L_i - F (value and error bound: mase_hwlib.golden.accumulate).
//
// Throughput: one beat per cycle. The last beat of a dot product is written
// straight into the output register together with the sum, so the output
// register only stalls the input when it is still full on a last beat.
`default_nettype none

module mase_dot_accumulator #(
    parameter int LANES = 1,       // independent sums (output elements per beat)
    parameter int TERM_WIDTH = 32, // bits of each signed term lane (<= ACC_WIDTH)
    parameter int ACC_WIDTH = 32,  // bits of each two's-complement sum lane
    parameter int NUM_BLOCKS = 4,  // input beats summed into one output beat (>= 1)
    parameter int ALIGN = 0,       // 0: one common LSB (exact integer sum); 1: per-beat LSB, bounded accumulator
    /* verilator lint_off UNUSEDPARAM */  // FRAC_BITS and ROUND only matter with ALIGN = 1
    parameter int FRAC_BITS = 0,   // ALIGN = 1: F, sum bits kept below the largest term's LSB
    parameter int EXP_WIDTH = 2,   // bits of the signed exponents term_lsb / y_lsb
    parameter int ROUND = 1        // ALIGN = 1: shifted-out bits 0 truncate (floor), 1 nearest-even
    /* verilator lint_on UNUSEDPARAM */
) (
    input  wire                        clk,
    input  wire                        rst,
    // one beat of terms, lane l at [l*TERM_WIDTH +: TERM_WIDTH], LSB exponent term_lsb
    input  wire [LANES*TERM_WIDTH-1:0] term_data,
    input  wire signed [EXP_WIDTH-1:0] term_lsb,
    input  wire                        term_valid,
    output wire                        term_ready,
    // the finished sums, lane l at [l*ACC_WIDTH +: ACC_WIDTH], value y * 2^(y_lsb)
    output wire [LANES*ACC_WIDTH-1:0]  y_data,
    output wire signed [EXP_WIDTH-1:0] y_lsb,
    output reg                         y_valid,
    input  wire                        y_ready
);
    // a counter of at least one bit, also for NUM_BLOCKS == 1
    localparam int COUNT_WIDTH = (NUM_BLOCKS > 1) ? $clog2(NUM_BLOCKS) : 1;
    localparam logic [COUNT_WIDTH-1:0] LAST_COUNT = COUNT_WIDTH'(NUM_BLOCKS - 1);

    reg [COUNT_WIDTH-1:0] count_reg;

    wire first = (count_reg == '0);
    wire last  = (count_reg == LAST_COUNT);
    assign term_ready = !last || !y_valid || y_ready;
    wire take = term_valid && term_ready;

    // ---- the running sum after this beat --------------------------------------
    wire [LANES*ACC_WIDTH-1:0]  sum;
    wire signed [EXP_WIDTH-1:0] sum_lsb;
    if (ALIGN != 0) begin : g_bounded
        wire [LANES*ACC_WIDTH-1:0] zero = '0;  // a sum starts from 0 with R = L_0
        mase_bounded_accumulator #(
            .LANES(LANES), .TERM_WIDTH(TERM_WIDTH), .ACC_WIDTH(ACC_WIDTH), .FRAC_BITS(FRAC_BITS),
            .EXP_WIDTH(EXP_WIDTH), .ROUND(ROUND)
        ) u_acc (
            .clk(clk), .en(take), .first(first), .init_acc(zero), .init_ref(term_lsb),
            .term(term_data), .term_lsb(term_lsb), .sum(sum), .sum_lsb(sum_lsb)
        );
    end else begin : g_exact
        // one accumulator per lane (per-lane registers keep every vector below
        // the 8k-bit replication limit of the lint tool for wide tiles)
        for (genvar lane = 0; lane < LANES; lane++) begin : g_lane
            reg  [ACC_WIDTH-1:0] acc_reg;
            wire [ACC_WIDTH-1:0] term = ACC_WIDTH'($signed(term_data[lane*TERM_WIDTH +: TERM_WIDTH]));
            assign sum[lane*ACC_WIDTH +: ACC_WIDTH] = (first ? '0 : acc_reg) + term;
            always_ff @(posedge clk) begin
                if (take) acc_reg <= sum[lane*ACC_WIDTH +: ACC_WIDTH];
            end
        end
        assign sum_lsb = '0;
        /* verilator lint_off UNUSEDSIGNAL */
        wire unused = &{1'b0, term_lsb};
        /* verilator lint_on UNUSEDSIGNAL */
    end

    // ---- output register ------------------------------------------------------
    genvar lane;
    generate
        for (lane = 0; lane < LANES; lane = lane + 1) begin : g_out
            reg [ACC_WIDTH-1:0] sum_reg;
            always_ff @(posedge clk) begin
                if (take && last) sum_reg <= sum[lane*ACC_WIDTH +: ACC_WIDTH];
            end
            assign y_data[lane*ACC_WIDTH +: ACC_WIDTH] = sum_reg;
        end
    endgenerate
    reg signed [EXP_WIDTH-1:0] lsb_reg;
    always_ff @(posedge clk) begin
        if (take && last) lsb_reg <= sum_lsb;
    end
    assign y_lsb = lsb_reg;

    always_ff @(posedge clk) begin
        if (rst) begin
            count_reg <= '0;
            y_valid   <= 1'b0;
        end else begin
            if (y_valid && y_ready) y_valid <= 1'b0;
            if (take) begin
                count_reg <= last ? '0 : count_reg + 1'b1;
                if (last) y_valid <= 1'b1;
            end
        end
    end
endmodule

`default_nettype wire
