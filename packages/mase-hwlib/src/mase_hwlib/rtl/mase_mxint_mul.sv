// mase_mxint_mul: elementwise product of two MXInt block streams. The
// exact product qa*qb (A_MAN+B_MAN+1 bits) with LSB exponent
// sa + sb - (A_MAN-1) - (B_MAN-1) is re-normalised into MXInt(OUT_MAN, OUT_EXP)
// by mase_mxint_normalize. One block pair per cycle, registered output.
`default_nettype none

module mase_mxint_mul #(
    parameter int BLOCK_0 = 4,  // block elements along the first blocked axis (tile columns)
    parameter int BLOCK_1 = 1,  // block elements along the second blocked axis (tile rows)
    parameter int A_MAN   = 7,  // operand a mantissa bits (magnitude)
    parameter int A_EXP   = 8,  // operand a shared-exponent bits
    parameter int B_MAN   = 7,  // operand b mantissa bits (magnitude)
    parameter int B_EXP   = 8,  // operand b shared-exponent bits
    parameter int OUT_MAN = 7,  // output mantissa bits (magnitude)
    parameter int OUT_EXP = 8   // output shared-exponent bits
) (
    input  wire                                   clk,
    input  wire                                   rst,      // synchronous, active high
    // operand streams: one block per beat each, consumed together
    input  wire                                   a_valid,
    output wire                                   a_ready,
    input  wire [BLOCK_0*BLOCK_1*(A_MAN+1)-1:0]   a_mant,
    input  wire [A_EXP-1:0]                       a_exp,
    input  wire                                   b_valid,
    output wire                                   b_ready,
    input  wire [BLOCK_0*BLOCK_1*(B_MAN+1)-1:0]   b_mant,
    input  wire [B_EXP-1:0]                       b_exp,
    // output stream: one block per beat
    output wire                                   y_valid,
    input  wire                                   y_ready,
    output wire [BLOCK_0*BLOCK_1*(OUT_MAN+1)-1:0] y_mant,
    output wire [OUT_EXP-1:0]                     y_exp
);
    localparam int LANES = BLOCK_0 * BLOCK_1;
    localparam int LW    = (A_EXP > B_EXP ? A_EXP : B_EXP) + 7;  // holds sa + sb - A_MAN - B_MAN
    localparam int IW = A_MAN + B_MAN + 2;  // exact signed product width
    wire signed [LW-1:0] lsb = LW'($signed(a_exp)) + LW'($signed(b_exp)) - LW'(A_MAN - 1) - LW'(B_MAN - 1);

    logic [LANES*IW-1:0]          lanes_int;
    logic [LANES*(OUT_MAN+1)-1:0] norm_mant;
    logic [OUT_EXP-1:0]           norm_exp;

    for (genvar j = 0; j < LANES; j++) begin : g_lane
        wire signed [A_MAN:0] qa = a_mant[j*(A_MAN+1) +: A_MAN+1];
        wire signed [B_MAN:0] qb = b_mant[j*(B_MAN+1) +: B_MAN+1];
        assign lanes_int[j*IW +: IW] = IW'(qa) * IW'(qb);
    end

    mase_mxint_normalize #(
        .LANES(LANES), .IN_WIDTH(IW), .LSB_WIDTH(LW), .OUT_MAN(OUT_MAN), .OUT_EXP(OUT_EXP)
    ) u_normalize (
        .in_int(lanes_int), .in_lsb(lsb), .out_mant(norm_mant), .out_exp(norm_exp),
        .clk(clk), .en(1'b0)  // combinational (PIPELINE = 0)
    );

    // join the operands into the output register
    logic                         out_valid_reg;
    logic [LANES*(OUT_MAN+1)-1:0] out_mant_reg;
    logic [OUT_EXP-1:0]           out_exp_reg;
    wire load = !out_valid_reg || y_ready;
    wire fire = a_valid && b_valid && load;
    assign a_ready = load && b_valid;
    assign b_ready = load && a_valid;
    assign y_valid = out_valid_reg;
    assign y_mant  = out_mant_reg;
    assign y_exp   = out_exp_reg;

    always_ff @(posedge clk) begin
        if (fire) begin
            out_mant_reg <= norm_mant;
            out_exp_reg  <= norm_exp;
        end
        if (rst) out_valid_reg <= 1'b0;
        else if (load) out_valid_reg <= a_valid && b_valid;
    end
endmodule

`default_nettype wire
