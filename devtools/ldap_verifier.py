"""A tiny LDAP server that checks RDS IAM auth tokens, so a real PostgreSQL refuses a wrong one.

PostgreSQL's ``ldap`` authentication in simple-bind mode (``ldapprefix``/``ldapsuffix`` in
``pg_hba.conf``) takes the client's password in cleartext and issues exactly one LDAPv3 simple
BindRequest with DN ``<ldapprefix><user><ldapsuffix>`` and that password, then unbinds
(PostgreSQL documentation, "LDAP Authentication"). This server answers that bind: success when
the password is a token that :func:`connectors.iam.generate_auth_token` would make for the user,
the expected ``host:port`` and region, with the test's AWS keys, signed at most ``max_age``
seconds ago (900 like RDS, or less to test expiry); ``invalidCredentials`` otherwise. Every
decision is recorded in :attr:`TokenVerifier.decisions` (the reason, never the token).

>>> with ldap_token_verifier(IamEndpoint("db.x.us-east-1.rds.amazonaws.com", 5432, "us-east-1"),
...                          keys) as verifier:  # doctest: +SKIP
...     hba = verifier.hba_lines("iam_reader")

Only what that exchange needs is implemented: BER definite lengths, BindRequest, BindResponse,
UnbindRequest. Plain TCP on 127.0.0.1 (PostgreSQL's ``ldaptls`` stays off).
"""

from __future__ import annotations

import datetime as dt
import socket
import socketserver
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator, List, NamedTuple, Optional, Tuple
from urllib.parse import parse_qsl, urlsplit

from connectors.iam import TOKEN_LIFETIME_SECONDS, AwsKeys, IamSigning, generate_auth_token

SUFFIX = ",ou=iam,dc=sparkpg,dc=test"
PREFIX = "uid="
_SUCCESS, _INVALID_CREDENTIALS, _PROTOCOL_ERROR = 0, 49, 2
_BIND_REQUEST, _BIND_RESPONSE, _UNBIND_REQUEST = 0x60, 0x61, 0x42
_CLOCK_SKEW = dt.timedelta(seconds=60)


class IamEndpoint(NamedTuple):
    """What tokens must be signed for: the RDS endpoint's name and port, and its region."""

    host: str
    port: int
    region: str


class Decision(NamedTuple):
    """One bind: the database user, whether it was accepted, and why."""

    user: str
    accepted: bool
    reason: str


@dataclass
class TokenVerifier:
    """Checks tokens for ``endpoint`` against ``keys``; ``max_age`` shortens the 900 s lifetime;
    ``allowed_users`` stands for the IAM policy (``rds-db:connect`` on those ``dbuser``s only;
    empty: any)."""

    endpoint: IamEndpoint
    keys: AwsKeys
    allowed_users: Tuple[str, ...] = ()
    max_age: dt.timedelta = dt.timedelta(seconds=TOKEN_LIFETIME_SECONDS)
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc)
    decisions: List[Decision] = field(default_factory=list)
    port: int = 0

    def check(self, user: str, token: str) -> Optional[str]:
        """None when ``token`` lets ``user`` in, else why not."""
        parts = urlsplit("//" + token)
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        where = f"{parts.hostname}:{parts.port}" if parts.hostname else "?"
        expected = f"{self.endpoint.host}:{self.endpoint.port}"
        credential = params.get("X-Amz-Credential", "").split("/")
        if params.get("Action") != "connect" or len(credential) != 5:
            return "not an IAM auth token"
        if where != expected:
            return f"signed for {where}, not {expected}"
        if params.get("DBUser") != user:
            return f"signed for DBUser {params.get('DBUser')!r}, not {user!r}"
        if credential[2] != self.endpoint.region:
            return f"signed for region {credential[2]}, not {self.endpoint.region}"
        if credential[0] != self.keys.access_key_id:
            return "signed with another access key"
        if self.allowed_users and user not in self.allowed_users:
            return (
                f"the policy allows rds-db:connect for {', '.join(self.allowed_users)}, not {user}"
            )
        try:
            signed = dt.datetime.strptime(params.get("X-Amz-Date", ""), "%Y%m%dT%H%M%SZ")
        except ValueError:
            return "no valid X-Amz-Date"
        signed = signed.replace(tzinfo=dt.timezone.utc)
        age = self.clock() - signed
        if age > self.max_age or age < -_CLOCK_SKEW:
            return f"expired: signed {age.total_seconds():.0f} s ago (valid {self.max_age})"
        signing = IamSigning(self.endpoint.host, self.endpoint.port, self.endpoint.region, user)
        if generate_auth_token(signing, self.keys, now=signed) != token:
            return "signature does not match (wrong secret key or session token)"
        return None

    def hba_lines(self, user: str) -> List[str]:
        """The ``pg_hba.conf`` lines that send ``user``'s TLS logins (IPv4 and IPv6 loopback)
        to this verifier; the same user over plain TCP matches no line and is refused."""
        method = (
            f"ldap ldapserver=127.0.0.1 ldapport={self.port} "
            f'ldapprefix="{PREFIX}" ldapsuffix="{SUFFIX}"'
        )
        return [f"hostssl all {user} {net} {method}" for net in ("127.0.0.1/32", "::1/128")] + [
            f"host all {user} all reject"
        ]

    def last_refusal(self) -> Optional[Decision]:
        """The latest refused bind, if any."""
        return next((d for d in reversed(self.decisions) if not d.accepted), None)

    def _bind(self, dn: str, password: str) -> int:
        user = dn[len(PREFIX) : -len(SUFFIX)] if dn.startswith(PREFIX) else dn
        reason = self.check(user, password) if dn.endswith(SUFFIX) else f"unexpected DN {dn!r}"
        self.decisions.append(Decision(user, reason is None, reason or "valid token"))
        return _SUCCESS if reason is None else _INVALID_CREDENTIALS


# --- BER, as much as a simple bind needs -------------------------------------------------------


def _read_exact(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def _read_tlv(sock: socket.socket) -> Tuple[int, bytes]:
    tag, first = _read_exact(sock, 2)
    length = first
    if first & 0x80:
        length = int.from_bytes(_read_exact(sock, first & 0x7F), "big")
    return tag, _read_exact(sock, length)


def _split(data: bytes) -> List[Tuple[int, bytes]]:
    items, pos = [], 0
    while pos < len(data):
        tag, length = data[pos], data[pos + 1]
        pos += 2
        if length & 0x80:
            count = length & 0x7F
            length = int.from_bytes(data[pos : pos + count], "big")
            pos += count
        items.append((tag, data[pos : pos + length]))
        pos += length
    return items


def _tlv(tag: int, value: bytes) -> bytes:
    size = len(value)
    head = bytes([size]) if size < 0x80 else bytes([0x82]) + size.to_bytes(2, "big")
    return bytes([tag]) + head + value


def _bind_response(message_id: bytes, code: int, text: str) -> bytes:
    body = _tlv(0x0A, bytes([code])) + _tlv(0x04, b"") + _tlv(0x04, text.encode("utf-8"))
    return _tlv(0x30, _tlv(0x02, message_id) + _tlv(_BIND_RESPONSE, body))


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        while True:
            try:
                tag, message = _read_tlv(self.request)
            except (EOFError, OSError):
                return
            parts = _split(message) if tag == 0x30 else []
            if len(parts) < 2 or parts[1][0] == _UNBIND_REQUEST:
                return
            message_id, (op, body) = parts[0][1], parts[1]
            if op != _BIND_REQUEST:
                self.request.sendall(_bind_response(message_id, _PROTOCOL_ERROR, "bind only"))
                return
            fields = _split(body)  # version, name, simple [0] password
            dn, password = fields[1][1].decode("utf-8"), fields[2][1].decode("utf-8")
            code = self.server.verifier._bind(dn, password)
            self.request.sendall(_bind_response(message_id, code, ""))


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, verifier: TokenVerifier) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.verifier = verifier


@contextmanager
def ldap_token_verifier(
    endpoint: IamEndpoint, keys: AwsKeys, *, allowed_users: Tuple[str, ...] = ()
) -> Iterator[TokenVerifier]:
    """Run a :class:`TokenVerifier` on 127.0.0.1 (its ``port`` set) until the block ends."""
    verifier = TokenVerifier(endpoint, keys, allowed_users)
    server = _Server(verifier)
    verifier.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, name="ldap-verifier", daemon=True)
    thread.start()
    try:
        yield verifier
    finally:
        server.shutdown()
        server.server_close()
