// mase_bmf_quantize: the output quantizer of mase_bmf_linear / mase_bl_linear:
// block-floating sums -> one block-minifloat (LOG = 0) or block-logarithm
// (LOG = 1) block, rounded as mx_formats.quantize(..., "nearest_even") rounds
// the real values A * 2^(in_lsb).
//
// Each input beat is a tile of ROWS x COLS sums (lane r*COLS + c, IN_WIDTH-bit
// two's complement, one LSB exponent in_lsb per tile). GROUP consecutive tiles
// make one output block of ROWS x GROUP*COLS elements, lane
// r*GROUP*COLS + g*COLS + c (tile g of the group), which leaves with the last
// tile of the group: one shared bias y_bias and the element codes y_data.
//
// Per lane, as the tile arrives: sign, e = floor(log2 |A|) + in_lsb (a
// leading-one detector), and the M+2 bits from the leading one down (leading
// one, M fraction bits, guard) plus a sticky OR of the rest: all that the
// rounding needs, since it never rounds above the guard position. The group's
// GROUP-1 first tiles wait in this compact form.
// Shared bias (H = 2^(BIAS_BITS-1) - 1, TOP = 2^EXP_BITS - 1; an all-zero block takes H):
//   LOG = 0: beta = clamp(TOP - max e, -H, H);
//   LOG = 1: beta = clamp(TOP - min(max(e + g), 127), -H, H), g the guard bit
//            (|v| >= 1.5 * 2^e: v rounds up to 2^(e+1)); 127: mx_formats' cap.
// Elements:
//   LOG = 0: e' = max(e, 1 - beta); q = |v| / 2^(e' - M) half to even (guard,
//            sticky); q = 2^(M+1) moves up a binade; c = e' + beta (0 for a
//            subnormal, q < 2^M); c > TOP saturates to TOP, f = 2^M - 1.
//   LOG = 1: zero when e + beta < 0 (|v| < 2^(-beta), half the smallest
//            power), else c = clamp(e + g + beta, 1, TOP).
// Handshake: one tile per cycle. Two register stages: the compact tile (after
// the leading-one detection, the normalising shift and the tile's maximum key),
// then the output register; the last tile of a group goes from its compact
// register through the bias and the rounding into the output register, so the
// input stalls only when that register is still full on a last tile. Bit-exact model:
// mase_hwlib.golden.bmf.quantize_bmf / quantize_bl.
`default_nettype none

module mase_bmf_quantize #(
    parameter int ROWS      = 1,   // rows of an input tile and of the output block
    parameter int COLS      = 2,   // columns of an input tile
    parameter int GROUP     = 1,   // input tiles per output block (along the columns)
    parameter int IN_WIDTH  = 24,  // bits of each two's-complement sum
    parameter int LSB_WIDTH = 10,  // bits of the signed LSB exponent in_lsb
    parameter int EXP_BITS  = 4,   // output element exponent bits E
    parameter int MAN_BITS  = 3,   // output element fraction bits M (LOG = 1: 0)
    parameter int BIAS_BITS = 8,   // output shared-bias bits (two's complement)
    parameter int LOG       = 0,   // 0: block minifloat, 1: block logarithm
    localparam int LANES     = ROWS * COLS,
    localparam int OUT_LANES = LANES * GROUP,
    localparam int EL_WIDTH  = 1 + EXP_BITS + MAN_BITS
) (
    input  wire                          clk,
    input  wire                          rst,      // synchronous, active high
    // tiles of sums, lane l at [l*IN_WIDTH +: IN_WIDTH], value * 2^(in_lsb)
    input  wire                          in_valid,
    output wire                          in_ready,
    input  wire [LANES*IN_WIDTH-1:0]     in_acc,
    input  wire [LSB_WIDTH-1:0]          in_lsb,
    // output blocks
    output reg                           y_valid,
    input  wire                          y_ready,
    output wire [OUT_LANES*EL_WIDTH-1:0] y_data,
    output wire [BIAS_BITS-1:0]          y_bias
);
    localparam int NM    = MAN_BITS + 2;             // leading one, M fraction bits, guard
    localparam int NW    = IN_WIDTH + NM;            // normaliser width (room below a small sum)
    localparam int PW    = $clog2(IN_WIDTH);         // leading-one position
    localparam int EW    = (LSB_WIDTH > 9 ? LSB_WIDTH : 9) + 2;  // exponents, TOP and beta (<= 2^8) together
    localparam int CW    = 3 + NM + EW;              // compact element: {zero, sign, sticky, mant, e}
    localparam int TOP   = (1 << EXP_BITS) - 1;
    localparam int H     = (1 << (BIAS_BITS - 1)) - 1;
    localparam int SLOTS = GROUP;                    // GROUP-1 used (one more keeps the index width)
    localparam int COUNT_WIDTH = GROUP > 1 ? $clog2(GROUP) : 1;

    // ---- the incoming tile in compact form ----------------------------------------------
    wire [LANES*CW-1:0] tile;
    for (genvar l = 0; l < LANES; l++) begin : g_norm
        wire [IN_WIDTH-1:0] v   = in_acc[l*IN_WIDTH +: IN_WIDTH];
        wire                neg = v[IN_WIDTH-1];
        wire [IN_WIDTH-1:0] mag = neg ? -v : v;  // -(-2^(W-1)) = 2^(W-1), unsigned
        // leading-one position; pos is assigned once per evaluation (written as a default
        // and then in the loop, Icarus 11 re-evaluated this block forever at zero delay)
        logic [PW-1:0] pos;
        always_comb begin : p_lead
            logic [PW-1:0] found;
            found = '0;
            for (int i = 0; i < IN_WIDTH; i++) if (mag[i]) found = PW'(i);
            pos = found;
        end
        wire [NW-1:0] norm = {mag, NM'(0)} << (PW'(IN_WIDTH - 1) - pos);  // leading one at NW-1
        wire [NM-1:0] mant   = norm[NW-1 -: NM];
        wire          sticky = |norm[NW-NM-1:0];
        wire signed [EW-1:0] e = EW'($signed(in_lsb)) + EW'(pos);
        assign tile[l*CW +: CW] = {mag == '0, neg, sticky, mant, e};
    end

    // block-maximum key of each element: e (BMF) or e + g, the rounded power (BL)
    wire [LANES*EW-1:0] key;
    for (genvar l = 0; l < LANES; l++) begin : g_key
        wire signed [EW-1:0] e = $signed(tile[l*CW +: EW]);
        assign key[l*EW +: EW] = LOG != 0 ? e + $signed({{(EW-1){1'b0}}, tile[l*CW + EW]}) : e;
    end

    logic                 tile_nz;
    logic signed [EW-1:0] tile_max;
    always_comb begin : p_max
        logic                 nz;
        logic signed [EW-1:0] mx;
        nz = 1'b0;
        mx = '0;
        for (int l = 0; l < LANES; l++) begin
            if (!tile[l*CW + CW - 1] && (!nz || $signed(key[l*EW +: EW]) > mx)) begin
                mx = key[l*EW +: EW];
                nz = 1'b1;
            end
        end
        tile_nz  = nz;
        tile_max = mx;
    end

    // ---- the compact tile register: normalisation and tile maximum in one cycle, the block
    // bias and the rounding in the next (the longest path of the unregistered quantizer ran
    // through all of them: 108 cells, Yosys ltp on the ECP5 netlist) -----------------------
    logic                 t_valid;
    logic [LANES*CW-1:0]  t_tile;
    logic                 t_nz;
    logic signed [EW-1:0] t_max;

    // ---- group sequencing ---------------------------------------------------------------
    logic [COUNT_WIDTH-1:0] count_reg;
    logic                   nz_reg;      // some element of the group so far is non-zero
    logic signed [EW-1:0]   max_reg;     // largest key of those
    logic [LANES*CW-1:0]    slot [SLOTS];  // the group's first GROUP-1 tiles
    wire first = count_reg == '0;
    wire last  = count_reg == COUNT_WIDTH'(GROUP - 1);
    wire take  = t_valid && (!last || !y_valid || y_ready);  // the registered tile moves on
    assign in_ready = !t_valid || take;

    wire                 prev_nz = !first && nz_reg;
    wire                 blk_nz  = t_nz || prev_nz;
    wire signed [EW-1:0] blk_max = !prev_nz ? t_max : !t_nz ? max_reg
                                 : (t_max > max_reg ? t_max : max_reg);

    // ---- shared bias --------------------------------------------------------------------
    wire signed [EW-1:0] capped = (LOG != 0 && blk_max > EW'(127)) ? EW'(127) : blk_max;
    wire signed [EW-1:0] want   = EW'(TOP) - capped;
    wire signed [EW-1:0] beta   = !blk_nz ? EW'(H) : want > EW'(H) ? EW'(H) : want < EW'(-H) ? EW'(-H) : want;

    // ---- round every element of the block -----------------------------------------------
    wire [OUT_LANES*EL_WIDTH-1:0] codes;
    for (genvar r = 0; r < ROWS; r++) begin : g_r
        for (genvar g = 0; g < GROUP; g++) begin : g_g
            for (genvar c = 0; c < COLS; c++) begin : g_c
                wire [CW-1:0] el;
                if (g == GROUP - 1) begin : g_in
                    assign el = t_tile[(r*COLS+c)*CW +: CW];
                end else begin : g_slot
                    assign el = slot[g][(r*COLS+c)*CW +: CW];
                end
                wire                 zero   = el[CW-1];
                wire                 sign   = el[CW-2];
                wire                 sticky = el[CW-3];
                wire [NM-1:0]        mant   = el[EW +: NM];
                wire signed [EW-1:0] e      = $signed(el[EW-1:0]);
                logic [EL_WIDTH-1:0] code;
                if (LOG != 0) begin : g_bl
                    wire signed [EW-1:0] k = e + EW'(mant[0]) + beta;
                    wire [EXP_BITS-1:0] cc = k > EW'(TOP) ? EXP_BITS'(TOP) : k < EW'(1) ? EXP_BITS'(1)
                                                                                          : k[EXP_BITS-1:0];
                    assign code = (zero || e + beta < 0) ? '0 : {sign, cc};
                    /* verilator lint_off UNUSEDSIGNAL */
                    wire unused = &{1'b0, sticky, mant};
                    /* verilator lint_on UNUSEDSIGNAL */
                end else begin : g_bmf
                    wire signed [EW-1:0] emin = EW'(1) - beta;
                    wire                 sub  = e < emin;
                    wire signed [EW-1:0] d    = sub ? emin - e : '0;
                    wire [PW+EW-1:0]     dsat = d > EW'(NM) ? (PW+EW)'(NM) : (PW+EW)'(d);  // >= M+2: below half an LSB
                    wire [NM:0]          x    = {1'b0, mant};
                    wire [NM:0]          xs   = x >> dsat;
                    wire [NM-1:0]        qf   = xs[NM:1];
                    wire                 grd  = xs[0];
                    wire                 stk  = sticky || ((x & (((NM+1)'(1)) << dsat) - 1'b1) != '0);
                    wire [MAN_BITS+1:0]  q    = (MAN_BITS+2)'(qf) + (MAN_BITS+2)'(grd && (stk || qf[0]));
                    wire signed [EW-1:0] e_el = sub ? emin : e;
                    // c of a normal result; q = 2^(M+1) is 2^M one binade up
                    wire signed [EW-1:0] cn   = e_el + beta + EW'(q[MAN_BITS+1]);
                    wire [MAN_BITS-1:0]  frac = q[MAN_BITS+1] ? '0 : q[MAN_BITS-1:0];
                    wire                 normal = q[MAN_BITS+1] || q[MAN_BITS];
                    assign code = (zero || q == '0) ? '0
                                : !normal ? {sign, EXP_BITS'(0), frac}
                                : cn > EW'(TOP) ? {sign, EXP_BITS'(TOP), {MAN_BITS{1'b1}}}
                                : {sign, cn[EXP_BITS-1:0], frac};
                end
                assign codes[(r*GROUP*COLS + g*COLS + c)*EL_WIDTH +: EL_WIDTH] = code;
            end
        end
    end

    // ---- registers ------------------------------------------------------------------------
    if (GROUP > 1) begin : g_slots
        always_ff @(posedge clk) begin
            if (take && !last) slot[count_reg] <= t_tile;
        end
    end else begin : g_noslots
        /* verilator lint_off UNUSEDSIGNAL */
        wire unused = &{1'b0, slot[0]};
        /* verilator lint_on UNUSEDSIGNAL */
        assign slot[0] = '0;
    end
    logic [OUT_LANES*EL_WIDTH-1:0] data_reg;
    logic [BIAS_BITS-1:0]          bias_reg;
    assign y_data = data_reg;
    assign y_bias = bias_reg;
    always_ff @(posedge clk) begin
        if (in_valid && in_ready) begin
            t_tile <= tile;
            t_nz   <= tile_nz;
            t_max  <= tile_max;
        end
        if (take) begin
            nz_reg  <= blk_nz;
            max_reg <= blk_max;
        end
        if (take && last) begin
            data_reg <= codes;
            bias_reg <= beta[BIAS_BITS-1:0];
        end
        if (rst) begin
            count_reg <= '0;
            y_valid   <= 1'b0;
            t_valid   <= 1'b0;
        end else begin
            if (in_valid && in_ready) t_valid <= 1'b1;
            else if (take)            t_valid <= 1'b0;
            if (y_valid && y_ready) y_valid <= 1'b0;
            if (take) begin
                count_reg <= last ? '0 : count_reg + 1'b1;
                if (last) y_valid <= 1'b1;
            end
        end
    end
endmodule

`default_nettype wire
