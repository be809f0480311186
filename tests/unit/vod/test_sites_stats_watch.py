
import pytest

from topology import load_inventory
from vod.sites import SiteLocator
from vod.stats import clamp_watched
from vod.watch import Drop, StableFiles, parse_drop
from wangnet.config import PROJECT_ROOT


@pytest.fixture(scope="module")
def locator():
    return SiteLocator(load_inventory(PROJECT_ROOT / "inventory.yaml"))


def test_addresses_map_to_sites(locator):
    assert locator.site_for("10.2.24.77") == "zhandanzhao"
    assert locator.site_for("10.2.0.9") == "dalad"
    assert locator.site_for("10.0.0.5") == "city"
    assert locator.site_for("127.0.0.1") is None
    assert locator.site_for("::ffff:10.2.24.77") == "zhandanzhao"
    assert locator.site_for("not an address") is None
    assert locator.site_for(None) is None


def test_budget_is_a_quarter_of_the_slowest_link_to_the_city(locator):
    assert locator.budget_bps("zhandanzhao") == 500_000  # 2 Mbit/s E1
    assert locator.budget_bps("dalad") == 250_000_000  # 1 Gbit/s
    assert locator.budget_bps("tongchuan") == 2_500_000  # 10 Mbit/s: 360p and 240p, not 720p
    assert locator.budget_bps("city") is None and locator.budget_bps(None) is None
    assert locator.banner_of("zhandanzhao") == "dalad" and locator.banner_of("dalad") == "dalad"
    assert locator.banner_of("city") is None


def test_watch_time_is_clamped_to_time_passed():
    assert clamp_watched(10, 10) == 10
    assert clamp_watched(500, 10) == 12  # +2 s slack for timer jitter
    assert clamp_watched(500, 3600) == 22  # never more than two heartbeats' worth
    assert clamp_watched(-5, 10) == 0 and clamp_watched(float("nan"), 10) == 0


def test_drop_names(tmp_path):
    root = tmp_path
    ok = parse_drop(root, root / "xwlb" / "2026-11-24 新闻联播.mp4")
    assert ok == Drop(root / "xwlb" / "2026-11-24 新闻联播.mp4", "xwlb", "2026-11-24", "新闻联播")
    assert parse_drop(root, root / "xwlb" / "新闻联播.mp4").startswith("file name “新闻联播.mp4” must start with the date")
    assert parse_drop(root, root / "loose.mp4").startswith("put files in a folder named after the programme id")


def test_stable_files_waits_for_the_size_to_settle(tmp_path):
    f = tmp_path / "a.mp4"
    f.write_bytes(b"12")
    stable = StableFiles()
    assert stable.ready([f]) == []
    f.write_bytes(b"1234")
    assert stable.ready([f]) == []
    assert stable.ready([f]) == [f]
