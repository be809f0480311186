from collectors.alerts import Hysteresis


def test_opens_at_first_sight_and_resolves_after_clear_after_absences():
    h = Hysteresis(clear_after=2)
    assert h.observe(["link:a"]).opened == ("link:a",)
    assert h.observe(["link:a"]).opened == ()
    assert h.observe([]).resolved == ()  # one clean cycle is not enough
    assert h.observe([]).resolved == ("link:a",)
    assert h.observe(["link:a"]).opened == ("link:a",)  # a new failure is a new alert


def test_flapping_is_counted_not_hidden_nor_stormed():
    h = Hysteresis(clear_after=3)
    h.observe(["link:a"])
    decisions = [h.observe(x) for x in ([], ["link:a"], [], ["link:a"])]
    assert all(not d.opened and not d.resolved for d in decisions)
    assert [d.flapped for d in decisions] == [(), ("link:a",), (), ("link:a",)]
    assert h.flaps("link:a") == 2


def test_restore_after_restart_resolves_what_is_gone():
    h = Hysteresis(clear_after=1)
    h.restore(["device:x", "link:y"])
    decision = h.observe(["link:y"])
    assert decision.opened == () and decision.resolved == ("device:x",)


def test_an_early_open_leaves_the_other_alerts_alone():
    h = Hysteresis(clear_after=1)
    h.observe(["device:x"])
    assert h.open(["link:a", "device:x"]).opened == ("link:a",)  # device:x was already open
    assert h.is_active("device:x") and h.is_active("link:a")
    decision = h.observe(["link:a", "device:x"])  # the poll confirms: nothing new, nothing resolved, no flap
    assert decision == type(decision)()

