// mase_skid_buffer: a register slice that cuts every combinational path
// between its two sides (valid, data and ready are all registered) and still
// moves one beat per cycle.  When the output stalls, the beat that was already
// in flight (accepted because x_ready was registered high) lands in a second
// "skid" register.  Latency: one cycle.
`default_nettype none

module mase_skid_buffer #(
    parameter int DATA_WIDTH = 8  // bits per beat
) (
    input  wire                  clk,
    input  wire                  rst,      // synchronous, active high
    // input stream
    input  wire                  x_valid,
    output wire                  x_ready,
    input  wire [DATA_WIDTH-1:0] x_data,
    // output stream
    output wire                  y_valid,
    input  wire                  y_ready,
    output wire [DATA_WIDTH-1:0] y_data
);
    logic                  out_valid_reg, skid_valid_reg, ready_reg;
    logic [DATA_WIDTH-1:0] out_data_reg, skid_data_reg;

    assign x_ready = ready_reg;
    assign y_valid = out_valid_reg;
    assign y_data  = out_data_reg;

    wire take_in  = x_valid && ready_reg;
    wire out_free = !out_valid_reg || y_ready;  // output register empties this edge

    always_ff @(posedge clk) begin
        if (rst) begin
            out_valid_reg  <= 1'b0;
            skid_valid_reg <= 1'b0;
            ready_reg      <= 1'b0;
        end else begin
            if (out_free) begin
                // refill the output from the skid register first (order kept)
                if (skid_valid_reg) begin
                    out_valid_reg  <= 1'b1;
                    out_data_reg   <= skid_data_reg;
                    skid_valid_reg <= take_in;
                    if (take_in) skid_data_reg <= x_data;
                end else begin
                    out_valid_reg <= take_in;
                    if (take_in) out_data_reg <= x_data;
                end
            end else if (take_in) begin
                skid_valid_reg <= 1'b1;
                skid_data_reg  <= x_data;
            end
            // ready next cycle iff the skid register will be empty
            ready_reg <= out_free ? (!skid_valid_reg || !take_in) : !(skid_valid_reg || take_in);
        end
    end
endmodule

`default_nettype wire
