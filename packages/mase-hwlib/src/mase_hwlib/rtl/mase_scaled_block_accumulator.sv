// mase_scaled_block_accumulator: the back end of the MXFP4 and M2XFP dot
// products. Sums NUM_BLOCKS beats of per-lane block-pair terms, where every
// lane has its own LSB exponent (1-D blocks along the reduction axis: output
// (i, j) pairs block scale s_x[i] with s_w[j], so no two lanes of a tile need
// share one) and its own NaN flag.
//
// Beat b, lane l: the exact integer term P_b(l) (|P| < 2^(TERM_WIDTH-1)) on
// the LSB exponent L_b(l), and nan_b(l). Per lane the terms go into a
// one-lane mase_bounded_accumulator (ACC_WIDTH bits, F = FRAC_BITS below the
// largest L so far, shifted-out bits rounded by ROUND; the width and error
// bound are the caller's, see mase_hwlib.golden.accumulate); the NaN flag is
// the OR over the beats. Output lane l: y_data(l) * 2^(y_exp(l)), y_nan(l).
//
// Register stages (mase_tile_dot_pipeline, OUT_STAGES = 1): the terms, the
// accumulator, the output register. One beat per cycle unstalled; y_valid
// rises two cycles after the last beat of a sum is taken. The beat counter
// gives the pipeline's first / last marks (beats 0 and NUM_BLOCKS-1 of a sum).
`default_nettype none

module mase_scaled_block_accumulator #(
    parameter int LANES      = 1,   // independent sums
    parameter int TERM_WIDTH = 16,  // bits of each signed term P
    parameter int ACC_WIDTH  = 24,  // bits of each signed running sum (>= TERM_WIDTH + clog2(NUM_BLOCKS+1))
    parameter int FRAC_BITS  = 4,   // F = ACC_WIDTH - TERM_WIDTH - clog2(NUM_BLOCKS+1)
    parameter int EXP_WIDTH  = 10,  // bits of the signed exponents L, R and R - F
    parameter int NUM_BLOCKS = 4,   // beats per sum (>= 1)
    parameter int ROUND      = 1,   // shifted-out bits: 0 truncate (floor), 1 nearest-even
    parameter int OUT_WIDTH  = 32   // bits of each output lane (>= ACC_WIDTH, sign-extended)
) (
    input  wire                         clk,
    input  wire                         rst,       // synchronous, active high
    // terms of one beat: lane l at [l*TERM_WIDTH +: TERM_WIDTH], its LSB at [l*EXP_WIDTH +: EXP_WIDTH]
    input  wire [LANES*TERM_WIDTH-1:0]  t_data,
    input  wire [LANES*EXP_WIDTH-1:0]   t_lsb,
    input  wire [LANES-1:0]             t_nan,
    input  wire                         t_valid,
    output wire                         t_ready,
    // finished sums: lane l is y_data[l] * 2^(y_exp[l]), NaN when y_nan[l]
    output wire [LANES*OUT_WIDTH-1:0]   y_data,
    output wire [LANES*EXP_WIDTH-1:0]   y_exp,
    output wire [LANES-1:0]             y_nan,
    output wire                         y_valid,
    input  wire                         y_ready
);
    localparam int CW = NUM_BLOCKS > 1 ? $clog2(NUM_BLOCKS) : 1;

    // ---- beat counter -> first / last, and the pipeline control -----------------
    logic [CW-1:0] count_reg;
    wire           p_first = count_reg == '0;
    wire           p_last  = count_reg == CW'(NUM_BLOCKS - 1);
    wire           prod_load, acc_en, acc_first;
    wire [0:0]     stage_load;
    mase_tile_dot_pipeline #(.OUT_STAGES(1)) u_pipe (
        .clk(clk), .rst(rst), .p_valid(t_valid), .p_ready(t_ready), .p_first(p_first), .p_last(p_last),
        .prod_load(prod_load), .acc_en(acc_en), .acc_first(acc_first), .stage_load(stage_load),
        .y_valid(y_valid), .y_ready(y_ready)
    );
    always_ff @(posedge clk) begin
        if (rst) count_reg <= '0;
        else if (prod_load) count_reg <= p_last ? '0 : count_reg + 1'b1;
    end

    // ---- term register ----------------------------------------------------------
    logic [LANES*TERM_WIDTH-1:0] term_reg;
    logic [LANES*EXP_WIDTH-1:0]  lsb_reg;
    logic [LANES-1:0]            nan_reg;
    always_ff @(posedge clk) begin
        if (prod_load) begin
            term_reg <= t_data;
            lsb_reg  <= t_lsb;
            nan_reg  <= t_nan;
        end
    end

    // ---- one bounded accumulator per lane; the output register -----------------
    wire [ACC_WIDTH-1:0] zero = '0;  // a sum starts from 0 with R = L_0
    for (genvar l = 0; l < LANES; l++) begin : g_lane
        wire signed [EXP_WIDTH-1:0] lsb = lsb_reg[l*EXP_WIDTH +: EXP_WIDTH];
        wire [ACC_WIDTH-1:0]        sum;
        wire signed [EXP_WIDTH-1:0] sum_lsb;
        mase_bounded_accumulator #(
            .LANES(1), .TERM_WIDTH(TERM_WIDTH), .ACC_WIDTH(ACC_WIDTH), .FRAC_BITS(FRAC_BITS),
            .EXP_WIDTH(EXP_WIDTH), .ROUND(ROUND)
        ) u_acc (
            .clk(clk), .en(acc_en), .first(acc_first), .init_acc(zero), .init_ref(lsb),
            .term(term_reg[l*TERM_WIDTH +: TERM_WIDTH]), .term_lsb(lsb), .sum(sum), .sum_lsb(sum_lsb)
        );

        logic nan_acc_reg;
        wire  nan_sum = (!acc_first && nan_acc_reg) || nan_reg[l];
        always_ff @(posedge clk) begin
            if (acc_en) nan_acc_reg <= nan_sum;
        end

        logic [ACC_WIDTH-1:0]        y_acc_reg;
        logic signed [EXP_WIDTH-1:0] y_exp_reg;
        logic                        y_nan_reg;
        always_ff @(posedge clk) begin
            if (stage_load[0]) begin
                y_acc_reg <= sum;
                y_exp_reg <= sum_lsb;
                y_nan_reg <= nan_sum;
            end
        end
        // sign-extended to OUT_WIDTH here, so the register holds ACC_WIDTH bits only
        assign y_data[l*OUT_WIDTH +: OUT_WIDTH] = OUT_WIDTH'($signed(y_acc_reg));
        assign y_exp[l*EXP_WIDTH +: EXP_WIDTH]  = y_exp_reg;
        assign y_nan[l]                         = y_nan_reg;
    end
endmodule

`default_nettype wire
