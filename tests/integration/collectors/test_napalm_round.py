"""The NAPALM round against a real sshd: facts, pinned host key, config versions only on change."""
from __future__ import annotations

import json

from sqlalchemy import select

from collectors.getters import SshLogin
from collectors.models import ConfigVersion, DeviceFacts, DriftFinding
from collectors.napalm_round import NapalmCollector
from tests.integration.collectors.test_getters import sshd  # noqa: F401  (fixture)
from topology import load_inventory_text
from wangnet.config import PROJECT_ROOT

VALID = (PROJECT_ROOT / "tests" / "fixtures" / "inventory" / "valid.yaml").read_text()


def test_round_records_facts_configs_and_drift(sshd, store):  # noqa: F811
    port, key, _ = sshd
    inventory = load_inventory_text(
        VALID.replace("platform: ios", "platform: linux").replace("platform: h3c_comware", "platform: linux")
    )
    seen_pins = []

    def logins(pinned):
        seen_pins.append(dict(pinned))
        return {d.id: SshLogin("127.0.0.1", port, "root", "", 20, key, pinned.get(d.id)) for d in inventory.devices[:1]}, {}

    collector = NapalmCollector(inventory, store, logins, workers=2)
    first = collector.run_round()
    assert first.new_config_versions == ("city-core-1",)
    assert first.snapshots["city-core-1"].errors.get("connect") is None
    second = collector.run_round()
    assert second.new_config_versions == ()  # unchanged: no new version
    assert seen_pins[1]["city-core-1"]["key_type"] == "ssh-ed25519"  # trusted on first use, pinned after

    with store.session() as s:
        facts = s.get(DeviceFacts, "city-core-1")
        assert facts.hostname and facts.os_version and "lo" in json.loads(facts.interfaces)
        versions = list(s.scalars(select(ConfigVersion)))
        assert [(v.device, v.version, v.diff) for v in versions] == [("city-core-1", 1, "")]
        # only city-core-1 was reachable: its links to dalad-rt cannot be judged, so no drift is claimed
        assert list(s.scalars(select(DriftFinding))) == []
    assert first.drift.unjudged == ("city-core-1--dalad-rt", "dalad-rt--shulinzhao-rt")
