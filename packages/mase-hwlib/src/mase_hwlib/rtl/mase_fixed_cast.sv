// mase_fixed_cast: Fixed(IN_WIDTH, IN_FRAC) -> Fixed(OUT_WIDTH, OUT_FRAC) per lane.
//
// Fixed(W, F): two's complement integer v of W bits, value v * 2^-F. Each lane
// is re-rounded once, half to even, onto the output grid and saturated
// (mase_fixed_round): mx_formats.quantize(v * 2^-IN_FRAC, Fixed(OUT_WIDTH,
// OUT_FRAC)). A finer or equal output grid with enough integer bits is exact.
// BLOCK lanes per beat, one beat per cycle, registered output (latency 1).
`default_nettype none

module mase_fixed_cast #(
    parameter int BLOCK     = 4,   // lanes per beat
    parameter int IN_WIDTH  = 8,   // input lane bits (two's complement)
    parameter int IN_FRAC   = 4,   // input fraction bits
    parameter int OUT_WIDTH = 8,   // output lane bits (two's complement)
    parameter int OUT_FRAC  = 4    // output fraction bits
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
    wire [BLOCK*OUT_WIDTH-1:0] rounded;
    mase_fixed_round #(
        .LANES(BLOCK), .IN_WIDTH(IN_WIDTH), .IN_FRAC(IN_FRAC), .OUT_WIDTH(OUT_WIDTH), .OUT_FRAC(OUT_FRAC)
    ) u_round (
        .in_data(x_data), .out_data(rounded)
    );

    // output register; x_ready passes y_ready through when it is full
    logic                       out_valid_reg;
    logic [BLOCK*OUT_WIDTH-1:0] out_data_reg;
    assign x_ready = !out_valid_reg || y_ready;
    assign y_valid = out_valid_reg;
    assign y_data  = out_data_reg;

    always_ff @(posedge clk) begin
        if (x_valid && x_ready) out_data_reg <= rounded;
        if (rst) out_valid_reg <= 1'b0;
        else if (x_ready) out_valid_reg <= x_valid;
    end
endmodule

`default_nettype wire
