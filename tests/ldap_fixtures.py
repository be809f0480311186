"""A private OpenLDAP ``slapd`` for tests: own config, own database, own port, stopped at the end.

Debian's ``slapd`` package also sets up a system instance (cn=config under
/etc/ldap/slapd.d, database under /var/lib/ldap); tests never touch it. Each
``Slapd`` is built in a temporary directory from a ``slapd.conf`` and an LDIF
loaded with ``slapadd``, checked with ``slaptest``, and served on a free
loopback port with ``slapd -d 0`` (foreground), so the test owns the process.
"""
from __future__ import annotations

import base64
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SUFFIX = "dc=ordos,dc=gov,dc=cn"
ROOT_DN = f"cn=admin,{SUFFIX}"
PEOPLE = f"ou=people,{SUFFIX}"
GROUPS = f"ou=groups,{SUFFIX}"
SERVICE_DN = f"cn=wangnet-svc,ou=services,{SUFFIX}"
SCHEMAS = ("core", "cosine", "inetorgperson", "nis")
SLAPD_BINARIES = ("slapd", "slapadd", "slaptest", "slappasswd", "ldapmodify", "ldapsearch", "openssl")


@dataclass(frozen=True)
class Person:
    uid: str
    password: str
    name: str


@dataclass
class Slapd:
    """One running slapd with its own config under ``workdir``."""

    workdir: Path
    root_password: str
    service_password: str
    tls: bool = False  # StartTLS on ldap:// and a second, ldaps:// listener
    port: int = 0
    tls_port: int = 0
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def ldaps_url(self) -> str:
        return f"ldaps://127.0.0.1:{self.tls_port}"

    @property
    def ca_file(self) -> Path:
        return self.workdir / "tls" / "ca.pem"

    def start(self, deadline: float = 60.0) -> None:
        """Start on a free port and wait until a search answers (a port taken meanwhile: try another)."""
        for _attempt in range(3):
            self.port = _free_port()
            listeners = f"{self.url}/"
            if self.tls:
                self.tls_port = _free_port()
                listeners += f" {self.ldaps_url}/"
            log = (self.workdir / "slapd.log").open("ab")
            self.process = subprocess.Popen(
                [_bin("slapd"), "-f", str(self.workdir / "slapd.conf"), "-h", listeners, "-d", "0"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
            log.close()
            end = time.monotonic() + deadline
            while time.monotonic() < end:
                if self.process.poll() is not None:
                    break  # exited: perhaps the port was taken; retry on another
                if self._answers():
                    return
                time.sleep(0.1)
            else:
                self.stop()
                raise RuntimeError(f"slapd on {self.url} did not answer within {deadline:.0f} s: {self.log_tail()}")
        raise RuntimeError(f"slapd would not start: {self.log_tail()}")

    def _answers(self) -> bool:
        probe = subprocess.run(
            [_bin("ldapsearch"), "-x", "-H", self.url, "-D", ROOT_DN, "-w", self.root_password,
             "-b", SUFFIX, "-s", "base", "-o", "nettimeout=2", "dn"],
            capture_output=True, timeout=30,
        )
        return probe.returncode == 0

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        self.process = None

    def modify(self, ldif: str) -> None:
        """Apply an LDIF change as the root DN with the real ``ldapmodify`` client."""
        done = subprocess.run(
            [_bin("ldapmodify"), "-x", "-H", self.url, "-D", ROOT_DN, "-w", self.root_password],
            input=ldif.encode(), capture_output=True, timeout=60,
        )
        assert done.returncode == 0, done.stderr.decode()

    def log_tail(self) -> str:
        path = self.workdir / "slapd.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else "(no log)"


PEOPLE_IN_TEST = (
    Person("zhang.wei", "Zw-noc-pass-2026", "张伟"),
    Person("li.na", "Ln-host-pass-2026", "李娜"),
    Person("wang.fang", "Wf-none-pass-2026", "王芳"),
    Person("zhao.lei", "Zl-admin-pass-2026", "赵磊"),
)


def _bin(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    assert found, f"{name} not installed"
    return found


def missing_binaries() -> list[str]:
    return [b for b in SLAPD_BINARIES if not (shutil.which(b) or shutil.which(b, path="/usr/sbin:/usr/bin"))]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _hash(password: str) -> str:
    return subprocess.run(
        [_bin("slappasswd"), "-h", "{SSHA}", "-s", password], capture_output=True, text=True, check=True
    ).stdout.strip()


def make_certificates(tls_dir: Path) -> None:
    """A private CA and a certificate for 127.0.0.1 signed by it, with the real openssl tool."""
    tls_dir.mkdir(parents=True, exist_ok=True)
    (tls_dir / "san.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]  # EC: quick to make
    for cmd in (
        ["req", "-x509", *key, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=wangnet test CA"],
        ["req", *key, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"],
        ["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
         "-out", "server.pem", "-days", "2", "-extfile", "san.cnf"],
    ):
        done = subprocess.run([_bin("openssl"), *cmd], cwd=tls_dir, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"openssl {' '.join(cmd)}: {done.stderr}"


def _config(workdir: Path, root_password: str, tls: bool) -> str:
    includes = "\n".join(f"include /etc/ldap/schema/{s}.schema" for s in SCHEMAS)
    tls_lines = (
        f"TLSCACertificateFile {workdir}/tls/ca.pem\n"
        f"TLSCertificateFile {workdir}/tls/server.pem\n"
        f"TLSCertificateKeyFile {workdir}/tls/server.key\n"
    ) if tls else ""
    return f"""{includes}
{tls_lines}modulepath /usr/lib/ldap
moduleload back_mdb
pidfile {workdir}/slapd.pid
argsfile {workdir}/slapd.args
loglevel none

database mdb
maxsize 16777216
suffix "{SUFFIX}"
rootdn "{ROOT_DN}"
rootpw {_hash(root_password)}
directory {workdir}/db
# Passwords are only for binding; anonymous users see nothing, so the service account is really needed.
access to attrs=userPassword
    by self write
    by anonymous auth
    by * none
access to *
    by dn.exact="{SERVICE_DN}" read
    by users read
    by * none
"""


def _attr(name: str, value: str) -> str:
    """An LDIF line; values that are not plain ASCII go base64-encoded ("::"), as RFC 2849 asks."""
    if value.isascii():
        return f"{name}: {value}\n"
    return f"{name}:: {base64.b64encode(value.encode()).decode()}\n"


def _data() -> str:
    parts = [
        f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\ndc: ordos\n"
        + _attr("o", "鄂尔多斯市电子政务外网"),
        f"dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people\n",
        f"dn: {GROUPS}\nobjectClass: organizationalUnit\nou: groups\n",
        f"dn: ou=services,{SUFFIX}\nobjectClass: organizationalUnit\nou: services\n",
    ]
    for p in PEOPLE_IN_TEST:
        parts.append(
            f"dn: uid={p.uid},{PEOPLE}\nobjectClass: inetOrgPerson\nuid: {p.uid}\n"
            + _attr("cn", p.name) + _attr("sn", p.name[0]) + _attr("displayName", p.name)
            + f"mail: {p.uid}@ordos.gov.cn\nuserPassword: {_hash(p.password)}\n"
        )
    parts += [
        # groupOfNames (member = DN), posixGroup (memberUid = name): both shapes sites use
        f"dn: cn=noc-engineers,{GROUPS}\nobjectClass: groupOfNames\ncn: noc-engineers\n"
        f"member: uid=zhang.wei,{PEOPLE}\n",
        f"dn: cn=meeting-hosts,{GROUPS}\nobjectClass: posixGroup\ncn: meeting-hosts\ngidNumber: 5001\n"
        "memberUid: li.na\n",
        f"dn: cn=wangnet-admins,{GROUPS}\nobjectClass: groupOfNames\ncn: wangnet-admins\n"
        f"member: uid=zhao.lei,{PEOPLE}\n",
        f"dn: cn=canteen-committee,{GROUPS}\nobjectClass: groupOfNames\ncn: canteen-committee\n"
        f"member: uid=wang.fang,{PEOPLE}\nmember: uid=zhang.wei,{PEOPLE}\n",
    ]
    return "\n".join(parts)


def build_slapd(workdir: Path, service_password: str = "Svc-bind-secret-42", tls: bool = False) -> Slapd:
    """Write the config and load the data with slapadd; checked with slaptest. Not started yet."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "db").mkdir(exist_ok=True)
    if tls:
        make_certificates(workdir / "tls")
    root_password = "root-secret-for-tests"
    conf = workdir / "slapd.conf"
    conf.write_text(_config(workdir, root_password, tls))
    service = (
        f"dn: {SERVICE_DN}\nobjectClass: applicationProcess\nobjectClass: simpleSecurityObject\n"
        f"cn: wangnet-svc\nuserPassword: {_hash(service_password)}\n"
    )
    ldif = workdir / "data.ldif"
    ldif.write_text(_data() + "\n" + service, encoding="utf-8")
    for cmd in ([_bin("slapadd"), "-f", str(conf), "-l", str(ldif)], [_bin("slaptest"), "-u", "-f", str(conf)]):
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{' '.join(cmd)}: {done.stderr}"
    return Slapd(workdir, root_password, service_password, tls=tls)


@pytest.fixture(scope="module")
def slapd(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """One private slapd per test module (tests that change its data restore what they changed)."""
    missing = missing_binaries()
    if missing:
        pytest.skip(f"OpenLDAP binaries missing: {', '.join(missing)} (apt-get install slapd ldap-utils)")
    server = build_slapd(tmp_path_factory.mktemp("slapd"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def own_slapd(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A slapd for one test that stops it itself."""
    missing = missing_binaries()
    if missing:
        pytest.skip(f"OpenLDAP binaries missing: {', '.join(missing)} (apt-get install slapd ldap-utils)")
    server = build_slapd(tmp_path / "slapd")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def tls_slapd(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A slapd with a certificate from a private CA: StartTLS on its ldap:// port, and an ldaps:// port."""
    missing = missing_binaries()
    if missing:
        pytest.skip(f"OpenLDAP binaries missing: {', '.join(missing)} (apt-get install slapd ldap-utils)")
    server = build_slapd(tmp_path / "slapd", tls=True)
    server.start()
    yield server
    server.stop()
