// mase_tile_dot_pipeline: the handshake of the pipelined tile dot products
// (mase_mxint_tile_dot, mase_fixed_tile_dot). Control only; the data
// registers live in the operator and load on the enables given here.
//
//   product stage:  the tile products of a beat, registered (prod_load)
//   accumulator:    adds the registered products (acc_en; acc_first starts a
//                   new sum); on a last beat the finished sum leaves it
//   OUT_STAGES registers after it, a plain pipeline of finished sums:
//                   stage_load[0] takes the sum from the accumulator,
//                   stage_load[i] takes stage i-1, and stage OUT_STAGES-1 is
//                   the output register (y_valid)
//
// Splitting the multiply-add tree, the alignment and the normaliser into
// their own register stages is what lets these operators run at a realistic
// clock: before, all of them were one combinational path. One beat per cycle
// unstalled; a stalled output fills the stages behind it and then stops the
// input, so nothing is lost or duplicated. Latency: y_valid rises
// OUT_STAGES + 1 cycles after the last beat of a sum is taken, OUT_STAGES more
// than a single-stage engine.
`default_nettype none

module mase_tile_dot_pipeline #(
    parameter int OUT_STAGES = 2  // registers after the accumulator, the output register included (>= 1)
) (
    input  wire                  clk,
    input  wire                  rst,         // synchronous, active high
    // tile-pair stream (control)
    input  wire                  p_valid,
    output wire                  p_ready,
    input  wire                  p_first,
    input  wire                  p_last,
    // data-register enables
    output wire                  prod_load,   // the product stage takes the input beat
    output wire                  acc_en,      // the accumulator takes the product stage's beat
    output wire                  acc_first,   // ... and starts a new sum with it
    output wire [OUT_STAGES-1:0] stage_load,  // stage i takes its input (0: the finished sum)
    // output stream (control)
    output wire                  y_valid,
    input  wire                  y_ready
);
    logic prod_valid_reg, prod_first_reg, prod_last_reg;
    logic [OUT_STAGES-1:0] valid_reg;
    wire  [OUT_STAGES-1:0] free;  // stage i empties (or moves on) this edge

    // free[i] = !valid[i] || free[i+1], unrolled: some stage from i on is empty, or the output drains
    for (genvar i = 0; i < OUT_STAGES; i++) begin : g_free
        assign free[i] = !(&valid_reg[OUT_STAGES-1:i]) || y_ready;
    end
    for (genvar i = 1; i < OUT_STAGES; i++) begin : g_load
        assign stage_load[i] = valid_reg[i-1] && free[i];
    end
    assign acc_en        = prod_valid_reg && (!prod_last_reg || free[0]);
    assign acc_first     = prod_first_reg;
    assign stage_load[0] = acc_en && prod_last_reg;
    assign p_ready       = !prod_valid_reg || acc_en;  // the product stage is empty or drains this edge
    assign prod_load     = p_valid && p_ready;
    assign y_valid       = valid_reg[OUT_STAGES-1];

    always_ff @(posedge clk) begin
        if (prod_load) begin
            prod_first_reg <= p_first;
            prod_last_reg  <= p_last;
        end
        if (rst) begin
            prod_valid_reg <= 1'b0;
        end else if (p_ready) begin
            prod_valid_reg <= p_valid;
        end
    end
    // a stage that is free takes whatever its input offers this edge
    for (genvar i = 0; i < OUT_STAGES; i++) begin : g_valid
        always_ff @(posedge clk) begin
            if (rst) valid_reg[i] <= 1'b0;
            else if (free[i]) valid_reg[i] <= stage_load[i];
        end
    end
endmodule

`default_nettype wire
