"""The bridge-process registry: who runs which bridge, where, and when a claim may be taken over."""
from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys

from conferencing.peers import (
    ANY, CLAIM_TTL, STALE_SECONDS, BridgeDirectory, Peer, bridge_token, claim_conflict, default_url, read_peers,
    runner_of,
)
from wangnet.config import Settings
from wangnet.store import Store

NOW = 1_000_000.0
SERVE = Peer(ANY, "http://127.0.0.1:8080", "vm:1", NOW)


def test_a_claimed_bridge_runs_at_its_claimant_until_the_claim_expires() -> None:
    dalad = Peer("dalad", "http://127.0.0.1:9001", "vm:2", NOW - STALE_SECONDS * 2)  # killed, restarting
    peers = {ANY: SERVE, "dalad": dalad}
    assert runner_of("dalad", peers, NOW) is dalad
    assert runner_of("city", peers, NOW) is SERVE
    assert runner_of("dalad", peers, NOW + CLAIM_TTL) is SERVE  # long gone: serve takes it back
    assert runner_of("city", {"dalad": dalad}, NOW) is None  # no serve registered


def test_claim_conflict_refuses_a_second_live_process_only() -> None:
    me = f"{socket.gethostname()}:999999"
    elsewhere = Peer("dalad", "http://10.0.0.9:9001", "other-host:42", NOW - 1)
    assert claim_conflict(None, me, NOW) is None
    assert claim_conflict(Peer("dalad", "u", me, NOW), me, NOW) is None
    assert claim_conflict(Peer("dalad", "u", "other-host:42", NOW - STALE_SECONDS - 1), me, NOW) is None
    assert claim_conflict(elsewhere, me, NOW) == (
        'bridge "dalad" is already run by process other-host:42 at http://10.0.0.9:9001 (heartbeat 1 s ago); '
        f"stop it first, or wait {STALE_SECONDS:.0f} s if it was killed")
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    assert claim_conflict(Peer("dalad", "u", f"{socket.gethostname()}:{gone.pid}", NOW), me, NOW) is None
    alive = Peer("dalad", "u", f"{socket.gethostname()}:{os.getpid()}", NOW)
    assert "already run by process" in (claim_conflict(alive, me, NOW) or "")


def test_default_url_and_the_secret(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert default_url(Settings(var_dir=tmp_path, web_host="0.0.0.0", web_port=8080)) == "http://127.0.0.1:8080"
    assert default_url(Settings(var_dir=tmp_path), port=9001) == "http://127.0.0.1:9001"
    assert default_url(Settings(var_dir=tmp_path, conference_bridge_url="https://b.example/")) == "https://b.example"
    assert bridge_token(Settings(var_dir=tmp_path)) is None
    token = bridge_token(Settings(var_dir=tmp_path, extra_env={"WANGNET_CRED_CONFERENCE_BRIDGE_TOKEN": "s3cret"}))
    assert token is not None and token.reveal() == "s3cret" and "s3cret" not in repr(token)


def test_directory_registers_heartbeats_and_leaves(settings: Settings, store: Store) -> None:
    async def scenario() -> None:
        serve = BridgeDirectory(settings, store, url="http://127.0.0.1:8080")
        dalad = BridgeDirectory(settings, store, claim="dalad", url="http://127.0.0.1:9001")
        await serve.start()
        await dalad.start()
        try:
            await asyncio.to_thread(serve._beat)  # the next heartbeat sees the dalad process
            assert serve.runs_here("city") and not serve.runs_here("dalad")
            assert dalad.runs_here("dalad") and not dalad.runs_here("city")
            assert serve.url_of("dalad") == "http://127.0.0.1:9001" and dalad.url_of("city") == "http://127.0.0.1:8080"
            assert serve.alive("dalad")
        finally:
            await dalad.stop()
        await asyncio.to_thread(serve._beat)
        assert serve.runs_here("dalad"), "a cleanly stopped bridge process gives its bridge back to serve"
        await serve.stop()

    asyncio.run(scenario())
    assert read_peers(store) == {}
