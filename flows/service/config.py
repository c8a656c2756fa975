"""Everything admins configure, loaded and checked together from one configs/ folder, and where
the data lives (`data_dir`)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from flows.core.org import Organisation
from flows.core.spec import Workflow
from flows.core.validate import DefinitionError, check_workflow, parse_model
from flows.core.workdays import CalendarError, WorkCalendar, calendar_from_data
from flows.documents.settings import DocumentSettings
from flows.service.platform import PlatformSettings
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

    @property
    def templates_dir(self) -> Path:
        return self.root / "templates"


def template_fields(templates_dir: Path) -> tuple[dict[str, set[str]] | None, list[str]]:
    """Template name → the dotted names it references, and the templates that cannot be opened."""
    if not templates_dir.is_dir():
        return None, []
    from flows.documents.rendering import TemplateError, template_variables

    fields, problems = {}, []
    for path in sorted(templates_dir.glob("*.docx")):
        try:
            fields[path.stem] = template_variables(path)
        except TemplateError as exc:
            fields[path.stem] = set()
            problems.append(f"{path}: {exc}")
    return fields, problems


def load_workflows(paths: list[Path], org: Organisation, templates_dir: Path | None = None,
                   also_known: set[str] = frozenset()) -> tuple[dict[str, Workflow], dict[str, Path], list[str]]:
    """Parse and check every definition; returns them with every problem found (all files)."""
    files: list[Path] = []
    for path in paths:
        files += sorted(path.glob("*.yaml")) + sorted(path.glob("*.yml")) if path.is_dir() else [path]
    parsed: dict[str, Workflow] = {}
    sources: dict[str, Path] = {}
    problems: list[str] = []
    for f in files:
        try:
            wf = parse_model(Workflow, read_yaml(f), str(f))
        except DefinitionError as exc:
            problems += exc.problems
            continue
        if wf.name != f.stem:
            problems.append(f"{f}: name: 流程名「{wf.name}」须与文件名「{f.stem}」一致")
            continue
        if wf.name in parsed:
            problems.append(f"{f}: name: 流程名「{wf.name}」与 {sources[wf.name]} 重复")
            continue
        parsed[wf.name], sources[wf.name] = wf, f
    codes: dict[str, str] = {}
    for name, wf in parsed.items():
        if wf.code in codes:
            problems.append(f"{sources[name]}: code: 编号前缀「{wf.code}」与流程 {codes[wf.code]} 重复")
        codes[wf.code] = name
    fields, template_problems = template_fields(templates_dir) if templates_dir else (None, [])
    problems += template_problems
    for name, wf in parsed.items():
        problems += [f"{sources[name]}: {m}" for m in check_workflow(wf, org, set(parsed) | also_known, fields)]
    return parsed, sources, problems


def load_config(root: Path | None = None) -> Config:
    """Load organisation, calendar and workflows; raise DefinitionError listing every problem."""
    root = Path(root or configs_dir())
    org = load_organisation(root / "organisation.yaml")
    calendar_file = root / "calendar.yaml"
    problems: list[str] = []
    try:
        calendar = load_calendar(calendar_file) if calendar_file.exists() else WorkCalendar()
    except CalendarError as exc:
        calendar, problems = WorkCalendar(), list(exc.problems)
    workflows, sources, flow_problems = load_workflows([root / "flows"], org, root / "templates")
    problems += flow_problems
    try:
        documents = load_document_settings(root / "documents.yaml")
    except DefinitionError as exc:
        documents, problems = DocumentSettings(documents={}), problems + exc.problems
    platform, platform_problems = load_platform(root / "platform.yaml", org)
    problems += platform_problems
    if problems:
        raise DefinitionError(problems)
    return Config(root=root, org=org, calendar=calendar, workflows=workflows, sources=sources, documents=documents,
                  platform=platform)


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
