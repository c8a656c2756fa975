"""Everything admins configure, loaded and checked together from one configs/ folder, and where
the data lives (`data_dir`)."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from flows.core.org import Organisation
from flows.core.spec import Workflow
from flows.core.validate import DefinitionError, check_workflow, parse_model
from flows.core.workdays import CalendarError, WorkCalendar, calendar_from_data
from flows.documents.settings import DocumentSettings
from flows.service.platform import PlatformSettings
from flows.service.template_checks import template_fields
from flows.service.yaml_files import read_yaml

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIGS = ROOT / "configs"
DATA_DIR_ENV = "WORKFLOW_DATA_DIR"


def configs_dir() -> Path:
    return Path(os.environ.get("WORKFLOW_CONFIGS_DIR", DEFAULT_CONFIGS))


def data_dir(explicit: str | Path | None = None) -> Path:
    return Path(explicit or os.environ.get(DATA_DIR_ENV) or "./data")


def load_yaml(path: Path):
    return read_yaml(path)


def load_organisation(path: Path) -> Organisation:
    return parse_model(Organisation, read_yaml(path), str(path))


def load_calendar(path: str | Path) -> WorkCalendar:
    """Read configs/calendar.yaml; raises CalendarError with `file: years.2027.holidays[3]: 不是有效日期…`."""
    data = read_yaml(path, dates_as_text=True, error=CalendarError)
    if data is not None and not isinstance(data, dict):
        raise CalendarError([f"{path}: (根): 须为映射，顶层应为 years:"])
    return calendar_from_data(data, str(path))


def load_document_settings(path: Path) -> DocumentSettings:
    if not path.exists():
        return DocumentSettings(documents={})
    return parse_model(DocumentSettings, read_yaml(path), str(path))


def load_workflow(path: Path, org: Organisation, workflows: set[str] | None = None,
                  template_fields: dict[str, set[str]] | None = None) -> Workflow:
    wf = parse_model(Workflow, read_yaml(path), str(path))
    problems = check_workflow(wf, org, workflows, template_fields)
    if problems:
        raise DefinitionError([f"{path}: {m}" for m in problems])
    return wf


@dataclass
class Config:
    root: Path
    org: Organisation
    calendar: WorkCalendar
    workflows: dict[str, Workflow]
    sources: dict[str, Path] = field(default_factory=dict)
    documents: DocumentSettings = field(default_factory=lambda: DocumentSettings(documents={}))
    platform: PlatformSettings = field(default_factory=PlatformSettings)
    # workflow files that were not loaded (the others were), and every problem found in them
    skipped: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def templates_dir(self) -> Path:
        return self.root / "templates"

    def warning(self) -> str | None:
        """The one-line notice the app, the CLI and the serving process show while files are skipped."""
        if not self.skipped:
            return None
        names = "、".join(p.name for p in self.skipped)
        return (f"警告：{len(self.skipped)} 个流程定义有错误，未加载：{names}（其余流程照常运行；"
                f"运行 python -m flows validate 查看详情）")

    def warning_lines(self) -> list[str]:
        """The notice and every problem behind it (empty when every workflow loaded)."""
        notice = self.warning()
        return [notice, *(f"  {line}" for line in self.problems)] if notice else []


def _yaml_files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        files += sorted(path.glob("*.yaml")) + sorted(path.glob("*.yml")) if path.is_dir() else [path]
    return files


def _definition_text(wf: Workflow) -> str:
    return json.dumps(wf.model_dump(mode="json", by_alias=True), sort_keys=True, ensure_ascii=False)


@dataclass
class _Checked:
    workflows: dict[str, Workflow]  # the definitions without a problem
    sources: dict[str, Path]
    by_file: dict[Path, list[str]]  # the problems of each workflow file that has some
    shared: list[str]  # problems that belong to no one workflow file (templates)


def _check_files(paths: list[Path], org: Organisation, templates_dir: Path | None,
                 also_known: set[str], installed: Path | None) -> _Checked:
    """Every given workflow file parsed and checked, each on its own: one file's problems never
    stop another from loading, except that a workflow starting cases of one that did not load
    cannot load either. `installed` (configs/flows): the definitions the given files join (or,
    by name, replace): names and codes must stay unique among them."""
    files = _yaml_files(paths)
    by_file: dict[Path, list[str]] = {}
    parsed: dict[str, Workflow] = {}
    sources: dict[str, Path] = {}
    for f in files:
        try:
            wf = parse_model(Workflow, read_yaml(f), str(f))
        except DefinitionError as exc:
            by_file[f] = list(exc.problems)
            continue
        if wf.name != f.stem:
            by_file[f] = [f"{f}: name: 流程名「{wf.name}」须与文件名「{f.stem}」一致"]
            continue
        if wf.name in parsed:
            by_file[f] = [f"{f}: name: 流程名「{wf.name}」与 {sources[wf.name]} 重复"]
            continue
        parsed[wf.name], sources[wf.name] = wf, f
    given = {f.resolve() for f in files}
    others: dict[str, tuple[Path, Workflow]] = {}  # installed definitions the given files sit beside
    for f in _yaml_files([installed]) if installed is not None and installed.is_dir() else []:
        if f.resolve() in given:
            continue
        try:
            wf = parse_model(Workflow, read_yaml(f), str(f))
        except DefinitionError:
            continue  # its own problems are reported when it is validated or loaded
        if wf.name != f.stem:
            continue
        if wf.name in parsed:  # a new edition of an installed workflow: it replaces that file
            new = parsed[wf.name]
            if new.version == wf.version and _definition_text(new) != _definition_text(wf):
                by_file.setdefault(sources[wf.name], []).append(
                    f"{sources[wf.name]}: version: 与已安装的 {f} 版本相同（{wf.version}）而内容不同："
                    f"修改已发布的流程请把 version 改为 {wf.version + 1}")
            continue
        others[wf.name] = (f, wf)
    codes = {wf.code: f"{name}（{path}）" for name, (path, wf) in others.items()}
    for name, wf in parsed.items():
        if wf.code in codes:
            by_file.setdefault(sources[name], []).append(
                f"{sources[name]}: code: 编号前缀「{wf.code}」与流程 {codes[wf.code]} 重复")
        codes.setdefault(wf.code, name)
    fields, shared = template_fields(templates_dir) if templates_dir else (None, [])
    # a file that exists but did not load is known here, so its callers are told so by the loop below
    known = set(parsed) | set(others) | set(also_known) | {f.stem for f in files}
    for name, wf in parsed.items():
        found = [f"{sources[name]}: {m}" for m in check_workflow(wf, org, known, fields)]
        if found:
            by_file.setdefault(sources[name], []).extend(found)
    good = {name: wf for name, wf in parsed.items() if sources[name] not in by_file}
    dropped = True
    while dropped:  # a linked start into a workflow that did not load
        dropped = False
        startable = set(good) | set(others) | set(also_known)
        for name, wf in list(good.items()):
            missing = [(i, k, st.workflow) for i, t in enumerate(wf.transitions) for k, st in enumerate(t.starts)
                       if st.workflow not in startable]
            if missing:
                by_file[sources[name]] = [f"{sources[name]}: transitions[{i}].starts[{k}].workflow: "
                                          f"关联的流程「{other}」有错误，未能加载" for i, k, other in missing]
                del good[name]
                dropped = True
    return _Checked(good, {name: sources[name] for name in good}, by_file, shared)


def load_workflows(paths: list[Path], org: Organisation, templates_dir: Path | None = None,
                   also_known: set[str] = frozenset(), installed: Path | None = None,
                   ) -> tuple[dict[str, Workflow], dict[str, Path], list[str]]:
    """Parse and check every definition; returns those without a problem, where each came from, and
    every problem found (all files). `installed`: see `_check_files`."""
    checked = _check_files(paths, org, templates_dir, also_known, installed)
    problems = [m for found in checked.by_file.values() for m in found] + checked.shared
    return checked.workflows, checked.sources, problems


def load_config(root: Path | None = None, *, strict: bool = False) -> Config:
    """Load organisation, calendar, documents, platform settings and workflows.

    A workflow file with a problem is skipped and reported (`Config.skipped`, `Config.problems`,
    `Config.warning()`): the other workflows load and run. Raises DefinitionError listing every
    problem when a file all workflows share is wrong (organisation, calendar, documents, platform,
    a template), and, with `strict`, when any file is."""
    root = Path(root or configs_dir())
    org = load_organisation(root / "organisation.yaml")
    calendar_file = root / "calendar.yaml"
    problems: list[str] = []
    try:
        calendar = load_calendar(calendar_file) if calendar_file.exists() else WorkCalendar()
    except CalendarError as exc:
        calendar, problems = WorkCalendar(), list(exc.problems)
    checked = _check_files([root / "flows"], org, root / "templates", set(), None)
    flow_problems = [m for found in checked.by_file.values() for m in found]
    problems += checked.shared
    try:
        documents = load_document_settings(root / "documents.yaml")
    except DefinitionError as exc:
        documents, problems = DocumentSettings(documents={}), problems + exc.problems
    platform, platform_problems = load_platform(root / "platform.yaml", org)
    problems += platform_problems
    if problems or (strict and flow_problems):
        raise DefinitionError(flow_problems + problems)
    return Config(root=root, org=org, calendar=calendar, workflows=checked.workflows, sources=checked.sources,
                  documents=documents, platform=platform, skipped=list(checked.by_file), problems=flow_problems)


def load_platform(path: Path, org: Organisation) -> tuple[PlatformSettings, list[str]]:
    """configs/platform.yaml (optional: defaults when absent), its roles checked against the organisation."""
    if not path.exists():
        return PlatformSettings(), []
    try:
        platform = parse_model(PlatformSettings, read_yaml(path) or {}, str(path))
    except DefinitionError as exc:
        return PlatformSettings(), exc.problems
    problems = [f"{path}: {key}: 角色「{role}」不在组织机构中"
                for key in ("see_all_roles", "admin_roles") for role in getattr(platform, key)
                if role not in org.role_names]
    if not platform.admin_roles:
        problems.append(f"{path}: admin_roles: 至少需要一个管理员角色")
    return platform, problems
