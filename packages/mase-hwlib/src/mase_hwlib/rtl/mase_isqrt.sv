// mase_isqrt: combinational integer square root, root = floor(sqrt(value)).
//
// Restoring digit-by-digit method: two input bits per step from the top; the
// remainder is tested against 4*root + 1. ROOT_WIDTH = ceil(WIDTH/2) steps.
`default_nettype none

module mase_isqrt #(
    parameter int WIDTH = 32,  // input bits (unsigned)
    localparam int ROOT_WIDTH = (WIDTH + 1) / 2
) (
    input  wire [WIDTH-1:0]      value,
    output reg  [ROOT_WIDTH-1:0] root
);
    localparam int PADDED = 2 * ROOT_WIDTH;

    wire [PADDED-1:0] padded = PADDED'(value);
    reg  [ROOT_WIDTH+1:0] remainder;
    reg  [ROOT_WIDTH+1:0] trial;

    // always @* rather than always_comb: Icarus 11 cannot take bit selects of
    // a loop index into the sensitivity of an always_comb
    always @* begin
        remainder = '0;
        root = '0;
        trial = '0;
        for (int step = ROOT_WIDTH - 1; step >= 0; step = step - 1) begin
            remainder = {remainder[ROOT_WIDTH-1:0], padded[2*step +: 2]};
            trial = {root, 2'b01};
            if (remainder >= trial) begin
                remainder = remainder - trial;
                root = {root[ROOT_WIDTH-2:0], 1'b1};
            end else begin
                root = {root[ROOT_WIDTH-2:0], 1'b0};
            end
        end
    end
endmodule

`default_nettype wire
