from collectors.iftable import COLUMNS, WalkState, build_rows, counter_bits

NAME, OPER, INO = COLUMNS["name"], COLUMNS["oper_status"], COLUMNS["hc_in_octets"]


def test_row_major_response_fills_cells_and_columns_end_where_they_leave_their_subtree():
    state = WalkState({"name": NAME, "oper_status": OPER})
    state.feed(
        ["name", "oper_status"],
        [
            (f"{NAME}.1", "lo"), (f"{OPER}.1", 1),
            (f"{NAME}.2", "GE0-0-0"), (f"{OPER}.2", 2),
            ("1.3.6.1.2.1.31.1.1.1.2.1", 0), (f"{OPER}.3", 1),  # name column has ended, oper goes on
        ],
    )
    assert state.active == ["oper_status"]
    assert state.next_oid["oper_status"] == f"{OPER}.3"
    state.feed(["oper_status"], [("1.3.6.1.2.1.2.2.1.9.1", 0)])
    assert state.active == []
    rows = build_rows(state.cells)
    assert [(r.index, r.name, r.oper_up) for r in rows] == [(1, "lo", True), (2, "GE0-0-0", False), (3, "if3", True)]


def test_end_of_mib_view_and_empty_answers_end_the_walk():
    state = WalkState({"name": NAME, "hc_in_octets": INO})
    state.feed(["name", "hc_in_octets"], [(f"{NAME}.1", "lo"), (f"{INO}.1", None)])
    assert state.active == ["name"]
    state.feed(["name"], [])
    assert state.active == []


def test_an_agent_that_repeats_itself_cannot_loop_forever():
    state = WalkState({"name": NAME})
    state.feed(["name"], [("1.3.6.1.2.1.1.1.0", "not in the column")])
    assert state.active == []


def test_counter_widths():
    assert counter_bits("in_errors") == 32 and counter_bits("hc_in_octets") == 64
