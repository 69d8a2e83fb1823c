@sales-incentive
Feature: Policy versions (政策版本)
  Each month is evaluated with the policy version in force for it. Version 2026-Q3 covers July to
  September 2026; after the Q3 review, version 2026-Q4 applies from October 2026: the commission
  tiers and awards stay the same, only the scorecard changes (conversion enters it, follow-ups
  weigh less). A quarter is always evaluated with one version.

  Scorecard, version 2026-Q3: achievement 50%, collection 20%, new customers 20%, follow-ups 10%.
  Scorecard, version 2026-Q4: achievement 50%, collection 20%, new customers 10%, conversion 15%,
  follow-ups 5%. Each KPI counts metric / KPI target, capped; ratings A from 110, B from 90.

  @version-2026-Q3 @version-2026-Q4
  Scenario: September is paid under 2026-Q3 and October under 2026-Q4
    # Same figures both months: achievement 840000 / 800000 = 1.05; collection 756000 / 840000 = 0.90
    # (KPI target 0.90 -> 1.00); new customers 9 (target 5 -> 1.8, capped 1.5); conversion 10 / 40 =
    # 0.25 (target 0.25 -> 1.00); follow-ups 51 (target 40 -> 1.275, capped 1.2).
    # 2026-Q3: 1.05 x 50 + 1.00 x 20 + 1.5 x 20 + 1.2 x 10 = 52.5 + 20 + 30 + 12 = 114.50 -> A
    # 2026-Q4: 1.05 x 50 + 1.00 x 20 + 1.5 x 10 + 1.00 x 15 + 1.2 x 5 = 52.5 + 20 + 15 + 15 + 6 = 108.50 -> B
    Given these monthly results:
      | rep_id | name | region | period  | target    | actual    | collected | new_customers | leads | deals | follow_ups |
      | R001   | 张伟 | East   | 2026-09 | 800000.00 | 840000.00 | 756000.00 | 9             | 40    | 10    | 51         |
      | R001   | 张伟 | East   | 2026-10 | 800000.00 | 840000.00 | 756000.00 | 9             | 40    | 10    | 51         |
    When HR evaluates 2026-09
    Then 2026-09 is evaluated with version 2026-Q3
    And 张伟's commission is 16800.00 and bonus 1000.00
    And 张伟's score is 114.50 and rating A
    When HR evaluates 2026-10
    Then 2026-10 is evaluated with version 2026-Q4
    And 张伟's commission is 16800.00 and bonus 1000.00
    And 张伟's score is 108.50 and rating B

  @version-2026-Q3
  Scenario: A quarter does not straddle versions: Q3 takes July to September only
    # Q3 sales: 840000 x 3 = 2520000 (October's 840000 is not part of Q3).
    # Commission: 3 months x (2% of 840000 = 16800.00) = 50400.00; bonus 3 x 1000.00 = 3000.00;
    # TOP 3: alone, rank 1: 5000.00. East is 105% each month: no team award. Total 58400.00.
    Given these monthly results:
      | rep_id | name | region | period  | target    | actual    |
      | R001   | 张伟 | East   | 2026-07 | 800000.00 | 840000.00 |
      | R001   | 张伟 | East   | 2026-08 | 800000.00 | 840000.00 |
      | R001   | 张伟 | East   | 2026-09 | 800000.00 | 840000.00 |
      | R001   | 张伟 | East   | 2026-10 | 800000.00 | 840000.00 |
    When HR evaluates 2026-Q3
    Then 2026-Q3 is evaluated with version 2026-Q3
    And the results of 2026-Q3 cover the months 2026-07, 2026-08, 2026-09
    And 张伟's sales for the period total 2520000.00
    And 张伟's commission is 50400.00 and bonus 3000.00
    And 张伟 gets the 季度TOP3 of 5000.00
    And 张伟 is paid 58400.00 in total

  @version-2026-Q3
  Scenario: The 2026-Q3 scorecard rates a month
    # achievement 450000 / 600000 = 0.75 x 50 = 37.5; collection 405000 / 450000 = 0.90 -> 1.00 x 20 = 20;
    # new customers 8 / 5 = 1.6, capped 1.5 x 20 = 30; follow-ups 49 / 40 = 1.225, capped 1.2 x 10 = 12.
    # 37.5 + 20 + 30 + 12 = 99.50 -> B
    Given the policy in force for 2026-08
    And these monthly results:
      | rep_id | name | region | period  | target    | actual    | collected | new_customers | leads | deals | follow_ups |
      | R002   | 李娜 | South  | 2026-08 | 600000.00 | 450000.00 | 405000.00 | 8             | 36    | 14    | 49         |
    When HR evaluates 2026-08
    Then 李娜's score is 99.50 and rating B
    And 李娜 gets a red light
