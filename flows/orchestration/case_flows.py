"""case-<workflow>: one Prefect flow per workflow kind, built from its config at run time.

A run carries out the effects one action caused — documents with their 发文字号, linked cases,
register rows, notifications — each as a task with retries. Runs are named "case id｜action｜actor"
and tagged case:/workflow:/action:/actor:. A flow is also reachable as the module attribute
`case_<name>`, the entrypoint workers load (an admin's new workflow gets its flow without code).
"""
from __future__ import annotations

import threading
from typing import Any

from prefect import task
from prefect.flows import Flow
from prefect.states import Failed

from flows.core.errors import FlowError
from flows.orchestration import dispatch
from flows.orchestration.runtime import get_service
from flows.service import EffectRunner, Service
from flows.service.effects import MAX_ATTEMPTS, EffectFailed, effect_label

EFFECT_RETRY_DELAYS = [1, 4]    # seconds between the attempts (MAX_ATTEMPTS in all)


def _keep_retrying(task_obj, task_run, state) -> bool:
    """Stop early when the effect was marked failed (its attempts are counted on the case)."""
    exc = state.result(raise_on_failure=False)
    return not (isinstance(exc, EffectFailed) and exc.effect.get("status") == "failed")


@task(name="effect", retries=MAX_ATTEMPTS - 1, retry_delay_seconds=EFFECT_RETRY_DELAYS,
      retry_condition_fn=_keep_retrying)
def run_effect(case_id: str, effect_id: str) -> dict:
    """One effect, claimed first (a second claimant skips it: the effect is returned as it stands);
    EffectRunner records each attempt on the case and marks it failed after the last."""
    return EffectRunner(get_service()).run(case_id, effect_id)


def _outcome(state) -> str:
    """done, failed, or running (another runner holds the effect: this run skipped it)."""
    if not state.is_completed():
        return "failed"
    try:
        effect = state.result(raise_on_failure=False)
    except Exception:  # noqa: BLE001 - the result is not kept: it completed
        return "done"
    return "running" if isinstance(effect, dict) and effect.get("status") == "running" else "done"


def carry_out(case_id: str, effect_ids: list[str] | None = None, action: str = "", actor: str = ""):
    """The body of every case flow: run the case's pending effects (those named, or all), in order;
    one another runner holds is skipped ("running"), one whose claim went stale is taken over."""
    svc = get_service()
    case = svc.case(case_id)
    runner = EffectRunner(svc)
    todo = [e for e in case.get("effects", [])
            if runner.claimable(e) and (effect_ids is None or e["id"] in effect_ids)]
    results: dict[str, str] = {}
    for effect in todo:
        state = run_effect.with_options(task_run_name=effect_label(svc, effect))(
            case_id, effect["id"], return_state=True)
        results[effect["id"]] = _outcome(state)
    dispatch.flush(svc)  # effects of linked cases this run started
    failed = [eid for eid, status in results.items() if status == "failed"]
    if failed:
        reasons = [e.get("error") for e in svc.case(case_id).get("effects", []) if e["id"] in failed]
        return Failed(message=f"{len(failed)} 项处理失败：{'；'.join(r or '' for r in reasons)}", data=results)
    return results


_case_flows: dict[str, Flow] = {}
_case_flows_lock = threading.Lock()


def case_flow(workflow: str, svc: Service | None = None) -> Flow:
    """The Prefect flow of one workflow kind, built from its definition (name, title, version)."""
    with _case_flows_lock:
        made = _case_flows.get(workflow)
        if made is not None:
            return made
        svc = svc or get_service()
        wf = svc.definition(workflow)

        def body(case_id: str, effect_ids: list[str] | None = None, action: str = "", actor: str = ""):
            return carry_out(case_id, effect_ids, action, actor)

        body.__name__ = body.__qualname__ = f"case_{workflow}"
        body.__module__ = __name__
        made = Flow(fn=body, name=dispatch.case_flow_name(workflow), version=str(wf.version),
                    description=f"{wf.title}：执行案件操作引起的处理（出具文书、发起关联案件、登记台账、催办通知）",
                    validate_parameters=True)
        _case_flows[workflow] = made
        return made


def __getattr__(name: str) -> Any:
    """`flows.orchestration.case_flows.case_<workflow>`: the entrypoint workers load for a case flow."""
    if name.startswith("case_") and not name.startswith("case_flow"):
        try:
            return case_flow(name[len("case_"):])
        except FlowError as exc:
            raise AttributeError(name) from exc
    raise AttributeError(name)


def effect_deployment(svc: Service, name: str, work_pool: str | None = None, job_variables: dict | None = None):
    from prefect.types.entrypoint import EntrypointType

    return case_flow(name, svc).to_deployment(name=dispatch.EFFECTS_DEPLOYMENT, tags=["案件处理", name],
                                              work_pool_name=work_pool, job_variables=job_variables,
                                              entrypoint_type=EntrypointType.MODULE_PATH)


def effect_deployments(svc: Service, work_pool: str | None = None, job_variables: dict | None = None) -> list:
    return [effect_deployment(svc, name, work_pool, job_variables) for name in sorted(svc.config.workflows)]
