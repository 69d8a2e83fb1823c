@sales-incentive
Feature: Region team collaboration award (团队协作奖)
  When a region's overall achievement for the month reaches 110%, everyone in the region gets
  500.00, whatever their own achievement. The region's achievement is the total actual of its
  members divided by their total target, not an average of the members' percentages.

  Background:
    Given the policy in force for 2026-08

  Scenario: A region at exactly 110% pays every member, a region at 109.99% pays nobody
    # East: targets 100000 + 200000 + 300000 = 600000; actuals 50000 + 250000 + 360000 = 660000;
    #       660000 / 600000 = 110% exactly (the average of 50%, 125% and 120% would be only 98.33%).
    # South: 109990 / 100000 = 109.99%.
    # Mei: red, no commission, award 500.00 -> 500.00
    # Jun: 125% sprint, 3% of 250000 = 7500.00 + 3000.00 + 500.00 -> 11000.00
    # Lin: 120% sprint, 3% of 360000 = 10800.00 + 3000.00 + 500.00 -> 14300.00
    # Kai: 109.99% advanced, 2% of 109990 = 2199.80 + 1000.00 -> 3199.80
    Given these monthly results:
      | rep_id | name | region | period  | target    | actual    |
      | E01    | Mei  | East   | 2026-08 | 100000.00 | 50000.00  |
      | E02    | Jun  | East   | 2026-08 | 200000.00 | 250000.00 |
      | E03    | Lin  | East   | 2026-08 | 300000.00 | 360000.00 |
      | S01    | Kai  | South  | 2026-08 | 100000.00 | 109990.00 |
    When HR evaluates 2026-08
    Then every member of region East gets the 团队协作奖 of 500.00
    And Mei gets a red light
    And Mei gets no commission and no bonus
    And Mei is paid 500.00 in total
    And Jun is paid 11000.00 in total
    And Lin is paid 14300.00 in total
    And the explanation for Mei mentions 'achievement 1.10 >= 1.10'
    And nobody in region South gets the 团队协作奖
    And Kai is paid 3199.80 in total
    And the payout for 2026-08 is 28999.80 in total

  Scenario: High percentages of small targets do not lift a region over 110%
    # Ann 150000 / 100000 = 150%, Bo 900000 / 900000 = 100%: the average would be 125%,
    # but the region is 1050000 / 1000000 = 105%.
    Given these monthly results:
      | rep_id | name | region | period  | target    | actual    |
      | N01    | Ann  | North  | 2026-08 | 100000.00 | 150000.00 |
      | N02    | Bo   | North  | 2026-08 | 900000.00 | 900000.00 |
    When HR evaluates 2026-08
    Then nobody in region North gets the 团队协作奖
    And Ann gets no 团队协作奖
    And Ann's commission is 4500.00 and bonus 3000.00
