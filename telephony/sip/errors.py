"""The one error of the codec."""
from __future__ import annotations


class SipSyntaxError(ValueError):
    """A malformed SIP message or header value; ``str()`` names what is wrong and where."""
