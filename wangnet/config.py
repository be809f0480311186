"""One settings object, read once from the environment (and nowhere else).

Every other module receives a ``Settings``; nothing else reads ``os.environ``.
That keeps tests able to build an app or a store against a temporary directory
without patching globals.
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    """Typed configuration of one wangnet process."""

    var_dir: Path = field(default_factory=lambda: PROJECT_ROOT / "var")
    inventory_path: Path = field(default_factory=lambda: PROJECT_ROOT / "inventory.yaml")
    database_url: str = ""
    secrets_file: Path | None = None
    web_host: str = "127.0.0.1"
    web_port: int = 8080
    secret_key: str = ""
    default_locale: str = "zh_CN"
    login_rate_limit: str = "10 per minute"
    session_cookie_secure: bool = False
    # telephony
    sip_host: str = "127.0.0.1"
    sip_port: int = 5060
    sip_realm: str = "wangnet.ordos"
    sip_digest_algorithms: str = "MD5"  # offered in order, e.g. "SHA-256,MD5" (RFC 8760); Debian 12 baresip fails on any SHA-256 challenge
    sip_admission_gate: bool = True  # thin new REGISTERs out in the kernel while a backlog drains (telephony/admission.py)
    # video on demand
    vod_dir: Path | None = None  # default: var_dir / "vod"
    vod_max_upload_mb: int = 2048
    # where devices are reached: "production"/"lab" use the inventory's addresses, "sim" the simulation's
    device_mode: str = "sim"  # safe default: nothing polls real addresses unless asked (production|lab|sim)
    # the lab (root): where it keeps everything it creates, and the port its devices send traps to
    lab_dir: Path | None = None  # default: var_dir / "lab" (not under /run: each device binds its own dir over /run)
    lab_trap_port: int = 1162
    # the simulation (no root): first UDP port of its agents on 127.0.0.1 (0 = any free ports)
    sim_port_base: int = 16100
    # notifications: SMTP relay and SMS-platform hook; roles whose members are told
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_from: str = "wangnet@localhost"
    sms_url: str = ""
    notify_roles: str = "noc"
    # collectors: seconds between poll cycles inside `serve` (0 = collectors off)
    collector_interval: float = 30.0
    napalm_interval: float = 900.0
    trap_host: str = ""  # "" = 127.0.0.1 in sim mode, else all addresses
    trap_port: int = 0  # 0 = 162 as root, else 1162
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9464  # the Prometheus exporter (0 = off)
    prometheus_url: str = ""  # e.g. http://127.0.0.1:9090: device charts read its query_range API instead of the store
    # behind nginx (deploy/nginx): how many proxies set X-Forwarded-* (0 = none, trust no such header)
    trusted_proxies: int = 0
    # behind nginx: its named location that sends published VOD files, "@wangnet_vod"; "" = wangnet sends them
    vod_accel_redirect: str = ""
    # conferencing: host addresses the WebRTC bridge offers as ICE candidates (comma-separated; "" = all interfaces)
    conference_ice_addresses: str = "127.0.0.1"
    # conferencing scale-out: base URL other bridge processes reach this one at ("" = http://web_host:web_port)
    conference_bridge_url: str = ""
    # directory login (LDAP; "" = local accounts only); see wangnet/directory.py for the formats
    ldap_url: str = ""  # ldap://host:389 or ldaps://host:636
    ldap_start_tls: bool = False  # upgrade an ldap:// connection with StartTLS before binding
    ldap_ca_file: Path | None = None  # CA bundle that signed the directory's certificate (ldaps/StartTLS)
    ldap_bind_dn_template: str = ""  # e.g. "uid={username},ou=people,dc=ordos,dc=gov,dc=cn" (no search needed)
    ldap_user_base: str = ""  # else: search here for the user ...
    ldap_user_filter: str = "(uid={username})"  # ... with this filter ({username} is escaped)
    ldap_service_bind_dn: str = ""  # bind as this to search ("" = anonymous); its password: credential below
    ldap_service_credential: str = "ldap-service"  # credentials id → WANGNET_CRED_LDAP_SERVICE_PASSWORD
    ldap_group_base: str = ""
    ldap_group_filter: str = "(|(member={user_dn})(uniqueMember={user_dn})(memberUid={username}))"
    ldap_group_roles: str = ""  # "noc-engineers: noc; cn=hosts,ou=groups,dc=…: host, staff"
    ldap_timeout: float = 5.0  # seconds to connect and for each answer
    extra_env: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def resolved_database_url(self) -> str:
        """The SQLAlchemy URL: the setting, else SQLite under ``var_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.var_dir / 'wangnet.db'}"

    @property
    def resolved_vod_dir(self) -> Path:
        return self.vod_dir or self.var_dir / "vod"

    @property
    def resolved_lab_dir(self) -> Path:
        return self.lab_dir or self.var_dir / "lab"

    def with_overrides(self, **changes: object) -> "Settings":
        """A copy with the given fields changed; ``None`` means "keep", as click passes for unset options."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})  # type: ignore[arg-type]


def load_settings(environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Build settings from ``WANGNET_*`` environment variables, then explicit overrides."""
    env = dict(os.environ if environ is None else environ)
    values: dict[str, object] = {}
    if env.get("WANGNET_VAR_DIR"):
        values["var_dir"] = Path(env["WANGNET_VAR_DIR"]).resolve()
    if env.get("WANGNET_INVENTORY"):
        values["inventory_path"] = Path(env["WANGNET_INVENTORY"]).resolve()
    if env.get("WANGNET_DATABASE_URL"):
        values["database_url"] = env["WANGNET_DATABASE_URL"]
    if env.get("WANGNET_SECRETS_FILE"):
        values["secrets_file"] = Path(env["WANGNET_SECRETS_FILE"]).expanduser()
    if env.get("WANGNET_SECRET_KEY"):
        values["secret_key"] = env["WANGNET_SECRET_KEY"]
    if env.get("WANGNET_LOCALE"):
        values["default_locale"] = env["WANGNET_LOCALE"]
    if env.get("WANGNET_LOGIN_RATE_LIMIT"):
        values["login_rate_limit"] = env["WANGNET_LOGIN_RATE_LIMIT"]
    if env.get("WANGNET_SIP_HOST"):
        values["sip_host"] = env["WANGNET_SIP_HOST"]
    if env.get("WANGNET_SIP_PORT"):
        values["sip_port"] = int(env["WANGNET_SIP_PORT"])
    if env.get("WANGNET_SIP_REALM"):
        values["sip_realm"] = env["WANGNET_SIP_REALM"]
    if env.get("WANGNET_SIP_DIGEST_ALGORITHMS"):
        values["sip_digest_algorithms"] = env["WANGNET_SIP_DIGEST_ALGORITHMS"]
    if env.get("WANGNET_SIP_ADMISSION_GATE"):
        values["sip_admission_gate"] = env["WANGNET_SIP_ADMISSION_GATE"].lower() in ("1", "true", "yes")
    if env.get("WANGNET_VOD_DIR"):
        values["vod_dir"] = Path(env["WANGNET_VOD_DIR"]).resolve()
    if env.get("WANGNET_VOD_MAX_UPLOAD_MB"):
        values["vod_max_upload_mb"] = int(env["WANGNET_VOD_MAX_UPLOAD_MB"])
    for key, name, cast in (
        ("WANGNET_SMTP_HOST", "smtp_host", str),
        ("WANGNET_SMTP_PORT", "smtp_port", int),
        ("WANGNET_SMTP_FROM", "smtp_from", str),
        ("WANGNET_SMS_URL", "sms_url", str),
        ("WANGNET_NOTIFY_ROLES", "notify_roles", str),
        ("WANGNET_CONFERENCE_ICE_ADDRESSES", "conference_ice_addresses", str),
        ("WANGNET_CONFERENCE_BRIDGE_URL", "conference_bridge_url", str),
    ):
        if env.get(key):
            values[name] = cast(env[key])
    for key, name, cast in (
        ("WANGNET_NAPALM_INTERVAL", "napalm_interval", float),
        ("WANGNET_TRAP_HOST", "trap_host", str),
        ("WANGNET_TRAP_PORT", "trap_port", int),
        ("WANGNET_METRICS_HOST", "metrics_host", str),
        ("WANGNET_METRICS_PORT", "metrics_port", int),
        ("WANGNET_PROMETHEUS_URL", "prometheus_url", str),
    ):
        if env.get(key) is not None and env.get(key) != "":
            values[name] = cast(env[key])
    if env.get("WANGNET_COLLECTOR_INTERVAL"):
        values["collector_interval"] = float(env["WANGNET_COLLECTOR_INTERVAL"])
    if env.get("WANGNET_DEVICE_MODE"):
        values["device_mode"] = env["WANGNET_DEVICE_MODE"]
    if env.get("WANGNET_LAB_DIR"):
        values["lab_dir"] = Path(env["WANGNET_LAB_DIR"]).resolve()
    if env.get("WANGNET_LAB_TRAP_PORT"):
        values["lab_trap_port"] = int(env["WANGNET_LAB_TRAP_PORT"])
    if env.get("WANGNET_SIM_PORT_BASE"):
        values["sim_port_base"] = int(env["WANGNET_SIM_PORT_BASE"])
    if env.get("WANGNET_COOKIE_SECURE"):
        values["session_cookie_secure"] = env["WANGNET_COOKIE_SECURE"].lower() in ("1", "true", "yes")
    if env.get("WANGNET_TRUSTED_PROXIES"):
        values["trusted_proxies"] = int(env["WANGNET_TRUSTED_PROXIES"])
    if env.get("WANGNET_VOD_ACCEL_REDIRECT"):
        values["vod_accel_redirect"] = env["WANGNET_VOD_ACCEL_REDIRECT"]
    for key, name, cast in (
        ("WANGNET_LDAP_URL", "ldap_url", str),
        ("WANGNET_LDAP_CA_FILE", "ldap_ca_file", Path),
        ("WANGNET_LDAP_BIND_DN_TEMPLATE", "ldap_bind_dn_template", str),
        ("WANGNET_LDAP_USER_BASE", "ldap_user_base", str),
        ("WANGNET_LDAP_USER_FILTER", "ldap_user_filter", str),
        ("WANGNET_LDAP_SERVICE_BIND_DN", "ldap_service_bind_dn", str),
        ("WANGNET_LDAP_SERVICE_CREDENTIAL", "ldap_service_credential", str),
        ("WANGNET_LDAP_GROUP_BASE", "ldap_group_base", str),
        ("WANGNET_LDAP_GROUP_FILTER", "ldap_group_filter", str),
        ("WANGNET_LDAP_GROUP_ROLES", "ldap_group_roles", str),
        ("WANGNET_LDAP_TIMEOUT", "ldap_timeout", float),
    ):
        if env.get(key):
            values[name] = cast(env[key])
    if env.get("WANGNET_LDAP_START_TLS"):
        values["ldap_start_tls"] = env["WANGNET_LDAP_START_TLS"].lower() in ("1", "true", "yes")
    values["extra_env"] = {k: v for k, v in env.items() if k.startswith("WANGNET_")}
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**values)  # type: ignore[arg-type]


def ensure_secret_key(settings: Settings) -> str:
    """Return the Flask secret key, creating a private one under ``var_dir`` on first use.

    A fixed key in the repo would let anyone forge sessions; a fresh key per
    start would log everyone out on restart.
    """
    if settings.secret_key:
        return settings.secret_key
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    path = settings.var_dir / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return path.read_text().strip()
