"""Device, configuration, drift and tool pages read the store and the topology — never the devices."""
from __future__ import annotations

from collectors.configs import diff
from collectors.models import ConfigVersion, DeviceStatus, DriftFinding, InterfaceStatus
from tests.conftest import login


def test_device_page_shows_state_interfaces_and_configs(app, store, make_user):
    old, new = "hostname dalad-rt\ninterface GE1-0-1\n", "hostname dalad-rt\ninterface GE1-0-1\n description uplink\n"
    with store.session() as s:
        s.add(DeviceStatus(device="dalad-rt", state="up", error=""))
        s.add(InterfaceStatus(device="dalad-rt", ifname="GE1-0-1", if_index=2, oper_up=True, admin_up=True,
                              speed_mbps=1000, in_bps=250e6, out_bps=10e6, counters="{}"))
        s.add(ConfigVersion(device="dalad-rt", version=1, digest="a", text=old, diff=""))
        s.add(ConfigVersion(device="dalad-rt", version=2, digest="b", text=new, diff=diff(old, new, "v1", "v2")))
    client = app.test_client()
    login(client, make_user("noc"))
    d = client.get("/api/v1/devices/dalad-rt").get_json()
    (iface,) = d["interfaces"]
    assert iface["link"] == "city-core-1--dalad-rt" and iface["utilisation"] == 0.25
    assert [v["version"] for v in d["config_versions"]] == [2, 1]
    page = client.get("/network/devices/dalad-rt/configs/2").get_data(as_text=True)
    assert 'class="change"' in page and "description uplink" in page
    assert client.get("/network/devices/nothing").status_code == 404
    assert client.get("/network/devices/dalad-rt/configs/9").status_code == 404


def test_drift_page_lists_findings(app, store, make_user):
    with store.session() as s:
        s.add(DriftFinding(kind="missing", link="dalad-rt--shulinzhao-rt", detail="dalad-rt and shulinzhao-rt do not see each other"))
    client = app.test_client()
    login(client, make_user("noc"))
    assert "dalad-rt--shulinzhao-rt" in client.get("/network/drift").get_data(as_text=True)
    assert client.get("/api/v1/drift").get_json()["total"] == 1


def test_impact_path_and_spof_tools(app, make_user):
    client = app.test_client()
    login(client, make_user("host"))
    impact = client.get("/api/v1/topology/impact?link=city-core-1--dalad-rt").get_json()
    assert "dalad" in impact["cut_off_sites"] and len(impact["cut_off_sites"]) == 10
    assert client.get("/api/v1/topology/impact?link=city-core-1--dongsheng-rt").get_json()["cut_off_sites"] == []
    assert client.get("/api/v1/topology/impact").status_code == 400
    assert client.get("/api/v1/topology/impact?device=ghost").status_code == 404
    path = client.get("/api/v1/topology/path?a=zhandanzhao&b=xini").get_json()
    assert path["bottleneck_mbps"] == 2 and path["slowest_link"] == "dalad-rt--zhandanzhao-rt"
    page = client.get("/network/tools?link=city-core-1--dalad-rt&a=shulinzhao&b=city").get_data(as_text=True)
    assert "树林召镇" in page and "id=\"path-result\"" in page
    assert len(client.get("/api/v1/topology/spof").get_json()["links"]) > 50
