"""Prepare each lab device's directory (configs, host key, private /run) and the supervisor's daemon list.

Every daemon runs as ``ip netns exec NS unshare --uts -- sh -c WRAP …``: the
network namespace of its device, its own UTS namespace with the device's
hostname, and — inside the private mount namespace ``ip netns exec`` makes —
the device's directory ``run/`` bound over ``/run`` (so sshd's privilege
separation dir, lldpd's socket and BIRD's control socket are per device and
the host's ``/run`` is untouched) and, for sshd, a private ``/etc/passwd`` and
``/etc/shadow`` that add the lab's SSH user without touching the host's files.
``wangnet lab exec`` uses the same wrapper, so ``lldpctl`` and ``birdc`` work there.
"""
from __future__ import annotations

import os
import secrets as random
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path

from lab import configs
from lab.plan import LabPlan
from topology.schema import Inventory

WRAP = (
    'hostname "$1" && mount --bind "$2" /run'
    ' && if [ -n "$3" ]; then mount --bind "$3/passwd" /etc/passwd && mount --bind "$3/shadow" /etc/shadow'
    ' && mount --bind "$3/group" /etc/group; fi'
    ' && shift 3 && exec "$@"'
)
NOBODY_GID = 65534


@dataclass(frozen=True)
class RunDir:
    """Where everything the lab creates lives."""

    root: Path

    @property
    def state(self) -> Path:
        return self.root / "state.json"

    @property
    def secrets(self) -> Path:
        return self.root / "secrets.yaml"

    @property
    def ssh_dir(self) -> Path:
        return self.root / "ssh"

    @property
    def ssh_key(self) -> Path:
        return self.ssh_dir / "id_ed25519"

    @property
    def authorized_keys(self) -> Path:
        return self.ssh_dir / "authorized_keys"

    @property
    def etc(self) -> Path:
        return self.root / "etc"

    @property
    def home(self) -> Path:
        return self.root / "home"

    def device(self, device_id: str) -> Path:
        return self.root / "dev" / device_id


def wrap(netns: str, device: str, run_dir: RunDir, argv: list[str], private_users: bool = False) -> list[str]:
    """The command line that runs ``argv`` as part of a device (see the module docstring)."""
    users = str(run_dir.etc) if private_users else ""
    return ["ip", "netns", "exec", netns, "unshare", "--uts", "--", "sh", "-c", WRAP, "wn",
            device, str(run_dir.device(device) / "run"), users, *argv]


def _free_uid(passwd: str) -> int:
    used = {int(line.split(":")[2]) for line in passwd.splitlines() if line.count(":") >= 6}
    return next(uid for uid in range(60900, 65000) if uid not in used)


def _password_hash(password: str) -> str:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt
        return crypt.crypt(password, crypt.mksalt(crypt.METHOD_SHA512))
    except ImportError:  # Python >= 3.13
        return subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=password, capture_output=True,
                              text=True, check=True).stdout.strip()


def _with_member(group_file: str, group: str, user: str) -> str:
    """/etc/group text with ``user`` added to ``group`` (unchanged when the group does not exist)."""
    lines = []
    for line in group_file.splitlines():
        fields = line.split(":")
        if len(fields) == 4 and fields[0] == group:
            members = [m for m in fields[3].split(",") if m]
            fields[3] = ",".join(members + [user])
            line = ":".join(fields)
        lines.append(line)
    return "\n".join(lines) + "\n"


def prepare_users(run_dir: RunDir, username: str, password: str) -> None:
    """Private passwd/shadow (the host's plus the lab user), the lab's SSH key and its authorized_keys."""
    run_dir.root.chmod(0o711)  # the lab user (sshd reads authorized_keys as that user) may pass, not list
    passwd = Path("/etc/passwd").read_text()
    shadow = Path("/etc/shadow").read_text()
    uid = _free_uid(passwd)
    home = run_dir.home / username
    home.mkdir(parents=True, mode=0o700)
    # login shells read /etc/profile, which drops /usr/sbin for non-root: put the router's tools back
    (home / ".profile").write_text('PATH="$PATH:/usr/sbin:/sbin"; export PATH\n')
    os.chown(home / ".profile", uid, NOBODY_GID)
    os.chown(home, uid, NOBODY_GID)
    run_dir.etc.mkdir(mode=0o755)
    (run_dir.etc / "passwd").write_text(passwd.rstrip("\n") + f"\n{username}:x:{uid}:{NOBODY_GID}:wangnet lab:{home}:/bin/sh\n")
    # the operator may read LLDP neighbours (lldpctl), as on a router: Debian lets group adm run lldpcli
    groups = _with_member(_with_member(Path("/etc/group").read_text(), "adm", username), "_lldpd", username)
    (run_dir.etc / "group").write_text(groups)
    shadow_path = run_dir.etc / "shadow"
    fd = os.open(shadow_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    with os.fdopen(fd, "w") as fh:
        fh.write(shadow.rstrip("\n") + f"\n{username}:{_password_hash(password)}:19000:0:99999:7:::\n")
    run_dir.ssh_dir.mkdir(mode=0o755)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "wangnet-lab", "-f", str(run_dir.ssh_key)],
                   check=True, capture_output=True)
    run_dir.authorized_keys.write_text(Path(f"{run_dir.ssh_key}.pub").read_text())
    run_dir.authorized_keys.chmod(0o644)


def prepare_devices(inv: Inventory, plan: LabPlan, run_dir: RunDir, values: dict[str, dict[str, str]],
                    trap: configs.TrapSink, with_lldpd: bool = True) -> list[dict[str, object]]:
    """Write every device's configs and host key; return the supervisor's daemon list."""
    keygens = []
    daemons: list[dict[str, object]] = []
    for node in plan.nodes:
        ddir = run_dir.device(node.device)
        (ddir / "run" / "sshd").mkdir(parents=True)
        (ddir / "run" / "lldpd").mkdir()
        (ddir / "snmp").mkdir()
        ddir.chmod(0o755)
        keygens.append(subprocess.Popen(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", node.device, "-f", str(ddir / "ssh_host_ed25519_key")],
            stdout=subprocess.DEVNULL))
        (ddir / "snmpd.conf").write_text(configs.snmpd_conf(inv, node, values, trap, random.token_urlsafe(12)))
        (ddir / "snmpd.conf").chmod(0o600)
        ssh_user = values[node.ssh_cred]["username"]
        (ddir / "sshd_config").write_text(configs.sshd_config(node, ddir, run_dir.authorized_keys, ssh_user))
        (ddir / "bird.conf").write_text(configs.bird_conf(plan, node))

        def daemon(name: str, argv: list[str], private_users: bool = False, env: dict[str, str] | None = None) -> None:
            daemons.append({"name": f"{node.device}/{name}", "argv": wrap(node.netns, node.device, run_dir, argv, private_users),
                            "log": str(ddir / f"{name}.log"), "env": env or {}})

        daemon("snmpd", ["snmpd", "-f", "-C", "-c", str(ddir / "snmpd.conf"), "-Lf", str(ddir / "snmpd.log"), "-m", ""],
               env={"SNMP_PERSISTENT_DIR": str(ddir / "snmp"), "MIBS": ""})
        daemon("sshd", ["/usr/sbin/sshd", "-D", "-e", "-f", str(ddir / "sshd_config")], private_users=True)
        daemon("bird", ["bird", "-f", "-c", str(ddir / "bird.conf"), "-s", "/run/bird.ctl"])
        if with_lldpd:
            ifaces = ",".join(i.name for i in node.interfaces if i.kind != "spare")
            (ddir / "lldpd.conf").write_text(configs.lldpd_conf())
            daemon("lldpd", ["lldpd", "-d", "-S", configs.sys_descr(node), "-m", str(node.mgmt),
                             *(["-I", ifaces] if ifaces else []), "-O", str(ddir / "lldpd.conf")])
    for proc in keygens:
        if proc.wait() != 0:
            raise RuntimeError("ssh-keygen failed for a lab host key")
    return daemons

