"""Platform settings admins tune (configs/platform.yaml): sign-in security, sessions, who sees all cases,
how often the 统计 page sums the cases up again."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Security(_Settings):
    max_failed_logins: int = Field(default=5, ge=1, le=100)
    lock_minutes: int = Field(default=15, ge=1, le=24 * 60)
    session_idle_minutes: int = Field(default=30, ge=1, le=7 * 24 * 60)
    min_password_length: int = Field(default=8, ge=6, le=128)


class PlatformSettings(_Settings):
    security: Security = Security()
    see_all_roles: list[str] = ["局长", "分管领导", "安委办", "管理员"]
    admin_roles: list[str] = ["管理员"]
    dashboard_refresh_minutes: int = Field(
        default=10, ge=1, le=24 * 60,
        description="统计页的数据每隔多少分钟重新汇总一次（汇总要读全部案件；其间页面显示缓存的数字并注明更新时间）")
