// mase_fixed_add: elementwise a + b of Fixed(A_WIDTH, A_FRAC) and
// Fixed(B_WIDTH, B_FRAC) lanes into Fixed(OUT_WIDTH, OUT_FRAC).
//
// Fixed(W, F): two's complement integer v of W bits, value v * 2^-F. Both
// operands are aligned exactly onto the finer grid F = max(A_FRAC, B_FRAC)
// (left shifts by F - A_FRAC and F - B_FRAC), added exactly in
//   SUM_W = max(A_WIDTH + F - A_FRAC, B_WIDTH + F - B_FRAC) + 1 bits,
// then rounded once, half to even, and saturated (mase_fixed_round):
// mx_formats.quantize(a + b, Fixed(OUT_WIDTH, OUT_FRAC)) of the exact sum.
// BLOCK lane pairs per beat; a beat is taken when both a and b are valid and
// the output register is free; one beat per cycle, registered output (latency 1).
`default_nettype none

module mase_fixed_add #(
    parameter int BLOCK     = 4,  // lanes per beat
    parameter int A_WIDTH   = 8,  // a lane bits (two's complement)
    parameter int A_FRAC    = 4,  // a fraction bits
    parameter int B_WIDTH   = 8,  // b lane bits (two's complement)
    parameter int B_FRAC    = 4,  // b fraction bits
    parameter int OUT_WIDTH = 8,  // output lane bits (two's complement)
    parameter int OUT_FRAC  = 4   // output fraction bits
) (
    input  wire                       clk,
    input  wire                       rst,      // synchronous, active high
    // operand a
    input  wire                       a_valid,
    output wire                       a_ready,
    input  wire [BLOCK*A_WIDTH-1:0]   a_data,
    // operand b
    input  wire                       b_valid,
    output wire                       b_ready,
    input  wire [BLOCK*B_WIDTH-1:0]   b_data,
    // sum
    output wire                       y_valid,
    input  wire                       y_ready,
    output wire [BLOCK*OUT_WIDTH-1:0] y_data
);
    localparam int F     = A_FRAC > B_FRAC ? A_FRAC : B_FRAC;
    localparam int A_SH  = F - A_FRAC;
    localparam int B_SH  = F - B_FRAC;
    localparam int A_TOP = A_WIDTH + A_SH;
    localparam int B_TOP = B_WIDTH + B_SH;
    localparam int SUM_W = (A_TOP > B_TOP ? A_TOP : B_TOP) + 1;

    wire [BLOCK*SUM_W-1:0] sums;
    for (genvar j = 0; j < BLOCK; j++) begin : g_lane
        wire signed [A_WIDTH-1:0] a = a_data[j*A_WIDTH +: A_WIDTH];
        wire signed [B_WIDTH-1:0] b = b_data[j*B_WIDTH +: B_WIDTH];
        assign sums[j*SUM_W +: SUM_W] = (SUM_W'(a) <<< A_SH) + (SUM_W'(b) <<< B_SH);
    end

    wire [BLOCK*OUT_WIDTH-1:0] rounded;
    mase_fixed_round #(
        .LANES(BLOCK), .IN_WIDTH(SUM_W), .IN_FRAC(F), .OUT_WIDTH(OUT_WIDTH), .OUT_FRAC(OUT_FRAC)
    ) u_round (
        .in_data(sums), .out_data(rounded)
    );

    // join the operands; the output register is free or being emptied
    logic                       out_valid_reg;
    logic [BLOCK*OUT_WIDTH-1:0] out_data_reg;
    wire out_free = !out_valid_reg || y_ready;
    wire fire     = a_valid && b_valid && out_free;
    assign a_ready = out_free && b_valid;
    assign b_ready = out_free && a_valid;
    assign y_valid = out_valid_reg;
    assign y_data  = out_data_reg;

    always_ff @(posedge clk) begin
        if (fire) out_data_reg <= rounded;
        if (rst) out_valid_reg <= 1'b0;
        else if (out_free) out_valid_reg <= fire;
    end
endmodule

`default_nettype wire
