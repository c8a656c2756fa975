"""Commit first, then hand the effects to Prefect: a click never waits on Prefect.

`PrefectEffects` is the effect handler of the `Service` the UI and the Prefect flows use when a
Prefect server is configured (PREFECT_API_URL; `orchestrated_service`). It never runs effects
itself: every commit that adds effects (an action, a start, a timer, a linked case started by an
effect) hands their ids to a `Submitter`, which creates a flow run of the workflow's effects deployment
(`case-<workflow>/effects`, one Prefect flow per workflow) named and tagged with the case, the
action and the actor. The submission runs on a background thread, so the caller returns as soon
as storage has the commit; `flush()` waits for it (CLI, tests, flows).

The case record is the outbox: effects are committed as `pending` with the case, so nothing is
lost when Prefect is down or the process dies before submitting. The deadline sweep finds
pending effects that no flow run is carrying and submits them again (`flows.orchestration.redelivery`).
Effects are idempotent (`flows.service.effects`), so a second delivery does no harm.

Submitting is one plain HTTP call (`PrefectAPI`, httpx): this module does not import Prefect.
"""
from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flows.core.errors import FlowError
from flows.service import EffectRunner, Service, open_service
from flows.service.config import Config, data_dir
from storage import Store

log = logging.getLogger("flows.dispatch")

EFFECTS_DEPLOYMENT = "effects"
REMINDER_DELAY_S = 2.0  # a run carrying only messages is scheduled this much later than it is created


def case_flow_name(workflow: str) -> str:
    """The Prefect flow of a workflow kind: one per workflow, so the UI groups each kind's runs."""
    return f"case-{workflow}"


def effects_deployment(workflow: str) -> str:
    return f"{case_flow_name(workflow)}/{EFFECTS_DEPLOYMENT}"


def prefect_configured() -> bool:
    return bool(os.environ.get("PREFECT_API_URL"))


class Submission(dict):
    """What one commit asks Prefect to do: {workflow, case_id, effect_ids, action, label, actor, actor_name,
    delay_s}."""

    @property
    def run_name(self) -> str:
        return f"{self['case_id']}｜{self['label']}｜{self['actor_name']}"

    @property
    def tags(self) -> list[str]:
        return [f"case:{self['case_id']}", f"workflow:{self['workflow']}", f"action:{self['action']}",
                f"actor:{self['actor']}"]

    @property
    def parameters(self) -> dict:
        return {"case_id": self["case_id"], "effect_ids": list(self["effect_ids"]), "action": self["action"],
                "actor": self["actor"]}


class Submitter:
    """Creates the effects flow runs in Prefect; in the background by default.

    A failed submission is logged and dropped: the effects stay pending in storage and the
    sweep submits them again. `sent` and `failed` count what happened (for the UI and tests).
    """

    def __init__(self, background: bool = True, api_url: str | None = None, auth: str | None = None):
        self.background = background
        self.api_url = api_url  # default: PREFECT_API_URL when the first submission is made
        self.auth = auth  # the API's secret; default: PREFECT_API_AUTH_STRING
        self._queue: queue.Queue[Submission | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._client = None
        self._deployments: dict[str, object] = {}
        self.sent = 0
        self.failed = 0
        self.last_error: str | None = None
        self.created: deque[tuple[str, str]] = deque(maxlen=50)  # the last runs made: (id, name), for the CLI

    # ------------------------------------------------------------ API
    def submit(self, submission: Submission) -> None:
        if not self.background:
            self._send(submission)
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="effects-submitter", daemon=True)
                self._thread.start()
        self._queue.put(submission)

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until everything queued was submitted (or given up on); True when the queue is empty."""
        end = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < end:
            time.sleep(0.005)
        return not self._queue.unfinished_tasks

    @property
    def waiting(self) -> int:
        """Submissions queued and not yet sent (nor given up on)."""
        return self._queue.unfinished_tasks

    # ------------------------------------------------------------ sending
    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                self._send(item)
            finally:
                self._queue.task_done()

    def _api(self) -> PrefectAPI:
        if self._client is None:
            self._client = PrefectAPI(self.api_url, auth=self.auth)
        return self._client

    def _drop_client(self) -> None:
        client, self._client = self._client, None
        self._deployments.clear()
        if client is not None:
            client.close()

    def _send(self, sub: Submission) -> dict | None:
        def create():
            api = self._api()
            name = effects_deployment(sub["workflow"])
            deployment_id = self._deployments.get(name)
            if deployment_id is None:
                deployment_id = self._deployments[name] = api.deployment_id(name)
            return api.create_flow_run(deployment_id, parameters=sub.parameters, name=sub.run_name, tags=sub.tags,
                                       delay_s=sub.get("delay_s", 0))

        try:
            run = retrying(create, on_error=self._drop_client)
            self.sent += 1
            if isinstance(run, dict) and run.get("id"):
                self.created.append((str(run["id"]), sub.run_name))
            return run
        except Exception as exc:  # noqa: BLE001 - the effects stay pending; the sweep resubmits
            self.failed += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.warning("效果提交 Prefect 失败（%s，稍后由期限巡查重新提交）：%s", sub.run_name, self.last_error)
        return None


class PrefectAPI:
    """The few Prefect REST calls on the hot path, made with plain httpx.

    Prefect's own client answers a 503 ("database is locked": the server's SQLite refuses a write
    at once when two writes meet, upstream #18934) by sleeping 2 s, 4 s... — it sleeps once even
    with PREFECT_CLIENT_MAX_RETRIES=0. Such a write usually succeeds 50 ms later, so these calls
    retry quickly themselves (`retrying`) and a click's effects are not held up for seconds.
    """

    def __init__(self, api_url: str | None = None, timeout: float = 10.0, auth: str | None = None):
        import httpx

        self.url = (api_url or os.environ.get("PREFECT_API_URL") or "").rstrip("/")
        if not self.url:
            raise RuntimeError("PREFECT_API_URL 未设置")
        from flows.orchestration.prefect_home import auth_headers

        self.http = httpx.Client(base_url=self.url + "/", timeout=timeout, headers=auth_headers(auth))

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, path: str, **kw):
        response = self.http.request(method, path, **kw)
        response.raise_for_status()
        return response.json() if response.content else None

    def deployment_id(self, name: str) -> str:
        flow_name, deployment = name.split("/", 1)
        return self._call("GET", f"deployments/name/{flow_name}/{deployment}")["id"]

    def create_flow_run(self, deployment_id: str, parameters: dict, name: str, tags: list[str],
                        delay_s: float = 0) -> dict:
        body = {"parameters": parameters, "name": name, "tags": tags}
        if delay_s:
            at = datetime.now(UTC) + timedelta(seconds=delay_s)
            body["state"] = {"type": "SCHEDULED", "name": "Scheduled",
                             "state_details": {"scheduled_time": at.isoformat()}}
        return self._call("POST", f"deployments/{deployment_id}/create_flow_run", json=body)

    def scheduled_runs(self, deployment_ids: list, before: str, limit: int) -> list[dict]:
        return self._call("POST", "flow_runs/filter", json={
            "flow_runs": {"deployment_id": {"any_": [str(d) for d in deployment_ids]},
                          "state": {"type": {"any_": ["SCHEDULED"]}},
                          "next_scheduled_start_time": {"before_": before}},
            "sort": "NEXT_SCHEDULED_START_TIME_ASC", "limit": limit})

    def claim(self, flow_run_id: str) -> bool:
        """Propose Pending; the server grants it to one claimant only."""
        result = self._call("POST", f"flow_runs/{flow_run_id}/set_state",
                            json={"state": {"type": "PENDING", "name": "Pending"}, "force": False})
        return result.get("status") == "ACCEPT"


def retrying(call: Callable[[], object], attempts: int = 14, first_delay: float = 0.05,
             on_error: Callable[[], None] | None = None):
    """call(), retried with a short doubling delay (0.05 s, 0.1 s … capped at 1 s; ~10 s in all)."""
    delay = first_delay
    for attempt in range(attempts):
        try:
            return call()
        except Exception as exc:  # noqa: BLE001
            log.debug("Prefect 调用失败（第 %d 次）：%s", attempt + 1, exc)
            if on_error is not None:
                on_error()
            if attempt == attempts - 1:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
    raise AssertionError("unreachable")


_default_submitter: Submitter | None = None
_default_lock = threading.Lock()


def default_submitter() -> Submitter:
    global _default_submitter
    with _default_lock:
        if _default_submitter is None:
            _default_submitter = Submitter(background=True)
        return _default_submitter


class PrefectEffects:
    """A service's effect handler under Prefect: commit, then submit (never run inline)."""

    def __init__(self, service: Service, submitter: Submitter):
        self.service = service
        self.submitter = submitter

    def committed(self, case: dict, effect_ids: list[str], event: dict) -> None:
        self.submit(case, effect_ids, event)

    def submit(self, case: dict, effect_ids: list[str], event: dict | None = None) -> None:
        event = event or {}
        actor = event.get("actor") or {}
        timer = next((d.get("timer") for d in case.get("deadlines", []) if d["id"] == event.get("deadline")), None)
        kinds = {e["type"] for e in case.get("effects", []) if e["id"] in effect_ids}
        self.submitter.submit(Submission(
            workflow=case["workflow"], case_id=case["id"], effect_ids=list(effect_ids),
            # nobody waits on a screen for a reminder: it yields to documents asked for at the same moment
            delay_s=REMINDER_DELAY_S if kinds == {"notify"} else 0,
            action=event.get("transition") or timer or event.get("type") or "resubmit",
            label=event.get("label") or {"started": "发起", "escalated": "催办", "timer": "期限到期"}.get(
                event.get("type"), "补交处理"),
            actor=actor.get("id", "system"), actor_name=actor.get("name", "系统")))

    def published(self, wf, timeout: float = 10.0) -> None:
        """A workflow the designer just published: wait until the serving process has registered its
        effects deployment (its executor looks every poll), so the first case's effects find it.
        Raises FlowError when it does not appear in time (the serving process is down)."""
        api = PrefectAPI(self.submitter.api_url, auth=self.submitter.auth)
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    api.deployment_id(effects_deployment(wf.name))
                    return
                except Exception:  # noqa: BLE001 - not there yet
                    if time.monotonic() > deadline:
                        raise FlowError(f"Prefect 中尚无「{effects_deployment(wf.name)}」：流程服务进程未在运行？"
                                        "它启动后会自动登记") from None
                    time.sleep(0.2)
        finally:
            api.close()

    def retry(self, case_id: str, effect_id: str) -> None:
        """The 重试 action on a failed effect: pending again with fresh attempts, then submitted."""
        effect = EffectRunner(self.service).reset(case_id, effect_id)
        if effect["status"] == "pending":
            self.submit(self.service.case(case_id), [effect_id],
                        {"type": "retry", "label": "重试", "actor": {"id": "system", "name": "系统"}})


def orchestrated_service(data: str | Path | None = None, config: Config | None = None,
                         clock: Callable[[], datetime] = datetime.now, store: Store | None = None,
                         submitter: Submitter | None = None) -> Service:
    """A `Service` whose effects Prefect carries out."""
    svc = Service(data, config=config, clock=clock, store=store)
    svc.effects = PrefectEffects(svc, submitter or default_submitter())
    return svc


def is_orchestrated(svc: Service) -> bool:
    return isinstance(svc.effects, PrefectEffects)


def flush(svc: Service) -> None:
    """Wait until what this service handed to Prefect was submitted (CLI, tests, flows)."""
    if is_orchestrated(svc):
        svc.effects.submitter.flush()


_services: dict[tuple[str, str], Service] = {}
_services_lock = threading.Lock()


def service_for(data: str | Path | None = None, orchestrated: bool | None = None) -> Service:
    """The process's service for a data directory: orchestrated when a Prefect server is configured
    (PREFECT_API_URL), else a plain `Service` that runs effects right after the commit."""
    if orchestrated is None:
        orchestrated = prefect_configured()
    path = str(data_dir(data).resolve())
    key = (path, "prefect" if orchestrated else "inline")
    with _services_lock:
        svc = _services.get(key)
        if svc is None:
            svc = orchestrated_service(path) if orchestrated else open_service(path)
            _services[key] = svc
        return svc
