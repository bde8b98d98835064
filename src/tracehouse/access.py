"""Who may talk to the backend, and from where: bearer tokens, the Host check against DNS rebinding, the
security headers of every HTTP response, and the rule that refuses to expose an unprotected backend.

Plain values in, plain answers out, so the OTLP receivers and the query API (two layers that must not
import each other) share one definition. The threat model is in docs/security.md.
"""

from __future__ import annotations

import hmac
import ipaddress
import socket
from collections.abc import Iterable, Mapping
from pathlib import Path

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Scripts and styles only from this origin (no inline code, no eval); data is fetched from this
# origin only; the page cannot be framed. Pages build DOM with textContent, and this is the second
# wall should a bug ever let markup through.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.", "ip6-localhost", "ip6-loopback"})
_WILDCARDS = frozenset({"", "0.0.0.0", "::"})


class AccessConfigError(ValueError):
    """A token file or a TLS file cannot be used; the message names the setting."""


# ---- Tokens

def load_tokens(inline: str, file: str, inline_source: str, file_source: str) -> tuple[str, ...]:
    """The accepted tokens: `inline` (if set) and every line of `file` (if set; blank lines and lines
    starting with # are skipped). Several tokens let a team rotate one without a flag day."""
    tokens: list[str] = []
    if inline.strip():
        tokens.append(_checked(inline.strip(), inline_source))
    if file:
        try:
            text = Path(file).expanduser().read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise AccessConfigError(f"{file_source}: cannot read {file}: {exc}") from exc
        lines = [line.strip() for line in text.splitlines()]
        from_file = [_checked(line, file_source) for line in lines if line and not line.startswith("#")]
        if not from_file:
            raise AccessConfigError(f"{file_source}: {file} holds no token")
        tokens.extend(from_file)
    return tuple(dict.fromkeys(tokens))


def _checked(token: str, source: str) -> str:
    # A header value cannot hold control characters or spaces (a bearer token is a token68).
    if any(c.isspace() or ord(c) < 0x21 or ord(c) > 0x7E for c in token):
        raise AccessConfigError(f"{source}: a token must be printable ASCII without spaces")
    return token


class TokenCheck:
    """Accepts a request when it presents one of the configured tokens; with none configured, every request."""

    def __init__(self, tokens: Iterable[str]) -> None:
        self._tokens = tuple(t.encode() for t in tokens)

    @property
    def required(self) -> bool:
        return bool(self._tokens)

    def accepts(self, token: str | None) -> bool:
        if not self._tokens:
            return True
        if not token:
            return False
        given = token.encode(errors="replace")
        # Compare against every token, in constant time, so timing tells nothing about which was close.
        matches = [hmac.compare_digest(given, expected) for expected in self._tokens]
        return any(matches)

    def accepts_authorization(self, header: str | None) -> bool:
        """`Authorization: Bearer <token>` (the scheme is case-insensitive, as in RFC 6750 and the
        OpenTelemetry collector's bearertokenauth extension)."""
        return self.accepts(bearer_token(header))


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None


# ---- Addresses

def host_of(header: str) -> str:
    """The host part of a Host header: 'example.com:8080' -> 'example.com', '[::1]:80' -> '::1'."""
    text = header.strip().lower()
    if text.startswith("["):
        return text[1:].partition("]")[0]
    if text.count(":") == 1:
        return text.partition(":")[0]
    return text


def is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def is_loopback(host: str) -> bool:
    """True for loopback addresses and the names that always mean this machine."""
    name = host.strip().strip("[]").lower()
    if name in _LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class HostCheck:
    """The DNS-rebinding defence: a browser page from attacker.example whose name later resolves to
    127.0.0.1 is same-origin with this backend, but its requests still say `Host: attacker.example`.

    Allowed: loopback names, any IP literal (rebinding needs a DNS name the attacker controls), the
    bound name, this machine's names when bound to every interface, and `extra` (comma-separated;
    `*` allows everything, for a reverse proxy that checks names itself)."""

    def __init__(self, bound_host: str, extra: str = "") -> None:
        names = {n.strip().lower().rstrip(".") for n in extra.split(",") if n.strip()}
        self.any = "*" in names
        bound = bound_host.strip().strip("[]").lower()
        if bound not in _WILDCARDS:
            names.add(bound)
        else:
            names.update(_machine_names())
        self.names = frozenset(n for n in names if n != "*")

    def allows(self, header: str | None) -> bool:
        if self.any or header is None:
            # No Host header: HTTP/1.0 from a script. Browsers always send one.
            return True
        host = host_of(header).rstrip(".")
        return is_loopback(host) or is_ip_literal(host) or host in self.names


def host_check(bound_host: str, extra: str, token_required: bool) -> HostCheck:
    """The Host check of one port. A port that requires a token accepts any name: a DNS-rebinding page
    can present neither the token nor the session cookie (which belongs to the real name), and clients
    of a protected backend use names no allow-list foresees (docker-compose services, load balancers)."""
    return HostCheck(bound_host, "*" if token_required else extra)


def _machine_names() -> set[str]:
    # getfqdn() answers gethostname() itself when the name does not resolve.
    return {socket.gethostname().lower(), socket.getfqdn().lower()}


def exposure_problem(host: str, ingest_token: bool, query_token: bool) -> str | None:
    """Why binding `host` would expose an unprotected port, or None when it would not."""
    if is_loopback(host):
        return None
    missing = [what for what, present in (("an ingest token (--ingest-token-file)", ingest_token),
                                          ("a query token (--query-token-file)", query_token)) if not present]
    if not missing:
        return None
    where = "every interface" if host.strip("[]") in _WILDCARDS else host
    return (f"refusing to listen on {where} without {' and '.join(missing)}: anyone who can reach the port "
            "could send, read and query traces. Set the token(s), bind to 127.0.0.1, or pass --insecure "
            "to accept that risk (see docs/security.md).")


# ---- The middleware both HTTP listeners share

class GuardMiddleware:
    """Answers 421 to a Host that is not this backend's, and adds the security headers to every response
    (a header the app set itself, such as a page's own Content-Security-Policy, is kept)."""

    def __init__(self, app: ASGIApp, hosts: HostCheck, headers: Mapping[str, str] = SECURITY_HEADERS) -> None:
        self.app = app
        self.hosts = hosts
        self.headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = _header(scope, b"host")
        if not self.hosts.allows(host):
            await self._misdirected(host or "", send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in self.headers if k not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _misdirected(self, host: str, send: Send) -> None:
        body = (f"421 Misdirected Request: this tracehouse does not answer to the name {host_of(host)!r}. "
                "If that name is yours, add it with --allowed-hosts (TRACEHOUSE_ALLOWED_HOSTS). "
                "This check stops web pages from reaching the backend through DNS rebinding.\n").encode()
        await send({"type": "http.response.start", "status": 421,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                (b"content-length", str(len(body)).encode()), *self.headers]})
        await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value).decode("latin-1")
    return None
