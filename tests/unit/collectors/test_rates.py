import pytest

from collectors.iftable import InterfaceRow
from collectors.rates import RateTracker


def row(index, name, in_octets, in_errors=0, speed=100):
    return InterfaceRow(index, name, True, True, speed, {"hc_in_octets": in_octets, "hc_out_octets": 0, "in_errors": in_errors})


def test_first_reading_has_no_rate_then_rates_follow():
    t = RateTracker()
    assert t.update("r1", row(2, "GE0", 1_000), 100, 0.0).in_bps is None
    rates = t.update("r1", row(2, "GE0", 126_000, in_errors=10), 1_100, 10.0)
    assert rates.in_bps == pytest.approx(100_000.0)
    assert rates.in_errors_per_s == pytest.approx(1.0)


def test_reboot_with_renumbered_interfaces_gives_no_spike():
    t = RateTracker()
    t.update("r1", row(2, "GE0", 9_000_000_000), 900_000, 0.0)
    after = t.update("r1", row(7, "GE0", 500), 200, 30.0)  # sysUpTime reset, ifIndex changed
    assert after.in_bps is None
    again = t.update("r1", row(7, "GE0", 125_500), 1_200, 40.0)
    assert again.in_bps == pytest.approx(100_000.0)


def test_counter32_error_counter_wrap():
    t = RateTracker()
    t.update("r1", row(1, "e1", 0, in_errors=2**32 - 5), 0, 0.0)
    assert t.update("r1", row(1, "e1", 0, in_errors=5), 100, 1.0).in_errors_per_s == pytest.approx(10.0)
