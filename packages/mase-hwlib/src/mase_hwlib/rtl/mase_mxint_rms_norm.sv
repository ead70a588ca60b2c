// mase_mxint_rms_norm: RMS normalisation (LLaMA's RMSNorm, no gain) over rows of
// MXInt blocks, integer-only and scale-free.
//
// A row is ROW_BLOCKS consecutive blocks of BLOCK elements, N = BLOCK*ROW_BLOCKS.
// Elements go to fixed point first (mase_mxint_to_fixed: X_WIDTH bits, F = X_FRAC
// fraction bits, floor, saturating). With S2 = sum x^2 (exact),
//   x / sqrt(mean(x^2) + eps) = N*x / sqrt(N*S2 + eps*N^2*2^2F)
// so the hardware needs one integer square root per row and one division per element:
//   D = N*S2 + EPS_FX*N*N,   EPS_FX = eps * 2^(2F) as an integer
//   r = floor(sqrt(D))                                          (mase_isqrt)
//   y = trunc((N*x * 2^OUT_FRAC) / r)   (toward zero; 0 when r = 0)
// saturated to OUT_WIDTH bits two's complement, value y * 2^-OUT_FRAC. The gain
// (RMSNorm's weight) is left to a following elementwise mul. It is
// mase_mxint_layer_norm without the mean: the same schedule and datapath widths.
//
// Schedule per row: ROW_BLOCKS beats in (store, accumulate S2), one cycle for the
// square root, ROW_BLOCKS beats out; rows do not overlap.
`default_nettype none

module mase_mxint_rms_norm #(
    parameter int BLOCK = 16,      // elements per block (one block per beat)
    parameter int ROW_BLOCKS = 4,  // blocks per normalised row
    parameter int EXP_BITS = 8,    // shared exponent bits
    parameter int MAN_BITS = 7,    // element mantissa bits m
    parameter int X_WIDTH = 16,    // internal fixed-point bits
    parameter int X_FRAC = 8,      // internal fraction bits
    parameter int OUT_WIDTH = 16,  // output bits (two's complement, saturated)
    parameter int OUT_FRAC = 12,   // output fraction bits
    parameter int EPS_FX = 0       // eps * 2^(2*X_FRAC), rounded to an integer (>= 0)
) (
    input  wire                         clk,
    input  wire                         rst,
    // MXInt input block: element e at [e*(MAN_BITS+1) +: MAN_BITS+1]
    input  wire [BLOCK*(MAN_BITS+1)-1:0] x_mant,
    input  wire [EXP_BITS-1:0]          x_exp,
    input  wire                         x_valid,
    output wire                         x_ready,
    // normalised block: element e at [e*OUT_WIDTH +: OUT_WIDTH], value y * 2^-OUT_FRAC
    output wire [BLOCK*OUT_WIDTH-1:0]   y_data,
    output wire                         y_valid,
    input  wire                         y_ready
);
    localparam int N = BLOCK * ROW_BLOCKS;
    localparam int LOG_N = $clog2(N) + 1;
    localparam int S2_WIDTH = 2 * X_WIDTH + LOG_N;
    // D <= N*S2 + EPS_FX*N^2 with EPS_FX < 2^(2*X_WIDTH) (catalog range)
    localparam int D_WIDTH = 2 * X_WIDTH + 2 * LOG_N + 1;
    localparam int ROOT_WIDTH = (D_WIDTH + 1) / 2;
    // |N*x| * 2^OUT_FRAC, and at least one bit more than the saturated output
    localparam int NUM_BITS = X_WIDTH + LOG_N + OUT_FRAC + 1;
    localparam int NUM_WIDTH = (NUM_BITS > OUT_WIDTH) ? NUM_BITS : OUT_WIDTH + 1;
    localparam int INDEX_WIDTH = (ROW_BLOCKS > 1) ? $clog2(ROW_BLOCKS) : 1;
    localparam logic [INDEX_WIDTH-1:0] LAST_INDEX = INDEX_WIDTH'(ROW_BLOCKS - 1);
    localparam logic signed [NUM_WIDTH-1:0] ONE = NUM_WIDTH'(1);
    localparam logic signed [NUM_WIDTH-1:0] OUT_MAX = (ONE <<< (OUT_WIDTH - 1)) - ONE;
    localparam logic signed [NUM_WIDTH-1:0] OUT_MIN = -(ONE <<< (OUT_WIDTH - 1));

    localparam logic [1:0] S_RECV = 2'd0, S_ROOT = 2'd1, S_SEND = 2'd2;

    reg [1:0]                state_reg;
    reg [INDEX_WIDTH-1:0]    index_reg;
    reg signed [S2_WIDTH-1:0] s2_reg;
    reg [ROOT_WIDTH-1:0]     root_reg;
    reg [BLOCK*X_WIDTH-1:0]  x_mem [ROW_BLOCKS];

    wire last = (index_reg == LAST_INDEX);

    // ---- input: convert the beat, sum x^2 ----
    wire [BLOCK*X_WIDTH-1:0] x_fixed;
    wire signed [S2_WIDTH-1:0] sq_term [BLOCK];
    genvar e;
    generate
        for (e = 0; e < BLOCK; e = e + 1) begin : g_in
            mase_mxint_to_fixed #(.EXP_BITS(EXP_BITS), .MAN_BITS(MAN_BITS), .X_WIDTH(X_WIDTH), .X_FRAC(X_FRAC))
                u_to_fixed (.mant(x_mant[e*(MAN_BITS+1) +: MAN_BITS+1]), .exp(x_exp),
                            .fixed(x_fixed[e*X_WIDTH +: X_WIDTH]));
            wire signed [X_WIDTH-1:0] xe = x_fixed[e*X_WIDTH +: X_WIDTH];
            assign sq_term[e] = S2_WIDTH'(xe) * S2_WIDTH'(xe);
        end
    endgenerate

    reg signed [S2_WIDTH-1:0] beat_s2;
    always_comb begin
        beat_s2 = '0;
        for (int i = 0; i < BLOCK; i = i + 1) beat_s2 = beat_s2 + sq_term[i];
    end

    // ---- one square root per row ----
    wire signed [D_WIDTH-1:0] d_signed = D_WIDTH'(N) * D_WIDTH'(s2_reg) + D_WIDTH'(EPS_FX) * D_WIDTH'(N) * D_WIDTH'(N);
    wire [ROOT_WIDTH-1:0] root;
    mase_isqrt #(.WIDTH(D_WIDTH)) u_isqrt (.value(d_signed), .root(root));

    // ---- output: normalise one stored beat ----
    wire [BLOCK*X_WIDTH-1:0] x_stored = x_mem[index_reg];
    generate
        for (e = 0; e < BLOCK; e = e + 1) begin : g_out
            wire signed [NUM_WIDTH-1:0] scaled = NUM_WIDTH'(N) * NUM_WIDTH'($signed(x_stored[e*X_WIDTH +: X_WIDTH]));
            wire signed [NUM_WIDTH-1:0] numerator = scaled <<< OUT_FRAC;
            wire signed [NUM_WIDTH-1:0] divisor = NUM_WIDTH'(root_reg);   // zero-extended, >= 0
            // own wire: inside a ternary with an unsigned '0 the division would be unsigned
            wire signed [NUM_WIDTH-1:0] ratio = numerator / divisor;   // truncates toward zero
            wire signed [NUM_WIDTH-1:0] quotient = (root_reg == '0) ? '0 : ratio;
            // saturated into OUT_WIDTH bits: the upper bits are sign copies
            /* verilator lint_off UNUSEDSIGNAL */
            wire signed [NUM_WIDTH-1:0] y = (quotient > OUT_MAX) ? OUT_MAX : (quotient < OUT_MIN) ? OUT_MIN : quotient;
            /* verilator lint_on UNUSEDSIGNAL */
            assign y_data[e*OUT_WIDTH +: OUT_WIDTH] = y[OUT_WIDTH-1:0];
        end
    endgenerate

    assign x_ready = (state_reg == S_RECV);
    assign y_valid = (state_reg == S_SEND);

    always_ff @(posedge clk) begin
        if (rst) begin
            state_reg <= S_RECV;
            index_reg <= '0;
            s2_reg    <= '0;
            root_reg  <= '0;
        end else begin
            case (state_reg)
                S_RECV: if (x_valid) begin
                    x_mem[index_reg] <= x_fixed;
                    s2_reg <= (index_reg == '0) ? beat_s2 : s2_reg + beat_s2;
                    index_reg <= last ? '0 : index_reg + 1'b1;
                    if (last) state_reg <= S_ROOT;
                end
                S_ROOT: begin
                    root_reg  <= root;
                    state_reg <= S_SEND;
                end
                S_SEND: if (y_ready) begin
                    index_reg <= last ? '0 : index_reg + 1'b1;
                    if (last) state_reg <= S_RECV;
                end
                default: state_reg <= S_RECV;
            endcase
        end
    end
endmodule

`default_nettype wire
