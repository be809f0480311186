"""IF-MIB columns and turning a bulk walk's varbinds into interface rows (pure).

Numeric OIDs because Debian ships no IETF MIB files (and resolving names costs
CPU on every poll). One multi-column GETBULK walk covers the whole table: the
response is row-major, one varbind per column per repetition; a column ends
where its OID leaves the column's subtree.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

SYS_DESCR = "1.3.6.1.2.1.1.1.0"
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
SYS_NAME = "1.3.6.1.2.1.1.5.0"

# column name -> OID of the column (ifTable 1.3.6.1.2.1.2.2.1, ifXTable 1.3.6.1.2.1.31.1.1.1)
COLUMNS: dict[str, str] = {
    "name": "1.3.6.1.2.1.31.1.1.1.1",
    "oper_status": "1.3.6.1.2.1.2.2.1.8",
    "admin_status": "1.3.6.1.2.1.2.2.1.7",
    "high_speed": "1.3.6.1.2.1.31.1.1.1.15",
    "hc_in_octets": "1.3.6.1.2.1.31.1.1.1.6",
    "hc_out_octets": "1.3.6.1.2.1.31.1.1.1.10",
    "hc_in_ucast": "1.3.6.1.2.1.31.1.1.1.7",
    "hc_out_ucast": "1.3.6.1.2.1.31.1.1.1.11",
    "in_errors": "1.3.6.1.2.1.2.2.1.14",
    "out_errors": "1.3.6.1.2.1.2.2.1.20",
    "in_discards": "1.3.6.1.2.1.2.2.1.13",
    "out_discards": "1.3.6.1.2.1.2.2.1.19",
}
# Counter32 columns (wrap at 2**32); the hc_* ones are Counter64.
COUNTER32 = frozenset({"in_errors", "out_errors", "in_discards", "out_discards"})


@dataclass(frozen=True)
class InterfaceRow:
    index: int
    name: str
    oper_up: bool | None
    admin_up: bool | None
    speed_mbps: int | None
    counters: Mapping[str, int]  # hc_in_octets, hc_out_octets, ..., in_errors, ...


class WalkState:
    """Which columns are still being walked, and where each continues from."""

    def __init__(self, columns: Mapping[str, str]) -> None:
        self.columns = dict(columns)
        self.next_oid: dict[str, str] = dict(columns)
        self.done: set[str] = set()
        self.cells: dict[int, dict[str, object]] = {}

    @property
    def active(self) -> list[str]:
        return [c for c in self.columns if c not in self.done]

    def feed(self, active: Sequence[str], varbinds: Sequence[tuple[str, object]]) -> None:
        """Absorb one GETBULK response for the ``active`` columns (row-major order)."""
        if not varbinds:
            self.done.update(active)
            return
        width = len(active)
        advanced: set[str] = set()
        for position, (oid, value) in enumerate(varbinds):
            column = active[position % width]
            if column in self.done:
                continue
            prefix = self.columns[column] + "."
            if not oid.startswith(prefix) or value is None:
                self.done.add(column)  # left the column, or endOfMibView
                continue
            suffix = oid[len(prefix):]
            if not suffix.isdigit():
                self.done.add(column)
                continue
            self.cells.setdefault(int(suffix), {})[column] = value
            self.next_oid[column] = oid
            advanced.add(column)
        for column in active:
            if column not in advanced:
                self.done.add(column)  # no progress: avoid looping forever on a broken agent


def _status(value: object) -> bool | None:
    try:
        return int(value) == 1  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None


def build_rows(cells: Mapping[int, Mapping[str, object]]) -> list[InterfaceRow]:
    """Interface rows from walked cells; counters absent on an agent are simply left out."""
    rows = []
    for index in sorted(cells):
        cell = cells[index]
        counters = {}
        for column in COLUMNS:
            if column in ("name", "oper_status", "admin_status", "high_speed") or column not in cell:
                continue
            try:
                counters[column] = int(cell[column])  # type: ignore[call-overload]
            except (TypeError, ValueError):
                continue
        speed = cell.get("high_speed")
        rows.append(
            InterfaceRow(
                index=index,
                name=str(cell.get("name", f"if{index}")),
                oper_up=_status(cell.get("oper_status")),
                admin_up=_status(cell.get("admin_status")),
                speed_mbps=int(speed) if speed is not None else None,  # type: ignore[call-overload]
                counters=counters,
            )
        )
    return rows


def counter_bits(column: str) -> int:
    return 32 if column in COUNTER32 else 64


def rows_by_name(rows: Iterable[InterfaceRow]) -> dict[str, InterfaceRow]:
    return {row.name: row for row in rows}
