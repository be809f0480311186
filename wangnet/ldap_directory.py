"""Directory login, the I/O part: binds and searches against the LDAP server with ldap3.

The user's password is checked by the directory itself (a simple bind as the
user's DN), never against anything wangnet stores. Each login opens its own
short-lived connections with the configured timeout, so a slow or dead
directory costs that login its timeout and nothing else. Which DN to bind,
which filter to search with and what the groups mean are decided by the pure
functions in ``wangnet/directory.py``.
"""
from __future__ import annotations

import logging
import math
import ssl

from ldap3 import BASE, NONE, SUBTREE, Connection, Server, Tls
from ldap3.core.exceptions import LDAPException
from ldap3.core.results import RESULT_INVALID_CREDENTIALS, RESULT_NO_SUCH_OBJECT
from ldap3.utils.log import set_library_log_hide_sensitive_data

from wangnet import directory
from wangnet.credentials import CredentialResolver, Secret
from wangnet.directory import DirectoryConfig, DirectoryGroup, DirectoryUnavailable, DirectoryUser

log = logging.getLogger(__name__)
# Should an operator turn on ldap3's own debug log, bind passwords still stay out of it.
set_library_log_hide_sensitive_data(True)
USER_ATTRIBUTES = ["uid", "cn", "displayName", "mail"]


class LdapDirectory:
    """Authenticates users by binding to the directory and reads their groups."""

    def __init__(self, config: DirectoryConfig, service_password: Secret | None = None) -> None:
        self.config = config
        self._service_password = service_password
        tls = None
        if config.uses_tls:
            # ldap3 then builds Python's default client context and checks the name in the certificate itself.
            tls = Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=str(config.ca_file) if config.ca_file else None)
        self._server = Server(config.url, get_info=NONE, tls=tls, connect_timeout=config.timeout)

    @classmethod
    def from_config(cls, config: DirectoryConfig, resolver: CredentialResolver) -> "LdapDirectory":
        """Resolve the service account's password (if one is configured) from the credentials store."""
        password = resolver.field(config.service_credential, "password") if config.service_bind_dn else None
        return cls(config, password)

    def _connect(self, user: str | None, password: str | None) -> Connection:
        """An open connection (StartTLS done if asked), not yet bound."""
        conn = Connection(
            self._server,
            user=user,
            password=password,
            auto_bind=False,
            read_only=True,
            receive_timeout=math.ceil(self.config.timeout),  # ldap3 packs it into SO_RCVTIMEO: whole seconds
            raise_exceptions=False,
        )
        conn.open()
        if self.config.start_tls and not conn.start_tls():
            conn.unbind()
            raise DirectoryUnavailable(f"StartTLS with {self.config.url} failed: {conn.result.get('description')}")
        return conn

    def _service_connection(self) -> Connection:
        """Bound as the service account, or anonymously when none is configured."""
        if self.config.service_bind_dn:
            assert self._service_password is not None
            conn = self._connect(self.config.service_bind_dn, self._service_password.reveal())
        else:
            conn = self._connect(None, None)
        if not conn.bind():
            description = conn.result.get("description")
            conn.unbind()
            who = self.config.service_bind_dn or "anonymous"
            raise DirectoryUnavailable(f"the directory refused the service bind as {who}: {description}")
        return conn

    def authenticate(self, username: str, password: str) -> DirectoryUser | None:
        """The directory's view of the user if the password binds, None if name or password is wrong.

        Raises DirectoryUnavailable when the directory cannot answer; the
        message never holds the password.
        """
        if not password or not username:
            return None  # an empty password would be an "unauthenticated bind" that succeeds
        try:
            return self._authenticate(username, password)
        except (LDAPException, OSError) as exc:  # OSError: ldap3 re-raises some socket/TLS errors unwrapped
            message = f"{type(exc).__name__}: {exc}".replace(password, "***")
            raise DirectoryUnavailable(f"directory {self.config.url}: {message}") from None

    def _authenticate(self, username: str, password: str) -> DirectoryUser | None:
        cfg = self.config
        service = None if cfg.bind_dn_template else self._service_connection()
        try:
            if cfg.bind_dn_template:
                user_dn = directory.bind_dn(cfg.bind_dn_template, username)
            else:
                assert service is not None
                service.search(
                    cfg.user_base, directory.user_filter(cfg.user_filter, username), SUBTREE,
                    attributes=USER_ATTRIBUTES, size_limit=2,
                )
                self._check_search(service, "user search")
                entries = [e for e in service.response if e.get("type") == "searchResEntry"]
                if len(entries) != 1:
                    if len(entries) > 1:
                        log.error("directory user filter matched more than one entry for %r; refusing", username)
                    return None
                user_dn = entries[0]["dn"]
            conn = self._connect(user_dn, password)
            try:
                if not conn.bind():
                    if conn.result.get("result") in (RESULT_INVALID_CREDENTIALS, RESULT_NO_SUCH_OBJECT):
                        return None
                    raise DirectoryUnavailable(
                        f"directory {cfg.url}: bind failed: {conn.result.get('description')}"
                    )
                conn.search(user_dn, "(objectClass=*)", BASE, attributes=USER_ATTRIBUTES)
                self._check_search(conn, "reading the user entry")
                attrs = next((e["attributes"] for e in conn.response if e.get("type") == "searchResEntry"), {})
                name = _first(attrs.get("uid")) or username  # the directory's spelling (memberUid is case-exact)
                reader = service or conn
                reader.search(
                    cfg.group_base, directory.group_filter(cfg.group_filter, user_dn, name), SUBTREE,
                    attributes=["cn"],
                )
                self._check_search(reader, "group search")
                groups = tuple(
                    DirectoryGroup(dn=e["dn"], cn=_first(e["attributes"].get("cn")) or "")
                    for e in reader.response
                    if e.get("type") == "searchResEntry"
                )
            finally:
                conn.unbind()
        finally:
            if service is not None:
                service.unbind()
        return DirectoryUser(
            dn=user_dn,
            username=name,
            display_name=_first(attrs.get("displayName")) or _first(attrs.get("cn")) or name,
            email=_first(attrs.get("mail")),
            groups=groups,
        )

    def _check_search(self, conn: Connection, what: str) -> None:
        result = conn.result or {}
        # 0 success, 4 size limit (more than one user matched: handled by the caller), 32 no such object (empty base)
        if result.get("result") not in (0, 4, 32):
            raise DirectoryUnavailable(f"directory {self.config.url}: {what} failed: {result.get('description')}")


def _first(value: object) -> str | None:
    """ldap3 gives multi-valued attributes as lists and single-valued ones as scalars."""
    if isinstance(value, (list, tuple)):
        return str(value[0]) if value else None
    if value in (None, ""):
        return None
    return str(value)
