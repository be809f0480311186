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
