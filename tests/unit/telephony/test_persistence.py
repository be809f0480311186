"""Write-behind and reload of bindings and phone activity against a real (SQLite) store."""
from __future__ import annotations

from sqlalchemy import select

from telephony import persistence
from telephony.digest import ha1
from telephony.location import BindingRecord, PhoneActivity
from telephony.models import Binding, Phone

T0 = 1_800_000_000.0


def test_flush_and_load_round_trip(store) -> None:  # type: ignore[no-untyped-def]
    with store.session() as s:
        s.add(Phone(extension="1001", site_id="city", realm="r", ha1_md5=ha1("1001", "r", "p"), ha1_sha256=ha1("1001", "r", "p", "SHA-256")))
        s.add(Phone(extension="2001", site_id="dalad", realm="r", ha1_md5="x" * 32, ha1_sha256="y" * 64, enabled=False))
    creds = persistence.load_credentials(store)
    assert set(creds) == {"1001", "2001"} and creds["1001"].ha1("MD5") == ha1("1001", "r", "p") and not creds["2001"].enabled
    live = BindingRecord("sip:1001@127.0.0.1:5062", T0 + 600, "cid", 7, "baresip", "udp:127.0.0.1:5062", T0 - 60, T0)
    gone = BindingRecord("sip:1001@127.0.0.1:5064", T0 - 1, "cid2", 1, "x", "tcp:127.0.0.1:40000", T0 - 900, T0 - 900)
    persistence.flush(store, creds, {"1001": [live, gone], "9999": [live]},
                      {"1001": PhoneActivity(T0, "baresip", 2, T0 - 5), "9999": PhoneActivity(T0, "x")})
    loaded = persistence.load_bindings(store, T0)
    assert loaded == {"1001": {live.contact: live}}  # the expired one is not restored
    with store.session() as s:
        phone = s.scalars(select(Phone).where(Phone.extension == "1001")).one()
        assert phone.last_user_agent == "baresip" and phone.failed_attempts == 2
        assert persistence._epoch(phone.last_registered_at) == T0
        assert persistence._epoch(phone.last_failure_at) == T0 - 5
    # a later flush with no bindings left removes the rows; failures accumulate
    persistence.flush(store, creds, {"1001": []}, {"1001": PhoneActivity(new_failures=1, last_failure_at=T0 + 1)})
    with store.session() as s:
        assert s.scalars(select(Binding)).all() == []
        assert s.scalars(select(Phone.failed_attempts).where(Phone.extension == "1001")).one() == 3
