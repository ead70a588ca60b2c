// mase_join2: joins two streams into one: an output beat carries one beat of
// a (low half) and one beat of b (high half) and moves only when both inputs
// are valid; both inputs are consumed together. Combinational.
`default_nettype none

module mase_join2 #(
    parameter int DATA_WIDTH = 8  // bits per input beat
) (
    input  wire                    clk,
    input  wire                    rst,    // unused: the join holds no state
    // input stream a
    input  wire                    a_valid,
    output wire                    a_ready,
    input  wire [DATA_WIDTH-1:0]   a_data,
    // input stream b
    input  wire                    b_valid,
    output wire                    b_ready,
    input  wire [DATA_WIDTH-1:0]   b_data,
    // output stream: {b, a}
    output wire                    y_valid,
    input  wire                    y_ready,
    output wire [2*DATA_WIDTH-1:0] y_data
);
    // clk and rst keep the common port list; a join needs neither
    /* verilator lint_off UNUSEDSIGNAL */
    wire unused = &{1'b0, clk, rst};
    /* verilator lint_on UNUSEDSIGNAL */

    assign y_valid = a_valid && b_valid;
    assign a_ready = y_ready && b_valid;
    assign b_ready = y_ready && a_valid;
    assign y_data  = {b_data, a_data};
endmodule

`default_nettype wire
