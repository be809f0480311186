from collectors.notify import AlertEvent, Throttle, render

NAMES = {"dalad": "达拉特旗", "shulinzhao": "树林召镇", "zhaojun": "昭君镇"}


def opened(sites=("dalad", "shulinzhao"), key="link:city-core-1--dalad-rt"):
    return AlertEvent(key, "link", key.split(":", 1)[1], "critical", "opened", sites)


def test_opened_message_names_sites_in_chinese():
    msg = render(opened(), NAMES)
    assert msg.subject == "【王网告警】链路 city-core-1--dalad-rt 故障"
    assert "切断 2 个站点：达拉特旗、树林召镇" in msg.body
    assert msg.short == "【王网告警】链路 city-core-1--dalad-rt故障，切断达拉特旗、树林召镇"


def test_long_site_lists_are_shortened_for_sms():
    sites = tuple(f"s{i}" for i in range(10))
    assert render(opened(sites), {}).short.endswith("s0、s1、s2、s3、s4、s5 等10个站点")


def test_warning_and_resolved_texts():
    warn = AlertEvent("link:a", "link", "a", "warning", "opened")
    assert "冗余降级" in render(warn, {}).body
    done = AlertEvent("device:x+y", "device", "x+y", "critical", "resolved")
    assert render(done, {}).subject == "【王网恢复】设备 x 与 y 已恢复"


def test_duplicates_are_dropped_within_the_window():
    t = Throttle(dedup_seconds=60)
    assert t.allow("a@x", opened(), 0.0) == ("send", 0)
    assert t.allow("a@x", opened(), 30.0) == ("duplicate", 0)
    assert t.allow("b@x", opened(), 30.0) == ("send", 0)  # another person still hears it
    assert t.allow("a@x", opened(), 61.0) == ("send", 0)


def test_rate_limit_holds_back_and_reports_how_many():
    t = Throttle(max_per_window=2, window_seconds=100)
    events = [opened(key=f"link:l{i}") for i in range(5)]
    results = [t.allow("a@x", e, float(i)) for i, e in enumerate(events)]
    assert [verdict for verdict, _ in results] == ["send", "send", "held", "held", "held"]
    assert t.allow("a@x", opened(key="link:late"), 150.0) == ("send", 3)
    assert "另有 3 条通知因限流未发送" in render(opened(), NAMES, suppressed=3).body
