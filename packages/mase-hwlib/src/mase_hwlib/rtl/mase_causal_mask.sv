// mase_causal_mask: the causal attention mask as a stream of mask rows, generated (no ROM).
//
// Row i (query position i) keeps key j when j <= i + OFFSET: bit j of y_data is 1 for
// j <= i + OFFSET, 0 above (OFFSET = 0: transformers' causal mask of a sequence without a
// cache). Beat sequence: rows 0 .. SEQ-1, REPEAT times (forever when REPEAT = 0), one row per
// beat, one beat per cycle; the output is registered. Feeds the mask stream of
// mase_mxint_masked_softmax (one beat per query row; the heads reuse it there).
`default_nettype none

module mase_causal_mask #(
    parameter int SEQ = 8,      // query rows per pass
    parameter int KEYS = 8,     // keys per row (bits per beat)
    parameter int OFFSET = 0,   // row i keeps keys j <= i + OFFSET
    parameter int REPEAT = 0    // passes; 0 = forever
) (
    input  wire            clk,
    input  wire            rst,      // synchronous, active high
    // mask rows: bit j = 1 keeps key j
    output wire [KEYS-1:0] y_data,
    output wire            y_valid,
    input  wire            y_ready
);
    localparam int RW = SEQ > 1 ? $clog2(SEQ) : 1;
    localparam int PW = REPEAT > 1 ? $clog2(REPEAT) : 1;

    reg [RW-1:0]   row_reg;       // row of the next beat
    reg [PW-1:0]   pass_reg;      // completed passes (REPEAT > 0)
    reg            done_reg;      // every beat has been loaded into the output register
    reg            out_valid_reg;
    reg [KEYS-1:0] out_row_reg;

    // keep bits of the next row: j <= row + OFFSET (32-bit compare: row, OFFSET < 2^31)
    wire [31:0] last_kept = 32'(row_reg) + 32'(OFFSET);
    reg [KEYS-1:0] next_row;
    always @* begin  // not always_comb: Icarus 11 rejects loop-indexed bit selects there
        for (int j = 0; j < KEYS; j = j + 1) next_row[j] = (32'(j) <= last_kept);
    end

    wire load = !done_reg && (!out_valid_reg || y_ready);
    wire row_last = row_reg == RW'(SEQ - 1);
    wire pass_last = (REPEAT > 0) && pass_reg == PW'(REPEAT - 1);

    assign y_valid = out_valid_reg;
    assign y_data = out_row_reg;

    always_ff @(posedge clk) begin
        if (rst) begin
            row_reg       <= '0;
            pass_reg      <= '0;
            done_reg      <= 1'b0;
            out_valid_reg <= 1'b0;
            out_row_reg   <= '0;
        end else begin
            if (out_valid_reg && y_ready && !load) out_valid_reg <= 1'b0;
            if (load) begin
                out_valid_reg <= 1'b1;
                out_row_reg   <= next_row;
                row_reg       <= row_last ? '0 : row_reg + 1'b1;
                if (row_last) begin
                    pass_reg <= pass_reg + 1'b1;
                    if (pass_last) done_reg <= 1'b1;
                end
            end
        end
    end
endmodule

`default_nettype wire
