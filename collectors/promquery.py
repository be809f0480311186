"""Interface traffic from Prometheus' ``query_range`` API, for deployments where Prometheus keeps the history.

The queries and the parsing are pure; ``fetch_traffic`` is the one HTTP call
(stdlib ``urllib``, bounded by a timeout). The series are the exporter's
``wangnet_if_{in,out}_octets_total`` counters turned into bit/s with ``rate``.
"""
from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

# chart range → (seconds shown, step between points, rate window)
PROM_RANGES = {"hour": (3600, 30, "2m"), "day": (86400, 300, "10m"), "week": (7 * 86400, 3600, "1h")}


class PrometheusError(RuntimeError):
    """Prometheus could not answer; the message says where and why."""


@dataclass(frozen=True)
class RangeQuery:
    query: str
    start: int
    end: int
    step: int


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def traffic_queries(device: str, ifname: str, range_name: str, now: int) -> tuple[RangeQuery, RangeQuery]:
    """The in and out bit/s queries of one interface over ``range_name``."""
    span, step, window = PROM_RANGES[range_name]
    selector = f'device="{_label(device)}",ifname="{_label(ifname)}"'
    start = now - span
    return tuple(  # type: ignore[return-value]
        RangeQuery(f"8 * rate(wangnet_if_{way}_octets_total{{{selector}}}[{window}])", start, now, step)
        for way in ("in", "out")
    )


def parse_matrix(body: Any) -> dict[int, float]:
    """``{ts: value}`` of the first series of a ``query_range`` answer (empty when Prometheus has none)."""
    if not isinstance(body, dict) or body.get("status") != "success":
        error = body.get("error") if isinstance(body, dict) else None
        raise PrometheusError(f"query failed: {error or 'unexpected answer'}")
    data = body.get("data") or {}
    if data.get("resultType") != "matrix":
        raise PrometheusError(f"expected a matrix, got {data.get('resultType')!r}")
    result = data.get("result") or []
    if not result:
        return {}
    out: dict[int, float] = {}
    for ts, value in result[0].get("values", []):
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if number == number:  # NaN out
            out[int(float(ts))] = number
    return out


def merge_in_out(inbound: dict[int, float], outbound: dict[int, float]) -> list[tuple[int, float | None, float | None]]:
    return [(ts, inbound.get(ts), outbound.get(ts)) for ts in sorted(set(inbound) | set(outbound))]


def _get(base_url: str, q: RangeQuery, timeout: float) -> dict[int, float]:
    params = urllib.parse.urlencode({"query": q.query, "start": q.start, "end": q.end, "step": q.step})
    url = f"{base_url.rstrip('/')}/api/v1/query_range?{params}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - the configured Prometheus URL
            return parse_matrix(json.loads(resp.read()))
    except urllib.error.HTTPError as exc:
        try:
            detail = json.loads(exc.read()).get("error", "")
        except Exception:
            detail = ""
        raise PrometheusError(f"{base_url}: HTTP {exc.code} {detail}".rstrip()) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise PrometheusError(f"{base_url}: {getattr(exc, 'reason', exc)}") from None


def fetch_traffic(base_url: str, device: str, ifname: str, range_name: str, now: int, timeout: float = 5.0
                  ) -> tuple[list[tuple[int, float | None, float | None]], int]:
    """(points (ts, in_bps, out_bps), step) from Prometheus; ``PrometheusError`` when it cannot answer."""
    q_in, q_out = traffic_queries(device, ifname, range_name, now)
    return merge_in_out(_get(base_url, q_in, timeout), _get(base_url, q_out, timeout)), q_in.step
