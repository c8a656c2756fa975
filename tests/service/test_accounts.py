"""Accounts: the first admin, sign-in with lockout, sessions that expire, passwords, the admin's changes."""
from __future__ import annotations

import json

import pytest

from flows.core.errors import FlowError, NotFound
from flows.service import open_service
from flows.service.accounts import SignInRefused

PASSWORD = "Anquan#2026"


@pytest.fixture
def accounts(service):
    service.accounts.create_first_admin("admin", "系统管理员", "局办公室", PASSWORD)
    return service.accounts


def test_an_empty_data_directory_asks_for_the_first_admin_once(service):
    assert service.accounts.needs_first_admin()
    with pytest.raises(SignInRefused, match="用户名或密码错误"):
        service.accounts.sign_in("admin", "")              # no password exists outside demo data
    service.accounts.create_first_admin("admin", "系统管理员", "局办公室", PASSWORD)
    assert not service.accounts.needs_first_admin()
    assert service.accounts.session_user(service.accounts.sign_in("admin", PASSWORD)) == "admin"
    with pytest.raises(FlowError, match="已有管理员账号"):
        service.accounts.create_first_admin("boss", "某人", "局办公室", PASSWORD)


def test_five_wrong_passwords_lock_the_account_until_the_lock_ends(service, accounts, clock):
    for attempt in range(4):
        with pytest.raises(SignInRefused, match="用户名或密码错误"):
            accounts.sign_in("admin", f"wrong-{attempt}")
    with pytest.raises(SignInRefused, match="连续错误 5 次，账号已锁定 15 分钟"):
        accounts.sign_in("admin", "wrong-5")
    with pytest.raises(SignInRefused, match="账号已锁定"):
        accounts.sign_in("admin", PASSWORD)                 # the right one fails while locked
    clock.advance(minutes=14)
    with pytest.raises(SignInRefused, match="账号已锁定"):
        accounts.sign_in("admin", PASSWORD)
    clock.advance(minutes=2)
    assert accounts.session_user(accounts.sign_in("admin", PASSWORD)) == "admin"
    assert any(r["action"] == "locked" and r["user"] == "admin" for r in accounts.log())


def test_wrong_passwords_from_two_processes_all_count(tmp_path, config, clock, service, accounts):
    other = open_service(service.store.data_dir, config=config, clock=clock)  # its own store on the same files
    try:
        for i in range(4):
            with pytest.raises(SignInRefused):
                (accounts if i % 2 else other.accounts).sign_in("admin", "nope")
        with pytest.raises(SignInRefused, match="已锁定"):
            other.accounts.sign_in("admin", "nope")
    finally:
        other.close()


def test_an_unknown_name_gets_the_same_answer_as_a_wrong_password(accounts):
    with pytest.raises(SignInRefused) as unknown:
        accounts.sign_in("nobody", PASSWORD)
    with pytest.raises(SignInRefused) as wrong:
        accounts.sign_in("admin", "not-it-at-all")
    assert str(unknown.value) == str(wrong.value) == "用户名或密码错误"


def test_a_session_expires_after_the_idle_time_and_ends_at_sign_out(accounts, clock):
    token = accounts.sign_in("admin", PASSWORD)
    clock.advance(minutes=29)
    assert accounts.session_user(token) == "admin"         # used: its idle time starts again
    clock.advance(minutes=29)
    assert accounts.session_user(token) == "admin"
    clock.advance(minutes=31)
    with pytest.raises(SignInRefused, match="超过 30 分钟未操作"):
        accounts.session_user(token)
    with pytest.raises(SignInRefused, match="请先登录"):
        accounts.session_user(token)                        # expired stays expired
    token = accounts.sign_in("admin", PASSWORD)
    accounts.sign_out(token)
    with pytest.raises(SignInRefused, match="请先登录"):
        accounts.session_user(token)
    with pytest.raises(SignInRefused, match="请先登录"):
        accounts.session_user("forged-token")


def test_the_data_directory_keeps_no_password_and_no_session_token(service, accounts):
    token = accounts.sign_in("admin", PASSWORD)
    dump = json.dumps([service.store.all(t) for t in ("accounts", "sessions", "account_log")], ensure_ascii=False)
    assert PASSWORD not in dump and token not in dump
    assert "$argon2id$" in dump                              # only the hash


def test_a_person_changes_their_own_password(accounts):
    with pytest.raises(SignInRefused, match="原密码不正确"):
        accounts.change_password("admin", "wrong", "Another#2026")
    with pytest.raises(SignInRefused, match="至少需要 8 个字符"):
        accounts.change_password("admin", PASSWORD, "short")
    accounts.change_password("admin", PASSWORD, "Another#2026")
    with pytest.raises(SignInRefused):
        accounts.sign_in("admin", PASSWORD)
    assert accounts.sign_in("admin", "Another#2026")


def test_the_admin_adds_changes_disables_and_resets_people_each_change_recorded(service, accounts, config, clock):
    accounts.add_user("admin", "zf_li", "李明", "综合行政执法大队", ["经办人"], "Zhifa#2026")
    assert service.actor("zf_li").has_role("经办人", "综合行政执法大队")
    assert accounts.must_change_password("zf_li")            # a password set by the admin is changed at once
    accounts.set_user("admin", "gh_sun", unit="建设管理科", roles=["经办人", "科室负责人"])
    other = open_service(service.store.data_dir, config=config, clock=clock)   # another process sees it
    try:
        assert other.actor("gh_sun").has_role("科室负责人", "建设管理科")
        assert "zf_li" in other.org.people("经办人", "综合行政执法大队")
    finally:
        other.close()
    accounts.set_disabled("admin", "zf_li", True)
    with pytest.raises(NotFound):
        service.actor("zf_li")                               # a disabled person holds no task, acts on nothing
    with pytest.raises(SignInRefused, match="用户名或密码错误|账号已停用"):
        accounts.sign_in("zf_li", "Zhifa#2026")
    accounts.set_disabled("admin", "zf_li", False)
    accounts.reset_password("admin", "zf_li", "Reset#2026")
    assert accounts.session_user(accounts.sign_in("zf_li", "Reset#2026")) == "zf_li"
    actions = [(r["by"], r["user"], r["action"]) for r in accounts.log()]
    assert ("admin", "zf_li", "added") in actions and ("admin", "gh_sun", "changed") in actions
    assert ("admin", "zf_li", "disabled") in actions and ("admin", "zf_li", "password_reset") in actions
    assert all(r["at"] for r in accounts.log())


@pytest.mark.parametrize("change, message", [
    (lambda a: a.add_user("admin", "Bad Name", "某人", "局办公室", ["经办人"], "Zhifa#2026"), "账号：以小写字母开头"),
    (lambda a: a.add_user("admin", "awb_zhang", "张伟", "局安委办", ["经办人"], "Zhifa#2026"), "已存在"),
    (lambda a: a.add_user("admin", "new_one", "某人", "不存在的科", ["经办人"], "Zhifa#2026"), "单位："),
    (lambda a: a.add_user("admin", "new_one", "某人", "局办公室", ["船长"], "Zhifa#2026"), "角色："),
    (lambda a: a.add_user("admin", "new_one", "某人", "局办公室", ["经办人"], "123"), "密码至少需要"),
    (lambda a: a.set_disabled("admin", "admin", True), "不能停用自己的账号"),
    (lambda a: a.set_user("admin", "ghost", roles=["经办人"]), "没有账号"),
])
def test_a_wrong_change_is_refused_in_chinese_and_changes_nothing(service, accounts, change, message):
    before = (accounts.people(), service.store.all("accounts"))
    with pytest.raises(FlowError, match=message):
        change(accounts)
    assert (accounts.people(), service.store.all("accounts")) == before
