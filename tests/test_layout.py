"""The tree keeps its shape: no import cycle, the core never imports an adapter or an emulator,
the emulators import nothing from the core, and the production wheel holds no emulator code."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from relay.app import ADAPTER_ENTRY_POINTS

from .conftest import ROOT

SOURCES = {"relay": ROOT / "relay", "relay_sandbox": ROOT / "sandbox" / "relay_sandbox"}
MAX_CORE_LINES = 360  # STYLE.md: "most under ~350 lines"


def _modules() -> dict[str, Path]:
    found = {}
    for package, root in SOURCES.items():
        for path in root.rglob("*.py"):
            parts = [package, *path.relative_to(root).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_imports(module: str, tree: ast.AST, typing: bool = False) -> Iterator[str]:
    """Every module `module` imports when it runs (at import time or inside a function); imports
    under `if TYPE_CHECKING:` are for the type checker only and never run (unless `typing`)."""
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test) and not typing:
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from relay import model` imports the module relay.model; like `import a.b`, it
            # also runs the parent package, which no edge here models.
            subs = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in MODULES]
            yield from subs
            if len(subs) < len(node.names):
                yield base
        stack.extend(ast.iter_child_nodes(node))


def _graph(typing: bool = False) -> dict[str, set[str]]:
    return {
        name: {d for d in _runtime_imports(name, ast.parse(path.read_text()), typing)}
        & set(MODULES) - {name}
        for name, path in MODULES.items()
    }


GRAPH = _graph()


def _cycles(graph: dict[str, set[str]] = GRAPH) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for dep in sorted(graph[node]):
            if dep not in index:
                visit(dep)
                low[node] = min(low[node], low[dep])
            elif dep in on_stack:
                low[node] = min(low[node], index[dep])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _core(name: str) -> bool:
    return name.startswith("relay") and not name.startswith(("relay.adapters", "relay_sandbox"))


def test_the_scanner_sees_function_level_imports() -> None:
    # relay run finds adapters through entry points; the CLI reaches the sandbox lazily.
    assert "relay_sandbox.serve" in GRAPH["relay.cli"]
    assert "relay.app" in GRAPH["relay.cli"]


def test_no_runtime_import_cycle() -> None:
    assert _cycles() == []


def test_no_import_cycle_even_for_the_type_checker() -> None:
    # api.py and app.py, the Discord adapter and its slash commands used to name each other
    # under TYPE_CHECKING: the API now names what it needs as a Protocol.
    assert _cycles(_graph(typing=True)) == []


def test_the_core_never_imports_an_adapter() -> None:
    offending = {
        (name, dep)
        for name, deps in GRAPH.items()
        if _core(name)
        for dep in deps
        if dep.startswith("relay.adapters")
    }
    assert offending == set()


def test_the_core_reaches_the_sandbox_only_through_the_cli_commands_that_run_it() -> None:
    users = {name for name, deps in GRAPH.items() if _core(name) for d in deps if "sandbox" in d}
    assert users == {"relay.cli"}


def test_the_emulators_import_nothing_from_the_core() -> None:
    offending = {
        (name, dep)
        for name, deps in GRAPH.items()
        if name.startswith("relay_sandbox") and not name.startswith("relay_sandbox.demo")
        for dep in deps
        if not dep.startswith("relay_sandbox")
    }
    assert offending == set()


def test_every_enabled_platform_has_a_registered_adapter() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    section = text.split(f'[project.entry-points."{ADAPTER_ENTRY_POINTS}"]')[1].split("\n[")[0]
    registered = dict(re.findall(r'^(\w+) = "([\w.:]+)"', section, re.M))
    assert set(registered) == {"console", "telegram", "discord"}
    for target in registered.values():
        module, _, attr = target.partition(":")
        assert module in MODULES and module.startswith("relay.adapters"), target
        assert f"def {attr}(" in MODULES[module].read_text(), target


def test_no_core_module_is_over_the_size_limit() -> None:
    long = {
        name: n
        for name, path in MODULES.items()
        if _core(name) and (n := len(path.read_text().splitlines())) > MAX_CORE_LINES
    }
    assert long == {}


def _dockerfile_sources() -> list[str]:
    sources = []
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            *srcs, _dest = line.split()[1:]
            sources += srcs
    return sources


def test_the_image_copies_only_the_core_distribution() -> None:
    sources = sorted(_dockerfile_sources())  # constraints.txt: version pins, no code
    assert sources == ["README.md", "constraints.txt", "pyproject.toml", "relay"]


@pytest.mark.slow
def test_the_production_wheel_holds_no_emulator_code(tmp_path: Path) -> None:
    # Build the wheel exactly from what the Dockerfile copies, as `pip install .` in it does.
    context = tmp_path / "image"
    context.mkdir()
    for src in _dockerfile_sources():
        if (ROOT / src).is_dir():
            shutil.copytree(ROOT / src, context / src, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(ROOT / src, context / src)
    out = tmp_path / "dist"
    build = "import sys; from setuptools import build_meta as b; print(b.build_wheel(sys.argv[1]))"
    result = subprocess.run(
        [sys.executable, "-c", build, str(out)],
        cwd=context,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": ""},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    wheel = out / result.stdout.strip().splitlines()[-1]
    names = zipfile.ZipFile(wheel).namelist()
    assert "relay/adapters/telegram/adapter.py" in names  # the check reads a real wheel
    assert "relay/adapters/discord/adapter.py" in names
    desk = {n for n in names if n.startswith("relay/desk/static/")}  # the editors' desk page
    assert {f"relay/desk/static/{f}" for f in ("index.html", "desk.js", "render.js")} <= desk
    assert {f"relay/locale/{lang}/LC_MESSAGES/relay.po" for lang in ("en", "uk")} <= set(names)
    emulator = [n for n in names if "sandbox" in n or "/demo/" in n or n.endswith(".html")]
    assert sorted(set(emulator) - desk) == []
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert ADAPTER_ENTRY_POINTS in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_sandbox_commands_without_the_sandbox_say_how_to_install_it() -> None:
    # As in an install without the sandbox distribution: importing relay_sandbox fails.
    hide = (
        "import sys; sys.modules['relay_sandbox'] = None\n"
        "from relay.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    for cmd in ("sandbox", "demo"):
        result = subprocess.run(
            [sys.executable, "-c", hide, cmd], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 2, result.stderr
        assert f"relay {cmd}: the emulators are not installed" in result.stderr
        assert "pip install -e ./sandbox" in result.stderr
        assert "Traceback" not in result.stderr
