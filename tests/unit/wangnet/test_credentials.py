import pytest

from wangnet.config import PROJECT_ROOT
from wangnet.credentials import CredentialError, CredentialResolver, env_name, load_secrets_file


def test_env_name_scheme():
    assert env_name("snmp-v3-noc", "auth_key") == "WANGNET_CRED_SNMP_V3_NOC_AUTH_KEY"


def test_environment_wins_over_file(tmp_path):
    f = tmp_path / "secrets.yaml"
    f.write_text("ssh-noc: {username: fromfile, password: filepw}\n")
    f.chmod(0o600)
    r = CredentialResolver({"WANGNET_CRED_SSH_NOC_USERNAME": "fromenv"}, f)
    creds = r.resolve("ssh-noc", "ssh")
    assert creds["username"].reveal() == "fromenv"
    assert creds["password"].reveal() == "filepw"


def test_secret_never_shows_in_repr(tmp_path):
    r = CredentialResolver({"WANGNET_CRED_SNMP_V2C_RO_COMMUNITY": "s3cret-community"})
    creds = r.resolve("snmp-v2c-ro", "snmp-v2c")
    assert "s3cret" not in repr(creds) and "s3cret" not in f"{creds['community']}"


def test_missing_field_names_where_it_looked(tmp_path):
    r = CredentialResolver({}, None)
    with pytest.raises(CredentialError, match=r"credential 'ssh-noc' has no 'username': looked in \$WANGNET_CRED_SSH_NOC_USERNAME"):
        r.resolve("ssh-noc", "ssh")


def test_secrets_file_must_be_private(tmp_path):
    f = tmp_path / "secrets.yaml"
    f.write_text("a: {b: c}\n")
    f.chmod(0o644)
    with pytest.raises(CredentialError, match="readable by group or others"):
        load_secrets_file(f)


def test_secrets_file_inside_repo_refused():
    with pytest.raises(CredentialError, match="outside the repository"):
        load_secrets_file(PROJECT_ROOT / "inventory.yaml")


def test_sample_inventory_holds_no_secret_values():
    text = (PROJECT_ROOT / "inventory.yaml").read_text(encoding="utf-8")
    for word in ("community:", "password:", "auth_key:", "priv_key:"):
        assert word not in text
