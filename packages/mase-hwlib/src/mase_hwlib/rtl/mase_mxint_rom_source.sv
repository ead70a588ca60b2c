// mase_mxint_rom_source: streams a constant MXInt tensor held in a ROM, so a
// constant operand (layer-norm gamma / beta, the 1/sqrt(d) attention scale, a
// bias broadcast over rows) can feed mase_mxint_mul / mase_mxint_add in step
// with an activation stream.
//
// The ROM holds DEPTH words loaded with $readmemh from ROM_FILE, word i =
// {exp, mant} of one block (mase_hwlib.rom.write_mx_rom). Beat sequence:
//   for pass in 0 .. REPEAT-1 (forever when REPEAT = 0):
//     for i in 0 .. DEPTH-1:  HOLD beats of word i
// e.g. gamma of a [rows, D] activation in (B0, B1) blocks: DEPTH = D / B0
// words (gamma broadcast to B1 rows, quantized), HOLD = 1, REPEAT = rows / B1.
// One beat per cycle; the output is registered (synchronous ROM read).
`default_nettype none

module mase_mxint_rom_source #(
    parameter int LANES  = 4,     // elements per block (one block per beat)
    parameter int MAN    = 7,     // mantissa bits (magnitude)
    parameter int EXP    = 8,     // shared-exponent bits
    parameter int DEPTH  = 2,     // words in the ROM
    parameter int HOLD   = 1,     // consecutive beats per word
    parameter int REPEAT = 0,     // passes over the ROM; 0 = forever
    parameter     ROM_FILE = ""   // $readmemh image (mase_hwlib.rom.write_mx_rom)
) (
    input  wire                     clk,
    input  wire                     rst,      // synchronous, active high
    // output stream: one block per beat
    output wire                     y_valid,
    input  wire                     y_ready,
    output wire [LANES*(MAN+1)-1:0] y_mant,
    output wire [EXP-1:0]           y_exp
);
    localparam int WW = LANES * (MAN + 1) + EXP;
    // counter widths (at least 1 bit; the ROM gets at least two words so its address is whole)
    localparam int ROM_WORDS = DEPTH > 1 ? DEPTH : 2;
    localparam int AW = $clog2(ROM_WORDS);
    localparam int HW = HOLD > 1 ? $clog2(HOLD) : 1;
    localparam int PW = REPEAT > 1 ? $clog2(REPEAT) : 1;

    /* verilator lint_off UNDRIVEN */  // written only by $readmemh
    logic [WW-1:0] rom [ROM_WORDS];
    /* verilator lint_on UNDRIVEN */
    // (no file: the words stay undefined; lets lint / elaboration run without an image)
    if (ROM_FILE != "") begin : g_load
        initial $readmemh(ROM_FILE, rom, 0, DEPTH - 1);
    end

    logic [AW-1:0] addr_reg;   // word of the next beat
    logic [HW-1:0] hold_reg;   // beats of that word already loaded
    logic [PW-1:0] pass_reg;   // completed passes (REPEAT > 0)
    logic          done_reg;   // every beat has been loaded into the output register
    logic          out_valid_reg;
    logic [WW-1:0] out_word_reg;

    wire load      = !done_reg && (!out_valid_reg || y_ready);
    wire hold_last = hold_reg == HW'(HOLD - 1);
    wire addr_last = addr_reg == AW'(DEPTH - 1);
    wire pass_last = (REPEAT > 0) && pass_reg == PW'(REPEAT - 1);

    assign y_valid = out_valid_reg;
    assign {y_exp, y_mant} = out_word_reg;

    always_ff @(posedge clk) begin
        if (load) out_word_reg <= rom[addr_reg];
        if (rst) begin
            addr_reg      <= '0;
            hold_reg      <= '0;
            pass_reg      <= '0;
            done_reg      <= 1'b0;
            out_valid_reg <= 1'b0;
        end else begin
            if (load) begin
                out_valid_reg <= 1'b1;
                hold_reg <= hold_last ? '0 : hold_reg + 1'b1;
                if (hold_last) begin
                    addr_reg <= addr_last ? '0 : addr_reg + 1'b1;
                    if (addr_last) begin
                        pass_reg <= pass_reg + 1'b1;
                        if (pass_last) done_reg <= 1'b1;
                    end
                end
            end else if (y_ready) begin
                out_valid_reg <= 1'b0;  // the last beat left and nothing follows
            end
        end
    end
endmodule

`default_nettype wire
