// mase_mxint_cast: changes the MXInt format of a stream of blocks,
// MXInt(IN_MAN, IN_EXP) -> MXInt(OUT_MAN, OUT_EXP) with the same block: the
// exact block value q * 2^(s - IN_MAN + 1) is re-normalised (new shared
// exponent from the block maximum, mantissas rounded half to even, saturated)
// by mase_mxint_normalize. One block per cycle, registered output.
`default_nettype none

module mase_mxint_cast #(
    parameter int BLOCK_0 = 4,  // block elements along the first blocked axis (tile columns)
    parameter int BLOCK_1 = 1,  // block elements along the second blocked axis (tile rows)
    parameter int IN_MAN  = 7,  // input mantissa bits (magnitude)
    parameter int IN_EXP  = 8,  // input shared-exponent bits
    parameter int OUT_MAN = 7,  // output mantissa bits (magnitude)
    parameter int OUT_EXP = 8   // output shared-exponent bits
) (
    input  wire                                 clk,
    input  wire                                 rst,      // synchronous, active high
    // input stream: one block per beat
    input  wire                                 x_valid,
    output wire                                 x_ready,
    input  wire [BLOCK_0*BLOCK_1*(IN_MAN+1)-1:0]  x_mant,
    input  wire [IN_EXP-1:0]                    x_exp,
    // output stream: one block per beat
    output wire                                 y_valid,
    input  wire                                 y_ready,
    output wire [BLOCK_0*BLOCK_1*(OUT_MAN+1)-1:0] y_mant,
    output wire [OUT_EXP-1:0]                   y_exp
);
    localparam int LANES = BLOCK_0 * BLOCK_1;
    localparam int IW    = IN_MAN + 1;
    localparam int LW    = (IN_EXP > 6 ? IN_EXP : 6) + 2;  // holds s - IN_MAN + 1

    logic [LANES*IW-1:0]          lanes_int;
    logic [LANES*(OUT_MAN+1)-1:0] norm_mant;
    logic [OUT_EXP-1:0]           norm_exp;
    wire signed [LW-1:0]          lsb = LW'($signed(x_exp)) - LW'(IN_MAN - 1);

    for (genvar j = 0; j < LANES; j++) begin : g_lane
        wire [IW-1:0] x_q = x_mant[j*IW +: IW];
        assign lanes_int[j*IW +: IW] = x_q;
    end

    mase_mxint_normalize #(
        .LANES(LANES), .IN_WIDTH(IW), .LSB_WIDTH(LW), .OUT_MAN(OUT_MAN), .OUT_EXP(OUT_EXP)
    ) u_normalize (
        .in_int(lanes_int), .in_lsb(lsb), .out_mant(norm_mant), .out_exp(norm_exp),
        .clk(clk), .en(1'b0)  // combinational (PIPELINE = 0)
    );

    // output register; x_ready passes y_ready through when it is full
    logic                         out_valid_reg;
    logic [LANES*(OUT_MAN+1)-1:0] out_mant_reg;
    logic [OUT_EXP-1:0]           out_exp_reg;
    assign x_ready = !out_valid_reg || y_ready;
    assign y_valid = out_valid_reg;
    assign y_mant  = out_mant_reg;
    assign y_exp   = out_exp_reg;

    always_ff @(posedge clk) begin
        if (x_valid && x_ready) begin
            out_mant_reg <= norm_mant;
            out_exp_reg  <= norm_exp;
        end
        if (rst) out_valid_reg <= 1'b0;
        else if (x_ready) out_valid_reg <= x_valid;
    end
endmodule

`default_nettype wire
