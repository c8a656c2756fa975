"""Runs the effects deployments' runs in this process as soon as they are scheduled (see EffectExecutor)."""
from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from functools import partial
from uuid import UUID

from prefect.flows import Flow

from flows.orchestration import dispatch
from flows.orchestration.case_flows import case_flow, effect_deployment, effect_deployments
from flows.service import Service

log = logging.getLogger("flows.orchestration")


class EffectExecutor:
    """Runs the effects deployments' runs in this process as soon as they are scheduled.

    Prefect's runner starts a subprocess per run (~4 s here); effects must be done within ~2 s of
    the click, so this executor claims each scheduled run (proposing Pending: the server grants it
    to one claimant, so workers or other executors polling the same deployments never double-run
    it) and runs the flow on a thread with the flow heartbeat off.
    """

    def __init__(self, flows_by_deployment: dict[UUID, Flow], threads: int = 4, poll_s: float = 0.25,
                 svc: Service | None = None):
        self.flows = dict(flows_by_deployment)
        self.svc = svc  # given: workflows the designer publishes later are taken up (`_take_up_new`)
        self.served = {flow.name.removeprefix("case-") for flow in self.flows.values()}
        self.registers = True  # False: only claims runs of deployments registered elsewhere
        self.threads = threads
        self.poll_s = poll_s
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="effects")
        self._busy = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.ran = 0
        self.last_poll: float | None = None
        self.mark_ready_s = 10.0

    def start(self) -> EffectExecutor:
        self._thread = threading.Thread(target=self._loop, name="effect-executor", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 30) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._pool.shutdown(wait=True, cancel_futures=False)

    def _loop(self) -> None:
        from prefect.client.schemas.objects import FlowRun

        api = None
        failures = 0
        while not self._stop.is_set():
            try:
                if api is None:
                    api = dispatch.PrefectAPI()
                self._take_up_new(api)
                with self._lock:
                    free = self.threads - self._busy
                if free > 0:
                    if self.last_poll is None or time.time() - self.last_poll > self.mark_ready_s:
                        self._mark_ready()
                    now = datetime.now(UTC).isoformat()
                    runs = dispatch.retrying(partial(api.scheduled_runs, list(self.flows), now, free))
                    for data in runs:
                        if not dispatch.retrying(partial(api.claim, data["id"])):
                            continue  # someone else claimed it
                        with self._lock:
                            self._busy += 1
                        self._pool.submit(self._run, FlowRun.model_validate(data))
                failures = 0
            except Exception as exc:  # noqa: BLE001 - the server restarting: reconnect, wait a little
                failures += 1
                log.warning("处理执行器轮询失败：%s", exc)
                if api is not None:
                    api.close()
                api = None
                self._stop.wait(min(2 * failures, 10))
            self._stop.wait(self.poll_s)
        if api is not None:
            api.close()

    def _take_up_new(self, api) -> None:
        """Serve the effects of a workflow published since the start (in the designer, by any
        process): find its deployment, registering it when the publisher could not."""
        if self.svc is None:
            return
        self.svc.refresh()
        for name in sorted(set(self.svc.config.workflows) - self.served):
            try:
                deployment_id = UUID(api.deployment_id(dispatch.effects_deployment(name)))
            except Exception:  # noqa: BLE001 - not registered yet: this process registers what it serves
                if not self.registers:
                    continue  # deployments a work pool holds are registered by `flows deploy`
                deployment_id = effect_deployment(self.svc, name).apply()
            self.flows[deployment_id] = case_flow(name, self.svc)
            self.served.add(name)
            self.last_poll = None  # mark the new deployment as polled now
            log.info("开始执行新发布流程「%s」的处理", name)

    def _mark_ready(self) -> None:
        """The "scheduled runs" endpoint marks the deployments as polled (READY in the UI, and the
        stack's health check). It also writes, so it is called every `mark_ready_s`, not each poll."""
        from prefect import get_client

        self.last_poll = time.time()
        with get_client(sync_client=True) as client:
            client.get_scheduled_flow_runs_for_deployments(
                list(self.flows), limit=1, scheduled_before=datetime.now(UTC) - timedelta(days=3650))

    def _run(self, run) -> None:
        from prefect.flow_engine import run_flow
        from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

        try:
            with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
                run_flow(self.flows[run.deployment_id], flow_run=run, return_type="state")
            self.ran += 1
        except BaseException as exc:  # noqa: BLE001 - recorded by the engine; keep the executor alive
            log.warning("处理运行 %s 异常结束：%s", run.name, exc)
        finally:
            with self._lock:
                self._busy -= 1


def register_effects(svc: Service, threads: int = 4, poll_s: float = 0.25,
                     deployments: list | None = None) -> EffectExecutor:
    """Create (or update) the effects deployments and return an executor for them (not started)."""
    flows_by_id = {}
    for deployment in deployments if deployments is not None else effect_deployments(svc):
        flows_by_id[deployment.apply()] = case_flow(deployment.flow_name.removeprefix("case-"), svc)
    return EffectExecutor(flows_by_id, threads=threads, poll_s=poll_s, svc=svc)


def executor_for_existing(svc: Service, threads: int = 4, poll_s: float = 0.25) -> EffectExecutor:
    """An executor for effects deployments registered elsewhere (e.g. in a work pool by `flows deploy`),
    left as they are: it only claims their scheduled runs, ahead of the pool's workers."""
    api = dispatch.PrefectAPI()
    try:
        flows_by_id = {UUID(api.deployment_id(dispatch.effects_deployment(name))): case_flow(name, svc)
                       for name in sorted(svc.config.workflows)}
    finally:
        api.close()
    executor = EffectExecutor(flows_by_id, threads=threads, poll_s=poll_s, svc=svc)
    executor.registers = False
    return executor
