// mase_fixed_to_mxint: turns a stream of fixed-point values (the outputs of
// mase_mxint_softmax / layer_norm / gelu) into MXInt blocks.
//
// An input beat carries BLOCK_0 lanes of IN_WIDTH bits, value v * 2^-IN_FRAC,
// v two's complement (IN_SIGNED = 1) or unsigned (IN_SIGNED = 0). An output
// block is BLOCK_1 x BLOCK_0 elements (lane r*BLOCK_0 + c): with BLOCK_1 = 1
// each input beat becomes one block; with BLOCK_1 > 1 the tensor rows are
// ROW_BEATS beats long and beat c of BLOCK_1 consecutive rows form block c
// (rows r = 0 .. BLOCK_1-2 wait in a row buffer, the block leaves when beat c
// of the last row arrives). Output blocks are thus in row-major order over
// the block grid, as mx_formats / mase_hwlib.streams lay them out.
//
// Rounding (mase_mxint_normalize, with A_j = v_j and L = -IN_FRAC):
//   s   = clamp(floor(log2 max_j |v_j 2^-IN_FRAC|), -EMAX, EMAX)
//   q_j = clamp(round_half_even(v_j 2^(-IN_FRAC - s + OUT_MAN - 1)), +-(2^OUT_MAN - 1))
//   all-zero block: s = -EMAX, q = 0
// which is mx_formats.quantize(v 2^-IN_FRAC, MXInt((BLOCK_0, BLOCK_1), OUT_EXP, OUT_MAN)).
// Throughput: one input beat per cycle; output registered (latency 1 after
// the beat of the block's last row).
`default_nettype none

module mase_fixed_to_mxint #(
    parameter int BLOCK_0   = 4,   // elements per input beat = block columns
    parameter int BLOCK_1   = 1,   // tensor rows per block (block rows)
    parameter int ROW_BEATS = 1,   // input beats per tensor row (used when BLOCK_1 > 1)
    parameter int IN_WIDTH  = 16,  // bits per input lane
    parameter int IN_FRAC   = 8,   // fraction bits of the input lanes
    parameter int IN_SIGNED = 1,   // 1: two's complement lanes, 0: unsigned lanes
    parameter int OUT_MAN   = 7,   // output mantissa bits (magnitude)
    parameter int OUT_EXP   = 8    // output shared-exponent bits
) (
    input  wire                                   clk,
    input  wire                                   rst,      // synchronous, active high
    // input stream: BLOCK_0 fixed-point lanes per beat
    input  wire                                   x_valid,
    output wire                                   x_ready,
    input  wire [BLOCK_0*IN_WIDTH-1:0]            x_data,
    // output stream: one MXInt block per beat
    output wire                                   y_valid,
    input  wire                                   y_ready,
    output wire [BLOCK_0*BLOCK_1*(OUT_MAN+1)-1:0] y_mant,
    output wire [OUT_EXP-1:0]                     y_exp
);
    localparam int LANES = BLOCK_0 * BLOCK_1;
    localparam int BW    = BLOCK_0 * IN_WIDTH;   // one input beat
    localparam int IW    = IN_WIDTH + 1;         // a lane, sign- or zero-extended
    localparam int LW    = 8;                    // holds -IN_FRAC (IN_FRAC <= 64)
    localparam int CW    = ROW_BEATS > 1 ? $clog2(ROW_BEATS) : 1;
    localparam int RW    = BLOCK_1 > 1 ? $clog2(BLOCK_1) : 1;

    // ---- block assembly: rows 0 .. BLOCK_1-2 from the row buffer, the last from x ----
    logic [LANES*IN_WIDTH-1:0] block_raw;
    logic [RW-1:0]             row_reg;    // tensor row inside the block row
    logic [CW-1:0]             beat_reg;   // beat inside the tensor row
    wire                       last_row;
    wire                       x_fire = x_valid && x_ready;

    if (BLOCK_1 > 1) begin : g_rows
        // (at least two entries, so that the address has a whole number of bits)
        localparam int DEPTH = (BLOCK_1 - 1) * ROW_BEATS > 1 ? (BLOCK_1 - 1) * ROW_BEATS : 2;
        localparam int AW    = $clog2(DEPTH);
        logic [BW-1:0] row_buf [DEPTH];
        wire [AW-1:0] wr_addr = AW'(row_reg) * AW'(ROW_BEATS) + AW'(beat_reg);
        assign last_row = row_reg == RW'(BLOCK_1 - 1);
        for (genvar r = 0; r < BLOCK_1 - 1; r++) begin : g_buf_row
            assign block_raw[r*BW +: BW] = row_buf[AW'(r) * AW'(ROW_BEATS) + AW'(beat_reg)];
        end
        assign block_raw[(BLOCK_1-1)*BW +: BW] = x_data;
        always_ff @(posedge clk) begin
            if (x_fire && !last_row) row_buf[wr_addr] <= x_data;
        end
    end else begin : g_one_row
        assign last_row  = 1'b1;
        assign block_raw = x_data;
    end

    always_ff @(posedge clk) begin
        if (rst) begin
            row_reg  <= '0;
            beat_reg <= '0;
        end else if (x_fire && (BLOCK_1 > 1)) begin
            if (beat_reg == CW'(ROW_BEATS - 1)) begin
                beat_reg <= '0;
                row_reg  <= last_row ? '0 : row_reg + 1'b1;
            end else begin
                beat_reg <= beat_reg + 1'b1;
            end
        end
    end

    // ---- normalise the exact block v_j * 2^-IN_FRAC ----
    logic [LANES*IW-1:0]          lanes_int;
    logic [LANES*(OUT_MAN+1)-1:0] norm_mant;
    logic [OUT_EXP-1:0]           norm_exp;
    for (genvar j = 0; j < LANES; j++) begin : g_lane
        wire [IN_WIDTH-1:0] v = block_raw[j*IN_WIDTH +: IN_WIDTH];
        assign lanes_int[j*IW +: IW] = {(IN_SIGNED != 0) && v[IN_WIDTH-1], v};
    end

    mase_mxint_normalize #(
        .LANES(LANES), .IN_WIDTH(IW), .LSB_WIDTH(LW), .OUT_MAN(OUT_MAN), .OUT_EXP(OUT_EXP)
    ) u_normalize (
        .in_int(lanes_int), .in_lsb(LW'(-IN_FRAC)), .out_mant(norm_mant), .out_exp(norm_exp),
        .clk(clk), .en(1'b0)  // combinational (PIPELINE = 0)
    );

    // ---- output register; a beat of the last row needs it free, other rows do not ----
    logic                         out_valid_reg;
    logic [LANES*(OUT_MAN+1)-1:0] out_mant_reg;
    logic [OUT_EXP-1:0]           out_exp_reg;
    wire out_free = !out_valid_reg || y_ready;
    assign x_ready = !last_row || out_free;
    assign y_valid = out_valid_reg;
    assign y_mant  = out_mant_reg;
    assign y_exp   = out_exp_reg;

    always_ff @(posedge clk) begin
        if (x_fire && last_row) begin
            out_mant_reg <= norm_mant;
            out_exp_reg  <= norm_exp;
        end
        if (rst) out_valid_reg <= 1'b0;
        else if (out_free) out_valid_reg <= x_fire && last_row;
    end
endmodule

`default_nettype wire
