"""The unit tests' socket guard (tests/unit/conftest.py): a non-loopback connect, send or name
lookup fails the test before anything leaves the machine; loopback and Unix sockets work."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

# TEST-NET-1 (RFC 5737) and the IPv6 documentation prefix: never routed anywhere
UNROUTABLE_V4 = "192.0.2.1"
UNROUTABLE_V6 = "2001:db8::1"
BLOCKED = pytest.fail.Exception


@pytest.fixture
def loopback_server() -> Iterator[int]:
    """A TCP listener on 127.0.0.1; yields its port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def assert_nothing_sent(sock: socket.socket) -> None:
    # The kernel binds an ephemeral port before it sends a first SYN or datagram; port 0 means
    # the call never reached the kernel.
    assert sock.getsockname()[1] == 0


@pytest.mark.parametrize("method", ["connect", "connect_ex"])
def test_tcp_connect_to_a_non_loopback_address_fails_before_any_packet(network_guard, method):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        with pytest.raises(BLOCKED, match=f"must not use the network.*{UNROUTABLE_V4}"):
            getattr(sock, method)((UNROUTABLE_V4, 80))
        assert_nothing_sent(sock)
    assert len(network_guard.take_blocked()) == 1


def test_ipv6_connect_to_a_non_loopback_address_fails(network_guard):
    if not socket.has_ipv6:
        pytest.skip("no IPv6 sockets here")
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
        with pytest.raises(BLOCKED, match=UNROUTABLE_V6):
            sock.connect((UNROUTABLE_V6, 80, 0, 0))
        assert_nothing_sent(sock)
    network_guard.take_blocked()


def test_udp_datagram_to_a_non_loopback_address_is_not_sent(network_guard):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        with pytest.raises(BLOCKED, match=UNROUTABLE_V4):
            sock.sendto(b"x", (UNROUTABLE_V4, 53))
        assert_nothing_sent(sock)
    network_guard.take_blocked()


def test_name_lookups_fail_before_any_dns_query(network_guard):
    with pytest.raises(BLOCKED, match="resolving 'example.com'"):
        socket.getaddrinfo("example.com", 443)
    with pytest.raises(BLOCKED, match="example.com"):
        socket.create_connection(("example.com", 443), timeout=1)
    assert len(network_guard.take_blocked()) == 2


def test_an_ip_literal_is_parsed_locally_and_its_connect_is_blocked(network_guard):
    assert socket.getaddrinfo(UNROUTABLE_V4, 80)  # numeric: no DNS query, nothing to block
    with pytest.raises(BLOCKED, match=f"socket.connect to '{UNROUTABLE_V4}'"):
        socket.create_connection((UNROUTABLE_V4, 80), timeout=1)
    assert len(network_guard.take_blocked()) == 1


def test_a_blocked_access_fails_the_test_even_if_the_code_swallows_it(network_guard):
    with socket.socket() as sock:
        try:
            sock.connect((UNROUTABLE_V4, 80))
        except BaseException:  # code under test that hides every error
            pass
    with pytest.raises(BLOCKED, match=f"swallowed.*{UNROUTABLE_V4}"):
        network_guard.verify()  # what the guard runs after each test phase
    assert network_guard.take_blocked() == []  # verify reported it once


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_loopback_connections_work(loopback_server, host):
    with socket.create_connection((host, loopback_server), timeout=5) as conn:
        assert conn.getpeername()[1] == loopback_server


def test_loopback_datagrams_work():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        receiver.bind(("127.0.0.1", 0))
        receiver.settimeout(5)
        sender.sendto(b"ping", receiver.getsockname())
        assert receiver.recv(16) == b"ping"


@pytest.mark.parametrize("host", ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1",
                                  "localhost", None])
def test_loopback_and_local_names_resolve(host):
    assert socket.getaddrinfo(host, 80, type=socket.SOCK_STREAM)


def test_unix_sockets_work(tmp_path: Path):
    path = str(tmp_path / "s")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(path)
        server.listen()
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(path)
            assert client.getpeername() == path
