"""ARCHITECTURE.md's import rules, checked on the source (ast, nothing is imported)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "plugins" / "localstack_hostmode"
STDLIB = frozenset(sys.stdlib_module_names) | {"__future__"}
SCRIPT_MODULES = frozenset(p.stem for p in (ROOT / "scripts").glob("*.py")) | {"launcher", "bench"}


def imports(path: Path, module_level_only: bool = False) -> set[str]:
    """Absolute imported module names ('' for relative imports) of one file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    nodes = tree.body if module_level_only else ast.walk(tree)
    names: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level:
            names.add("")
        elif isinstance(node, ast.ImportFrom):  # "pkg.name" for each name: it may be a module
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def top(name: str) -> str:
    return name.split(".")[0]


def files(*patterns: str) -> list[Path]:
    found = sorted({p for pattern in patterns for p in ROOT.glob(pattern)})
    assert found, patterns
    return found


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize(
    "path",
    files("scripts/launcher/*.py", "scripts/endpoint.py", "scripts/polling.py",
          "plugins/localstack_hostmode/contract.py"),
    ids=rel,
)
def test_launcher_layer_is_stdlib_only(path: Path) -> None:
    def allowed(name: str) -> bool:
        return (name == "" or top(name) in STDLIB or top(name) == "launcher"
                or name.startswith("localstack_hostmode.contract"))

    bad = {n for n in imports(path) if not allowed(n)}
    assert not bad, f"{rel(path)} imports {sorted(bad)}: the launcher layer is stdlib only"


def test_data_layer_script_is_stdlib_at_import_time() -> None:
    path = ROOT / "scripts" / "data_layer.py"
    known = STDLIB | SCRIPT_MODULES
    bad = {n for n in imports(path, module_level_only=True) if top(n) not in known}
    assert not bad, f"data_layer.py imports {sorted(bad)} at module level"


@pytest.mark.parametrize("path", files("plugins/localstack_hostmode/runtime/*.py"), ids=rel)
def test_function_runtime_imports_only_stdlib_and_itself(path: Path) -> None:
    bad = {n for n in imports(path) if n and top(n) not in STDLIB}
    assert not bad, f"{rel(path)} imports {sorted(bad)}: handlers must not see the kit"


@pytest.mark.parametrize(
    "name",
    [
        "process", "spares", "launch", "sandbox", "reports", "interpreters", "hot_reload",
        "admission", "reclaim", "knobs",
    ],
)
def test_process_engine_does_not_import_localstack(name: str) -> None:
    path = PLUGIN / "lambda_runtime" / f"{name}.py"
    bad = {n for n in imports(path) if top(n) == "localstack"}
    assert not bad, f"{rel(path)} imports {sorted(bad)}"


def test_patch_registry_imports_localstack_lazily() -> None:
    path = PLUGIN / "patches" / "registry.py"
    assert not {n for n in imports(path, module_level_only=True) if top(n) == "localstack"}


@pytest.mark.parametrize("path", files("functions/**/*.py"), ids=rel)
def test_functions_do_not_import_the_kit(path: Path) -> None:
    forbidden = SCRIPT_MODULES | {"localstack", "localstack_hostmode", "moto"}
    bad = {n for n in imports(path) if top(n) in forbidden}
    assert not bad, f"{rel(path)} imports {sorted(bad)}: Lambda code ships alone"
