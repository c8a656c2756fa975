"""Pydantic models of a workflow definition (the spec, apart from running cases).

A definition is one YAML file in configs/flows/. These models check its shape;
`flows.validate` checks what shape alone cannot (unknown states, reachability,
roles of the organisation, expressions). `Workflow.model_json_schema()` is the
contract admins' editors use (configs/schema/workflow.schema.json).

The models are strict (`true` is not 1, "1" is not a number) and bounded: every count, text and
number a definition may hold has a limit below (`MAX_*`), so a definition that passes validation
cannot exhaust the machine or overflow a date later. flows/service/yaml_files bounds the file itself.
"""
from __future__ import annotations

import math
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainValidator, field_validator

from flows.core.expressions import MAX_SOURCE
from flows.core.forms import IDENTIFIER, Form

MAX_NAME = 64  # characters of an identifier
MAX_LABEL = 200  # a title, a label, a message
MAX_DESCRIPTION = 5_000
MAX_STATES = 200
MAX_TRANSITIONS = 500
MAX_FORMS = 100
MAX_TIMERS = 20  # per state
MAX_ITEMS = 100  # any other list or mapping of a definition (roles, documents, splits, settings …)
MAX_VERSION = 1_000_000
MAX_SETTING = 10**9  # |a number| in settings
# the longest deadline, per unit (about 100 years; what is past it overflows a date)
MAX_TIMER_LENGTH = {"days": 36_500, "workdays": 25_000, "months": 1_200, "years": 100}
MAX_EXTENSIONS = 100

Name = Field(pattern=IDENTIFIER, max_length=MAX_NAME,
             description="英文标识符：小写字母开头，只含小写字母、数字和下划线")
Label = Annotated[str, Field(max_length=MAX_LABEL)]
Expression = Annotated[str, Field(max_length=MAX_SOURCE, description="表达式（见 flows/core/expressions）")]
Names = Annotated[list[Annotated[str, Field(max_length=MAX_NAME)]], Field(max_length=MAX_ITEMS)]
Texts = Annotated[list[Label], Field(max_length=MAX_ITEMS)]
ExpressionMap = Annotated[dict[Annotated[str, Field(max_length=MAX_NAME)], Expression], Field(max_length=MAX_ITEMS)]


def _setting_scalar(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, date):
        return value
    if isinstance(value, int):
        if abs(value) > MAX_SETTING:
            raise ValueError(f"数值超出范围（绝对值最多 {MAX_SETTING}）")
        return value
    if isinstance(value, float):
        if not math.isfinite(value) or abs(value) > MAX_SETTING:
            raise ValueError(f"须为有限的数字（绝对值最多 {MAX_SETTING}）")
        return value
    if isinstance(value, str):
        if len(value) > MAX_DESCRIPTION:
            raise ValueError(f"文字太长（最多 {MAX_DESCRIPTION} 个字符）")
        return value
    raise ValueError("须为数字、文字、日期、true/false 或它们的列表")


def _setting(value: Any) -> Any:
    if isinstance(value, list):
        if len(value) > MAX_ITEMS:
            raise ValueError(f"列表太长（最多 {MAX_ITEMS} 项）")
        return [_setting_scalar(v) for v in value]
    return _setting_scalar(value)


SettingValue = Annotated[Any, PlainValidator(_setting, json_schema_input_type=Any)]


# Lookup tables per definition, keyed by identity (a frozen model's hash would walk every field);
# the entry keeps its definition alive, and there are only a few definitions per process.
_INDEXES: dict[int, tuple[Workflow, dict]] = {}


class Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True, strict=True)


class Timer(Spec):
    """A deadline set when the case enters the state that declares it."""

    name: str = Name
    label: Label
    after: Annotated[int, Field(ge=0, le=max(MAX_TIMER_LENGTH.values()))] | Expression = Field(
        description="期限长度：整数，或对案件数据/设置求值的表达式（如 settings.defense_days）；"
                    "最长约 100 年（36500 天、25000 个工作日、1200 个月或 100 年）"
    )
    unit: Literal["days", "workdays", "months", "years"] = "days"
    from_field: str | None = Field(
        default=None, description="从该日期字段起算；缺省为进入本状态的时间"
    )
    until: Names = Field(
        default=[], description="进入这些状态之一时期限解除；缺省为离开本状态时解除"
    )
    action: Literal["escalate", "fire"] = Field(
        description="到期后：escalate 催办持有人及其上级角色；fire 自动执行 transition"
    )
    transition: str | None = Field(default=None, max_length=MAX_NAME)
    notify: Names = Field(default=[], description="催办时另外通知的角色")
    extend_by: int | None = Field(default=None, gt=0, le=max(MAX_TIMER_LENGTH.values()),
                                  description="可延期的长度（同 unit）")
    max_extensions: int = Field(default=0, ge=0, le=MAX_EXTENSIONS)


class State(Spec):
    name: str = Name
    label: Label
    initial: bool = False
    final: bool = False
    timers: list[Timer] = Field(default=[], max_length=MAX_TIMERS)


class Countersign(Spec):
    """会签: the transition completes only once every participant has fired it."""

    role: str | None = Field(default=None, max_length=MAX_LABEL, description="参与会签的角色（配合 units / units_field）")
    units: Texts = Field(default=[], description="会签的单位：每个单位该角色的人各签一次")
    units_field: str | None = Field(default=None, max_length=MAX_NAME,
                                    description="运行时由此字段（单位多选）确定会签单位")
    users: Names = Field(default=[], description="点名参与会签的人员账号")


class LinkedStart(Spec):
    """A case of another workflow that this transition starts, linked to this one."""

    workflow: str = Field(max_length=MAX_NAME)
    when: Expression | None = None
    data: ExpressionMap = Field(
        default={}, description="新案件的数据：字段名 → 对本案数据求值的表达式"
    )
    relation: Label = "关联案件"


class DocumentIssue(Spec):
    """A document a transition issues only when a condition holds (no duplicated transitions for it)."""

    template: str = Field(max_length=MAX_NAME, description="configs/templates 中的模板名")
    when: Expression | None = Field(default=None, description="出具的条件：对案件数据求值的表达式；缺省为总是出具")


def _issued(value: Any) -> Any:
    """A bare template name is the document issued always: one model, so that a mistake is reported
    once under its own path (not once per way of writing it)."""
    return {"template": value} if isinstance(value, str) else value


IssuedDocument = Annotated[DocumentIssue, BeforeValidator(_issued, json_schema_input_type=str | DocumentIssue)]


class RegisterEntry(Spec):
    """Writes one row of a named register (e.g. the plan register the drill plan reads)."""

    table: str = Name
    key: Expression = Field(description="记录键：对案件数据求值的表达式")
    fields: ExpressionMap = Field(description="字段名 → 对案件数据求值的表达式")


class Transition(Spec):
    name: str = Name
    label: Label
    source: Annotated[str, Field(max_length=MAX_NAME)] | Names = Field(alias="from")
    target: str | None = Field(
        default=None, alias="to", max_length=MAX_NAME,
        description="目标状态，或一个并行拆分（split）的名称；省略表示停留在原状态"
    )
    roles: Texts = Field(default=[], description="可执行的角色；为空表示只由系统（定时器）执行")
    assignee: str | None = Field(
        default=None, max_length=MAX_NAME, description="人员字段名：只有该字段指定的人可以执行（如各组调查负责人）"
    )
    own_unit: bool = Field(default=False, description="只限本案承办单位的人员")
    units: Texts = Field(default=[], description="只限这些单位中持有上述角色的人员，如 [综合行政执法大队]")
    actor_of: str | None = Field(
        default=None, max_length=MAX_NAME,
        description="只限最近一次执行该操作（transition 名）的人，如退回后由原上报人重新提交；尚无人执行时按 roles")
    role_units: Annotated[dict[Label, Annotated[str, Field(max_length=MAX_NAME)]], Field(max_length=MAX_ITEMS)] = Field(
        default={}, description="某角色只限案件数据中某单位/企业字段所指的单位，如 {企业联系人: enterprise}"
    )
    kind: Literal["normal", "return", "reject"] = "normal"
    guard: Expression | None = None
    guard_message: str | None = Field(default=None, max_length=MAX_LABEL, description="条件不满足时给用户看的说明")
    guard_field: str | None = Field(
        default=None, max_length=MAX_NAME,
        description="条件不满足时说明显示在本操作表单的哪个字段下（如 notice_date）；省略则显示在表单下方")
    form: str | None = Field(default=None, max_length=MAX_NAME)
    comment_required: bool = False
    documents: Annotated[list[IssuedDocument], Field(max_length=MAX_ITEMS)] = Field(
        default=[], description="执行后出具的文书：模板名，或 {template: 模板名, when: 条件}（条件成立时才出具）")
    starts: list[LinkedStart] = Field(default=[], max_length=MAX_ITEMS)
    countersign: Countersign | None = None
    extends: str | None = Field(default=None, max_length=MAX_NAME, description="延长本案的哪个定时器（Timer.name）")
    register_entry: RegisterEntry | None = Field(
        default=None, alias="register", description="执行后在登记册中登记或更新一条记录"
    )

    @property
    def sources(self) -> tuple[str, ...]:
        return (self.source,) if isinstance(self.source, str) else tuple(self.source)

    @property
    def needs_comment(self) -> bool:
        return self.comment_required or self.kind in ("return", "reject")


class Branch(Spec):
    name: str = Name
    label: Label
    start: str = Field(max_length=MAX_NAME)
    end: str = Field(max_length=MAX_NAME)


class Split(Spec):
    """A parallel split: entering it starts every branch at its start state."""

    name: str = Name
    label: Label
    branches: list[Branch] = Field(min_length=2, max_length=MAX_ITEMS)


class Join(Spec):
    """Waits until every branch of `split` is at its end state, then enters `to`."""

    name: str = Name
    split: str = Field(max_length=MAX_NAME)
    to: str = Field(max_length=MAX_NAME)


class Rule(Spec):
    when: Expression | None = None
    value: SettingValue


class Computed(Spec):
    """A field derived by a rule table: the first rule whose `when` holds gives the value."""

    name: str = Name
    label: Label
    rules: list[Rule] = Field(min_length=1, max_length=MAX_ITEMS)


class Workflow(Spec):
    name: str = Name
    title: Label
    code: str = Field(pattern=r"^[A-Z]{2,6}$", description="案件编号前缀，如 SG")
    version: int = Field(ge=1, le=MAX_VERSION)
    description: str = Field(default="", max_length=MAX_DESCRIPTION)
    title_template: str | None = Field(
        default=None, max_length=MAX_LABEL, description="案件标题，如 “{place}{accident_type}事故”；花括号内为字段名"
    )
    start_roles: Texts = Field(default=[], description="可发起本流程的角色")
    start_units: Texts = Field(default=[], description="只限这些单位的人员发起，如 [综合行政执法大队]")
    start_role_units: Annotated[dict[Label, Annotated[str, Field(max_length=MAX_NAME)]], Field(max_length=MAX_ITEMS)] = Field(
        default={}, description="持某角色发起时，发起表单中该单位/企业字段须是本人所在单位，如 {企业联系人: enterprise}")
    start_form: str | None = Field(default=None, max_length=MAX_NAME)
    settings: Annotated[dict[Annotated[str, Field(max_length=MAX_NAME)], SettingValue], Field(max_length=MAX_ITEMS)] = Field(
        default={}, description="管理员可调整的参数，表达式中以 settings.x 引用：数字、文字、日期、true/false 或它们的列表")
    notify_holders: bool = Field(default=True, description="流转后向新的待办人发送消息提醒")
    forms: dict[str, Form] = Field(default={}, max_length=MAX_FORMS)
    computed: list[Computed] = Field(default=[], max_length=MAX_ITEMS)
    states: list[State] = Field(min_length=1, max_length=MAX_STATES)
    transitions: list[Transition] = Field(default=[], max_length=MAX_TRANSITIONS)
    splits: list[Split] = Field(default=[], max_length=MAX_ITEMS)
    joins: list[Join] = Field(default=[], max_length=MAX_ITEMS)


    @field_validator("forms")
    @classmethod
    def _form_names(cls, value: dict[str, Form]) -> dict[str, Form]:
        import re

        for key in value:
            if len(key) > MAX_NAME or not re.match(IDENTIFIER, key):
                raise ValueError(f"表单名「{key[:MAX_NAME]}」须为英文标识符（最多 {MAX_NAME} 个字符）")
        return value

    # ---- lookups used by the engine (built once; the model is frozen) ----
    def state(self, name: str) -> State | None:
        return self._index()["states"].get(name)

    def transition(self, name: str) -> Transition | None:
        return self._index()["transitions"].get(name)

    def split(self, name: str) -> Split | None:
        return self._index()["splits"].get(name)

    def outgoing(self, state: str) -> list[Transition]:
        return self._index()["outgoing"].get(state, [])

    def initial_state(self) -> State:
        return next(s for s in self.states if s.initial)

    def all_fields(self) -> dict[str, Any]:
        """Every data field a form declares, by name (first declaration wins)."""
        fields: dict[str, Any] = {}
        for form in self.forms.values():
            for f in form.fields:
                fields.setdefault(f.name, f)
        return fields

    def _index(self) -> dict[str, dict]:
        cached = _INDEXES.get(id(self))
        if cached is None or cached[0] is not self:
            outgoing: dict[str, list[Transition]] = {}
            for t in self.transitions:
                for s in t.sources:
                    outgoing.setdefault(s, []).append(t)
            cached = {
                "states": {s.name: s for s in self.states},
                "transitions": {t.name: t for t in self.transitions},
                "splits": {s.name: s for s in self.splits},
                "outgoing": outgoing,
            }
            cached = _INDEXES[id(self)] = (self, cached)
        return cached[1]
