"""The service layer: every read and command of the UI, the CLI, the jobs and Prefect goes through it.

    cases      Service: load a case, call the engine, commit with a version check
    config     loading and checking everything in configs/, and where the data lives
    effects    EffectRunner: issue documents, start linked cases, write registers, deliver messages
    messages   who a message reaches, each person's list and read marks
    reports    documents that belong to no case (the drill plan, statistics)

`open_service` composes a service with the runner that carries out its effects right after each
commit; `flows.orchestration.dispatch.service_for` composes it with Prefect instead.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from flows.service.cases import EffectHandler, Service
from flows.service.config import Config
from flows.service.effects import EffectRunner
from storage import Store

__all__ = ["EffectHandler", "EffectRunner", "Service", "open_service"]


def open_service(data: str | Path | None = None, *, config: Config | None = None,
                 clock: Callable[[], datetime] = datetime.now, store: Store | None = None,
                 inline_effects: bool = True) -> Service:
    """A service on a data directory. With `inline_effects` its effects run right after each commit;
    without, they stay pending in the outbox for a runner elsewhere (Prefect, `flows effects --resume`)."""
    svc = Service(data, config=config, clock=clock, store=store)
    if inline_effects:
        svc.effects = EffectRunner(svc)
    return svc
