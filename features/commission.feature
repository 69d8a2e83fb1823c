@sales-incentive
Feature: Monthly commission tiers (月度激励方案对照表)
  The whole month's sales are paid at the rate of the highest tier reached:
    basic    (基础达标奖) from 80% achievement:  1.5% commission
    advanced (进阶激励奖) from 100% achievement: 2% commission + 1000.00 bonus
    sprint   (冲刺卓越奖) from 120% achievement: 3% commission + 3000.00 bonus
  Below 80% there is no commission and no bonus. Money is rounded half-up to the cent.
  Sam is Alex's teammate in region West at 50%, so West stays below the 110% team award
  (West is (Alex's actual + 50000) / 200000, at most 100% in these examples).

  Scenario Outline: The tier is chosen by the month's achievement
    Given the policy in force for 2026-08
    And these monthly results:
      | rep_id | name | region | period  | target    | actual   |
      | W01    | Alex | West   | 2026-08 | 100000.00 | <actual> |
      | W02    | Sam  | West   | 2026-08 | 100000.00 | 50000.00 |
    When HR evaluates 2026-08
    Then Alex's achievement is <achievement>
    And Alex gets a <light> light
    And Alex reaches the <tier> tier
    And Alex's commission is <commission> and bonus <bonus>
    And Alex is paid <total> in total
    And nobody in region West gets the 团队协作奖

    Examples:
      | actual    | achievement | light  | tier      | commission | bonus   | total   |
      | 80000.00  | 80%         | yellow | basic     | 1200.00    | 0.00    | 1200.00 |
      | 99990.00  | 99.99%      | yellow | 基础达标奖 | 1499.85    | 0.00    | 1499.85 |
      | 100000.00 | 100%        | yellow | advanced  | 2000.00    | 1000.00 | 3000.00 |
      | 100010.00 | 100.01%     | green  | 进阶激励奖 | 2000.20    | 1000.00 | 3000.20 |
      | 119990.00 | 119.99%     | green  | advanced  | 2399.80    | 1000.00 | 3399.80 |
      | 120000.00 | 120%        | green  | sprint    | 3600.00    | 3000.00 | 6600.00 |
      | 150000.00 | 150%        | green  | 冲刺卓越奖 | 4500.00    | 3000.00 | 7500.00 |

  Scenario: Below 80% there is no commission
    Given the policy in force for 2026-08
    And these monthly results:
      | rep_id | name | region | period  | target    | actual   |
      | W01    | Alex | West   | 2026-08 | 100000.00 | 79990.00 |
    When HR evaluates 2026-08
    Then Alex gets a red light
    And Alex gets no commission and no bonus
    And Alex is paid 0.00 in total

  Scenario: Exactly 80% by exact arithmetic earns the basic tier, rounded to the cent
    # 181071.36 / 226339.20 is exactly 0.8; 1.5% of 181071.36 = 2716.0704 -> 2716.07
    Given the policy in force for 2026-08
    And these monthly results:
      | rep_id | name | region | period  | target    | actual    |
      | R004   | 刘洋 | East   | 2026-08 | 226339.20 | 181071.36 |
    When HR evaluates 2026-08
    Then 刘洋 gets a yellow light
    And 刘洋 reaches the basic tier
    And 刘洋's commission is 2716.07 and bonus 0.00
    And 刘洋 is paid 2716.07 in total

  Scenario: Half a cent is rounded up
    # 100001.25 / 100000 = 100.00125%: advanced; 2% of 100001.25 = 2000.025 -> 2000.03
    Given the policy in force for 2026-08
    And these monthly results:
      | rep_id | name | region | period  | target    | actual    |
      | W01    | Alex | West   | 2026-08 | 100000.00 | 100001.25 |
      | W02    | Sam  | West   | 2026-08 | 100000.00 | 50000.00  |
    When HR evaluates 2026-08
    Then Alex reaches the advanced tier
    And Alex's commission is 2000.03 and bonus 1000.00
    And Alex is paid 3000.03 in total

  Scenario: The explanation shows the rule and the figures it compared
    Given the policy in force for 2026-08
    And these monthly results:
      | rep_id | name | region | period  | target    | actual    |
      | R001   | 张伟 | East   | 2026-08 | 800000.00 | 840000.00 |
    When HR evaluates 2026-08
    Then the explanation for 张伟 mentions 'achievement 1.05 >= 1.00'
    And the explanation for 张伟 mentions '2% of 840000.00 = 16800.00'
    And the explanation for 张伟 mentions 'bonus 1000.00'
