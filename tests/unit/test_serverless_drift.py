"""serverless.yml and template.yaml describe the same users functions: a drift test.

Each Framework function (createUser) has a SAM twin (CreateUserFunction); both must name the
same handler, the same routes (method + path) and the same schedules, and use the same runtime.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parents[2]


def load(name: str) -> dict[str, Any]:
    return yaml_parse((ROOT / name).read_text())


def sam_twin(function: str) -> str:
    """createUser -> CreateUserFunction (template.yaml's naming)."""
    return function[0].upper() + function[1:] + "Function"


def _route(method: str, path: str) -> str:
    return f"{method.upper()} /{path.strip('/')}"


def framework_shape(sls: dict[str, Any]) -> dict[str, dict[str, Any]]:
    shapes = {}
    for name, fn in sls["functions"].items():
        events = fn.get("events", [])
        shapes[sam_twin(name)] = {
            "handler": fn["handler"],
            "runtime": fn.get("runtime", sls["provider"]["runtime"]),
            "routes": sorted(
                _route(e["http"]["method"], e["http"]["path"]) for e in events if "http" in e
            ),
            "schedules": sorted(_schedule(e["schedule"]) for e in events if "schedule" in e),
        }
    return shapes


def _schedule(event: Any) -> str:
    return event if isinstance(event, str) else event["rate"]


def _resolve(value: Any, parameters: dict[str, Any]) -> Any:
    """A literal, or a !Ref to a template parameter (its default)."""
    if isinstance(value, dict) and set(value) == {"Ref"}:
        return parameters[value["Ref"]]["Default"]
    return value


def sam_shape(template: dict[str, Any], names: list[str]) -> dict[str, dict[str, Any]]:
    params = template.get("Parameters", {})
    runtime = template["Globals"]["Function"]["Runtime"]
    shapes = {}
    for name in names:
        props = template["Resources"].get(name, {}).get("Properties")
        if props is None:
            continue
        events = [e["Properties"] | {"Type": e["Type"]} for e in props.get("Events", {}).values()]
        shapes[name] = {
            "handler": props["Handler"],
            "runtime": props.get("Runtime", runtime),
            "routes": sorted(_route(e["Method"], e["Path"]) for e in events if e["Type"] == "Api"),
            "schedules": sorted(
                _resolve(e["Schedule"], params) for e in events if e["Type"] == "Schedule"
            ),
        }
    return shapes


def drift(sls: dict[str, Any], template: dict[str, Any]) -> list[str]:
    ours = framework_shape(sls)
    theirs = sam_shape(template, list(ours))
    problems = []
    for name, shape in ours.items():
        if name not in theirs:
            problems.append(f"{name}: in serverless.yml, not in template.yaml")
            continue
        for key, value in shape.items():
            if theirs[name][key] != value:
                problems.append(
                    f"{name}.{key}: serverless.yml {value!r} != template.yaml {theirs[name][key]!r}"
                )
    return problems


@pytest.fixture(scope="module")
def files() -> tuple[dict[str, Any], dict[str, Any]]:
    return load("serverless.yml"), load("template.yaml")


def test_serverless_yml_matches_template(files) -> None:
    sls, template = files
    assert drift(sls, template) == []


def test_the_seed_functions_are_all_there(files) -> None:
    sls, _ = files
    assert set(sls["functions"]) == {
        "createUser",
        "getUser",
        "listUsers",
        "cleanupInactiveUsers",
    }
    shapes = framework_shape(sls)
    assert shapes["CleanupInactiveUsersFunction"]["schedules"] == ["rate(1 day)"]
    assert shapes["GetUserFunction"]["routes"] == ["GET /users/{user_id}"]


def _edit_handler(sls: dict[str, Any], _: dict[str, Any]) -> None:
    sls["functions"]["getUser"]["handler"] = "users.get_user.other"


def _edit_route(sls: dict[str, Any], _: dict[str, Any]) -> None:
    sls["functions"]["getUser"]["events"][0]["http"]["path"] = "users/{id}"


def _edit_method(_: dict[str, Any], template: dict[str, Any]) -> None:
    events = template["Resources"]["CreateUserFunction"]["Properties"]["Events"]
    events["Post"]["Properties"]["Method"] = "put"


def _edit_schedule(_: dict[str, Any], template: dict[str, Any]) -> None:
    template["Parameters"]["CleanupSchedule"]["Default"] = "rate(2 days)"


def _edit_runtime(sls: dict[str, Any], _: dict[str, Any]) -> None:
    sls["provider"]["runtime"] = "python3.12"


def _drop_twin(_: dict[str, Any], template: dict[str, Any]) -> None:
    del template["Resources"]["ListUsersFunction"]


@pytest.mark.parametrize(
    ("edit", "reported"),
    [
        (_edit_handler, "GetUserFunction.handler"),
        (_edit_route, "GetUserFunction.routes"),
        (_edit_method, "CreateUserFunction.routes"),
        (_edit_schedule, "CleanupInactiveUsersFunction.schedules"),
        (_edit_runtime, "CreateUserFunction.runtime"),
        (_drop_twin, "ListUsersFunction: in serverless.yml, not in template.yaml"),
    ],
)
def test_a_disagreement_is_reported(files, edit, reported: str) -> None:
    sls, template = copy.deepcopy(files[0]), copy.deepcopy(files[1])
    edit(sls, template)
    problems = drift(sls, template)
    assert any(p.startswith(reported) for p in problems), problems
