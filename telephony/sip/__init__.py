"""SIP codec (RFC 3261): pure parsing and serialising of messages, URIs and header values.

Nothing here touches sockets or clocks: bytes and strings in, values out,
``SipSyntaxError`` with a precise reason for anything malformed.
"""
from telephony.sip.errors import SipSyntaxError
from telephony.sip.headers import Headers, NameAddr, Via, parse_auth_params, parse_cseq, split_values
from telephony.sip.message import Message, Request, Response, parse_message
from telephony.sip.uri import SipUri

__all__ = [
    "Headers",
    "Message",
    "NameAddr",
    "Request",
    "Response",
    "SipSyntaxError",
    "SipUri",
    "Via",
    "parse_auth_params",
    "parse_cseq",
    "parse_message",
    "split_values",
]
