"""The one place that loads a case, calls the engine and commits the result.

The CLI, the UI, the jobs and the Prefect flows all go through `Service`. A case runs on the
definition version it started with: every definition a case used is kept as a snapshot in storage
(table `definitions`), so publishing a new version never breaks a running case. Effects an action
causes (documents, linked cases, notifications) are committed with the case as pending entries of
`case["effects"]` (the case record is the outbox) and handed, after the commit, to the
`EffectHandler` the service was given: the inline runner of `flows.service.effects`, or Prefect's
dispatcher. `flows.service.open_service` puts the two together; this module imports neither.
"""
from __future__ import annotations

import copy
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Protocol

from flows.core import engine
from flows.core.errors import FlowError, NotFound, StaleVersion
from flows.core.org import SYSTEM, Actor, Organisation
from flows.core.spec import Workflow
from flows.service import catalogue, messages
from flows.service.accounts import Accounts
from flows.service.config import Config, data_dir, load_config
from flows.service.files import Uploads
from storage import ConflictError, Store, open_store


class EffectHandler(Protocol):
    """Takes the effects a commit just made pending (run them now, or hand them to Prefect)."""

    def committed(self, case: dict, effect_ids: list[str], event: dict) -> dict | None:
        """Called after the commit; returns the case when it changed it (effects run inline)."""

    def retry(self, case_id: str, effect_id: str) -> None:
        """The 重试 action on a failed effect."""


class Service:
    def __init__(self, data: str | Path | None = None, config: Config | None = None,
                 clock: Callable[[], datetime] = datetime.now, store: Store | None = None,
                 effects: EffectHandler | None = None):
        config = config or load_config()
        # a copy: the designer's publications join this service's workflows, not a shared Config's
        self.config = replace(config, workflows=dict(config.workflows))
        self.store = store or open_store(data_dir(data))  # TinyDB files, or PostgreSQL (WORKFLOW_DATABASE_URL)
        self.clock = clock
        self._versions: dict[tuple[str, int], Workflow] = {}
        for wf in list(self.config.workflows.values()):
            try:
                self._publish(wf)
            except FlowError as exc:
                stored = self.store.get(catalogue.DEFINITIONS, catalogue.key(wf.name, wf.version)) or {}
                if not stored.get("published_by"):
                    raise  # an edited file under a version it shipped before: refused, as always
                # the file reuses a version number the designer published: skipped and said, the designer's stays live
                del self.config.workflows[wf.name]
                self.config.problems = [*self.config.problems, f"{self.config.sources.get(wf.name, wf.name)}: "
                                        f"version: {exc.message}"]
                self.config.skipped = [*self.config.skipped, self.config.sources.get(wf.name, Path(wf.name))]
        self._shipped = dict(self.config.workflows)  # configs/flows, before the designer's versions
        self._shipped_documents = self.config.documents
        self._served: dict[str, int] = {}
        self.refresh()
        self.accounts = Accounts(self.store, self.config.org, self.config.platform, clock)
        self._ctx: engine.Context | None = None
        self._pinned = threading.local()  # .org: the organisation this thread's step or sweep read at its start
        # None: effects stay pending in the outbox until a runner takes them (flows effects --resume)
        self.effects = effects

    def close(self) -> None:
        self.store.close()

    # ------------------------------------------------------------ definitions
    def _publish(self, wf: Workflow) -> None:
        """Keep a snapshot of this version; the same version number must keep the same content."""
        key = f"{wf.name}@{wf.version}"
        digest = catalogue.definition_hash(wf)
        stored = self.store.get("definitions", key)
        if stored is None:
            self.store.put("definitions", key, {"name": wf.name, "version": wf.version, "hash": digest,
                                                "definition": wf.model_dump(mode="json", by_alias=True)})
        elif stored["hash"] != digest:
            raise FlowError(f"流程「{wf.title}」的版本 {wf.version} 已经发布过且内容不同："
                            f"修改已发布的流程请把 version 改为 {wf.version + 1}")
        self._versions[(wf.name, wf.version)] = wf

    def refresh(self) -> bool:
        """Serve what the designer published since the last look (any process may have): new
        workflows and versions join `config.workflows` with their document settings. Cheap when
        nothing changed (the catalogue is one row per designer workflow). True when something did."""
        newest = catalogue.newest_versions(self.store)
        if newest == self._served:
            return False
        records = []
        for name, version in sorted(newest.items()):
            shipped = self._shipped.get(name)
            if shipped is not None and shipped.version > version:
                continue  # a newer file shipped in configs/flows since: it stays live
            self.config.workflows[name] = self.definition(name, version)
            records.append(self.version_record(name, version))
        self.config.documents = catalogue.merged_documents(self._shipped_documents, records)
        self._served = newest
        self._ctx = None
        return True

    def shipped(self, name: str) -> Workflow | None:
        """The workflow as configs/flows ships it (None: the designer made it)."""
        return self._shipped.get(name)

    def version_record(self, name: str, version: int) -> dict:
        """The stored snapshot of one version (definition, source, publisher, templates). Read each
        time (one small-table get): an admin may point a running version at a new template."""
        found = self.store.get(catalogue.DEFINITIONS, catalogue.key(name, version))
        if found is None:
            raise NotFound(f"流程「{name}」的版本 {version} 不存在")
        return found

    def template_path(self, case: dict, template: str) -> Path:
        """The template a case issues `template` with: the one of its workflow version."""
        record = self.version_record(case["workflow"], case["workflow_version"])
        return catalogue.template_path(self.store, record, template, self.config.templates_dir)

    def document_spec(self, case: dict, template: str):
        """A document's settings as the case's workflow version published them, else documents.yaml."""
        record = self.version_record(case["workflow"], case["workflow_version"])
        return catalogue.document_spec(self.config.documents, record.get("documents"), template)

    def definition(self, name: str, version: int | None = None) -> Workflow:
        if version is None:
            wf = self.config.workflows.get(name)
            if wf is None:
                raise NotFound(f"没有名为「{name}」的流程")
            return wf
        wf = self._versions.get((name, version))
        if wf is None:
            stored = self.store.get("definitions", f"{name}@{version}")
            if stored is None:
                raise NotFound(f"流程「{name}」的版本 {version} 不存在")
            wf = Workflow.model_validate(stored["definition"])
            self._versions[(name, version)] = wf
        return wf

    def definition_of(self, case: dict) -> Workflow:
        return self.definition(case["workflow"], case["workflow_version"])

    # ------------------------------------------------------------ people
    @property
    def org(self) -> Organisation:
        """The organisation as it is now: configs/organisation.yaml with the admin's changes to people."""
        pinned = getattr(self._pinned, "org", None)
        return pinned if pinned is not None else self.accounts.organisation()

    @contextmanager
    def _organisation_as_read(self):
        """Within the block this thread sees the organisation as it was when the block began: a step read
        it twice (the engine's context, then its 待办提醒's recipients) and a sweep twice per deadline, a
        query each on PostgreSQL. An account changed meanwhile counts from the next step or sweep."""
        outer = getattr(self._pinned, "org", None)
        self._pinned.org = outer or self.accounts.organisation()
        try:
            yield
        finally:
            self._pinned.org = outer

    @property
    def ctx(self) -> engine.Context:
        org = self.org
        if self._ctx is None or self._ctx.org is not org:
            self._ctx = engine.Context(org=org, calendar=self.config.calendar,
                                       workflows=frozenset(self.config.workflows))
        return self._ctx

    def actor(self, user_id: str, org: Organisation | None = None) -> Actor:
        """`org`: the organisation the caller already read (on PostgreSQL each read is a query)."""
        if user_id == SYSTEM.id:
            return SYSTEM
        try:
            return (org or self.org).actor(user_id)
        except KeyError:
            raise NotFound(f"没有账号「{user_id}」") from None

    # ------------------------------------------------------------ reads
    def case(self, case_id: str) -> dict:
        shown = str(case_id).encode("utf-8", "backslashreplace").decode("utf-8")  # a typed id may hold anything
        if not isinstance(case_id, str) or shown != case_id or not case_id.isprintable() or len(case_id) > 64:
            raise NotFound(f"没有案件 {shown[:64]}")
        case = self.store.get_case(case_id)
        if case is None:
            raise NotFound(f"没有案件 {case_id}")
        return case

    def history(self, case_id: str) -> list[dict]:
        self.case(case_id)
        return self.store.history(case_id)

    def actions(self, case_id: str, user_id: str) -> list[engine.ActionInfo]:
        case = self.case(case_id)
        ctx = self.ctx
        return engine.available_actions(self.definition_of(case), ctx, case, self.actor(user_id, ctx.org), self.clock())

    def cases(self, workflow: str | None = None, status: str | None = None) -> list[dict]:
        """Cases of a workflow and/or status (open ones are in memory; closed ones load the archive)."""
        return list(self.store.cases(workflow=workflow, status=status))

    def inbox(self, user_id: str, limit: int | None = None) -> list[dict]:
        """The user's open tasks, soonest due first; `limit` gives one page (the UI pages through them)."""
        actor = self.actor(user_id)
        return self.store.inbox(user=actor.id, roles=list(actor.roles), limit=limit)

    # ------------------------------------------------------------ commands
    def start(self, workflow: str, user_id: str, data: dict | None = None, unit: str | None = None,
              now: datetime | None = None) -> dict:
        wf = self.definition(workflow)
        now = now or self.clock()
        with self._organisation_as_read():
            ctx = self._form_context()
            actor = self.actor(user_id, ctx.org)
            # check before taking a number, so a refused start uses none
            engine.new_case(wf, ctx, case_id="check", actor=actor, data=data or {}, now=now, unit=unit)
            seq = self.store.next_sequence(f"case:{wf.code}:{now.year}")
            case_id = f"{wf.code}-{now.year}-{seq:05d}"
            outcome = engine.new_case(wf, ctx, case_id=case_id, actor=actor, data=data or {}, now=now, unit=unit)
            return self.commit_outcome(outcome, expected_version=0)

    def _form_context(self) -> engine.Context:
        """The engine's context with the file store's answer to which refs name stored uploads."""
        return replace(self.ctx, file_known=Uploads(self.store).known)

    def store_upload(self, name: str, content: bytes) -> dict:
        """Store an uploaded file; returns the value a file field takes ({ref, name, size, type}).
        Raises UploadRefused (a FlowError), writing nothing; see flows.service.files."""
        return Uploads(self.store).store_upload(name, content)

    def act(self, case_id: str, action: str, user_id: str, data: dict | None = None,
            comment: str | None = None, expected_version: int | None = None, now: datetime | None = None) -> dict:
        case = self.case(case_id)
        wf = self.definition_of(case)
        with self._organisation_as_read():
            ctx = self._form_context()
            outcome = engine.fire(wf, ctx, case, action=action, actor=self.actor(user_id, ctx.org),
                                  now=now or self.clock(), data=data, comment=comment,
                                  expected_version=expected_version)
            return self.commit_outcome(outcome, expected_version=case["version"])

    def comment(self, case_id: str, user_id: str, text: str, now: datetime | None = None) -> dict:
        case = self.case(case_id)
        outcome = engine.add_comment(case, self.actor(user_id), text, now or self.clock())
        return self.commit_outcome(outcome, expected_version=case["version"])

    def retry_effect(self, case_id: str, effect_id: str) -> dict:
        if self.effects is None:
            raise FlowError("本进程不执行处理项，无法重试")
        self.effects.retry(case_id, effect_id)
        return self.case(case_id)

    def register(self, table: str) -> list[dict]:
        """Rows of a register written by transitions (e.g. `plans`, the emergency plan register)."""
        return self.store.all(f"register_{table}")

    def register_put(self, table: str, key: str, fields: dict) -> dict:
        """Enter or update a register row by hand (e.g. plans in force before the platform existed)."""
        old = self.store.get(f"register_{table}", key) or {}
        return self.store.put(f"register_{table}", key, {**old, **fields, "key": key,
                                                        "updated_at": engine.iso(self.clock())})

    def messages(self, user_id: str, unread_only: bool = False, limit: int | None = 50) -> list[dict]:
        """A person's messages (待办提醒, 催办), newest first, each with `read` for that person."""
        return messages.messages_of(self.store, user_id, unread_only, limit)

    def mark_read(self, user_id: str, keys: list[str]) -> int:
        return messages.mark_read(self.store, user_id, keys)

    def document_file(self, relpath: str) -> Path:
        return self.store.file_path(relpath)

    def sweep(self, now: datetime | None = None) -> list[dict]:
        """Act on every passed deadline once (fire or escalate). Running it twice changes nothing."""
        now = now or self.clock()
        done = []
        # thousands of commits in a row share their syncs; what the block's last moments wrote before a
        # power cut is done again by the next sweep (storage: grouped_commits)
        with self.store.grouped_commits(), self._organisation_as_read():
            for case in self._cases_due(now):
                read: dict | None = case  # the case as just read: its first deadline needs no second read
                for deadline in engine.due_deadlines(case, now):
                    done.append(self.apply_deadline(case["id"], deadline["id"], now, case=read))
                    read = None
        return [d for d in done if d]

    def _cases_due(self, now: datetime) -> Iterator[dict]:
        """The open cases with a passed deadline, from the store's index (not every open case), read a
        hundred at a time (a query each on PostgreSQL; one changed since costs only a retry)."""
        due = self.store.cases_due(engine.iso(now))
        for start in range(0, len(due), 100):
            for case in self.store.get_cases(due[start:start + 100]):
                if case.get("status") == "open":
                    yield case

    def sweep_preview(self, now: datetime | None = None) -> list[dict]:
        """What `sweep` would do at `now`, changing nothing: each passed deadline with the case, the
        timer, whether it fires (and where to) or escalates (and whom it reminds)."""
        now = now or self.clock()
        found = []
        for case in self._cases_due(now):
            wf = self.definition_of(case)
            for deadline in engine.due_deadlines(case, now):
                row = {"case_id": case["id"], "title": case["title"], "deadline": deadline["id"],
                       "timer": deadline.get("label") or deadline.get("timer"), "due": deadline.get("due")}
                try:
                    outcome = engine.apply_deadline(wf, self.ctx, copy.deepcopy(case), deadline["id"], now)
                except FlowError as exc:
                    found.append({**row, "would": "escalate", "reason": exc.message})
                    continue
                if not outcome.events:
                    continue
                event = outcome.events[0]
                if event["type"] == "escalated":
                    roles = sorted({r for e in outcome.effects for r in e.get("roles") or []})
                    found.append({**row, "would": "escalate", "notify": roles})
                else:
                    found.append({**row, "would": "fire", "to": list(outcome.case["active"])})
        return found

    def apply_deadline(self, case_id: str, deadline_id: str, now: datetime, case: dict | None = None) -> dict | None:
        """`case`: the case as the caller has just read it (a stale copy only costs a retry)."""
        version = -1
        for _ in range(5):  # another process may act on the case meanwhile: reload and retry
            case = case if case is not None else self.case(case_id)
            version = case["version"]
            wf = self.definition_of(case)
            try:
                outcome = engine.apply_deadline(wf, self.ctx, case, deadline_id, now)
            except FlowError as exc:  # the configured transition is not open (guard false...): escalate instead
                outcome = engine.fail_deadline(case, deadline_id, now, exc.message)
            if not outcome.events:
                return None
            try:
                committed = self.commit_outcome(outcome, expected_version=case["version"])
            except StaleVersion:
                case = None
                continue
            return {"case_id": case_id, "deadline": deadline_id, "event": outcome.events[0]["type"],
                    "state": committed["active"]}
        raise StaleVersion(case_id, version, version + 1)

    # ------------------------------------------------------------ commit
    def commit_outcome(self, outcome: engine.Outcome, expected_version: int) -> dict:
        """Commit a case change with its events; pending effects ride along in the same write and are
        handed to the effect handler once the commit is durable. A handler that runs them right here
        (`claim_for_commit`) claims them in that same write: they are committed `running` under its claim,
        so no other runner takes them and no second write is needed to claim them; one that needs only a
        record written (`done_in_commit`: a notify's message) is done in the commit itself."""
        case = outcome.case
        wf = self.definition_of(case)
        new_ids, records = [], []
        if outcome.effects:
            case.setdefault("effects", [])
            claim_for_commit = getattr(self.effects, "claim_for_commit", None)
            held = {"status": "running", "claim": claim_for_commit()} if claim_for_commit else {}
            done_in_commit = getattr(self.effects, "done_in_commit", None)
            for effect in outcome.effects:
                entry = {**effect, "id": uuid.uuid4().hex[:12], "status": "pending", "attempts": 0, "error": None,
                         "created_at": case["updated_at"], **held}
                done = done_in_commit(case, entry) if done_in_commit else None
                if done is None:
                    new_ids.append(entry["id"])
                else:  # done in this very commit (a notify's message): nothing left to run
                    records += done
                case["effects"].append(entry)
        try:
            committed = self.store.commit(case, outcome.events, engine.tasks(wf, case), expected_version,
                                          new_records=records)
        except ConflictError as exc:
            raise StaleVersion(case["id"], expected_version, exc.actual) from None
        if outcome.effects and self.effects is not None:
            changed = self.effects.committed(committed, new_ids, outcome.events[0] if outcome.events else {})
            return changed or committed
        return committed
