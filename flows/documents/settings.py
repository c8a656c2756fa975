"""What admins configure about each kind of document (configs/documents.yaml): its title with
placeholders, 发文字号 prefix, issuer, banner, addressee, 抄送 and 印发 lines."""
from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict


class DocumentSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str
    number_prefix: str | None = None
    minutes: str | None = None  # 纪要: the banner text; issues are numbered 第N期 per year
    issuer: str | None = None
    banner: str | None = None
    addressee: str | None = None
    printed_by: str | None = None
    cc: str | None = None


class DocumentSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    defaults: DocumentSpec | dict[str, str] = {}
    documents: dict[str, DocumentSpec]

    def spec(self, name: str) -> DocumentSpec:
        spec = self.documents.get(name) or DocumentSpec(title=name)
        defaults = self.defaults if isinstance(self.defaults, dict) else self.defaults.model_dump(exclude_none=True)
        return spec.model_copy(update={k: v for k, v in defaults.items() if getattr(spec, k, None) is None})


_PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*)\}")


def fill(text: str | None, values: dict[str, Any]) -> str:
    """Put case values into a configured title such as 关于{place}事故的警示通报 (no code runs)."""
    def one(match: re.Match) -> str:
        value = values.get(match.group(1))
        if isinstance(value, dict):
            value = value.get("name", "")
        return "" if value is None else str(value)

    return _PLACEHOLDER.sub(one, text or "")
