"""The organisation: units, roles and people (configs/organisation.yaml)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Org(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Unit(_Org):
    name: str = Field(min_length=1)
    kind: Literal["department", "enterprise"] = "department"
    credit_code: str | None = None


class Role(_Org):
    name: str = Field(min_length=1)
    supervisor: str | None = Field(default=None, description="催办时一并通知的上级角色")


class User(_Org):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    unit: str
    roles: list[str] = Field(min_length=1)


class Organisation(_Org):
    units: list[Unit]
    roles: list[Role]
    users: list[User] = []

    @model_validator(mode="after")
    def _consistent(self) -> Organisation:
        units = {u.name for u in self.units}
        roles = {r.name for r in self.roles}
        problems = []
        for kind, names in (("单位", [u.name for u in self.units]), ("角色", [r.name for r in self.roles]),
                            ("人员", [u.id for u in self.users])):
            dup = {n for n in names if names.count(n) > 1}
            if dup:
                problems.append(f"{kind}重复: {', '.join(sorted(dup))}")
        for r in self.roles:
            if r.supervisor and r.supervisor not in roles:
                problems.append(f"角色「{r.name}」的上级角色「{r.supervisor}」不存在")
        for u in self.users:
            if u.unit not in units:
                problems.append(f"人员 {u.id} 的单位「{u.unit}」不存在")
            for r in u.roles:
                if r not in roles:
                    problems.append(f"人员 {u.id} 的角色「{r}」不存在")
        if problems:
            raise ValueError("；".join(problems))
        return self

    @property
    def unit_names(self) -> frozenset[str]:
        return frozenset(u.name for u in self.units)

    @property
    def role_names(self) -> frozenset[str]:
        return frozenset(r.name for r in self.roles)

    def user(self, user_id: str) -> User | None:
        return next((u for u in self.users if u.id == user_id), None)

    def supervisor_of(self, role: str) -> str | None:
        return next((r.supervisor for r in self.roles if r.name == role), None)

    def people(self, role: str | None = None, unit: str | None = None, user: str | None = None) -> list[str]:
        """The ids of the people a task row means: the named person, or everyone with the role (in
        the unit, when one is given)."""
        if user:
            return [user] if self.user(user) else []
        return [u.id for u in self.users if role in u.roles and (unit is None or u.unit == unit)]

    def actor(self, user_id: str) -> Actor:
        user = self.user(user_id)
        if user is None:
            raise KeyError(user_id)
        return Actor(id=user.id, name=user.name, unit=user.unit,
                     roles=tuple((r, user.unit) for r in user.roles))


@dataclass(frozen=True)
class Actor:
    """Who acts: a person with (role, unit) pairs, or the system (timers)."""

    id: str
    name: str
    unit: str | None
    roles: tuple[tuple[str, str], ...]

    @property
    def is_system(self) -> bool:
        return self.id == SYSTEM.id

    def has_role(self, role: str, unit: str | None = None) -> bool:
        return any(r == role and (unit is None or u == unit) for r, u in self.roles)


SYSTEM = Actor(id="system", name="系统", unit=None, roles=())
