"""Real traps from net-snmp's ``snmptrap`` into the receiver."""
from __future__ import annotations

import asyncio
import shutil
import subprocess

import pytest

from collectors.trapd import TrapReceiver


@pytest.fixture(autouse=True)
def need_snmptrap():
    if shutil.which("snmptrap") is None:
        pytest.skip("net-snmp snmptrap is not installed (`make setup` as root installs it)")


def send(port: int, community: str, trap_oid: str, *varbinds: str) -> None:
    subprocess.run(
        ["snmptrap", "-v2c", "-c", community, f"127.0.0.1:{port}", "", trap_oid, *varbinds],
        check=True, capture_output=True, timeout=10,
    )


async def wait_for(condition, deadline=10.0):
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    while not condition():
        if loop.time() > end:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


def test_link_down_trap_reaches_the_handler_and_strangers_are_counted():
    got = []
    known = {"127.0.0.1": ("dalad-rt", "trap-comm")}

    async def scenario():
        receiver = TrapReceiver("127.0.0.1", 0, known.get, lambda device, trap: got.append((device, trap)))
        await receiver.start()
        try:
            await asyncio.to_thread(
                send, receiver.port, "trap-comm", "1.3.6.1.6.3.1.1.5.3",
                "1.3.6.1.2.1.2.2.1.1.2", "i", "2", "1.3.6.1.2.1.31.1.1.1.1.2", "s", "GE0-0-1",
            )
            await wait_for(lambda: got)
            await asyncio.to_thread(send, receiver.port, "guessed", "1.3.6.1.6.3.1.1.5.4")
            await wait_for(lambda: receiver.protocol.counts["bad_community"] == 1)
            known.clear()  # now 127.0.0.1 is nobody we know
            await asyncio.to_thread(send, receiver.port, "trap-comm", "1.3.6.1.6.3.1.1.5.4")
            await wait_for(lambda: receiver.protocol.counts["unknown_source"] == 1)
        finally:
            await receiver.stop()

    asyncio.run(scenario())
    (device, trap), = got
    assert device == "dalad-rt" and trap.kind == "linkDown" and trap.if_name == "GE0-0-1" and trap.if_index == 2


def inform_v3(port: int, auth_key: str, *args: str, level: str = "authPriv") -> subprocess.CompletedProcess:
    """net-snmp's snmpinform as an SNMPv3 device sends it (it waits for the receiver's acknowledgement)."""
    security = ["-l", level, "-u", "noc-v3"]
    if level != "noAuthNoPriv":
        security += ["-a", "SHA", "-A", auth_key]
    if level == "authPriv":
        security += ["-x", "AES", "-X", "v3-priv-key-7381"]
    return subprocess.run(["snmpinform", "-v3", *security, "-t", "2", "-r", "1", f"127.0.0.1:{port}", "", *args],
                          capture_output=True, text=True, timeout=30)


def test_v3_authpriv_informs_are_accepted_and_wrong_keys_or_levels_are_not():
    """The same port takes SNMPv3: pysnmp's USM checks the keys; only authPriv from a known device is believed."""
    from collectors.trapd import V3User

    got = []
    known = {"127.0.0.1": ("dalad-rt", "trap-comm")}
    user = V3User("noc-v3", "v3-auth-key-5519", "v3-priv-key-7381")

    async def scenario():
        receiver = TrapReceiver("127.0.0.1", 0, known.get, lambda device, trap: got.append((device, trap)), [user])
        await receiver.start()
        try:
            sent = await asyncio.to_thread(inform_v3, receiver.port, user.auth_key, "1.3.6.1.6.3.1.1.5.3",
                                           "1.3.6.1.2.1.2.2.1.1.2", "i", "2", "1.3.6.1.2.1.31.1.1.1.1.2", "s", "GE0-0-1")
            assert sent.returncode == 0, sent.stderr  # acknowledged through the receiver's own socket
            await wait_for(lambda: got)
            wrong = await asyncio.to_thread(inform_v3, receiver.port, "guessed-key-0000", "1.3.6.1.6.3.1.1.5.4")
            assert wrong.returncode != 0 and "Authentication failure" in wrong.stderr
            assert receiver.protocol.v3.rejected() >= 1
            plain = await asyncio.to_thread(inform_v3, receiver.port, "", "1.3.6.1.6.3.1.1.5.4", level="noAuthNoPriv")
            assert plain.returncode != 0 and "Unsupported security level" in plain.stderr  # the user is authPriv-only
            assert receiver.protocol.v3.rejected() >= 2 and len(got) == 1
            # v2c keeps working beside it on the same port
            await asyncio.to_thread(send, receiver.port, "trap-comm", "1.3.6.1.6.3.1.1.5.4",
                                    "1.3.6.1.2.1.2.2.1.1.2", "i", "2")
            await wait_for(lambda: len(got) == 2)
        finally:
            await receiver.stop()

    asyncio.run(scenario())
    (device, trap), (_, v2c) = got
    assert device == "dalad-rt" and trap.kind == "linkDown" and trap.if_name == "GE0-0-1" and trap.if_index == 2
    assert trap.community == "v3:noc-v3"
    assert v2c.kind == "linkUp"
