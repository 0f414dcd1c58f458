"""The `make up` patches: botocore_shared_data, service_start_wait, kinesis_mock_prestart,
kinesis_mock_code_cache (no LocalStack needed: botocore's real Loader, fakes for LocalStack's
service containers and Kinesis server managers, node on a stand-in main.js)."""

from __future__ import annotations

import enum
import logging
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.loaders import Loader

from localstack_hostmode.patches import (
    botocore_shared_data,
    kinesis_mock_code_cache,
    kinesis_mock_prestart,
    service_start_wait,
)

# --- botocore_shared_data -----------------------------------------------------------------


class CountingLoader(Loader):
    """botocore's Loader, counting the files it parses."""

    parsed: list[str] = []

    def load_data_with_path(self, name: str) -> Any:  # what the patch wraps
        CountingLoader.parsed.append(name)
        return super().load_data_with_path(name)


def _shared(loader: Loader, name: str) -> Any:
    return botocore_shared_data._load_data_with_path_shared(
        CountingLoader.load_data_with_path, loader, name)


@pytest.fixture(autouse=True)
def _fresh_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(botocore_shared_data, "_cache", {})
    CountingLoader.parsed = []


def test_endpoints_are_parsed_once_for_every_new_loader() -> None:
    first, second = CountingLoader(), CountingLoader()
    data, path = _shared(first, "endpoints")
    assert "partitions" in data and path.endswith("endpoints")
    assert _shared(second, "endpoints")[0] is data
    assert CountingLoader.parsed == ["endpoints"]


def test_a_search_path_with_its_own_file_gets_its_own_copy(tmp_path: Path) -> None:
    (tmp_path / "endpoints.json").write_text('{"partitions": [], "version": 3}')
    default, own = CountingLoader(), CountingLoader(extra_search_paths=[str(tmp_path)])
    assert _shared(default, "endpoints")[0] != _shared(own, "endpoints")[0]
    assert CountingLoader.parsed == ["endpoints", "endpoints"]


def test_search_paths_without_the_file_share_botocore_s(tmp_path: Path) -> None:
    # LocalStack's internal clients search its own data directory first (no endpoints.json)
    default, other = CountingLoader(), CountingLoader(extra_search_paths=[str(tmp_path)])
    assert _shared(default, "endpoints")[0] is _shared(other, "endpoints")[0]
    assert CountingLoader.parsed == ["endpoints"]


def test_service_models_are_not_shared() -> None:
    # loaders merge their own sdk-extras into a service model in place
    for loader in (CountingLoader(), CountingLoader()):
        _shared(loader, "sts/2011-06-15/service-2")
    assert CountingLoader.parsed == ["sts/2011-06-15/service-2"] * 2


def test_concurrent_first_sessions_parse_once() -> None:
    loaders = [CountingLoader() for _ in range(4)]
    threads = [threading.Thread(target=_shared, args=(loader, "partitions")) for loader in loaders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert CountingLoader.parsed == ["partitions"]


# --- service_start_wait -------------------------------------------------------------------


class State(enum.Enum):  # LocalStack's ServiceState, by name
    STARTING = "starting"
    RUNNING = "running"


class Container:
    def __init__(self, state: State) -> None:
        self.state = state


class Manager:
    def __init__(self, container: Container | None) -> None:
        self.container = container

    def get_service_container(self, name: str) -> Container | None:
        return self.container


def test_a_starting_service_is_seen_started_within_a_poll() -> None:
    container = Container(State.STARTING)
    seen: list[State] = []

    def upstream_require(manager: Manager, name: str) -> str:
        seen.append(manager.container.state)
        return name

    threading.Timer(0.1, setattr, (container, "state", State.RUNNING)).start()
    assert service_start_wait._require_polling_fast(upstream_require, Manager(container),
                                                    "sqs") == "sqs"
    assert seen == [State.RUNNING]  # upstream's 0.5 s poll never ran


def test_a_running_or_unknown_service_goes_straight_to_upstream() -> None:
    calls: list[str] = []
    for manager in (Manager(Container(State.RUNNING)), Manager(None)):
        service_start_wait._require_polling_fast(lambda _m, n: calls.append(n), manager, "s3")
    assert calls == ["s3", "s3"]


def test_the_wait_gives_up_at_its_timeout_and_leaves_the_error_to_upstream() -> None:
    container = Container(State.STARTING)
    deadline = time.monotonic() + 5
    service_start_wait.wait_while_starting(container, timeout=0.05, interval=0.01)
    assert time.monotonic() < deadline and container.state is State.STARTING


# --- kinesis_mock_prestart ----------------------------------------------------------------


class ServerManager:  # KinesisServerManager's two attributes
    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._servers: dict[str, Any] = {}


def test_every_manager_shares_the_first_ones_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kinesis_mock_prestart, "_shared", {})
    early, provider = ServerManager(), ServerManager()
    kinesis_mock_prestart.share_servers(early)
    early._servers["000000000000"] = "mock"
    kinesis_mock_prestart.share_servers(provider)
    assert provider._servers == {"000000000000": "mock"} and provider._lock is early._lock


@pytest.mark.parametrize(("value", "started"), [("1", True), ("", False), (None, False)])
def test_the_mock_starts_early_only_when_asked(monkeypatch: pytest.MonkeyPatch,
                                               value: str | None, started: bool) -> None:
    hooks: list[str] = []
    threads: list[bool] = []
    monkeypatch.setattr(kinesis_mock_prestart, "on_import", lambda module, _f: hooks.append(module))
    monkeypatch.setattr(kinesis_mock_prestart, "start_in_background", lambda: threads.append(True))
    if value is None:
        monkeypatch.delenv(kinesis_mock_prestart.PRESTART_ENV, raising=False)
    else:
        monkeypatch.setenv(kinesis_mock_prestart.PRESTART_ENV, value)
    kinesis_mock_prestart.apply()
    assert hooks == [kinesis_mock_prestart.MODULE]
    assert threads == ([True] if started else [])


def test_a_failed_early_start_is_only_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    # no LocalStack in the unit-test venv: the import fails, the first request starts it later
    with caplog.at_level(logging.WARNING):
        kinesis_mock_prestart.start_in_background().join(timeout=10)
    assert "could not start the Kinesis mock ahead of need" in caplog.text


# --- kinesis_mock_code_cache --------------------------------------------------------------

NODE = shutil.which("node")
FAKE_MOCK = """#!/usr/bin/env node
'use strict';
const os = require('os');
function answer(x) { return x * 6 + os.EOL.length - 1; }
process.stdout.write(`answer=${answer(7)} main=${require.main === module}\\n`);
setTimeout(() => {}, 300);  // the mock is a server: it outlives the cache writer's timer
"""


def _run_mock(main: Path, cache: Path, preload: str) -> str:
    env = {**os.environ, kinesis_mock_code_cache.CACHE_ENV: str(cache),
           "HOSTMODE_NODE_CODE_CACHE_DELAY_MS": "0"}
    out = subprocess.run([NODE, "--require", preload, str(main)], env=env, check=True,
                         capture_output=True, text=True, timeout=60)
    return out.stdout.strip()


def test_the_node_command_gets_the_preload_and_the_cache_path(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOSTMODE_RUN_DIR", str(tmp_path))

    def upstream(_self: Any) -> Any:
        return ["node", "/libs/kinesis-local/main.js"], {"KINESIS_MOCK_PLAIN_PORT": "1"}

    cmd, env = kinesis_mock_code_cache._shell_command_with_code_cache(upstream, None)
    assert cmd[:3] == ["node", "--require", str(tmp_path / "node-code-cache.cjs")]
    assert cmd[-1] == "/libs/kinesis-local/main.js"
    assert env == {"KINESIS_MOCK_PLAIN_PORT": "1",
                   "HOSTMODE_NODE_CODE_CACHE": str(tmp_path / "kinesis-mock.v8-cache")}
    java = kinesis_mock_code_cache._shell_command_with_code_cache(
        lambda _s: (["java", "-jar", "m.jar"], {}), None)
    assert java == (["java", "-jar", "m.jar"], {})


@pytest.mark.skipif(NODE is None, reason="no node on PATH")
def test_main_js_runs_the_same_without_with_and_with_a_broken_cache(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOSTMODE_RUN_DIR", str(tmp_path))
    main = tmp_path / "node_modules" / "kinesis-local" / "main.js"
    main.parent.mkdir(parents=True)
    main.write_text(FAKE_MOCK)
    cache = tmp_path / "kinesis-mock.v8-cache"
    preload = kinesis_mock_code_cache.preload_path()
    expected = "answer=42 main=true"
    assert _run_mock(main, cache, preload) == expected  # no cache yet: written on the way out
    assert cache.stat().st_size > 0
    assert _run_mock(main, cache, preload) == expected  # from the cache
    cache.write_bytes(b"not a V8 cache")
    assert _run_mock(main, cache, preload) == expected  # rejected: compiled, cache rewritten
    assert cache.read_bytes() != b"not a V8 cache"


# --- gc_freeze_at_start -------------------------------------------------------------------


def test_objects_made_so_far_are_frozen_once_ready(monkeypatch: pytest.MonkeyPatch) -> None:
    import gc

    from localstack_hostmode.patches import gc_freeze_at_start

    frozen: list[str] = []
    monkeypatch.setattr(gc_freeze_at_start, "freeze", frozen.append)
    ready = threading.Event()
    thread = threading.Thread(target=gc_freeze_at_start._freeze_when_ready, args=(ready,))
    thread.start()
    time.sleep(0.05)
    assert frozen == []  # not before the runtime is ready
    ready.set()
    thread.join(timeout=10)
    assert frozen == ["at infra_ready"]
    try:
        gc_freeze_at_start.__dict__["gc"].freeze()  # the real call: a count, nothing else
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
