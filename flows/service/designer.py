"""The designer: admins change the office's workflows in the browser, without a programmer or a restart.

A workflow is edited as a draft (table `drafts`: the YAML source with the admin's comments, the
templates uploaded for it, its documents' settings and its saved test scenarios). Saving checks
the draft's version, so two admins editing at once do not overwrite each other. Publishing checks
the draft like `flows validate` does, re-runs every saved scenario, and stores it as the next
version (`flows.service.catalogue`): every process serves it at its next look, running cases stay
on their own version. Every change is written to `design_log` with who and when.
"""
from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from flows.core import engine
from flows.core.errors import FlowError, NotFound, NotPermitted
from flows.core.spec import Workflow
from flows.core.validate import DefinitionError
from flows.documents.settings import DocumentSpec
from flows.service import catalogue, draft_yaml, dry_run
from flows.service.cases import Service
from flows.service.draft_check import Problem, check_draft
from flows.service.yaml_files import read_yaml, read_yaml_text
from storage import ConflictError

DRAFTS = "drafts"
LOG = "design_log"
MAX_TEMPLATE_BYTES = 5_000_000
MAX_PACKAGE_BYTES = 30_000_000
PACKAGE_FORMAT = "county-safety-workflow"


class DraftInvalid(FlowError):
    """Publishing refused: the draft has problems, or a saved scenario no longer runs as recorded."""

    def __init__(self, message: str, problems: list[Problem] | None = None):
        super().__init__(message)
        self.problems = problems or []


@dataclass
class Draft:
    name: str
    source: str
    version: int = 0            # the stored record's version (0: never saved)
    by: str | None = None
    at: str | None = None
    templates: dict[str, str] = field(default_factory=dict)   # template → content hash
    documents: dict[str, dict] = field(default_factory=dict)  # template → DocumentSpec fields
    scenarios: list[dict] = field(default_factory=list)
    published: int | None = None  # the version this draft was last published as

    def record(self) -> dict:
        return {"name": self.name, "source": self.source, "by": self.by, "at": self.at, "templates": self.templates,
                "documents": self.documents, "scenarios": self.scenarios, "published": self.published}


def require_admin(svc: Service, user_id: str) -> None:
    actor = svc.actor(user_id)
    if not any(actor.has_role(role) for role in svc.config.platform.admin_roles):
        raise NotPermitted("只有管理员可以修改流程")


def _log(svc: Service, workflow: str, what: str, user_id: str) -> None:
    seq = svc.store.next_sequence(LOG)
    svc.store.put(LOG, f"{seq:08d}", {"seq": seq, "workflow": workflow, "what": what, "by": user_id,
                                      "at": engine.iso(svc.clock())})


def changes(svc: Service, workflow: str | None = None, limit: int = 50) -> list[dict]:
    """The designer's change log, newest first: who did what to which workflow, when."""
    rows = svc.store.select(LOG, (lambda d: d.get("workflow") == workflow) if workflow else (lambda d: True))
    return sorted(rows, key=lambda d: d["seq"], reverse=True)[:limit]


# ------------------------------------------------------------------ the list

def open_by_version(svc: Service) -> dict[str, dict[int, int]]:
    """Workflow → version → how many of its cases are open: one pass over the open cases, which a
    page run makes once and hands to `workflows`, `versions` and `template_versions`."""
    counts: dict[str, dict[int, int]] = {}
    for case in svc.store.open_cases():
        per = counts.setdefault(case["workflow"], {})
        per[case["workflow_version"]] = per.get(case["workflow_version"], 0) + 1
    return counts


def workflows(svc: Service, open_by: dict[str, dict[int, int]] | None = None) -> list[dict]:
    """流程列表: each workflow with its live version, its draft, and its open cases per version."""
    open_by = open_by_version(svc) if open_by is None else open_by
    drafts = {d["name"]: d for d in svc.store.all(DRAFTS)}
    names = sorted(set(svc.config.workflows) | set(drafts))
    rows = []
    for name in names:
        wf = svc.config.workflows.get(name)
        draft = drafts.get(name)
        rows.append({"name": name, "title": wf.title if wf else _title_of(draft["source"]) or name,
                     "live": wf.version if wf else None,
                     "draft": None if draft is None else ("与发布相同" if wf and _is_live(svc, wf, draft)
                                                          else "有未发布的修改"),
                     "draft_by": draft.get("by") if draft else None, "draft_at": draft.get("at") if draft else None,
                     "open": dict(sorted(open_by.get(name, {}).items()))})
    return rows


def _is_live(svc: Service, wf: Workflow, stored: dict) -> bool:
    """A saved draft still as the live version has it (its text, its templates)."""
    record = svc.version_record(wf.name, wf.version)
    source = record.get("source") or _shipped_source(svc, wf.name)
    return stored.get("source") == source and (stored.get("templates") or {}) == (record.get("templates") or {})


def _title_of(source: str) -> str | None:
    for line in source.splitlines():
        if line.startswith("title:"):
            return line.split(":", 1)[1].strip().strip("\"'") or None
    return None


# ------------------------------------------------------------------ drafts

def skeleton(name: str, title: str, code: str) -> str:
    """A new workflow's first draft: two states and one step, ready to grow in the tables."""
    return (f"# {title}\n"
            f"name: {name}\nversion: 1\ntitle: {json.dumps(title, ensure_ascii=False)}\ncode: {code}\n"
            "description: ''\nstart_roles: [经办人]\nforms: {}\nstates:\n"
            "  - {name: started, label: 发起, initial: true}\n  - {name: done, label: 办结, final: true}\n"
            "transitions:\n  - {name: finish, label: 办结, from: started, to: done, roles: [经办人]}\n")


def draft(svc: Service, name: str) -> Draft:
    """The workflow's draft; when none was saved, one made from its live version's source."""
    stored = svc.store.get(DRAFTS, name)
    if stored is not None:
        return Draft(name, stored["source"], stored["_version"], stored.get("by"), stored.get("at"),
                     dict(stored.get("templates") or {}), dict(stored.get("documents") or {}),
                     list(stored.get("scenarios") or []), stored.get("published"))
    wf = svc.config.workflows.get(name)
    if wf is None:
        raise NotFound(f"没有名为「{name}」的流程或草稿")
    record = svc.version_record(name, wf.version)
    source = record.get("source") or _shipped_source(svc, name) or draft_yaml.dump(record["definition"])
    return Draft(name, source, 0, templates=dict(record.get("templates") or {}),
                 documents=dict(record.get("documents") or {}), published=wf.version)


def _shipped_source(svc: Service, name: str) -> str | None:
    path = svc.config.sources.get(name)
    return path.read_text(encoding="utf-8") if path and Path(path).exists() else None


def create(svc: Service, user_id: str, name: str, title: str, code: str) -> Draft:
    """A new workflow's draft; refused when the name or code is taken or not in the form they must be."""
    require_admin(svc, user_id)
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", name or ""):
        raise FlowError("名称用小写英文字母、数字和下划线，以字母开头，如 safety_committee")
    if not re.fullmatch(r"[A-Z]{2,6}", code or ""):
        raise FlowError("编号前缀用 2–6 个大写英文字母，如 AWH")
    if not (title or "").strip() or len(title) > 100:
        raise FlowError("请填写流程名称（不超过 100 字）")
    if name in svc.config.workflows or svc.store.get(DRAFTS, name) is not None:
        raise FlowError(f"已有名为「{name}」的流程或草稿")
    if any(wf.code == code for wf in svc.config.workflows.values()):
        raise FlowError(f"编号前缀「{code}」已被其他流程使用")
    made = Draft(name, skeleton(name, title, code))
    _, problems = check(svc, made)
    naming = [p for p in problems if p.path in ("name", "code", "title")]
    if naming:
        raise DraftInvalid("；".join(p.text() for p in naming), naming)
    return save(svc, user_id, made, what="新建流程")


def save(svc: Service, user_id: str, changed: Draft, what: str = "修改草稿") -> Draft:
    """Store the draft if nobody saved it since `changed.version` was read; a draft may have problems
    (it is work in progress), but it must be YAML: text that is not is refused, nothing is stored."""
    require_admin(svc, user_id)
    try:
        read_yaml_text(changed.source, "草稿")
    except DefinitionError as exc:
        raise DraftInvalid("草稿不是有效的 YAML，未保存：" + "；".join(exc.problems)) from None
    changed.by, changed.at = user_id, engine.iso(svc.clock())
    try:
        stored = svc.store.put(DRAFTS, changed.name, changed.record(), expected_version=changed.version)
    except ConflictError:
        other = svc.store.get(DRAFTS, changed.name) or {}
        raise FlowError(f"草稿已被 {_person(svc, other.get('by'))} 于 {str(other.get('at', ''))[:16]} 修改，"
                        "你的修改未保存：请重新打开草稿再改") from None
    changed.version = stored["_version"]
    _log(svc, changed.name, what, user_id)
    return changed


def _person(svc: Service, user_id: str | None) -> str:
    user = svc.org.user(user_id) if user_id else None
    return user.name if user else (user_id or "他人")


# ------------------------------------------------------------------ checking

_FIELDS_CACHE: dict[tuple[str, float], set[str]] = {}


def _fields_of(path: Path) -> set[str] | None:
    from flows.documents.rendering import TemplateError, template_variables

    try:
        stamp = (str(path), path.stat().st_mtime)
    except OSError:
        return None
    if stamp not in _FIELDS_CACHE:
        try:
            _FIELDS_CACHE[stamp] = template_variables(path)
        except TemplateError:
            _FIELDS_CACHE[stamp] = set()
    return _FIELDS_CACHE[stamp]


def template_file(svc: Service, d: Draft, template: str) -> Path | None:
    """The file a draft issues `template` with: its upload, else configs/templates; None if neither."""
    return catalogue.draft_template(svc.store, svc.config.templates_dir, d.name, d.templates, template)


def _template_fields(svc: Service, d: Draft) -> dict[str, set[str]]:
    found = {}
    for path in sorted(svc.config.templates_dir.glob("*.docx")):
        fields = _fields_of(path)
        if fields is not None:
            found[path.stem] = fields
    for template in d.templates:
        path = template_file(svc, d, template)
        fields = _fields_of(path) if path else None
        if fields is not None:
            found[template] = fields
    return found


def check(svc: Service, d: Draft) -> tuple[Workflow | None, list[Problem]]:
    """Every problem of the draft, placed on its row (see flows.service.draft_check)."""
    known = set(svc.config.workflows) | {row["name"] for row in svc.store.all(DRAFTS)}
    wf, problems = check_draft(d.source, svc.org, known, _template_fields(svc, d))
    if wf is not None:
        problems += _naming_problems(svc, wf, d.name)
        for template, spec in d.documents.items():
            try:
                DocumentSpec.model_validate(spec)
            except ValidationError as exc:
                problems.append(Problem(f"documents.{template}", f"文书「{template}」的设置",
                                        "；".join(e["msg"] for e in exc.errors()), "填写文书标题"))
    return wf, problems


def _naming_problems(svc: Service, wf: Workflow, name: str) -> list[Problem]:
    found = []
    if wf.name != name:
        found.append(Problem("name", "流程 · 名称", f"草稿「{name}」的 name 不能改为「{wf.name}」",
                             "流程名称发布后不可更改；要另起一个流程请用「新建流程」", None, None))
    clash = next((other for other in svc.config.workflows.values() if other.code == wf.code and other.name != name), None)
    if clash:
        found.append(Problem("code", "流程 · 编号前缀", f"编号前缀「{wf.code}」已被流程「{clash.title}」使用",
                             "换一个 2–6 个大写字母的前缀"))
    return found


def issued_templates(wf: Workflow) -> list[str]:
    return sorted({doc.template for t in wf.transitions for doc in t.documents})


# ------------------------------------------------------------------ publishing

def next_version(svc: Service, name: str) -> int:
    shipped = svc.shipped(name)
    return max(catalogue.highest_version(svc.store, name), shipped.version if shipped else 0) + 1


def publish(svc: Service, user_id: str, name: str, note: str = "") -> Workflow:
    """Publish the draft as the next version: refused (nothing changes) while it has a problem or a
    saved scenario fails. The new version is served at once; running cases keep theirs."""
    require_admin(svc, user_id)
    d = draft(svc, name)
    wf, problems = check(svc, d)
    if problems or wf is None:
        raise DraftInvalid(f"草稿还有 {len(problems)} 处问题，不能发布：" + "；".join(p.text() for p in problems[:5]),
                           problems)
    if _unchanged(svc, d, wf):
        raise FlowError(f"草稿与已发布的第 {svc.config.workflows[name].version} 版相同，无需发布")
    for scenario in d.scenarios:
        failure = dry_run.replay_scenario(svc, wf, d, scenario)
        if failure:
            raise DraftInvalid(f"测试场景「{scenario.get('name', '')}」未通过，不能发布：{failure}")
    return _publish_version(svc, user_id, d, wf, note=note)


def _issued_with(d: Draft, wf: Workflow, previous: dict | None) -> tuple[dict[str, str], dict[str, dict]]:
    """The template files and document settings a version of `wf` issues with: the draft's, else
    those of the version before it (a template not uploaded again stays as it was)."""
    templates, documents = {}, {}
    for template in issued_templates(wf):
        sha = d.templates.get(template) or (previous or {}).get("templates", {}).get(template)
        if sha:
            templates[template] = sha
        spec = d.documents.get(template) or (previous or {}).get("documents", {}).get(template)
        if spec:
            documents[template] = spec
    return templates, documents


def _unchanged(svc: Service, d: Draft, wf: Workflow) -> bool:
    """The draft is the live version already: same definition, templates and document settings."""
    record = _live_record(svc, d.name)
    if record is None:
        return False
    same_definition = catalogue.definition_hash(wf.model_copy(update={"version": record["version"]})) == record["hash"]
    return same_definition and _issued_with(d, wf, record) == (record.get("templates") or {},
                                                                record.get("documents") or {})


def _publish_version(svc: Service, user_id: str, d: Draft, wf: Workflow, note: str) -> Workflow:
    version = next_version(svc, d.name)
    source = draft_yaml.set_version(d.source, version)
    wf = wf.model_copy(update={"version": version})
    templates, documents = _issued_with(d, wf, _live_record(svc, d.name))
    try:
        catalogue.publish(svc.store, wf, source=source, by=user_id, now=svc.clock(),
                          digest=catalogue.definition_hash(wf), templates=templates, documents=documents, note=note)
    except ConflictError:
        raise FlowError("另一位管理员刚刚发布了这个流程：请刷新后查看新版本再发布") from None
    d.source, d.published = source, version
    save(svc, user_id, d, what=f"发布第 {version} 版" + (f"（{note}）" if note else ""))
    svc.refresh()
    announce = getattr(svc.effects, "published", None)  # under Prefect: waits for the effects deployment
    if announce is not None:
        try:
            announce(wf)
        except Exception as exc:  # noqa: BLE001 - published all the same: the serving process registers it
            _log(svc, d.name, f"Prefect 部署登记未成功（服务进程将补登）：{exc}", user_id)
    return wf


def _live_record(svc: Service, name: str) -> dict | None:
    wf = svc.config.workflows.get(name)
    return svc.version_record(name, wf.version) if wf else None


def publish_file(svc: Service, user_id: str, path: Path, note: str = "") -> Workflow:
    """`flows publish FILE`: a workflow YAML (or an exported package) published as the next version."""
    raw = path.read_bytes()
    if path.suffix == ".json":
        d = import_package(svc, user_id, raw)
    else:
        try:
            data = read_yaml(path)
        except DefinitionError as exc:
            raise DraftInvalid("；".join(exc.problems)) from None
        name = data.get("name") if isinstance(data, dict) else None
        if not isinstance(name, str):
            raise DraftInvalid(f"{path}: name: 缺少流程名称")
        try:
            d = draft(svc, name)
        except NotFound:
            d = Draft(name, "")
        d.source = raw.decode("utf-8")
        save(svc, user_id, d, what=f"从文件 {path.name} 导入")
    return publish(svc, user_id, d.name, note=note)


def versions(svc: Service, name: str, open_by: dict[str, dict[int, int]] | None = None) -> list[dict]:
    """发布: every version with who published it and when, and how many cases are open on it."""
    open_on = (open_by_version(svc) if open_by is None else open_by).get(name, {})
    live = svc.config.workflows.get(name)
    return [{"version": r["version"], "by": r.get("published_by") or "配置文件", "at": r.get("published_at"),
             "note": r.get("note", ""), "live": live is not None and live.version == r["version"],
             "open": open_on.get(r["version"], 0)} for r in catalogue.versions(svc.store, name)]


def diff(svc: Service, name: str, old: int, new: int) -> list[str]:
    from flows.service.workflow_diff import describe

    return describe(svc.version_record(name, old)["definition"], svc.version_record(name, new)["definition"])


def rollback(svc: Service, user_id: str, name: str, version: int) -> Workflow:
    """Publish an older version's content again, as the next version (versions only grow)."""
    require_admin(svc, user_id)
    record = svc.version_record(name, version)
    wf = svc.definition(name, version)
    d = draft(svc, name)
    d.source = record.get("source") or draft_yaml.dump(record["definition"])
    d.templates = dict(record.get("templates") or {})
    d.documents = dict(record.get("documents") or {})
    return _publish_version(svc, user_id, d, wf, note=f"回滚到第 {version} 版")


# ------------------------------------------------------------------ templates

def upload_template(svc: Service, user_id: str, d: Draft, template: str, content: bytes) -> Draft:
    """Keep a .docx made in Word as the draft's `template` (the published versions keep theirs)."""
    require_admin(svc, user_id)
    from flows.documents.rendering import TemplateError, check_template, template_variables

    if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", template or ""):
        raise FlowError("模板名称用小写英文字母、数字和下划线，以字母开头，如 meeting_minutes")
    if len(content) > MAX_TEMPLATE_BYTES:
        raise FlowError(f"模板文件太大（超过 {MAX_TEMPLATE_BYTES // 1_000_000} MB）")
    if not content.startswith(b"PK"):
        raise FlowError("不是 Word 文档（.docx）：请在 Word 中“另存为 .docx”后上传")
    probe = svc.store.file_path(f"templates/_probe/{uuid.uuid4().hex}.docx")
    probe.parent.mkdir(parents=True, exist_ok=True)
    probe.write_bytes(content)
    try:
        template_variables(probe)
        problem = check_template(probe)
    except TemplateError as exc:
        raise FlowError(f"模板无法使用：{exc}") from None
    finally:
        probe.unlink(missing_ok=True)
    if problem:
        raise FlowError(f"模板无法使用：{problem}")
    d.templates[template] = catalogue.store_template(svc.store, d.name, template, content)
    d.documents.setdefault(template, {"title": template})
    return save(svc, user_id, d, what=f"上传模板 {template}")


def template_versions(svc: Service, name: str, template: str,
                      open_by: dict[str, dict[int, int]] | None = None) -> list[dict]:
    """Which file each published version issues `template` with (its upload's hash, or the system
    file), and how many cases are open on it: a template is versioned with its workflow."""
    open_on = (open_by_version(svc) if open_by is None else open_by).get(name, {})
    return [{"version": r["version"], "file": (r.get("templates") or {}).get(template) or "系统模板",
             "open": open_on.get(r["version"], 0)} for r in catalogue.versions(svc.store, name)]


def apply_template_to_running(svc: Service, user_id: str, name: str, template: str) -> list[int]:
    """The admin's say-so: the draft's upload of `template` also serves the older versions that cases
    still run on (a typo fixed in a notice, say). Returns the versions changed; recorded in the log."""
    require_admin(svc, user_id)
    d = draft(svc, name)
    sha = d.templates.get(template)
    if not sha:
        raise FlowError(f"草稿中没有上传的模板「{template}」")
    changed = []
    for row in versions(svc, name):
        record = svc.version_record(name, row["version"])
        issued = {doc.template for t in Workflow.model_validate(record["definition"]).transitions for doc in t.documents}
        if row["open"] and template in issued and (record.get("templates") or {}).get(template) != sha:
            svc.store.put(catalogue.DEFINITIONS, catalogue.key(name, row["version"]),
                          {**record, "templates": {**(record.get("templates") or {}), template: sha}},
                          expected_version=record["_version"])
            changed.append(row["version"])
    if changed:
        _log(svc, name, f"模板 {template} 同时用于办理中的第 {'、'.join(map(str, changed))} 版案件", user_id)
    return changed


def placeholders(svc: Service, d: Draft, template: str) -> list[dict]:
    """Each placeholder of a template, and whether the steps that issue it provide it (with the fix)."""
    path = template_file(svc, d, template)
    if path is None:
        return []
    messages = [p.message for p in check(svc, d)[1] if p.message.startswith(f"模板「{template}」")]
    fields = re.compile(f"模板「{re.escape(template)}」引用了流程没有的字段「(.+?)」")
    missing = {m[1] for text in messages if (m := fields.search(text))}
    rows = []
    for name in sorted(_fields_of(path) or set()):
        parts = name.split(".")
        if parts[:2] == ["case", "data"] and len(parts) > 2 and parts[2] in missing:
            fix = "在发出此文书的步骤表单中添加同名字段，或改正模板中的拼写"
        else:
            fix = next((text.split("」", 1)[1] for text in messages if f"（{name}）" in text), "")
        rows.append({"name": name, "ok": not fix, "fix": fix})
    return rows


# ------------------------------------------------------------------ one file: export and import

class _Package(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: str
    format_version: int = Field(ge=1, le=1)
    name: str = Field(max_length=64)
    source: str = Field(max_length=1_000_000)
    documents: dict[str, dict[str, Any]] = {}
    scenarios: list[dict[str, Any]] = Field(default=[], max_length=200)
    templates: dict[str, str] = Field(default={}, max_length=50)  # template → base64 .docx


def export_package(svc: Service, name: str) -> bytes:
    d = draft(svc, name)
    templates = {}
    for template in d.templates:
        path = template_file(svc, d, template)
        if path:
            templates[template] = base64.b64encode(path.read_bytes()).decode()
    package = {"format": PACKAGE_FORMAT, "format_version": 1, "name": name, "source": d.source,
               "documents": d.documents, "scenarios": d.scenarios, "templates": templates}
    return json.dumps(package, ensure_ascii=False, indent=1).encode("utf-8")


def import_package(svc: Service, user_id: str, raw: bytes, replace_draft: bool = False) -> Draft:
    """A package (see export_package) checked whole before anything is kept; it becomes the
    workflow's draft, never a published version (publish it after looking at it)."""
    require_admin(svc, user_id)
    if len(raw) > MAX_PACKAGE_BYTES:
        raise FlowError("文件太大，不是本平台导出的流程包")
    try:
        package = _Package.model_validate_json(raw)
    except ValidationError as exc:
        where = "；".join(".".join(str(p) for p in e["loc"]) + f"：{e['msg']}" for e in exc.errors()[:5])
        raise FlowError(f"不是本平台导出的流程包：{where}") from None
    if package.format != PACKAGE_FORMAT:
        raise FlowError("不是本平台导出的流程包（format 不符）")
    contents = {}
    for template, text in package.templates.items():
        try:
            contents[template] = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise FlowError(f"流程包中的模板「{template}」已损坏") from None
    existing = svc.store.get(DRAFTS, package.name)
    if existing is not None and not replace_draft and existing.get("published") != \
            getattr(svc.config.workflows.get(package.name), "version", None):
        raise FlowError(f"流程「{package.name}」已有未发布的草稿：先发布或放弃它，或选择替换草稿")
    d = Draft(package.name, package.source, existing["_version"] if existing else 0,
              documents=package.documents, scenarios=package.scenarios)
    if existing is not None:
        d.published = existing.get("published")
    staged = {t: catalogue.store_template(svc.store, package.name, t, c) for t, c in contents.items()}
    d.templates = staged
    wf, problems = check(svc, d)
    if problems:
        raise DraftInvalid(f"流程包有 {len(problems)} 处问题，未导入：" + "；".join(p.text() for p in problems[:5]),
                           problems)
    return save(svc, user_id, d, what="导入流程包")



def preview_pages(svc: Service, d: Draft, template: str, content: bytes | None = None) -> list[bytes]:
    """A template as the office will see it: rendered (with a dry run's document, else sample data:
    every placeholder 示例) and converted to PNG pages by LibreOffice. Raises PreviewError when the
    converter is missing or fails."""
    import tempfile

    from flows.documents import preview, rendering

    path = template_file(svc, d, template)
    if path is None and content is None:
        raise FlowError(f"模板「{template}」尚未上传")
    with tempfile.TemporaryDirectory(prefix="template-preview-") as folder:
        out = Path(folder) / f"{template}.docx"
        out.write_bytes(content if content is not None else rendering.render(path, rendering.sample_context(path)))
        return [page.read_bytes() for page in preview.to_png(out, Path(folder))]
