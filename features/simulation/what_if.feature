@sales-incentive
Feature: What-if simulation before the quarterly review
  A sales manager tries a rate, a threshold or a quota change on last month's figures and sees
  what it would have cost and who would have moved, before anything is adopted. Every number
  below is worked out by hand from the table and the shipped 2026-Q3 policy (basic >= 80% 1.5%;
  advanced >= 100% 2% + 1,000; sprint >= 120% 3% + 3,000; team award 500 each in a region >= 110%):

    R1 East   104%  advanced  2% x 104,000 = 2,080 + 1,000 = 3,080.00
    R2 East   105%  advanced  2% x 210,000 = 4,200 + 1,000 = 5,200.00
    R3 South   90%  basic   1.5% x  90,000 = 1,350         = 1,350.00
    R4 North  125%  sprint    3% x 250,000 = 7,500 + 3,000 = 10,500.00
              North alone at 125% >= 110%: team award     500.00
                                                    total   20,630.00

  Background:
    Given the shipped sales-incentive policy
    And these facts for 2026-08:
      | rep_id | region | target    | actual    |
      | R1     | East   | 100000.00 | 104000.00 |
      | R2     | East   | 200000.00 | 210000.00 |
      | R3     | South  | 100000.00 | 90000.00  |
      | R4     | North  | 200000.00 | 250000.00 |

  Scenario: If tier 2 paid 1.8%, August would cost 628.00 less and nobody would change tier
    # R1 1.8% x 104,000 = 1,872 (-208); R2 1.8% x 210,000 = 3,780 (-420)
    When the manager simulates 2026-08 with "commission.tiers[advanced].rate=0.018"
    Then August would cost 20630.00 before and 20002.00 after
    And it would cost 628.00 less
    And 0 reps would move from advanced to basic
    And R2 would get 420.00 less

  Scenario: If East's quotas were 5% higher, 1 rep would move from advanced to basic
    # R1 104,000 / 105,000 = 99.05%: basic, 1.5% x 104,000 = 1,560 (-1,520);
    # R2 210,000 / 210,000 = exactly 100%: still advanced, but its light turns yellow
    When the manager simulates 2026-08 with quota "region=East:+5%"
    Then it would cost 1520.00 less
    And 1 rep would move from advanced to basic
    And R1 would get 1520.00 less because "tier moved 进阶激励奖 -> 基础达标奖"
    And R2 would get 0.00 less because "light changed 绿灯 -> 黄灯"

  Scenario: If sprint started at 130%, R4 would drop to advanced and 2 reps would move in all
    # R4 125% < 130%: advanced, 2% x 250,000 = 5,000 + 1,000 = 6,000 (-4,500);
    # with advanced from 105% as well, R1 (104%) falls to basic: 1,560 (-1,520)
    When the manager simulates 2026-08 with "commission.tiers[sprint].from=1.30" and "commission.tiers[advanced].from=1.05"
    Then it would cost 6020.00 less
    And 1 rep would move from sprint to advanced
    And 1 rep would move from advanced to basic
    And R4 would get 4500.00 less because "tier moved 冲刺卓越奖 -> 进阶激励奖"

  Scenario: A change that breaks the KPI weights is refused, naming the edit
    When the manager simulates 2026-08 with "scorecard.kpis[achievement].weight=0.6"
    Then the simulation is refused with "KPI weights add up to 1.1 (110%)"
