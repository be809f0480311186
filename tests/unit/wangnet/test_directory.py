"""The pure part of directory login: mapping, escaping, settings validation, the decision."""
from __future__ import annotations

import pytest

from wangnet.config import load_settings
from wangnet.directory import (
    DirectoryConfig,
    DirectoryConfigError,
    DirectoryGroup,
    DirectoryUser,
    bind_dn,
    decide,
    group_filter,
    normalise_dn,
    parse_group_roles,
    roles_for_groups,
    user_filter,
)

ROLES = ("admin", "noc", "host", "staff", "phone-admin")
G = "ou=groups,dc=ordos,dc=gov,dc=cn"


def test_mapping_by_cn_and_by_dn_with_several_roles():
    rules = parse_group_roles(f"noc-engineers: noc\nmeeting-hosts: host, staff; cn=Admins, {G}: admin noc", ROLES)
    assert [(r.group, r.is_dn, r.roles) for r in rules] == [
        ("noc-engineers", False, ("noc",)),
        ("meeting-hosts", False, ("host", "staff")),
        (f"cn=admins,{G}", True, ("admin", "noc")),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("noc-engineers: nocc", "entry 1 'noc-engineers: nocc': unknown role 'nocc' (known: admin, noc,"),
        ("a: noc; just-a-group", "entry 2 'just-a-group': expected 'GROUP: role[, role…]'"),
        ("a: noc;; b:", "entry 2 'b:': names no role"),
        (": noc", "entry 1 ': noc': expected 'GROUP: role[, role…]'"),
        ("cn=x,,dc=cn: noc", "entry 1 'cn=x,,dc=cn: noc': 'cn=x,,dc=cn' is not a valid DN"),
        ("NOC: noc; noc: admin", "entry 2 'noc: admin': group 'noc' is already mapped by entry 1"),
    ],
)
def test_bad_mapping_entry_is_named(text, message):
    with pytest.raises(DirectoryConfigError) as info:
        parse_group_roles(text, ROLES)
    assert str(info.value).startswith("WANGNET_LDAP_GROUP_ROLES " + message)


def test_typed_name_cannot_widen_a_filter_or_change_a_dn():
    assert user_filter("(uid={username})", "*)(uid=*") == r"(uid=\2a\29\28uid=\2a)"
    assert bind_dn("uid={username},ou=people,dc=ordos,dc=gov,dc=cn", "a,ou=admins+x=y") == (
        r"uid=a\,ou\=admins\+x\=y,ou=people,dc=ordos,dc=gov,dc=cn"
    )
    assert group_filter("(|(member={user_dn})(memberUid={username}))", "uid=a*,dc=cn", "a*") == (
        r"(|(member=uid=a\2a,dc=cn)(memberUid=a\2a))"
    )


def test_dn_spellings_compare_equal():
    assert normalise_dn(f"CN=NOC-Engineers , OU=Groups,dc=ordos,dc=gov,dc=cn") == normalise_dn(
        "cn=noc-engineers,ou=groups,dc=ordos,dc=gov,dc=cn"
    )


def test_roles_are_the_union_of_matching_rules():
    rules = parse_group_roles(f"noc-engineers: noc; cn=meeting-hosts,{G}: host", ROLES)
    groups = [DirectoryGroup(f"cn=noc-engineers,{G}", "noc-engineers"), DirectoryGroup(f"CN=Meeting-Hosts,{G}", "x")]
    assert roles_for_groups(groups, rules) == ("host", "noc")
    assert roles_for_groups([DirectoryGroup(f"cn=canteen,{G}", "canteen")], rules) == ()


def _user(name: str, *groups: str) -> DirectoryUser:
    return DirectoryUser(f"uid={name},dc=cn", name, name, None, tuple(DirectoryGroup(f"cn={g},{G}", g) for g in groups))


def test_decision():
    rules = parse_group_roles("noc-engineers: noc", ROLES)
    ok = decide(_user("zhang.wei", "noc-engineers", "canteen"), rules)
    assert ok.allowed and ok.roles == ("noc",)
    assert ok.detail == "directory groups: canteen, noc-engineers → roles: noc"
    refused = decide(_user("wang.fang", "canteen"), rules)
    assert not refused.allowed and refused.reason == "no-role" and "canteen" in refused.detail
    assert decide(_user("张三", "noc-engineers"), rules).reason == "bad-name"


def _settings(**values: str):
    env = {
        "WANGNET_LDAP_URL": "ldap://127.0.0.1:3389",
        "WANGNET_LDAP_USER_BASE": "ou=people,dc=ordos,dc=gov,dc=cn",
        "WANGNET_LDAP_GROUP_BASE": G,
        "WANGNET_LDAP_GROUP_ROLES": "noc-engineers: noc",
    }
    env.update(values)
    return load_settings(environ={k: v for k, v in env.items() if v})


def test_settings_from_the_environment():
    config = DirectoryConfig.from_settings(_settings(WANGNET_LDAP_START_TLS="yes", WANGNET_LDAP_TIMEOUT="2.5"), ROLES)
    assert config is not None and config.start_tls and config.uses_tls and config.timeout == 2.5
    assert config.user_filter == "(uid={username})" and config.service_credential == "ldap-service"
    assert DirectoryConfig.from_settings(load_settings(environ={}), ROLES) is None  # off unless a URL is set


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"WANGNET_LDAP_URL": "http://dir"}, "WANGNET_LDAP_URL 'http://dir': expected ldap://"),
        ({"WANGNET_LDAP_URL": "ldaps://dir", "WANGNET_LDAP_START_TLS": "1"}, "WANGNET_LDAP_START_TLS: StartTLS is"),
        ({"WANGNET_LDAP_USER_BASE": ""}, "directory login needs WANGNET_LDAP_BIND_DN_TEMPLATE or WANGNET_LDAP_USER"),
        ({"WANGNET_LDAP_BIND_DN_TEMPLATE": "uid=x,dc=cn"}, "WANGNET_LDAP_BIND_DN_TEMPLATE 'uid=x,dc=cn': has no {user"),
        ({"WANGNET_LDAP_USER_FILTER": "uid={username}"}, "WANGNET_LDAP_USER_FILTER 'uid={username}': an LDAP filter"),
        ({"WANGNET_LDAP_USER_FILTER": "(uid={user})"}, "WANGNET_LDAP_USER_FILTER '(uid={user})': needs {username}"),
        ({"WANGNET_LDAP_GROUP_FILTER": "(member={dn})(x={username})"}, "WANGNET_LDAP_GROUP_FILTER '(member={dn})"),
        ({"WANGNET_LDAP_GROUP_BASE": ""}, "WANGNET_LDAP_GROUP_BASE is empty"),
        ({"WANGNET_LDAP_GROUP_BASE": "groups"}, "WANGNET_LDAP_GROUP_BASE 'groups': not a valid DN"),
        ({"WANGNET_LDAP_GROUP_ROLES": ""}, "WANGNET_LDAP_GROUP_ROLES is empty"),
        ({"WANGNET_LDAP_TIMEOUT": "-1"}, "WANGNET_LDAP_TIMEOUT -1.0: must be more than 0"),
    ],
)
def test_bad_settings_are_named(changes, message):
    with pytest.raises(DirectoryConfigError) as info:
        DirectoryConfig.from_settings(_settings(**changes), ROLES)
    assert str(info.value).startswith(message)
