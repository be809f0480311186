"""Traffic history: 5-minute and hourly rollups (averages and maxima), pruning, and series that show the newest minutes."""
from __future__ import annotations

from sqlalchemy import func, select

from collectors import traffic
from collectors.models import InterfaceSample
from collectors.traffic import FIVE_MIN, HOUR, RAW, Point, TrafficHistory, bucket, maintenance_due, merge

T0 = 1_700_000_000 - 1_700_000_000 % 3600  # an hour boundary


def test_bucket_arithmetic_and_when_maintenance_runs():
    assert bucket(T0 + 299, FIVE_MIN) == T0 and bucket(T0 + 300, FIVE_MIN) == T0 + 300
    assert bucket(T0 + 3599, HOUR) == T0 and bucket(T0 + 17, RAW) == T0 + 17
    assert maintenance_due(None, T0)
    assert not maintenance_due(T0 + 10, T0 + 290)
    assert maintenance_due(T0 + 290, T0 + 301)


def test_merge_keeps_coarse_rows_then_only_newer_finer_ones():
    hourly = [Point(T0, 1, 1, 2, 2, HOUR)]
    five = [Point(T0 + 3000, 9, 9, 9, 9, FIVE_MIN), Point(T0 + 3600, 3, 3, 4, 4, FIVE_MIN)]
    raw = [Point(T0 + 3650, 5, 5, 5, 5, RAW), Point(T0 + 3930, 6, 6, 6, 6, RAW)]
    assert [(p.ts, p.resolution) for p in merge([hourly, five, raw])] == [(T0, HOUR), (T0 + 3600, FIVE_MIN), (T0 + 3930, RAW)]


def rows(store, resolution):
    with store.session() as s:
        return [(r.device, r.ifname, r.ts, r.in_bps, r.out_bps, r.in_max, r.out_max, r.samples)
                for r in s.scalars(select(InterfaceSample).where(InterfaceSample.resolution == resolution)
                                   .order_by(InterfaceSample.device, InterfaceSample.ts))]


def test_rollups_average_and_max_and_count_and_skip_missing_rates(store):
    history = TrafficHistory()
    # 30 s polls over 70 minutes: in_bps rises 0, 100, 200 ... ; out_bps missing on the very first poll
    for n in range(140):
        ts = T0 + 30 * n
        with store.session() as s:
            history.after_poll(s, ts, [("r1", "ge0", 100.0 * n, None if n == 0 else 10.0), ("r2", "ge0", 1.0, 1.0)])
    five = [r for r in rows(store, FIVE_MIN) if r[0] == "r1"]
    # every 5-minute bucket closed before the last poll (T0+4170) is rolled up: 13 of them
    assert [r[2] for r in five] == [T0 + 300 * k for k in range(13)]
    first, second = five[0], five[1]
    assert first[3] == sum(100.0 * n for n in range(10)) / 10 and first[5] == 900.0 and first[7] == 10
    assert first[4] == 10.0  # the missing first out rate is not averaged in as zero
    assert second[3] == sum(100.0 * n for n in range(10, 20)) / 10 and second[5] == 1900.0
    (hour,) = [r for r in rows(store, HOUR) if r[0] == "r1"]
    assert hour[2] == T0 and hour[7] == 120
    assert hour[3] == sum(100.0 * n for n in range(120)) / 120 and hour[5] == 11900.0
    assert rows(store, HOUR)[1][3] == 1.0  # r2: constant traffic averages to itself


def test_pruning_keeps_an_hour_of_raw_polls_a_day_of_5_minute_and_a_week_of_hourly_rows(store):
    with store.session() as s:
        for res, age in ((RAW, 3000), (RAW, 5000), (FIVE_MIN, 80_000), (FIVE_MIN, 100_000), (HOUR, 6 * 86400), (HOUR, 8 * 86400)):
            s.add(InterfaceSample(device="r1", ifname="ge0", resolution=res, ts=T0 - age, in_bps=1, out_bps=1, in_max=1,
                                  out_max=1, samples=1))
    with store.session() as s:
        assert traffic.prune(s, T0) == 3
        left = sorted((r.resolution, T0 - r.ts) for r in s.scalars(select(InterfaceSample)))
    assert left == [(RAW, 3000), (FIVE_MIN, 80_000), (HOUR, 6 * 86400)]


def test_series_by_range_uses_rollups_and_the_newest_raw_polls(store):
    history = TrafficHistory()
    for n in range(140):
        with store.session() as s:
            history.after_poll(s, T0 + 30 * n, [("r1", "ge0", 8.0, 4.0)])
    now = T0 + 30 * 139
    with store.session() as s:
        hour = traffic.series(s, "r1", "ge0", "hour", now)
        day = traffic.series(s, "r1", "ge0", "day", now)
        week = traffic.series(s, "r1", "ge0", "week", now)
        assert s.scalar(select(func.count()).select_from(InterfaceSample).where(InterfaceSample.resolution == RAW)) == 140
    assert {p.resolution for p in hour} == {RAW} and hour[0].ts >= now - 3600 and len(hour) == 121
    assert [p.resolution for p in day][:13] == [FIVE_MIN] * 13 and day[-1].ts == now and day[13].ts == T0 + 3900
    assert week[0].resolution == HOUR and week[1].ts == T0 + 3600 and week[-1].ts == now
    assert all(p.in_bps == 8.0 and p.out_bps == 4.0 for p in day + week)
