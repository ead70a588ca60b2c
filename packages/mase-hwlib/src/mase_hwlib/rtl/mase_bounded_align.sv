// mase_bounded_align: combinational. One step of the bounded (block-floating)
// accumulator: adds a term of LANES signed integers P_j with one LSB exponent L
// (value P_j * 2^L) to a running sum of LANES ACC_WIDTH-bit integers A_j with
// reference exponent R (value A_j * 2^(R - FRAC_BITS)):
//
//   R' = max(R, L)
//   A_j' = rnd(A_j, R' - R) + rnd(P_j << FRAC_BITS, R' - L)
//
// rnd(v, 0) = v; for d > 0, ROUND = 0: floor(v / 2^d) (arithmetic shift);
// ROUND = 1: v / 2^d rounded half to even (guard bit v[d-1], sticky = OR of
// v[d-2:0]). Only the operand with the smaller exponent is shifted, so each lane
// has one shifter behind a swap mux; the shift amount and the guard / sticky
// masks are shared by all lanes. Shifts beyond ACC_WIDTH saturate at
// ACC_WIDTH, which gives the same result (|v| < 2^(ACC_WIDTH-1): the shifted
// value is below half an LSB; floor 0 / -1, nearest 0).
// The caller keeps |A_j| and |P_j << FRAC_BITS| below 2^(ACC_WIDTH-1) with
// room for the carry (mase_bounded_accumulator: ACC_WIDTH >= TERM_WIDTH +
// clog2(N+1)) and EXP_WIDTH wide enough for L, R and R - FRAC_BITS.
// The bit-exact model is mase_hwlib.golden.accumulate (docs/bounded-accumulation.md).
`default_nettype none

module mase_bounded_align #(
    parameter int LANES      = 4,   // independent sums (lanes) sharing one exponent
    parameter int TERM_WIDTH = 16,  // bits of each signed term lane P_j
    parameter int ACC_WIDTH  = 24,  // bits of each signed running sum A_j
    parameter int FRAC_BITS  = 4,   // F: sum bits kept below the reference LSB (term << F fits ACC_WIDTH)
    parameter int EXP_WIDTH  = 10,  // bits of the signed exponents L and R
    parameter int ROUND      = 1    // shifted-out bits: 0 truncate (floor), 1 nearest-even
) (
    input  wire [LANES*ACC_WIDTH-1:0]  acc_in,    // A_j at [j*ACC_WIDTH +: ACC_WIDTH]
    input  wire signed [EXP_WIDTH-1:0] acc_ref,   // R
    input  wire [LANES*TERM_WIDTH-1:0] term_in,   // P_j at [j*TERM_WIDTH +: TERM_WIDTH]
    input  wire signed [EXP_WIDTH-1:0] term_lsb,  // L
    output wire [LANES*ACC_WIDTH-1:0]  acc_out,   // A_j'
    output wire signed [EXP_WIDTH-1:0] ref_out    // R'
);
    localparam int SW = $clog2(ACC_WIDTH + 1);  // holds a shift of 0..ACC_WIDTH

    // ---- shared: which operand is shifted, and by how much ----------------------
    wire signed [EXP_WIDTH:0] diff = (EXP_WIDTH+1)'(term_lsb) - (EXP_WIDTH+1)'(acc_ref);  // no wrap
    wire                      swap = diff > 0;             // the term is larger: the sum is shifted
    wire        [EXP_WIDTH:0] gap  = swap ? diff : -diff;  // |L - R| >= 0
    wire        [SW-1:0]      d    = gap > (EXP_WIDTH+1)'(ACC_WIDTH) ? SW'(ACC_WIDTH) : SW'(gap);
    assign ref_out = swap ? term_lsb : acc_ref;

    // guard bit position d-1 and the sticky bits below it, as masks shared by the lanes
    logic [ACC_WIDTH-1:0] guard_mask, sticky_mask;
    always_comb begin
        for (int i = 0; i < ACC_WIDTH; i++) begin
            guard_mask[i]  = (SW+1)'(i) + 1'b1 == (SW+1)'(d);
            sticky_mask[i] = (SW+1)'(i) + 1'b1 <  (SW+1)'(d);
        end
    end

    // ---- per lane: swap, one shift with rounding, add ---------------------------
    for (genvar j = 0; j < LANES; j++) begin : g_lane
        wire signed [ACC_WIDTH-1:0] a       = acc_in[j*ACC_WIDTH +: ACC_WIDTH];
        wire signed [ACC_WIDTH-1:0] t       = ACC_WIDTH'($signed(term_in[j*TERM_WIDTH +: TERM_WIDTH])) <<< FRAC_BITS;
        wire signed [ACC_WIDTH-1:0] hi_op   = swap ? t : a;  // the larger exponent: not shifted
        wire signed [ACC_WIDTH-1:0] lo_op   = swap ? a : t;  // the smaller one: shifted and rounded
        wire signed [ACC_WIDTH-1:0] floor_v = lo_op >>> d;
        wire guard  = |(lo_op & guard_mask);
        wire sticky = |(lo_op & sticky_mask);
        wire up     = (ROUND != 0) && guard && (sticky || floor_v[0]);
        assign acc_out[j*ACC_WIDTH +: ACC_WIDTH] = hi_op + floor_v + ACC_WIDTH'(up);
    end
endmodule

`default_nettype wire
