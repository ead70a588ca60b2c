// mase_bounded_accumulator: the running state of a bounded (block-floating)
// accumulator, for dot products that add one term per beat
// (mase_mxint_tile_dot; the BMF / BL dot products can share it).
//
// A sum is N terms t_i = P_i * 2^(L_i) (P_i: LANES signed TERM_WIDTH-bit
// integers, L_i one LSB exponent per beat). State: A_j (ACC_WIDTH bits per
// lane) and the reference exponent R = max L_i so far; value A_j * 2^(R - F),
// F = FRAC_BITS. On a first beat the sum starts from (init_acc, init_ref)
// instead of the registers — (0, term_lsb) for a plain sum, (b << F, L_b) to
// start from a bias term b; every beat then takes one mase_bounded_align step:
//
//   R' = max(R, L_i),  A_j' = rnd(A_j, R' - R) + rnd(P_ij << F, R' - L_i)
//
// sum / sum_lsb are the state after this beat (combinational, value
// sum_j * 2^sum_lsb, sum_lsb = R' - F); the registers take it when en is high.
// Throughput one beat per cycle. With ACC_WIDTH >= TERM_WIDTH + clog2(N+1) + F
// no overflow is possible, and
//   |bounded - exact| <= (N-1) 2^(Lmax - F)  (ROUND = 0),  (N-1) 2^(Lmax - F - 1)  (ROUND = 1)
// (derivation in mase_hwlib.golden.accumulate, the bit-exact model).
`default_nettype none

module mase_bounded_accumulator #(
    parameter int LANES      = 4,   // independent sums (lanes) sharing one exponent
    parameter int TERM_WIDTH = 16,  // bits of each signed term lane P_ij
    parameter int ACC_WIDTH  = 24,  // bits of each signed running sum A_j
    parameter int FRAC_BITS  = 4,   // F: sum bits kept below the largest term's LSB
    parameter int EXP_WIDTH  = 10,  // bits of the signed exponents L_i, R and R - F
    parameter int ROUND      = 1    // shifted-out bits: 0 truncate (floor), 1 nearest-even
) (
    input  wire                        clk,
    // one term per beat
    input  wire                        en,        // the beat is taken: update the state
    input  wire                        first,     // first beat of a sum: start from init_*
    input  wire [LANES*ACC_WIDTH-1:0]  init_acc,  // starting A_j on a first beat
    input  wire signed [EXP_WIDTH-1:0] init_ref,  // starting R on a first beat
    input  wire [LANES*TERM_WIDTH-1:0] term,      // P_ij at [j*TERM_WIDTH +: TERM_WIDTH]
    input  wire signed [EXP_WIDTH-1:0] term_lsb,  // L_i
    // the sum after this beat
    output wire [LANES*ACC_WIDTH-1:0]  sum,       // A_j' at [j*ACC_WIDTH +: ACC_WIDTH]
    output wire signed [EXP_WIDTH-1:0] sum_lsb    // R' - F
);
    logic [LANES*ACC_WIDTH-1:0]  acc_reg;
    logic signed [EXP_WIDTH-1:0] ref_reg;
    wire signed [EXP_WIDTH-1:0]  ref_next;

    mase_bounded_align #(
        .LANES(LANES), .TERM_WIDTH(TERM_WIDTH), .ACC_WIDTH(ACC_WIDTH), .FRAC_BITS(FRAC_BITS),
        .EXP_WIDTH(EXP_WIDTH), .ROUND(ROUND)
    ) u_align (
        .acc_in(first ? init_acc : acc_reg), .acc_ref(first ? init_ref : ref_reg),
        .term_in(term), .term_lsb(term_lsb), .acc_out(sum), .ref_out(ref_next)
    );
    assign sum_lsb = ref_next - EXP_WIDTH'(FRAC_BITS);

    always_ff @(posedge clk) begin
        if (en) begin
            acc_reg <= sum;
            ref_reg <= ref_next;
        end
    end
endmodule

`default_nettype wire
