"""Prefect runs the workflows: the effects of actions, the timers and the periodic work.

    dispatch     after a commit, hand the effects to Prefect (plain HTTP; no Prefect import)
    runtime      the service the flows of this process use
    case_flows   case-<workflow>: one flow per workflow kind, its effects as tasks with retries
    job_flows    the scheduled jobs of flows.jobs as Prefect flows, their deployments and schedules
    retention    Prefect's own run records trimmed after N days
    redelivery   pending effects no run is carrying are submitted again (the outbox's redelivery)
    executor     runs effects runs in-process within ~1 s of the click (no subprocess per run)
    serve        the serving process: the executor plus Prefect's runner for the jobs
    prefect_home a migrated template database, so a new data directory's server starts in seconds
    stack        `python -m flows up`: Prefect server, serving process and the app, as one
    handoff      the command line finds a stack running on its data directory and hands it the effects
    deploy       past one machine: every deployment in a `process` work pool for workers

How effects reach a flow run fast: the acting process commits and creates a flow run of the
workflow's `effects` deployment (`dispatch`); in the serving process an `EffectExecutor` polls those
deployments every ~0.25 s, claims a scheduled run (Pending, which Prefect grants to one claimant
only) and runs it in-process on a thread with the flow heartbeat off, so a document is there within
about a second. The scheduled jobs are served by Prefect's own runner (`serve`), each run in its own
subprocess. Past one machine the same deployments go to a `process` work pool and workers on other
hosts run them (see deploy/README.md).
"""
