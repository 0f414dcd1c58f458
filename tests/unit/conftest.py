"""Unit tests run without a network: a socket guard fails the test on any attempt to leave the
machine.

While each unit test runs (its setup, call and teardown; not the session's final teardown,
which finalises the integration fixtures too), connecting or sending to an address that is not
loopback, and resolving a name other than ``localhost``, fail the test before the kernel sees
anything (no packet, no DNS query). Loopback stays allowed: some launcher tests talk
to a fake LocalStack on 127.0.0.1. If the code under test swallows the failure, the test fails
anyway at the end of that phase. ``network_guard`` hands the guard to its own tests.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

LOOPBACK_NAMES = frozenset({"localhost"})
GUARD_KEY = pytest.StashKey["NetworkGuard"]()


def host_text(host: Any) -> str:
    return host.decode("ascii", "replace") if isinstance(host, bytes) else str(host)


def ip_literal(host: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host_text(host))
    except ValueError:
        return None


def is_loopback(host: Any) -> bool:
    """True for None (getaddrinfo's local address), loopback IPs and ``localhost``."""
    if host is None:
        return True
    ip = ip_literal(host)
    if ip is None:
        return host_text(host).lower().rstrip(".") in LOOPBACK_NAMES
    mapped = getattr(ip, "ipv4_mapped", None)  # ::ffff:127.0.0.1 is loopback too
    return ip.is_loopback or (mapped is not None and mapped.is_loopback)


class NetworkGuard:
    """Records and fails every attempt to reach a non-loopback address."""

    def __init__(self) -> None:
        self.blocked: list[str] = []

    def check(self, action: str, host: Any) -> None:
        __tracebackhide__ = True  # the failure points at the caller, not at the guard
        if is_loopback(host):
            return
        message = (f"unit tests must not use the network: {action} {host!r} was blocked "
                   "(use 127.0.0.1, a fake or moto, or move the test to tests/integration)")
        self.blocked.append(message)
        # pytest's Failed is a BaseException: `except Exception` / `except OSError` in the code
        # under test do not turn it into a retry or a fallback
        pytest.fail(message)

    def verify(self) -> None:
        """Fail if an attempt was blocked but its failure was caught before reaching pytest."""
        if blocked := self.take_blocked():
            pytest.fail("the code under test swallowed a blocked network access: "
                        + "; ".join(blocked), pytrace=False)

    def take_blocked(self) -> list[str]:
        """The recorded attempts, cleared: the guard's own tests expect them."""
        blocked, self.blocked = self.blocked, []
        return blocked

    def patched(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Route socket's entry points to the network through ``check``."""
        guard = self

        def inet_host(sock: socket.socket, address: Any) -> Any:
            # None (local) for Unix, netlink and other families that never leave the machine
            return address[0] if sock.family in (socket.AF_INET, socket.AF_INET6) else None

        def guarded(action: str, original: Callable[..., Any]) -> Callable[..., Any]:
            def method(sock: socket.socket, *args: Any) -> Any:
                __tracebackhide__ = True
                # connect(address), connect_ex(address), sendto(data, [flags,] address)
                guard.check(action, inet_host(sock, args[-1]))
                return original(sock, *args)
            return method

        for name in ("connect", "connect_ex", "sendto"):
            original = getattr(socket.socket, name)
            monkeypatch.setattr(socket.socket, name, guarded(f"socket.{name} to", original))

        original_getaddrinfo = socket.getaddrinfo

        def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
            __tracebackhide__ = True
            # a name may mean a DNS query (create_connection resolves here too); an IP literal
            # is parsed locally, and connect/sendto check where it goes
            if ip_literal(host) is None:
                guard.check("resolving", host)
            return original_getaddrinfo(host, *args, **kwargs)

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@contextmanager
def _guarded(item: pytest.Item) -> Iterator[None]:
    guard = item.stash.setdefault(GUARD_KEY, NetworkGuard())
    with pytest.MonkeyPatch.context() as monkeypatch:
        guard.patched(monkeypatch)
        try:
            yield
        except BaseException:
            guard.take_blocked()  # the phase failed: pytest reports it, no second failure
            raise
    guard.verify()


# Hooks rather than an autouse fixture: the guard then also covers the setup and teardown of
# fixtures of every scope, and only for items under tests/unit (conftest hooks are per directory).
@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    with _guarded(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    with _guarded(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    if nextitem is None:
        # the session ends here: session fixtures of every directory are finalised too, and the
        # integration ones may talk to a LocalStack that is not on loopback
        return (yield)
    with _guarded(item):
        return (yield)


@pytest.fixture
def network_guard(request: pytest.FixtureRequest) -> NetworkGuard:
    """This test's socket guard (for the guard's own tests)."""
    return request.node.stash[GUARD_KEY]


WarmRequest = tuple[str, dict[str, str], "bytes | None"]


@pytest.fixture
def warm_requests(monkeypatch: pytest.MonkeyPatch) -> list[WarmRequest]:
    """The requests scripts/service_warmup.py sends, as (url, lower-cased headers, body); each
    is answered with an empty 200."""
    import service_warmup

    sent: list[WarmRequest] = []

    class Answer:
        def __enter__(self) -> Answer:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

    def urlopen(req: Any, timeout: float) -> Answer:
        sent.append((req.full_url, {k.lower(): v for k, v in req.header_items()}, req.data))
        return Answer()

    monkeypatch.setattr(service_warmup, "_open", urlopen)
    return sent
