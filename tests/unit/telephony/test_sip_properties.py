"""Property tests of the codec: whatever the bytes, the parser answers with a message or SipSyntaxError;
generated well-formed messages survive a round trip unchanged."""
from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from telephony.sip import SipSyntaxError, parse_message
from telephony.sip.message import frame_length

VALID = (Path(__file__).resolve().parents[2] / "fixtures" / "sip" / "messages" / "valid" / "register.sip").read_bytes()

token = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~", min_size=1, max_size=12)
value = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=0x4E2D, blacklist_characters="\r\n\x7f"), min_size=1, max_size=40)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_never_crash(data: bytes) -> None:
    try:
        parse_message(data)
    except SipSyntaxError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=len(VALID)), st.binary(min_size=1, max_size=8))
def test_mutated_messages_never_crash(position: int, junk: bytes) -> None:
    data = VALID[:position] + junk + VALID[position + len(junk):]
    try:
        parse_message(data)
    except SipSyntaxError:
        pass
    try:
        frame_length(data)
    except SipSyntaxError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(token, value), max_size=8), st.binary(max_size=64))
def test_generated_messages_round_trip(extra: list[tuple[str, str]], body: bytes) -> None:
    lines = [
        "MESSAGE sip:1001@wangnet.ordos SIP/2.0",
        "Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bKprop",
        "From: <sip:2001@wangnet.ordos>;tag=p",
        "To: <sip:1001@wangnet.ordos>",
        "Call-ID: prop",
        "CSeq: 1 MESSAGE",
    ]
    lines += [f"X-{name}: {text.strip() or 'v'}" for name, text in extra]
    lines.append(f"Content-Length: {len(body)}")
    data = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
    message = parse_message(data)
    assert bytes(message) == data
    assert message.body == body
    assert frame_length(data + b"next") == len(data)
