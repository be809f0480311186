import pytest

from collectors.counters import (
    Reading,
    counter_delta,
    match_interfaces,
    octets_ceiling,
    rate_per_second,
    utilisation,
)


def test_counter32_wrap_is_added_back():
    assert counter_delta(2**32 - 100, 50, 32) == 150
    prev, cur = Reading(2**32 - 1_000, 10_000, 0.0), Reading(4_000, 11_000, 10.0)
    assert rate_per_second(prev, cur, 32) == pytest.approx(500.0)


def test_counter64_does_not_wrap_and_backwards_is_a_reset():
    assert counter_delta(10, 30, 64) == 20
    assert rate_per_second(Reading(5_000, 100, 0.0), Reading(10, 200, 1.0), 64) is None


def test_reboot_discards_the_delta_instead_of_a_spike():
    before = Reading(9_000_000_000, 500_000, 0.0)
    after_reboot = Reading(1_200, 300, 30.0)  # sysUpTime went backwards
    assert rate_per_second(before, after_reboot, 64) is None
    assert rate_per_second(before, after_reboot, 32) is None


def test_impossible_delta_beyond_line_rate_is_discarded():
    ceiling = octets_ceiling(2)  # a 2 Mbit/s E1: 250 kB/s
    ok = rate_per_second(Reading(0, 0, 0.0), Reading(2_000_000, 1_000, 10.0), 32, ceiling)
    assert ok == pytest.approx(200_000.0)
    assert rate_per_second(Reading(0, 0, 0.0), Reading(50_000_000, 1_000, 10.0), 32, ceiling) is None


def test_no_elapsed_time_gives_no_rate():
    assert rate_per_second(Reading(1, 1, 5.0), Reading(2, 2, 5.0), 64) is None


def test_utilisation():
    assert utilisation(125_000, 10) == pytest.approx(0.1)
    assert utilisation(None, 10) is None and utilisation(1.0, None) is None
    assert utilisation(10**9, 1) == 1.0


def test_interfaces_are_matched_by_name_after_renumbering():
    before = {1: "lo", 2: "GE0-0-0", 3: "GE0-0-1"}
    after = {1: "lo", 7: "GE0-0-1", 8: "GE0-0-0", 9: "new0"}
    assert match_interfaces(before, after) == {1: 1, 7: 3, 8: 2}


def test_duplicate_names_are_not_guessed():
    assert match_interfaces({1: "eth0", 2: "eth0"}, {5: "eth0"}) == {}
    assert match_interfaces({1: "eth0"}, {5: "eth0", 6: "eth0"}) == {}
