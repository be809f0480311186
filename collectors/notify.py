"""What to tell people about an alert, and when to hold back (pure).

Messages name sites in Chinese, as the people in the banners and townships
know them. Deduplication (the same news to the same person once per window)
and a per-recipient rate limit keep a bad night from becoming an SMS storm;
what was held back is counted and reported in the next message that goes out.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Mapping, Sequence

KIND_ZH = {"link": "链路", "device": "设备"}
MAX_SITES_IN_SMS = 6


@dataclass(frozen=True)
class AlertEvent:
    key: str
    kind: str  # link | device
    subject: str  # ids joined by "+"
    severity: str
    change: str  # opened | resolved
    cut_off_sites: tuple[str, ...] = ()


@dataclass(frozen=True)
class Message:
    subject: str
    body: str
    short: str  # for SMS


def _site_list(sites: Sequence[str], names: Mapping[str, str], limit: int | None = None) -> str:
    shown = [names.get(s, s) for s in sites]
    if limit is not None and len(shown) > limit:
        return "、".join(shown[:limit]) + f" 等{len(shown)}个站点"
    return "、".join(shown)


def render(event: AlertEvent, site_names: Mapping[str, str], suppressed: int = 0) -> Message:
    """Chinese text for e-mail and SMS; ids stay visible for the engineer who acts on it."""
    what = f"{KIND_ZH.get(event.kind, event.kind)} {event.subject.replace('+', ' 与 ')}"
    if event.change == "opened":
        if event.cut_off_sites:
            effect = f"切断 {len(event.cut_off_sites)} 个站点：{_site_list(event.cut_off_sites, site_names)}"
            short_effect = f"切断{_site_list(event.cut_off_sites, site_names, MAX_SITES_IN_SMS)}"
        else:
            effect = short_effect = "冗余降级，暂无站点中断"
        subject = f"【王网告警】{what} 故障"
        body = f"{what} 故障（{event.severity}）。\n{effect}。\n告警标识：{event.key}"
        short = f"【王网告警】{what}故障，{short_effect}"
    else:
        subject = f"【王网恢复】{what} 已恢复"
        body = f"{what} 已恢复，受影响站点已重新可达。\n告警标识：{event.key}"
        short = f"【王网恢复】{what}已恢复"
    if suppressed:
        note = f"（另有 {suppressed} 条通知因限流未发送）"
        body += "\n" + note
        short += note
    return Message(subject, body, short)


@dataclass
class Throttle:
    """Per-recipient dedup window and rate limit, on a clock the caller supplies (seconds)."""

    dedup_seconds: float = 600.0
    max_per_window: int = 5
    window_seconds: float = 600.0
    _sent: dict[tuple[str, str, str], float] = field(default_factory=dict)
    _recent: dict[str, deque[float]] = field(default_factory=dict)
    _held: dict[str, int] = field(default_factory=dict)

    def allow(self, recipient: str, event: AlertEvent, now: float) -> tuple[str, int]:
        """("send" | "duplicate" | "held", how many were held back for this recipient since the last one sent)."""
        key = (recipient, event.key, event.change)
        last = self._sent.get(key)
        if last is not None and now - last < self.dedup_seconds:
            return "duplicate", 0  # not news: not counted as held back either
        recent = self._recent.setdefault(recipient, deque())
        while recent and now - recent[0] >= self.window_seconds:
            recent.popleft()
        if len(recent) >= self.max_per_window:
            self._held[recipient] = self._held.get(recipient, 0) + 1
            return "held", 0
        recent.append(now)
        self._sent[key] = now
        return "send", self._held.pop(recipient, 0)
