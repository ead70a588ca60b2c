// mase_mxint_rope: rotary position embedding (RoPE, LLaMA's rotate-half form) on rows of
// MXInt blocks, integer-only, fixed-point output.
//
// A row is one position s of a [seq, heads * head_dim] stream: ROW_BLOCKS beats of BLOCK
// elements, HEAD_BLOCKS beats per head (head_dim D = HEAD_BLOCKS * BLOCK, h = D / 2, so a half
// head is HEAD_BLOCKS / 2 whole beats). Rows arrive in position order, SEQ positions per
// input, then the position counter wraps. With x on the fixed-point grid (mase_mxint_to_fixed:
// X_WIDTH bits, X_FRAC fraction bits, floor, saturating) and the tables c = cos, t = sin of the
// position (signed C_FRAC + 2 bits, C_FRAC fraction bits; entry (s, j) for j in [0, D), the same
// for every head), element j of a head gives
//   y_j = x_j c_{s,j} - x_{j+h} t_{s,j}      for j <  h
//   y_j = x_j c_{s,j} + x_{j-h} t_{s,j}      for j >= h
// exactly in integers (X_FRAC + C_FRAC fraction bits), then
//   out_j = floor(y_j / 2^(X_FRAC + C_FRAC - OUT_FRAC)), saturated to OUT_WIDTH bits (signed),
// i.e. q * cos + rotate_half(q) * sin of transformers' apply_rotary_pos_emb, rounded once.
//
// Tables: COS_FILE and SIN_FILE ($readmemh, mase_hwlib.rom_fixed format), SEQ * HEAD_BLOCKS
// words of BLOCK lanes each, word s * HEAD_BLOCKS + b holding entries j = b*BLOCK .. +BLOCK-1.
//
// Schedule per row: ROW_BLOCKS beats in (stored), then ROW_BLOCKS beats out (the first half of
// a head needs the second): 2 * ROW_BLOCKS cycles per row, rows do not overlap.
`default_nettype none

module mase_mxint_rope #(
    parameter int BLOCK = 16,        // elements per block (one block per beat)
    parameter int ROW_BLOCKS = 8,    // blocks per row (heads * head_dim / BLOCK)
    parameter int HEAD_BLOCKS = 4,   // blocks per head (even: a half head is whole blocks)
    parameter int SEQ = 8,           // positions per input (rows, then the position wraps)
    parameter int EXP_BITS = 8,      // shared exponent bits
    parameter int MAN_BITS = 7,      // element mantissa bits m
    parameter int X_WIDTH = 16,      // internal fixed-point bits of x
    parameter int X_FRAC = 8,        // fraction bits of x
    parameter int C_FRAC = 14,       // fraction bits of the cos / sin tables (entries C_FRAC + 2 bits)
    parameter int OUT_WIDTH = 16,    // output bits (two's complement, saturated)
    parameter int OUT_FRAC = 8,      // output fraction bits (at most X_FRAC + C_FRAC)
    parameter COS_FILE = "",         // $readmemh image of the cos table
    parameter SIN_FILE = "",         // $readmemh image of the sin table
    localparam int C_WIDTH = C_FRAC + 2
) (
    input  wire                          clk,
    input  wire                          rst,
    // MXInt input block: element e at [e*(MAN_BITS+1) +: MAN_BITS+1]
    input  wire [BLOCK*(MAN_BITS+1)-1:0] x_mant,
    input  wire [EXP_BITS-1:0]           x_exp,
    input  wire                          x_valid,
    output wire                          x_ready,
    // rotated elements: element e at [e*OUT_WIDTH +: OUT_WIDTH], value y * 2^-OUT_FRAC
    output wire [BLOCK*OUT_WIDTH-1:0]    y_data,
    output wire                          y_valid,
    input  wire                          y_ready
);
    localparam int HALF = HEAD_BLOCKS / 2;
    localparam int DEPTH = SEQ * HEAD_BLOCKS;
    localparam int SHIFT = X_FRAC + C_FRAC - OUT_FRAC;
    localparam int PROD_WIDTH = X_WIDTH + C_WIDTH + 1;    // x c + x' t, exact
    localparam int INDEX_WIDTH = (ROW_BLOCKS > 1) ? $clog2(ROW_BLOCKS) : 1;
    localparam int HB_WIDTH = (HEAD_BLOCKS > 1) ? $clog2(HEAD_BLOCKS) : 1;
    localparam int POS_WIDTH = (SEQ > 1) ? $clog2(SEQ) : 1;
    localparam int ADDR_WIDTH = (DEPTH > 1) ? $clog2(DEPTH) : 1;
    localparam logic [INDEX_WIDTH-1:0] LAST_INDEX = INDEX_WIDTH'(ROW_BLOCKS - 1);
    localparam logic [HB_WIDTH-1:0] LAST_HB = HB_WIDTH'(HEAD_BLOCKS - 1);
    localparam logic [POS_WIDTH-1:0] LAST_POS = POS_WIDTH'(SEQ - 1);
    localparam logic signed [PROD_WIDTH-1:0] OUT_MAX = PROD_WIDTH'((64'sd1 <<< (OUT_WIDTH - 1)) - 1);
    localparam logic signed [PROD_WIDTH-1:0] OUT_MIN = PROD_WIDTH'(-(64'sd1 <<< (OUT_WIDTH - 1)));

    localparam logic S_RECV = 1'b0, S_SEND = 1'b1;

    reg                     state_reg;
    reg [INDEX_WIDTH-1:0]   index_reg;   // beat within the row
    reg [HB_WIDTH-1:0]      hb_reg;      // beat within its head (index_reg mod HEAD_BLOCKS)
    reg [POS_WIDTH-1:0]     pos_reg;     // position s of the row
    reg [BLOCK*X_WIDTH-1:0] x_mem [ROW_BLOCKS];
    /* verilator lint_off UNDRIVEN */  // written only by $readmemh
    reg [BLOCK*C_WIDTH-1:0] cos_rom [DEPTH];
    reg [BLOCK*C_WIDTH-1:0] sin_rom [DEPTH];
    /* verilator lint_on UNDRIVEN */
    // (no file: the words stay undefined; lets lint / elaboration run without an image)
    if (COS_FILE != "") begin : g_load_cos
        initial $readmemh(COS_FILE, cos_rom, 0, DEPTH - 1);
    end
    if (SIN_FILE != "") begin : g_load_sin
        initial $readmemh(SIN_FILE, sin_rom, 0, DEPTH - 1);
    end

    wire last = (index_reg == LAST_INDEX);

    // ---- input: convert the beat to fixed point ----
    wire [BLOCK*X_WIDTH-1:0] x_fixed;
    genvar e;
    generate
        for (e = 0; e < BLOCK; e = e + 1) begin : g_in
            mase_mxint_to_fixed #(.EXP_BITS(EXP_BITS), .MAN_BITS(MAN_BITS), .X_WIDTH(X_WIDTH), .X_FRAC(X_FRAC))
                u_to_fixed (.mant(x_mant[e*(MAN_BITS+1) +: MAN_BITS+1]), .exp(x_exp),
                            .fixed(x_fixed[e*X_WIDTH +: X_WIDTH]));
        end
    endgenerate

    // ---- output: the beat and its partner half a head away ----
    wire first_half = (hb_reg < HB_WIDTH'(HALF));
    wire [INDEX_WIDTH-1:0] partner = first_half ? index_reg + INDEX_WIDTH'(HALF) : index_reg - INDEX_WIDTH'(HALF);
    wire [BLOCK*X_WIDTH-1:0] x_self = x_mem[index_reg];
    wire [BLOCK*X_WIDTH-1:0] x_other = x_mem[partner];
    wire [ADDR_WIDTH-1:0] addr = ADDR_WIDTH'(pos_reg) * ADDR_WIDTH'(HEAD_BLOCKS) + ADDR_WIDTH'(hb_reg);
    wire [BLOCK*C_WIDTH-1:0] cos_word = cos_rom[addr];
    wire [BLOCK*C_WIDTH-1:0] sin_word = sin_rom[addr];
    generate
        for (e = 0; e < BLOCK; e = e + 1) begin : g_out
            wire signed [PROD_WIDTH-1:0] xc = PROD_WIDTH'($signed(x_self[e*X_WIDTH +: X_WIDTH]))
                                            * PROD_WIDTH'($signed(cos_word[e*C_WIDTH +: C_WIDTH]));
            wire signed [PROD_WIDTH-1:0] xt = PROD_WIDTH'($signed(x_other[e*X_WIDTH +: X_WIDTH]))
                                            * PROD_WIDTH'($signed(sin_word[e*C_WIDTH +: C_WIDTH]));
            wire signed [PROD_WIDTH-1:0] sum = first_half ? xc - xt : xc + xt;
            wire signed [PROD_WIDTH-1:0] scaled = sum >>> SHIFT;   // floor
            /* verilator lint_off UNUSEDSIGNAL */  // saturated into OUT_WIDTH bits: the top bits are sign copies
            wire signed [PROD_WIDTH-1:0] sat = (scaled > OUT_MAX) ? OUT_MAX : ((scaled < OUT_MIN) ? OUT_MIN : scaled);
            /* verilator lint_on UNUSEDSIGNAL */
            assign y_data[e*OUT_WIDTH +: OUT_WIDTH] = sat[OUT_WIDTH-1:0];
        end
    endgenerate

    assign x_ready = (state_reg == S_RECV);
    assign y_valid = (state_reg == S_SEND);

    always_ff @(posedge clk) begin
        if (rst) begin
            state_reg <= S_RECV;
            index_reg <= '0;
            hb_reg    <= '0;
            pos_reg   <= '0;
        end else begin
            case (state_reg)
                S_RECV: if (x_valid) begin
                    x_mem[index_reg] <= x_fixed;
                    index_reg <= last ? '0 : index_reg + 1'b1;
                    if (last) state_reg <= S_SEND;
                end
                S_SEND: if (y_ready) begin
                    index_reg <= last ? '0 : index_reg + 1'b1;
                    hb_reg    <= (hb_reg == LAST_HB || last) ? '0 : hb_reg + 1'b1;
                    if (last) begin
                        state_reg <= S_RECV;
                        pos_reg   <= (pos_reg == LAST_POS) ? '0 : pos_reg + 1'b1;
                    end
                end
                default: state_reg <= S_RECV;
            endcase
        end
    end
endmodule

`default_nettype wire
