import pytest
from sqlalchemy import select

from wangnet import accounts


def test_create_and_authenticate(store):
    with store.session() as s:
        accounts.create_user(s, "zhangwei", "a long password", ["noc", "host"], "张伟")
    with store.session() as s:
        user = accounts.authenticate(s, "zhangwei", "a long password")
        assert user is not None
        assert user.roles == {"noc", "host"}
        assert user.password_hash.startswith("$argon2")
        assert "a long password" not in user.password_hash
        assert accounts.authenticate(s, "zhangwei", "wrong password!") is None
        assert accounts.authenticate(s, "nobody", "a long password") is None


@pytest.mark.parametrize(
    ("name", "password", "roles", "message"),
    [
        ("ok-name", "a long password", ["root"], "unknown role 'root'"),
        ("ok-name", "a long password", [], "at least one role"),
        ("ok-name", "short", ["noc"], "at least 10 characters"),
        ("bad name", "a long password", ["noc"], "invalid user name 'bad name'"),
    ],
)
def test_create_refuses_bad_input(store, name, password, roles, message):
    with store.session() as s, pytest.raises(accounts.AccountError, match=message):
        accounts.create_user(s, name, password, roles)


def test_duplicate_user_refused(store):
    with store.session() as s:
        accounts.create_user(s, "li", "a long password", ["staff"])
    with store.session() as s, pytest.raises(accounts.AccountError, match="already exists"):
        accounts.create_user(s, "li", "another password", ["staff"])


def test_disabled_user_cannot_log_in(store):
    with store.session() as s:
        accounts.create_user(s, "wang", "a long password", ["staff"]).active = False
    with store.session() as s:
        assert accounts.authenticate(s, "wang", "a long password") is None


def test_audit_entries_are_kept_newest_first(store):
    with store.session() as s:
        accounts.audit(s, "cli", "user.create", "a")
        accounts.audit(s, "admin", "login", remote_addr="127.0.0.1")
    with store.session() as s:
        entries = accounts.recent_audit(s)
        assert [e.action for e in entries] == ["login", "user.create"]
        assert s.scalar(select(accounts.AuditEntry).where(accounts.AuditEntry.actor == "admin")).remote_addr == "127.0.0.1"
