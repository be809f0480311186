from pathlib import Path

from wangnet.config import ensure_secret_key, load_settings


def test_defaults_use_sqlite_under_var(tmp_path):
    s = load_settings(environ={"WANGNET_VAR_DIR": str(tmp_path)})
    assert s.resolved_database_url == f"sqlite:///{tmp_path / 'wangnet.db'}"
    assert (s.web_host, s.web_port, s.default_locale) == ("127.0.0.1", 8080, "zh_CN")


def test_environment_overrides(tmp_path):
    s = load_settings(
        environ={
            "WANGNET_DATABASE_URL": "postgresql+psycopg://u@db/wangnet",
            "WANGNET_INVENTORY": str(tmp_path / "inv.yaml"),
            "WANGNET_SECRETS_FILE": "~/secrets.yaml",
        }
    )
    assert s.resolved_database_url == "postgresql+psycopg://u@db/wangnet"
    assert s.inventory_path == tmp_path / "inv.yaml"
    assert s.secrets_file == Path("~/secrets.yaml").expanduser()


def test_secret_key_is_created_once_and_private(tmp_path):
    s = load_settings(environ={}, var_dir=tmp_path)
    first = ensure_secret_key(s)
    assert len(first) == 64 and ensure_secret_key(s) == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
