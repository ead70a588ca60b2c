// mase_dot_accumulator: sums NUM_BLOCKS consecutive beats of LANES aligned terms
// into exact accumulators and emits one output beat per NUM_BLOCKS input beats.
//
// The dot-product operators (BMF, BL, fixed point, minifloat) compute each
// beat's contribution combinationally, already aligned to the accumulator's
// least significant bit, and hand it here. ACC_WIDTH must hold the full sum:
// the caller derives it so no accumulation can overflow (exact accumulation).
//
// Throughput: one beat per cycle. The last beat of a dot product is written
// straight into the output register together with the sum, so the output
// register only stalls the input when it is still full on a last beat.
`default_nettype none

module mase_dot_accumulator #(
    parameter int LANES = 1,       // independent accumulators (output elements per beat)
    parameter int ACC_WIDTH = 32,  // bits of each two's-complement accumulator
    parameter int NUM_BLOCKS = 4   // input beats summed into one output beat (>= 1)
) (
    input  wire                        clk,
    input  wire                        rst,
    // one beat of aligned terms, lane l at [l*ACC_WIDTH +: ACC_WIDTH]
    input  wire [LANES*ACC_WIDTH-1:0]  term_data,
    input  wire                        term_valid,
    output wire                        term_ready,
    // the finished sums
    output wire [LANES*ACC_WIDTH-1:0]  y_data,
    output reg                         y_valid,
    input  wire                        y_ready
);
    // a counter of at least one bit, also for NUM_BLOCKS == 1
    localparam int COUNT_WIDTH = (NUM_BLOCKS > 1) ? $clog2(NUM_BLOCKS) : 1;
    localparam logic [COUNT_WIDTH-1:0] LAST_COUNT = COUNT_WIDTH'(NUM_BLOCKS - 1);

    reg [COUNT_WIDTH-1:0] count_reg;

    wire last = (count_reg == LAST_COUNT);
    assign term_ready = !last || !y_valid || y_ready;
    wire take = term_valid && term_ready;

    // one accumulator and one output register per lane (per-lane registers keep
    // every vector below Verilator's 8k-bit replication limit for wide tiles)
    genvar lane;
    generate
        for (lane = 0; lane < LANES; lane = lane + 1) begin : g_lane
            reg  [ACC_WIDTH-1:0] acc_reg;
            reg  [ACC_WIDTH-1:0] sum_reg;
            wire [ACC_WIDTH-1:0] acc_next = acc_reg + term_data[lane*ACC_WIDTH +: ACC_WIDTH];
            always_ff @(posedge clk) begin
                if (rst) begin
                    acc_reg <= '0;
                    sum_reg <= '0;
                end else if (take) begin
                    acc_reg <= last ? '0 : acc_next;
                    if (last) sum_reg <= acc_next;
                end
            end
            assign y_data[lane*ACC_WIDTH +: ACC_WIDTH] = sum_reg;
        end
    endgenerate

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
