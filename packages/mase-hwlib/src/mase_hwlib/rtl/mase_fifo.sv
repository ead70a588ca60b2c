// mase_fifo: a synchronous first-in first-out buffer of DEPTH beats.
// The output is registered (first-word fall-through from a registered read),
// so a beat written into an empty FIFO is visible one cycle later. Full
// throughput: one write and one read per cycle.
`default_nettype none

module mase_fifo #(
    parameter int DATA_WIDTH = 8,  // bits per beat
    parameter int DEPTH      = 4   // beats of storage (>= 2)
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
    localparam int ADDR_WIDTH = $clog2(DEPTH);

    logic [DATA_WIDTH-1:0] mem [DEPTH];
    logic [ADDR_WIDTH-1:0] wr_ptr_reg, rd_ptr_reg;
    logic [ADDR_WIDTH:0]   count_reg;  // beats held in mem (not counting the output register)
    logic                  out_valid_reg;
    logic [DATA_WIDTH-1:0] out_data_reg;

    wire write    = x_valid && x_ready;
    wire out_free = !out_valid_reg || y_ready;
    wire read     = out_free && (count_reg != 0);

    assign x_ready = (count_reg != (ADDR_WIDTH+1)'(DEPTH));
    assign y_valid = out_valid_reg;
    assign y_data  = out_data_reg;

    function automatic [ADDR_WIDTH-1:0] next_ptr(input [ADDR_WIDTH-1:0] p);
        next_ptr = (p == ADDR_WIDTH'(DEPTH - 1)) ? '0 : p + 1'b1;
    endfunction

    always_ff @(posedge clk) begin
        if (write) mem[wr_ptr_reg] <= x_data;
        if (read) out_data_reg <= mem[rd_ptr_reg];
        if (rst) begin
            wr_ptr_reg    <= '0;
            rd_ptr_reg    <= '0;
            count_reg     <= '0;
            out_valid_reg <= 1'b0;
        end else begin
            if (write) wr_ptr_reg <= next_ptr(wr_ptr_reg);
            if (read) rd_ptr_reg <= next_ptr(rd_ptr_reg);
            count_reg <= count_reg + (ADDR_WIDTH+1)'(write) - (ADDR_WIDTH+1)'(read);
            if (out_free) out_valid_reg <= (count_reg != 0);
        end
    end
endmodule

`default_nettype wire
