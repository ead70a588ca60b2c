// mase_fixed_relu: max(x, 0) per lane of Fixed(IN_WIDTH, IN_FRAC) lanes, then
// rounded into Fixed(OUT_WIDTH, OUT_FRAC) (half to even, saturating; exact when
// the formats are equal). Fixed(W, F): two's complement integer v of W bits,
// value v * 2^-F. The rounding and the output register are mase_fixed_cast's.
// BLOCK lanes per beat, one beat per cycle, registered output (latency 1).
`default_nettype none

module mase_fixed_relu #(
    parameter int BLOCK     = 4,  // lanes per beat
    parameter int IN_WIDTH  = 8,  // input lane bits (two's complement)
    parameter int IN_FRAC   = 4,  // input fraction bits
    parameter int OUT_WIDTH = 8,  // output lane bits (two's complement)
    parameter int OUT_FRAC  = 4   // output fraction bits
) (
    input  wire                       clk,
    input  wire                       rst,      // synchronous, active high
    // input lanes
    input  wire                       x_valid,
    output wire                       x_ready,
    input  wire [BLOCK*IN_WIDTH-1:0]  x_data,
    // output lanes
    output wire                       y_valid,
    input  wire                       y_ready,
    output wire [BLOCK*OUT_WIDTH-1:0] y_data
);
    wire [BLOCK*IN_WIDTH-1:0] clipped;
    for (genvar j = 0; j < BLOCK; j++) begin : g_lane
        wire [IN_WIDTH-1:0] v = x_data[j*IN_WIDTH +: IN_WIDTH];
        assign clipped[j*IN_WIDTH +: IN_WIDTH] = v[IN_WIDTH-1] ? '0 : v;
    end

    mase_fixed_cast #(
        .BLOCK(BLOCK), .IN_WIDTH(IN_WIDTH), .IN_FRAC(IN_FRAC), .OUT_WIDTH(OUT_WIDTH), .OUT_FRAC(OUT_FRAC)
    ) u_cast (
        .clk(clk), .rst(rst),
        .x_valid(x_valid), .x_ready(x_ready), .x_data(clipped),
        .y_valid(y_valid), .y_ready(y_ready), .y_data(y_data)
    );
endmodule

`default_nettype wire
