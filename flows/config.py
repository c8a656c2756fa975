"""Everything admins configure, loaded and checked together from one configs/ folder."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from flows.org import Organisation
from flows.spec import Workflow
from flows.validate import DefinitionError, check_workflow, load_organisation, load_yaml, parse_model
from flows.workdays import CalendarError, WorkCalendar, load_calendar

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIGS = ROOT / "configs"


def configs_dir() -> Path:
    return Path(os.environ.get("WORKFLOW_CONFIGS_DIR", DEFAULT_CONFIGS))


@dataclass
class Config:
    root: Path
    org: Organisation
    calendar: WorkCalendar
    workflows: dict[str, Workflow]
    sources: dict[str, Path] = field(default_factory=dict)

    @property
    def templates_dir(self) -> Path:
        return self.root / "templates"


def template_fields(templates_dir: Path) -> tuple[dict[str, set[str]] | None, list[str]]:
    """Template name → the dotted names it references, and the templates that cannot be opened."""
    if not templates_dir.is_dir():
        return None, []
    from flows.documents import TemplateError, template_variables

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
            wf = parse_model(Workflow, load_yaml(f), str(f))
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
    if problems:
        raise DefinitionError(problems)
    return Config(root=root, org=org, calendar=calendar, workflows=workflows, sources=sources)
