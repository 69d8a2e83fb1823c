@sales-incentive
Feature: Monthly sales star (月度销售之星)
  The rep with the highest sales of the month is the month's sales star: a certificate and a
  place on the results wall, no money. Reps with equal sales share the honour.

  Background:
    Given the policy in force for 2026-08

  Scenario: The best seller of the month is the sales star and is paid nothing extra for it
    # Alex: 840000 / 800000 = 105%, advanced: 2% of 840000 = 16800.00 + 1000.00 = 17800.00
    Given these monthly results:
      | rep_id | name | region | period  | target    | actual    |
      | E01    | Alex | East   | 2026-08 | 800000.00 | 840000.00 |
      | S01    | Bea  | South  | 2026-08 | 600000.00 | 450000.00 |
    When HR evaluates 2026-08
    Then Alex is honoured as 月度销售之星 with no money
    And Alex is paid 17800.00 in total
    And Bea gets no 月度销售之星

  Scenario: Equal best sales share the honour
    Given these monthly results:
      | rep_id | name | region | period  | target    | actual    |
      | E01    | Alex | East   | 2026-08 | 800000.00 | 500000.00 |
      | S01    | Bea  | South  | 2026-08 | 600000.00 | 500000.00 |
      | N01    | Cai  | North  | 2026-08 | 400000.00 | 400000.00 |
    When HR evaluates 2026-08
    Then Alex is honoured as 月度销售之星 with no money
    And Bea is honoured as 月度销售之星 with no money
    And Cai gets no 月度销售之星
