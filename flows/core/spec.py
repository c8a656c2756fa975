"""Pydantic models of a workflow definition (the spec, apart from running cases).

A definition is one YAML file in configs/flows/. These models check its shape;
`flows.validate` checks what shape alone cannot (unknown states, reachability,
roles of the organisation, expressions). `Workflow.model_json_schema()` is the
contract admins' editors use (configs/schema/workflow.schema.json).
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from flows.core.forms import IDENTIFIER, Form

Name = Field(pattern=IDENTIFIER, description="英文标识符：小写字母开头，只含小写字母、数字和下划线")


# Lookup tables per definition, keyed by identity (a frozen model's hash would walk every field);
# the entry keeps its definition alive, and there are only a few definitions per process.
_INDEXES: dict[int, tuple[Workflow, dict]] = {}


class Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class Timer(Spec):
    """A deadline set when the case enters the state that declares it."""

    name: str = Name
    label: str
    after: int | str = Field(
        description="期限长度：整数，或对案件数据/设置求值的表达式（如 settings.defense_days）"
    )
    unit: Literal["days", "workdays", "months", "years"] = "days"
    from_field: str | None = Field(
        default=None, description="从该日期字段起算；缺省为进入本状态的时间"
    )
    until: list[str] = Field(
        default=[], description="进入这些状态之一时期限解除；缺省为离开本状态时解除"
    )
    action: Literal["escalate", "fire"] = Field(
        description="到期后：escalate 催办持有人及其上级角色；fire 自动执行 transition"
    )
    transition: str | None = None
    notify: list[str] = Field(default=[], description="催办时另外通知的角色")
    extend_by: int | None = Field(default=None, gt=0, description="可延期的长度（同 unit）")
    max_extensions: int = Field(default=0, ge=0)


class State(Spec):
    name: str = Name
    label: str
    initial: bool = False
    final: bool = False
    timers: list[Timer] = []


class Countersign(Spec):
    """会签: the transition completes only once every participant has fired it."""

    role: str | None = Field(default=None, description="参与会签的角色（配合 units / units_field）")
    units: list[str] = Field(default=[], description="会签的单位：每个单位该角色的人各签一次")
    units_field: str | None = Field(default=None, description="运行时由此字段（单位多选）确定会签单位")
    users: list[str] = Field(default=[], description="点名参与会签的人员账号")


class LinkedStart(Spec):
    """A case of another workflow that this transition starts, linked to this one."""

    workflow: str
    when: str | None = None
    data: dict[str, str] = Field(
        default={}, description="新案件的数据：字段名 → 对本案数据求值的表达式"
    )
    relation: str = "关联案件"


class RegisterEntry(Spec):
    """Writes one row of a named register (e.g. the plan register the drill plan reads)."""

    table: str = Name
    key: str = Field(description="记录键：对案件数据求值的表达式")
    fields: dict[str, str] = Field(description="字段名 → 对案件数据求值的表达式")


class Transition(Spec):
    name: str = Name
    label: str
    source: str | list[str] = Field(alias="from")
    target: str | None = Field(
        default=None, alias="to", description="目标状态，或一个并行拆分（split）的名称；省略表示停留在原状态"
    )
    roles: list[str] = Field(default=[], description="可执行的角色；为空表示只由系统（定时器）执行")
    assignee: str | None = Field(
        default=None, description="人员字段名：只有该字段指定的人可以执行（如各组调查负责人）"
    )
    own_unit: bool = Field(default=False, description="只限本案承办单位的人员")
    role_units: dict[str, str] = Field(
        default={}, description="某角色只限案件数据中某单位/企业字段所指的单位，如 {企业联系人: enterprise}"
    )
    kind: Literal["normal", "return", "reject"] = "normal"
    guard: str | None = None
    guard_message: str | None = Field(default=None, description="条件不满足时给用户看的说明")
    form: str | None = None
    comment_required: bool = False
    documents: list[str] = Field(default=[], description="执行后出具的文书（configs/templates 中的模板名）")
    starts: list[LinkedStart] = []
    countersign: Countersign | None = None
    extends: str | None = Field(default=None, description="延长本案的哪个定时器（Timer.name）")
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
    label: str
    start: str
    end: str


class Split(Spec):
    """A parallel split: entering it starts every branch at its start state."""

    name: str = Name
    label: str
    branches: list[Branch] = Field(min_length=2)


class Join(Spec):
    """Waits until every branch of `split` is at its end state, then enters `to`."""

    name: str = Name
    split: str
    to: str


class Rule(Spec):
    when: str | None = None
    value: Any


class Computed(Spec):
    """A field derived by a rule table: the first rule whose `when` holds gives the value."""

    name: str = Name
    label: str
    rules: list[Rule] = Field(min_length=1)


class Workflow(Spec):
    name: str = Name
    title: str
    code: str = Field(pattern=r"^[A-Z]{2,6}$", description="案件编号前缀，如 SG")
    version: int = Field(ge=1)
    description: str = ""
    title_template: str | None = Field(
        default=None, description="案件标题，如 “{place}{accident_type}事故”；花括号内为字段名"
    )
    start_roles: list[str] = Field(default=[], description="可发起本流程的角色")
    start_form: str | None = None
    settings: dict[str, Any] = Field(default={}, description="管理员可调整的参数，表达式中以 settings.x 引用")
    notify_holders: bool = Field(default=True, description="流转后向新的待办人发送消息提醒")
    forms: dict[str, Form] = {}
    computed: list[Computed] = []
    states: list[State] = Field(min_length=1)
    transitions: list[Transition] = []
    splits: list[Split] = []
    joins: list[Join] = []


    @field_validator("forms")
    @classmethod
    def _form_names(cls, value: dict[str, Form]) -> dict[str, Form]:
        import re

        for key in value:
            if not re.match(IDENTIFIER, key):
                raise ValueError(f"表单名「{key}」须为英文标识符")
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
