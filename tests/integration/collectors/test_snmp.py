"""The poller against a real net-snmp agent: v2c, v3 authPriv, wrong credentials, a dead device."""
from __future__ import annotations

import asyncio

from collectors.snmp import SnmpPoller, SnmpTarget
from tests.integration.collectors.conftest import free_udp_port
from wangnet.credentials import Secret


def v2c(agent, **kw):
    kw.setdefault("timeout", 2.0)  # generous: the machine is shared, the agent is not being tested for speed
    return SnmpTarget("agent-v2c", agent.host, agent.port, community=Secret(agent.community), **kw)


def v3(agent):
    return SnmpTarget(
        "agent-v3", agent.host, agent.port, username=Secret(agent.user), auth_key=Secret(agent.auth_key),
        priv_key=Secret(agent.priv_key), timeout=2.0,
    )


def run(coro_factory):
    async def main():
        poller = SnmpPoller()
        try:
            return await coro_factory(poller)
        finally:
            poller.close()

    return asyncio.run(main())


def test_v2c_poll_reads_the_interface_table(snmpd_agent):
    result = run(lambda p: p.poll(v2c(snmpd_agent), with_system=True))
    assert result.ok, result.error
    assert result.sys_name == "wangnet-test-agent" and result.uptime_ticks > 0
    lo = {row.name: row for row in result.interfaces}["lo"]
    assert lo.oper_up is True and lo.admin_up is True
    assert lo.counters["hc_in_octets"] >= 0 and "in_errors" in lo.counters
    # every interface the agent reports was walked to the end of the table
    assert len(result.interfaces) == len({r.index for r in result.interfaces}) >= 1


def test_v3_authpriv_poll_gets_the_same_table(snmpd_agent):
    a = run(lambda p: p.poll(v2c(snmpd_agent)))
    b = run(lambda p: p.poll(v3(snmpd_agent)))
    assert b.ok, b.error
    assert [r.name for r in a.interfaces] == [r.name for r in b.interfaces]


def test_wrong_community_is_a_clear_failure(snmpd_agent):
    target = SnmpTarget("agent-wrong", snmpd_agent.host, snmpd_agent.port, community=Secret("nope"), timeout=0.5, retries=0)
    result = run(lambda p: p.poll(target))
    assert not result.ok and result.error.startswith("agent-wrong: No SNMP response")
    assert "nope" not in result.error


def test_a_dead_device_does_not_delay_the_others(snmpd_agent):
    dead = SnmpTarget("dead", "127.0.0.1", free_udp_port(), community=Secret("x"), timeout=3.0, retries=0)
    live = v2c(snmpd_agent)
    finished = []

    async def both(poller):
        return await poller.poll_many([dead, live], on_result=lambda r: finished.append(r.device))

    results = {r.device: r for r in run(both)}
    assert finished == ["agent-v2c", "dead"]
    assert not results["dead"].ok and results["agent-v2c"].ok
    # the live device's answer was complete long before the dead one's timeout ran out
    assert results["agent-v2c"].finished < results["dead"].finished
    assert results["dead"].duration >= 3.0
