"""SIP and SIPS URIs (RFC 3261 §19.1): ``sip:user:password@host:port;params?headers``."""
from __future__ import annotations

from dataclasses import dataclass, field

from telephony.sip.errors import SipSyntaxError

_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.")


@dataclass
class SipUri:
    """A parsed SIP URI; ``str()`` gives it back in its canonical spelling."""

    scheme: str = "sip"
    user: str = ""
    password: str = ""
    host: str = ""
    port: int | None = None
    params: dict[str, str | None] = field(default_factory=dict)
    headers: str = ""

    @classmethod
    def parse(cls, text: str) -> "SipUri":
        """Parse a ``sip:``/``sips:`` URI; raises ``SipSyntaxError`` naming the faulty part."""
        scheme, sep, rest = text.partition(":")
        scheme_l = scheme.lower()
        if not sep or scheme_l not in ("sip", "sips"):
            raise SipSyntaxError(f"URI {text!r} is not a sip: or sips: URI")
        rest, _, headers = rest.partition("?")
        rest, *param_parts = rest.split(";")
        user = password = ""
        if "@" in rest:
            userinfo, _, hostport = rest.rpartition("@")
            user, _, password = userinfo.partition(":")
            if not user:
                raise SipSyntaxError(f"URI {text!r} has an empty user part")
        else:
            hostport = rest
        host, port = _split_hostport(hostport, text)
        params: dict[str, str | None] = {}
        for part in param_parts:
            if not part:
                raise SipSyntaxError(f"URI {text!r} has an empty parameter")
            name, eq, value = part.partition("=")
            params[name.lower()] = value if eq else None
        return cls(scheme_l, user, password, host, port, params, headers)

    @property
    def hostport(self) -> str:
        return self.host if self.port is None else f"{self.host}:{self.port}"

    @property
    def transport(self) -> str:
        """The transport the URI asks for (``udp`` unless ``;transport=`` says otherwise)."""
        value = self.params.get("transport")
        return (value or "udp").lower()

    def __str__(self) -> str:
        out = [self.scheme, ":"]
        if self.user:
            out.append(self.user)
            if self.password:
                out.append(":" + self.password)
            out.append("@")
        out.append(self.hostport)
        for name, value in self.params.items():
            out.append(f";{name}" if value is None else f";{name}={value}")
        if self.headers:
            out.append("?" + self.headers)
        return "".join(out)


def _split_hostport(hostport: str, text: str) -> tuple[str, int | None]:
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise SipSyntaxError(f"URI {text!r} has an unclosed IPv6 reference")
        host, rest = hostport[: end + 1], hostport[end + 1 :]
        if rest and not rest.startswith(":"):
            raise SipSyntaxError(f"URI {text!r} has junk after the IPv6 reference")
        port_text = rest[1:] if rest else ""
        has_port = bool(rest)
    else:
        host, has_port_sep, port_text = hostport.partition(":")
        has_port = bool(has_port_sep)
        if not host:
            raise SipSyntaxError(f"URI {text!r} has no host")
        if not set(host) <= _HOST_CHARS:
            raise SipSyntaxError(f"URI {text!r} has an invalid host {host!r}")
    if not has_port:
        return host, None
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise SipSyntaxError(f"URI {text!r} has an invalid port {port_text!r}")
    return host, int(port_text)
