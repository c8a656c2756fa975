"""Typed refusals of the engine and service. `str(error)` is the Chinese message a user sees."""
from __future__ import annotations


class FlowError(Exception):
    """Base of every refusal; nothing was changed when one is raised."""

    code = "error"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class NotFound(FlowError):
    code = "not_found"


class NotAvailable(FlowError):
    """The action is not open in the case's current state."""

    code = "not_available"


class NotPermitted(FlowError):
    code = "not_permitted"


class GuardFailed(FlowError):
    code = "guard_false"


class InvalidForm(FlowError):
    """One Chinese message per field path."""

    code = "form_invalid"

    def __init__(self, errors: dict[str, str]):
        self.errors = dict(errors)
        self.labels: dict[str, str] = {}  # path → the field as a user reads it, when the form is known
        detail = "；".join(f"{k}: {v}" for k, v in self.errors.items())
        super().__init__(f"表单填写有误：{detail}")


class FieldGuardFailed(InvalidForm, GuardFailed):
    """A guard whose transition names the field its message belongs to (`guard_field`): refused like a
    form value, so the message shows under that field."""

    code = "guard_false"


class StaleVersion(FlowError):
    code = "stale_version"

    def __init__(self, case_id: str, expected: int, actual: int):
        self.case_id, self.expected, self.actual = case_id, expected, actual
        super().__init__(f"案件 {case_id} 已被他人修改（当前版本 {actual}，你看到的是 {expected}），请刷新后重试")


class CommentRequired(InvalidForm):
    """A return, a rejection, or a step that asks for an opinion, needs its text."""

    code = "comment_required"
