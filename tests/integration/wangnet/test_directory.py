"""Directory login against a real OpenLDAP slapd (tests/ldap_fixtures.py), through the real login form."""
from __future__ import annotations

import logging
import signal

import pytest
from ldap3.utils import log as ldap3_log
from sqlalchemy import select

from tests.conftest import TEST_PASSWORD, login
from tests.ldap_fixtures import GROUPS, PEOPLE, PEOPLE_IN_TEST, SERVICE_DN, Slapd
from tests.ldap_fixtures import own_slapd, slapd, tls_slapd  # noqa: F401  (fixtures)
from wangnet import accounts
from wangnet.config import Settings

PW = {p.uid: p.password for p in PEOPLE_IN_TEST}
ROLE_MAP = f"noc-engineers: noc; meeting-hosts: host, staff; cn=wangnet-admins,{GROUPS}: admin"


def directory_settings(settings: Settings, server: Slapd, **changes: object) -> Settings:
    """Settings for a directory searched through the service account, whose password is a credential."""
    values: dict[str, object] = dict(
        ldap_url=server.url,
        ldap_user_base=PEOPLE,
        ldap_service_bind_dn=SERVICE_DN,
        ldap_group_base=GROUPS,
        ldap_group_roles=ROLE_MAP,
        ldap_timeout=5.0,
        extra_env={"WANGNET_CRED_LDAP_SERVICE_PASSWORD": server.service_password},
    )
    values.update(changes)
    return settings.with_overrides(**values)


def make_app(settings: Settings, store):  # type: ignore[no-untyped-def]
    from web.app import create_app

    application = create_app(settings, store=store)
    application.config.update(TESTING=True)
    return application


@pytest.fixture
def dir_app(settings, store, slapd):  # type: ignore[no-untyped-def]
    return make_app(directory_settings(settings, slapd), store)


def user_row(store, name: str) -> accounts.User | None:
    with store.session() as s:
        return accounts.find_user(s, name)


def audit_rows(store, action: str) -> list[accounts.AuditEntry]:
    with store.session() as s:
        return list(s.scalars(select(accounts.AuditEntry).where(accounts.AuditEntry.action == action)))


def test_directory_user_logs_in_with_mapped_roles_and_reaches_noc_page(dir_app, store):
    client = dir_app.test_client()
    response = login(client, "zhang.wei", PW["zhang.wei"])
    assert response.status_code == 302, response.get_data(as_text=True)
    row = user_row(store, "zhang.wei")
    assert row is not None and row.source == accounts.SOURCE_DIRECTORY
    assert row.roles == {"noc"}  # canteen-committee maps to nothing
    assert row.password_hash == ""  # no local password: only the directory can let this user in
    assert row.display_name == "张伟" and row.email == "zhang.wei@ordos.gov.cn"
    assert client.get("/network/drift").status_code == 200  # a NOC-only page
    assert client.get("/admin/users").status_code == 403
    entry = audit_rows(store, "login")[-1]
    assert entry.actor == "zhang.wei" and "noc-engineers" in entry.detail and "roles: noc" in entry.detail


def test_posix_group_and_dn_rule_map_roles(dir_app, store):
    assert login(dir_app.test_client(), "Li.Na", PW["li.na"]).status_code == 302  # uid matches in any case
    assert user_row(store, "Li.Na") is None  # the row takes the directory's spelling ...
    assert user_row(store, "li.na").roles == {"host", "staff"}  # ... which memberUid (case-exact) is matched with
    assert login(dir_app.test_client(), "zhao.lei", PW["zhao.lei"]).status_code == 302
    assert user_row(store, "zhao.lei").roles == {"admin"}  # rule keyed by the group's DN


def test_wrong_password_and_unknown_user_are_refused_and_audited(dir_app, store):
    client = dir_app.test_client()
    response = login(client, "zhang.wei", "not-the-password")
    assert response.status_code == 401
    assert "用户名或密码错误" in response.get_data(as_text=True)
    assert user_row(store, "zhang.wei") is None
    assert login(client, "nobody.here", "whatever-password").status_code == 401
    assert login(client, "*", "whatever-password").status_code == 401  # a filter wildcard matches no one
    failed = audit_rows(store, "login.failed")
    assert [e.actor for e in failed] == ["zhang.wei", "nobody.here", "*"]
    assert failed[0].detail.startswith("wrong: directory bind refused")
    assert client.get("/network/drift").status_code == 302  # still anonymous


def test_user_in_no_mapped_group_is_refused_with_a_clear_message(dir_app, store):
    response = login(dir_app.test_client(), "wang.fang", PW["wang.fang"])
    assert response.status_code == 401
    assert "不在任何可获得 wangnet 角色的组中" in response.get_data(as_text=True)
    assert user_row(store, "wang.fang") is None
    entry = audit_rows(store, "login.failed")[-1]
    assert entry.actor == "wang.fang" and entry.detail.startswith("no-role:") and "canteen-committee" in entry.detail


def test_group_membership_change_applies_at_next_login(dir_app, store, slapd):
    assert login(dir_app.test_client(), "li.na", PW["li.na"]).status_code == 302
    assert user_row(store, "li.na").roles == {"host", "staff"}
    slapd.modify(
        f"dn: cn=noc-engineers,{GROUPS}\nchangetype: modify\nadd: member\nmember: uid=li.na,{PEOPLE}\n\n"
        f"dn: cn=meeting-hosts,{GROUPS}\nchangetype: modify\ndelete: memberUid\nmemberUid: li.na\n"
    )
    try:
        assert login(dir_app.test_client(), "li.na", PW["li.na"]).status_code == 302
        assert user_row(store, "li.na").roles == {"noc"}
        slapd.modify(f"dn: cn=noc-engineers,{GROUPS}\nchangetype: modify\ndelete: member\nmember: uid=li.na,{PEOPLE}\n")
        client = dir_app.test_client()
        assert login(client, "li.na", PW["li.na"]).status_code == 401
        assert user_row(store, "li.na").roles == frozenset()  # the old roles are gone with the groups
    finally:
        slapd.modify(
            f"dn: cn=meeting-hosts,{GROUPS}\nchangetype: modify\nadd: memberUid\nmemberUid: li.na\n"
        )


def test_local_account_is_checked_locally_even_when_the_directory_has_the_name(dir_app, store, make_user):
    make_user("staff", username="zhang.wei")  # a local account of the same name
    assert login(dir_app.test_client(), "zhang.wei", PW["zhang.wei"]).status_code == 401
    client = dir_app.test_client()
    assert login(client, "zhang.wei", TEST_PASSWORD).status_code == 302
    assert user_row(store, "zhang.wei").roles == {"staff"} and user_row(store, "zhang.wei").source == "local"


def test_bind_dn_template_without_service_account(settings, store, slapd):
    app = make_app(
        directory_settings(
            settings, slapd, ldap_user_base="", ldap_service_bind_dn="",
            ldap_bind_dn_template=f"uid={{username}},{PEOPLE}", extra_env={},
        ),
        store,
    )
    assert login(app.test_client(), "zhang.wei", PW["zhang.wei"]).status_code == 302
    assert user_row(store, "zhang.wei").roles == {"noc"}
    assert login(app.test_client(), "zhang.wei", "wrong-password-here").status_code == 401
    assert login(app.test_client(), "no,body", "wrong-password-here").status_code == 401  # escaped into the DN


def test_directory_down_gives_a_clear_error_and_local_admin_still_logs_in(settings, store, make_user, own_slapd):
    admin = make_user("admin", username="local-admin")
    app = make_app(directory_settings(settings, own_slapd, ldap_timeout=3.0), store)
    assert login(app.test_client(), "zhang.wei", PW["zhang.wei"]).status_code == 302
    own_slapd.stop()
    response = login(app.test_client(), "zhang.wei", PW["zhang.wei"])
    assert response.status_code == 503
    assert "无法连接目录服务器" in response.get_data(as_text=True)
    entry = audit_rows(store, "login.failed")[-1]
    assert entry.actor == "zhang.wei" and entry.detail.startswith("directory-down:")
    client = app.test_client()
    assert login(client, admin).status_code == 302
    assert client.get("/admin/users").status_code == 200


def test_wrong_service_password_is_reported_as_directory_trouble(settings, store, slapd):
    app = make_app(
        directory_settings(settings, slapd, extra_env={"WANGNET_CRED_LDAP_SERVICE_PASSWORD": "not-it-at-all"}), store
    )
    assert login(app.test_client(), "zhang.wei", PW["zhang.wei"]).status_code == 503
    assert "refused the service bind" in audit_rows(store, "login.failed")[-1].detail


def test_no_password_in_logs_pages_or_audit(settings, store, slapd, own_slapd, caplog):
    caplog.set_level(logging.DEBUG)
    # ldap3's own protocol log at its most detailed, as an operator chasing a problem would turn it on
    before = ldap3_log.get_library_log_activation_lavel(), ldap3_log.get_library_log_detail_level()  # sic: "lavel"
    ldap3_log.set_library_log_activation_level(logging.DEBUG)
    ldap3_log.set_library_log_detail_level(ldap3_log.EXTENDED)
    secrets = [PW["zhang.wei"], PW["wang.fang"], "Wrong-but-secret-77", slapd.service_password]
    try:
        app = make_app(directory_settings(settings, slapd), store)
        pages = [
            login(app.test_client(), "zhang.wei", PW["zhang.wei"]),
            login(app.test_client(), "zhang.wei", "Wrong-but-secret-77"),
            login(app.test_client(), "wang.fang", PW["wang.fang"]),
        ]
        down_app = make_app(directory_settings(settings, own_slapd), store)
        own_slapd.stop()
        pages.append(login(down_app.test_client(), "zhang.wei", PW["zhang.wei"]))
    finally:
        ldap3_log.set_library_log_activation_level(before[0])
        ldap3_log.set_library_log_detail_level(before[1])
    assert [p.status_code for p in pages] == [302, 401, 401, 503]
    assert any(r.name.startswith("ldap3") for r in caplog.records), "ldap3 logged nothing: the check would be empty"
    with store.session() as s:
        audit_text = " ".join(f"{e.actor} {e.detail}" for e in accounts.recent_audit(s))
    for secret in secrets:
        assert secret not in caplog.text
        assert all(secret not in p.get_data(as_text=True) for p in pages)
        assert secret not in audit_text


def test_start_tls_and_ldaps_check_the_directory_certificate(settings, store, tls_slapd):
    def attempt(**changes: object) -> int:
        app = make_app(directory_settings(settings, tls_slapd, **changes), store)
        return login(app.test_client(), "zhang.wei", PW["zhang.wei"]).status_code

    assert attempt(ldap_start_tls=True, ldap_ca_file=tls_slapd.ca_file) == 302
    assert attempt(ldap_url=tls_slapd.ldaps_url, ldap_ca_file=tls_slapd.ca_file) == 302
    # the system's CAs never signed the test CA: the connection is refused, not trusted blindly
    assert attempt(ldap_url=tls_slapd.ldaps_url) == 503
    assert "certificate" in audit_rows(store, "login.failed")[-1].detail.lower()
    assert attempt(ldap_start_tls=True) == 503
    assert [e.detail.split(":")[0] for e in audit_rows(store, "login.failed")] == ["directory-down"] * 2


def test_directory_logins_share_the_login_rate_limit(settings, store, slapd):
    app = make_app(directory_settings(settings, slapd, login_rate_limit="3 per minute"), store)
    client = app.test_client()
    codes = [login(client, "zhang.wei", "wrong password").status_code for _ in range(3)]
    codes.append(login(client, "zhang.wei", PW["zhang.wei"]).status_code)  # right, but too late
    assert codes == [401, 401, 401, 429]


def test_a_hung_directory_costs_its_timeout_and_local_admin_still_logs_in(settings, store, make_user, own_slapd):
    """slapd frozen with SIGSTOP: the kernel still accepts connections, nothing answers."""
    admin = make_user("admin", username="local-admin")
    app = make_app(directory_settings(settings, own_slapd, ldap_timeout=1.0), store)
    own_slapd.process.send_signal(signal.SIGSTOP)
    try:
        response = login(app.test_client(), "zhang.wei", PW["zhang.wei"])
        client = app.test_client()
        admin_login = login(client, admin)
    finally:
        own_slapd.process.send_signal(signal.SIGCONT)
    assert response.status_code == 503
    assert "无法连接目录服务器" in response.get_data(as_text=True)
    assert admin_login.status_code == 302
    assert audit_rows(store, "login.failed")[-1].detail.startswith("directory-down:")


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"ldap_group_roles": "noc-engineers: noc; meeting-hosts: hots"},
         "WANGNET_LDAP_GROUP_ROLES entry 2 'meeting-hosts: hots': unknown role 'hots'"),
        ({"extra_env": {}}, "credential 'ldap-service' has no 'password'"),
    ],
)
def test_bad_directory_settings_are_reported_and_local_login_still_works(
    settings, store, make_user, slapd, caplog, changes, problem
):
    admin = make_user("admin", username="local-admin")
    app = make_app(directory_settings(settings, slapd, **changes), store)  # the service starts regardless
    assert problem in caplog.text  # said once, at start
    response = login(app.test_client(), "zhang.wei", PW["zhang.wei"])
    assert response.status_code == 503 and "目录登录暂时不可用" in response.get_data(as_text=True)
    assert problem in audit_rows(store, "login.failed")[-1].detail
    assert login(app.test_client(), admin).status_code == 302
