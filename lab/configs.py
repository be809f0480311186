"""Daemon configuration files for one lab device: snmpd, sshd, BIRD, lldpd.

Pure text generation from a plan ``Node``; the caller writes the files into
the device's directory under the lab's run directory.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lab.plan import CORE_MGMT_IF, LabPlan, Node
from topology.schema import Inventory

# Numeric OIDs: Debian ships no IETF MIB files.
IF_INDEX = ".1.3.6.1.2.1.2.2.1.1"
IF_ADMIN_STATUS = ".1.3.6.1.2.1.2.2.1.7"
IF_OPER_STATUS = ".1.3.6.1.2.1.2.2.1.8"
LINK_DOWN = ".1.3.6.1.6.3.1.1.5.3"
LINK_UP = ".1.3.6.1.6.3.1.1.5.4"

# How often snmpd's own monitor looks at ifOperStatus to send linkDown/linkUp (its
# interface cache is ~3 s anyway); net-snmp's linkUpDownNotifications would poll every 60 s.
TRAP_POLL_S = 2

SNMP_AUTH = {"md5": "MD5", "sha": "SHA", "sha224": "SHA-224", "sha256": "SHA-256", "sha384": "SHA-384", "sha512": "SHA-512"}
SNMP_PRIV = {"des": "DES", "3des": "3DES", "aes": "AES", "aes192": "AES-192", "aes256": "AES-256"}

VENDOR_DESCR = {
    "ios": "Cisco IOS Software, {model} (wangnet lab)",
    "huawei_vrp": "Huawei Versatile Routing Platform Software, {model} (wangnet lab)",
    "h3c_comware": "H3C Comware Platform Software, {model} (wangnet lab)",
    "linux": "Linux {device} {model} (wangnet lab)",
}


@dataclass(frozen=True)
class TrapSink:
    """Where every device's snmpd sends linkDown/linkUp (v2c)."""

    address: str
    port: int
    community: str


def sys_descr(node: Node) -> str:
    return VENDOR_DESCR.get(node.platform, "{model} (wangnet lab)").format(model=node.model, device=node.device)


def iface_speed_mbps(iface_name: str, speed_mbps: int | None) -> int:
    """The speed snmpd reports: the link's, else what the port name says (E1 serial or gigabit)."""
    if speed_mbps is not None:
        return speed_mbps
    return 2 if iface_name.lower().startswith("serial") else 1000


def snmpd_conf(inv: Inventory, node: Node, secrets: dict[str, dict[str, str]], trap: TrapSink,
               internal_password: str) -> str:
    """snmpd.conf: listen on the management address only, the device's own credential, traps."""
    cred = inv.credentials[node.snmp_cred]
    values = secrets[node.snmp_cred]
    lines = [
        f"# wangnet lab: {node.device}",
        f"agentAddress udp:{node.mgmt}:161",
        f"[snmp] clientaddr {node.mgmt}",  # traps leave from the management address, as collectors expect
        f"sysName {node.device}",
        f"sysDescr {sys_descr(node)}",
        f"sysLocation {node.site}",
        "sysContact noc@wangnet.lab",
        "sysServices 78",
    ]
    if cred.kind == "snmp-v2c":
        lines.append(f"rocommunity {values['community']} default")
    else:
        auth = SNMP_AUTH[cred.auth_protocol or "sha"]
        priv = SNMP_PRIV[cred.priv_protocol or "aes"]
        lines.append(f'createUser {values["username"]} {auth} "{values["auth_key"]}" {priv} "{values["priv_key"]}"')
        lines.append(f"rouser {values['username']} priv")
    for iface in node.interfaces:
        # type 6 = ethernetCsmacd, 18 = ds1 (E1/T1); speed in bit/s
        if_type = 18 if iface.name.lower().startswith("serial") else 6
        lines.append(f"interface {iface.name} {if_type} {iface_speed_mbps(iface.name, iface.speed_mbps) * 1_000_000}")
    lines += [
        # linkDown/linkUp via snmpd's own DisMan monitor, which reads the agent as an internal v3 user
        f'createUser _wangnet_internal SHA "{internal_password}"',
        "iquerySecName _wangnet_internal",
        "rouser _wangnet_internal auth",
        f"trap2sink {trap.address}:{trap.port} {trap.community}",
        f"notificationEvent wnLinkUp {LINK_UP} {IF_INDEX} {IF_ADMIN_STATUS} {IF_OPER_STATUS}",
        f"notificationEvent wnLinkDown {LINK_DOWN} {IF_INDEX} {IF_ADMIN_STATUS} {IF_OPER_STATUS}",
        f'monitor -r {TRAP_POLL_S} -e wnLinkUp "linkUp" {IF_OPER_STATUS} != 2',
        f'monitor -r {TRAP_POLL_S} -e wnLinkDown "linkDown" {IF_OPER_STATUS} == 2',
    ]
    return "\n".join(lines) + "\n"


def sshd_config(node: Node, device_dir: Path, authorized_keys: Path, username: str) -> str:
    """sshd_config: the management address only, the lab user only, its own host key."""
    return "\n".join([
        f"# wangnet lab: {node.device}",
        f"ListenAddress {node.mgmt}:22",
        f"HostKey {device_dir / 'ssh_host_ed25519_key'}",
        "PidFile none",
        "UsePAM no",
        # the lab's files may live under a world-writable /tmp (a CI clone): sshd's path checks would refuse them
        "StrictModes no",
        "PermitRootLogin no",
        f"AllowUsers {username}",
        "PasswordAuthentication yes",
        "KbdInteractiveAuthentication no",
        "PubkeyAuthentication yes",
        f"AuthorizedKeysFile {authorized_keys}",
        "UseDNS no",
        "PrintMotd no",
        "PrintLastLog no",
        "Subsystem sftp internal-sftp",
        # a router's operator reaches its tools (lldpctl, birdc, ip live in /usr/sbin on Debian)
        "SetEnv PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "LogLevel INFO",
    ]) + "\n"


def lldpd_conf() -> str:
    """lldpd: the interface name as port id, as routers do (lldpd's default is the MAC); a short TTL.

    With a 5 s interval a neighbour behind a cut cable ages out in 20 s (4 × 5 s)
    instead of lldpd's default two minutes, so drift shows while a test waits.
    """
    return "configure lldp portidsubtype ifname\nconfigure lldp tx-interval 5\n"


def bird_conf(plan: LabPlan, node: Node) -> str:
    """BIRD 2 OSPF: every cabled interface point-to-point with fast timers; lo, LAN and mgmt as stubs.

    ``check link`` makes a lost carrier withdraw the adjacency at once instead of after the dead interval.
    """
    linked = [i.name for i in node.interfaces if i.kind == "link"]
    stubs = ["lo"] + [i.name for i in node.interfaces if i.kind == "lan"]
    if node.device == plan.mgmt.core_device:
        stubs.append(CORE_MGMT_IF)
    quoted = ", ".join(f'"{name}"' for name in linked)
    stub_q = ", ".join(f'"{name}"' for name in stubs)
    body = [
        f"# wangnet lab: {node.device}",
        f"router id {node.mgmt};",
        "protocol device { scan time 5; }",
        "protocol kernel {",
        "  ipv4 { import none; export where source = RTS_OSPF; };",
        "  learn off;",
        "}",
        "protocol ospf v2 wangnet {",
        "  tick 1;",
        "  ipv4 { import all; export none; };",
        "  area 0 {",
        f"    interface {stub_q} {{ stub yes; }};",
    ]
    if linked:
        body.append(f"    interface {quoted} {{ type ptp; hello 1; dead 4; retransmit 2; check link yes; }};")
    body += ["  };", "}"]
    return "\n".join(body) + "\n"
