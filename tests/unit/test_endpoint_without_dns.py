"""scripts/endpoint.without_dns and `make status`'s DNS line: URLs under LocalStack's standard
name are reached via the endpoint with a Host header (no DNS needed)."""

from __future__ import annotations

import socket

import pytest

from endpoint import without_dns
from launcher import cli


def test_function_url_goes_to_the_endpoint_with_its_host() -> None:
    url = "http://abc.lambda-url.us-east-1.localhost.localstack.cloud:4599/p/q?x=1&y=2"
    target, headers = without_dns(url, "http://127.0.0.1:4599")
    assert target == "http://127.0.0.1:4599/p/q?x=1&y=2"
    assert headers == {"Host": "abc.lambda-url.us-east-1.localhost.localstack.cloud:4599"}


def test_bare_standard_name_and_root_path() -> None:
    target, headers = without_dns("http://localhost.localstack.cloud:4599", "http://127.0.0.1:4599")
    assert target == "http://127.0.0.1:4599/"
    assert headers == {"Host": "localhost.localstack.cloud:4599"}


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:4599/restapis/a/local/_user_request_/users",
    "https://abc.lambda-url.us-east-1.on.aws/",
    "http://evil-localhost.localstack.cloud.example.com/",
])
def test_other_urls_are_unchanged(url: str) -> None:
    assert without_dns(url, "http://127.0.0.1:4599") == (url, {})


def test_status_says_whether_standard_names_resolve(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_dns(_name: str) -> str:
        raise socket.gaierror("no DNS")

    monkeypatch.setattr(socket, "gethostbyname", no_dns)
    assert "do NOT resolve" in cli.standard_names_line()
    monkeypatch.setattr(socket, "gethostbyname", lambda _name: "127.0.0.1")
    assert "names resolve" in cli.standard_names_line()
