// mase_transpose: reorder buffer that turns a frame of ROWS x COLS beats
// (tiles) streamed row-major into the same frame streamed column-major:
// input beat r*COLS + c leaves as output beat c*ROWS + r. (A row-major to
// column-major change is the same module with ROWS and COLS swapped.)
// Two frame banks (ping-pong): one fills while the other drains, so the
// steady-state throughput is one beat per cycle; first-output latency is one
// frame plus one cycle. Output data is registered.
`default_nettype none

module mase_transpose #(
    parameter int DATA_WIDTH = 8,  // bits per beat (a whole tile, packed)
    parameter int ROWS       = 2,  // tile rows per frame
    parameter int COLS       = 3   // tile columns per frame
) (
    input  wire                  clk,
    input  wire                  rst,      // synchronous, active high
    // input stream (row-major tiles)
    input  wire                  x_valid,
    output wire                  x_ready,
    input  wire [DATA_WIDTH-1:0] x_data,
    // output stream (column-major tiles)
    output wire                  y_valid,
    input  wire                  y_ready,
    output wire [DATA_WIDTH-1:0] y_data
);
    localparam int FRAME  = ROWS * COLS;
    localparam int AW     = $clog2(2 * FRAME);   // address over both banks
    localparam int IW     = $clog2(FRAME + 1);   // index inside one frame
    localparam int RW     = $clog2(ROWS + 1);
    localparam int CW     = $clog2(COLS + 1);

    logic [DATA_WIDTH-1:0] mem [2 * FRAME];
    logic [1:0]            full_reg;             // bank holds a complete frame
    logic                  wr_bank_reg, rd_bank_reg;
    logic [IW-1:0]         wr_idx_reg;           // row-major write index
    logic [RW-1:0]         rd_row_reg;
    logic [CW-1:0]         rd_col_reg;
    logic                  out_valid_reg;
    logic [DATA_WIDTH-1:0] out_data_reg;

    wire write    = x_valid && x_ready;
    wire out_free = !out_valid_reg || y_ready;
    wire read     = out_free && full_reg[rd_bank_reg];
    wire wr_last  = wr_idx_reg == IW'(FRAME - 1);
    wire rd_last_row = rd_row_reg == RW'(ROWS - 1);
    wire rd_last  = rd_last_row && (rd_col_reg == CW'(COLS - 1));

    wire [AW-1:0] wr_addr = AW'(wr_bank_reg) * AW'(FRAME) + AW'(wr_idx_reg);
    wire [AW-1:0] rd_addr = AW'(rd_bank_reg) * AW'(FRAME) + AW'(rd_row_reg) * AW'(COLS) + AW'(rd_col_reg);

    assign x_ready = !full_reg[wr_bank_reg];
    assign y_valid = out_valid_reg;
    assign y_data  = out_data_reg;

    always_ff @(posedge clk) begin
        if (write) mem[wr_addr] <= x_data;
        if (read) out_data_reg <= mem[rd_addr];
        if (rst) begin
            full_reg      <= 2'b00;
            wr_bank_reg   <= 1'b0;
            rd_bank_reg   <= 1'b0;
            wr_idx_reg    <= '0;
            rd_row_reg    <= '0;
            rd_col_reg    <= '0;
            out_valid_reg <= 1'b0;
        end else begin
            if (out_free) out_valid_reg <= read;
            if (write) begin
                wr_idx_reg <= wr_last ? '0 : wr_idx_reg + 1'b1;
                if (wr_last) wr_bank_reg <= !wr_bank_reg;
            end
            if (read) begin
                rd_row_reg <= rd_last_row ? '0 : rd_row_reg + 1'b1;
                if (rd_last_row) rd_col_reg <= rd_last ? '0 : rd_col_reg + 1'b1;
                if (rd_last) rd_bank_reg <= !rd_bank_reg;
            end
            // a bank fills on its last write and empties on its last read
            for (int b = 0; b < 2; b++) begin
                if (write && wr_last && wr_bank_reg == 1'(b)) full_reg[b] <= 1'b1;
                if (read && rd_last && rd_bank_reg == 1'(b)) full_reg[b] <= 1'b0;
            end
        end
    end
endmodule

`default_nettype wire
