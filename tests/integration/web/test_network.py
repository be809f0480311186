from tests.conftest import login


def test_map_draws_every_site_of_the_inventory(app, make_user):
    client = app.test_client()
    login(client, make_user("noc"))
    page = client.get("/network/map").get_data(as_text=True)
    assert page.count('class="site tier-') == 59
    assert page.count('class="site tier-township"') == 50
    assert "达拉特旗" in page and "树林召镇" in page and "市政府办公厅" in page


def test_site_api_lists_devices_and_links(app, make_user):
    client = app.test_client()
    login(client, make_user("host"))
    site = client.get("/api/v1/sites/dalad").get_json()
    assert site["name"] == "达拉特旗" and site["tier"] == "banner"
    assert {d["id"] for d in site["devices"]} == {"dalad-rt", "dalad-sw"}
    assert len(site["children"]) == 9
    assert all("snmp" not in d and "ssh" not in d for d in site["devices"])
    assert client.get("/api/v1/sites/atlantis").status_code == 404


def test_summary_api_matches_the_inventory(app, make_user):
    client = app.test_client()
    login(client, make_user("noc"))
    summary = client.get("/api/v1/topology/summary").get_json()
    assert summary["sites"] == {"city": 1, "banner": 8, "township": 50}
    assert summary["devices"] == 69 and summary["links"] == 71
    links = client.get("/api/v1/links").get_json()
    assert len(links) == 71 and {"id", "a_site", "b_site", "speed_mbps"} <= set(links[0])
