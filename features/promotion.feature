@sales-incentive
Feature: Promotion review priority (晋升答辩)
  The TOP 10 reps of the quarter by quarterly sales (the sum of the three months' actual) get
  priority for the promotion review, provided none of their months in the quarter was red
  (below 80% achievement). The quarterly TOP 3 award does not depend on the lights.

  Scenario: TOP 10 without a red month are eligible; rank 11 and a red month are not
    # Every month's target is 100000. Quarterly sales and ranks:
    #   周杰 200000 + 70000 + 200000 = 470000 (rank 1, but August is 70%: red)
    #   张伟 450000 (2), 李娜 420000 (3), 王芳 390000 (4), 刘洋 375000 (5), 陈静 360000 (6),
    #   杨磊 345000 (7), 赵敏 330000 (8), 黄勇 315000 (9), 吴霞 300000 (10, every month 100%: yellow),
    #   徐强 285000 (11, every month 95%: yellow)
    Given the policy in force for 2026-07
    And these monthly results:
      | rep_id | name | region | period  | target    | actual    |
      | R01    | 周杰 | East   | 2026-07 | 100000.00 | 200000.00 |
      | R01    | 周杰 | East   | 2026-08 | 100000.00 | 70000.00  |
      | R01    | 周杰 | East   | 2026-09 | 100000.00 | 200000.00 |
      | R02    | 张伟 | East   | 2026-07 | 100000.00 | 150000.00 |
      | R02    | 张伟 | East   | 2026-08 | 100000.00 | 150000.00 |
      | R02    | 张伟 | East   | 2026-09 | 100000.00 | 150000.00 |
      | R03    | 李娜 | East   | 2026-07 | 100000.00 | 140000.00 |
      | R03    | 李娜 | East   | 2026-08 | 100000.00 | 140000.00 |
      | R03    | 李娜 | East   | 2026-09 | 100000.00 | 140000.00 |
      | R04    | 王芳 | East   | 2026-07 | 100000.00 | 130000.00 |
      | R04    | 王芳 | East   | 2026-08 | 100000.00 | 130000.00 |
      | R04    | 王芳 | East   | 2026-09 | 100000.00 | 130000.00 |
      | R05    | 刘洋 | East   | 2026-07 | 100000.00 | 125000.00 |
      | R05    | 刘洋 | East   | 2026-08 | 100000.00 | 125000.00 |
      | R05    | 刘洋 | East   | 2026-09 | 100000.00 | 125000.00 |
      | R06    | 陈静 | East   | 2026-07 | 100000.00 | 120000.00 |
      | R06    | 陈静 | East   | 2026-08 | 100000.00 | 120000.00 |
      | R06    | 陈静 | East   | 2026-09 | 100000.00 | 120000.00 |
      | R07    | 杨磊 | East   | 2026-07 | 100000.00 | 115000.00 |
      | R07    | 杨磊 | East   | 2026-08 | 100000.00 | 115000.00 |
      | R07    | 杨磊 | East   | 2026-09 | 100000.00 | 115000.00 |
      | R08    | 赵敏 | East   | 2026-07 | 100000.00 | 110000.00 |
      | R08    | 赵敏 | East   | 2026-08 | 100000.00 | 110000.00 |
      | R08    | 赵敏 | East   | 2026-09 | 100000.00 | 110000.00 |
      | R09    | 黄勇 | East   | 2026-07 | 100000.00 | 105000.00 |
      | R09    | 黄勇 | East   | 2026-08 | 100000.00 | 105000.00 |
      | R09    | 黄勇 | East   | 2026-09 | 100000.00 | 105000.00 |
      | R10    | 吴霞 | East   | 2026-07 | 100000.00 | 100000.00 |
      | R10    | 吴霞 | East   | 2026-08 | 100000.00 | 100000.00 |
      | R10    | 吴霞 | East   | 2026-09 | 100000.00 | 100000.00 |
      | R11    | 徐强 | East   | 2026-07 | 100000.00 | 95000.00  |
      | R11    | 徐强 | East   | 2026-08 | 100000.00 | 95000.00  |
      | R11    | 徐强 | East   | 2026-09 | 100000.00 | 95000.00  |
    When HR evaluates 2026-Q3
    Then 周杰's sales for the period total 470000.00
    And 周杰 is not eligible for the promotion review
    And 周杰 gets the 季度TOP3 of 5000.00
    And 张伟 is eligible for the promotion review
    And 张伟 gets the 季度TOP3 of 3000.00
    And 李娜 is eligible for the promotion review
    And 李娜 gets the 季度TOP3 of 1000.00
    And 王芳 is eligible for the promotion review
    And 王芳 gets no 季度TOP3
    And 黄勇 is eligible for the promotion review
    And 吴霞's sales for the period total 300000.00
    And 吴霞 is eligible for the promotion review
    And 徐强's sales for the period total 285000.00
    And 徐强 is not eligible for the promotion review
