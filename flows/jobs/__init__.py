"""Scheduled domain work as plain functions taking the service and `now` (tests move time instead of
sleeping); `flows.orchestration.job_flows` runs them as Prefect flows on their schedules.

    sweep          期限巡查: passed deadlines fire or escalate
    drill_plan     年度应急演练计划: generated from the plan register (2 January)
    drill_publish  发布: one drill case per row of the plan, once; due and done per plan and period
    reassessment   预案3年定期评估: a revision case when a plan's assessment falls due
    statistics     事故统计 按月/季/年: Word report and Excel workbook
"""
