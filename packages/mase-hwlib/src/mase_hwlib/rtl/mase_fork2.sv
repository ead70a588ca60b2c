// mase_fork2: copies every input beat to two output streams a and b.
// Each output takes the beat independently (eager fork); the input beat is
// consumed once both outputs have taken it, so one slow consumer does not
// force the other into lock-step within a beat. Combinational, no storage
// beyond two "already sent" flags.
`default_nettype none

module mase_fork2 #(
    parameter int DATA_WIDTH = 8  // bits per beat
) (
    input  wire                  clk,
    input  wire                  rst,      // synchronous, active high
    // input stream
    input  wire                  x_valid,
    output wire                  x_ready,
    input  wire [DATA_WIDTH-1:0] x_data,
    // output stream a
    output wire                  a_valid,
    input  wire                  a_ready,
    output wire [DATA_WIDTH-1:0] a_data,
    // output stream b
    output wire                  b_valid,
    input  wire                  b_ready,
    output wire [DATA_WIDTH-1:0] b_data
);
    logic a_done_reg, b_done_reg;  // this beat was already taken by a / b

    assign a_valid = x_valid && !a_done_reg;
    assign b_valid = x_valid && !b_done_reg;
    assign a_data  = x_data;
    assign b_data  = x_data;

    wire a_ok = a_done_reg || a_ready;
    wire b_ok = b_done_reg || b_ready;
    assign x_ready = a_ok && b_ok;

    always_ff @(posedge clk) begin
        if (rst || (x_valid && x_ready)) begin
            a_done_reg <= 1'b0;
            b_done_reg <= 1'b0;
        end else begin
            if (a_valid && a_ready) a_done_reg <= 1'b1;
            if (b_valid && b_ready) b_done_reg <= 1'b1;
        end
    end
endmodule

`default_nettype wire
