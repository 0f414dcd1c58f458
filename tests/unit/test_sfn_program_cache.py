"""patches/sfn_program_cache.py (no LocalStack): one program per definition, handed to every
execution of it; a failing parse is not cached; the least recently used definition goes first;
every component's lazy heap key is set before a program is shared; executions with a local mock
test case are parsed each time."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from localstack_hostmode.patches import sfn_program_cache
from localstack_hostmode.patches.sfn_program_cache import ProgramCache, set_heap_keys


class Component:
    """Like LocalStack's EvalComponent: a uid made on the first read of ``heap_key``."""

    made = 0

    def __init__(self, *children: object, **named: object) -> None:
        self._key: str | None = None
        self.children = list(children)
        self.named = named

    @property
    def heap_key(self) -> str:
        if self._key is None:
            Component.made += 1
            self._key = f"uid-{Component.made}"
        return self._key


PREFIX = __name__  # this module's objects stand for LocalStack's components


def test_a_definition_is_built_once_and_shared() -> None:
    built: list[str] = []
    cache = ProgramCache(size=4, prepare=lambda program: None)

    def build(definition: str) -> object:
        built.append(definition)
        return object()

    first = cache.get('{"StartAt": "A"}', lambda: build("a"))
    assert cache.get('{"StartAt": "A"}', lambda: build("a")) is first
    other = cache.get('{"StartAt": "B"}', lambda: build("b"))
    assert other is not first
    assert built == ["a", "b"]


def test_a_parse_error_is_raised_every_time_and_not_cached() -> None:
    calls: list[int] = []
    cache = ProgramCache(prepare=lambda program: None)

    def build() -> object:
        calls.append(1)
        raise ValueError("ASLParserException line 1:0")

    for _ in range(2):
        with pytest.raises(ValueError):
            cache.get("{", build)
    assert len(calls) == 2 and not cache.programs


def test_the_least_recently_used_definition_is_dropped() -> None:
    cache = ProgramCache(size=2, prepare=lambda program: None)
    cache.get("a", object)
    cache.get("b", object)
    cache.get("a", object)  # a is now the most recent
    cache.get("c", object)
    assert list(cache.programs) == ["a", "c"]


def test_every_components_heap_key_is_set_before_sharing() -> None:
    leaf, shared = Component(), Component()
    program = Component(
        Component(leaf, shared), shared, retry=[Component(), (Component(),)]
    )
    prepared: list[object] = []
    cache = ProgramCache(prepare=lambda p: prepared.append(p) or set_heap_keys(p, PREFIX))
    assert cache.get("definition", lambda: program) is program
    assert prepared == [program]
    keys = [c._key for c in (program, leaf, shared, program.named["retry"][0],
                             program.named["retry"][1][0], program.children[0])]
    assert all(keys) and len(set(keys)) == len(keys)
    assert set_heap_keys(program, PREFIX) == 6  # each component once, shared ones included
    assert [c._key for c in (program, leaf, shared)] == keys[:3]  # reading again changes nothing


def test_objects_outside_the_component_modules_are_not_walked() -> None:
    foreign = SimpleNamespace(inner=Component())  # types.SimpleNamespace: another module
    program = Component(foreign)
    assert set_heap_keys(program, PREFIX) == 1
    assert foreign.inner._key is None


def _worker(definition: str, mock: object = None) -> SimpleNamespace:
    details = SimpleNamespace(state_machine_details=SimpleNamespace(definition=definition))
    return SimpleNamespace(_evaluation_details=details, _local_mock_test_case=mock)


def test_the_patched_entrypoint_keys_on_the_definition(monkeypatch) -> None:
    monkeypatch.setattr(sfn_program_cache, "CACHE", ProgramCache(prepare=lambda p: None))
    parsed: list[str] = []

    def entrypoint(worker: SimpleNamespace) -> object:
        parsed.append(worker._evaluation_details.state_machine_details.definition)
        return object()

    one = sfn_program_cache._cached_entrypoint(entrypoint, _worker("d1"))
    assert sfn_program_cache._cached_entrypoint(entrypoint, _worker("d1")) is one
    assert sfn_program_cache._cached_entrypoint(entrypoint, _worker("d2")) is not one
    mocked = [sfn_program_cache._cached_entrypoint(entrypoint, _worker("d1", mock=object()))
              for _ in range(2)]
    assert mocked[0] is not mocked[1] and one not in mocked
    assert parsed == ["d1", "d2", "d1", "d1"]
