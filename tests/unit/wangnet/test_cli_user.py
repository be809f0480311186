from click.testing import CliRunner
from sqlalchemy import select

from wangnet import accounts
from wangnet.cli import main
from wangnet.store import Store


def run(settings, *args, input=None):
    env = {"WANGNET_VAR_DIR": str(settings.var_dir)}
    return CliRunner().invoke(main, list(args), input=input, env=env, catch_exceptions=False)


def test_user_add_prompts_for_password_and_audits(settings):
    result = run(settings, "user", "add", "zhangwei", "--role", "noc", "--role", "host", input="long password 1\nlong password 1\n")
    assert result.exit_code == 0, result.output
    assert "zhangwei created with role(s) host, noc" in result.output
    store = Store.from_settings(settings)
    with store.session() as s:
        assert accounts.authenticate(s, "zhangwei", "long password 1").roles == {"noc", "host"}
        entry = s.scalar(select(accounts.AuditEntry).where(accounts.AuditEntry.action == "user.create"))
        assert entry.target == "zhangwei" and "long password" not in entry.detail


def test_user_add_from_password_file_and_duplicate_refused(settings, tmp_path):
    pw = tmp_path / "pw"
    pw.write_text("file password 12\n")
    assert run(settings, "user", "add", "li", "--role", "staff", "--password-file", str(pw)).exit_code == 0
    again = run(settings, "user", "add", "li", "--role", "staff", "--password-file", str(pw))
    assert again.exit_code == 1 and "user 'li' already exists" in again.output


def test_unknown_role_is_a_usage_error(settings):
    result = run(settings, "user", "add", "x1", "--role", "root", input="long password 1\nlong password 1\n")
    assert result.exit_code == 2 and "'root' is not one of" in result.output


def test_demo_admin_is_created_once_with_a_private_random_password(settings):
    first = run(settings, "user", "demo-admin")
    second = run(settings, "user", "demo-admin")
    assert first.exit_code == 0 and first.output == second.output
    password = (settings.var_dir / "demo-admin-password").read_text().strip()
    assert f"admin / {password}" in first.output and len(password) >= 12
    assert (settings.var_dir / "demo-admin-password").stat().st_mode & 0o077 == 0
    with Store.from_settings(settings).session() as s:
        assert accounts.authenticate(s, "admin", password).roles == set(accounts.ROLES)


def test_passwd_and_list(settings, tmp_path):
    pw = tmp_path / "pw"
    pw.write_text("first password 1\n")
    run(settings, "user", "add", "wang", "--role", "phone-admin", "--password-file", str(pw))
    pw.write_text("second password 2\n")
    assert run(settings, "user", "passwd", "wang", "--password-file", str(pw)).exit_code == 0
    assert "no user 'ghost'" in run(settings, "user", "passwd", "ghost", "--password-file", str(pw)).output
    listing = run(settings, "user", "list").output
    assert "wang" in listing and "phone-admin" in listing


def test_site_account_is_bound_to_an_inventory_site(settings, tmp_path):
    pw = tmp_path / "pw"
    pw.write_text("site password 12\n")
    ok = run(settings, "user", "add", "dalad-room", "--role", "site", "--site", "dalad", "--password-file", str(pw))
    assert ok.exit_code == 0, ok.output
    with Store.from_settings(settings).session() as s:
        assert accounts.find_user(s, "dalad-room").site_id == "dalad"
    unknown = run(settings, "user", "add", "x2", "--role", "site", "--site", "atlantis", "--password-file", str(pw))
    assert unknown.exit_code == 2 and '--site: unknown site "atlantis"' in unknown.output
    missing = run(settings, "user", "add", "x3", "--role", "site", "--password-file", str(pw))
    assert missing.exit_code == 2 and "role 'site' needs --site ID" in missing.output
    stray = run(settings, "user", "add", "x4", "--role", "host", "--site", "dalad", "--password-file", str(pw))
    assert stray.exit_code == 2 and "--site is only for accounts with role 'site'" in stray.output
