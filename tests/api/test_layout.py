"""The layout of ``api/``: the HTTP app, the web pages and the CLI import without cycles.

Every module under ``api/http`` and ``api/web`` is parsed with ``ast`` (imports inside
functions count too: a lazy import hides a cycle, it does not remove it) and the imports
between them form a graph. The app factory imports the routers and the pages; the routers and
the pages import ``deps``, ``schemas``, ``errors`` and ``auth``, never the app nor each other.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHECKED = ("api/http", "api/web", "api/cli")
API = ROOT / "api"
APP = "api.http.app"


def module_name(path: Path) -> str:
    """The dotted name of the module in ``path`` (a package's ``__init__`` is the package)."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(folders: Iterable[str] = CHECKED) -> dict[str, Path]:
    """Every module under ``folders``, by dotted name."""
    return {
        module_name(path): path
        for folder in folders
        for path in sorted((ROOT / folder).rglob("*.py"))
    }


def imported(name: str, path: Path, known: set[str]) -> set[str]:
    """The modules of ``known`` that the module ``name`` imports, anywhere in its body."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            # ``from api.http import deps`` imports the module ``api.http.deps``.
            targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        found.update(target for target in targets if target in known and target != name)
    return found


def import_graph(folders: Iterable[str] = CHECKED) -> dict[str, set[str]]:
    """Module -> the modules it imports, among the modules under ``folders``."""
    found = modules(folders)
    known = set(found)
    return {name: imported(name, path, known) for name, path in found.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` as ``[a, b, …, a]``, or None when there is none."""
    done: set[str] = set()
    trail: list[str] = []
    on_trail: set[str] = set()

    def visit(node: str) -> list[str] | None:
        trail.append(node)
        on_trail.add(node)
        for target in sorted(graph.get(node, ())):
            if target in on_trail:
                return [*trail[trail.index(target) :], target]
            if target not in done and (cycle := visit(target)) is not None:
                return cycle
        trail.pop()
        on_trail.discard(node)
        done.add(node)
        return None

    for start in sorted(graph):
        if start not in done and (cycle := visit(start)) is not None:
            return cycle
    return None


def test_the_http_app_and_the_web_pages_import_without_a_cycle() -> None:
    graph = import_graph()
    assert APP in graph and "api.web.pages" in graph, "the walk found the app and the pages"
    cycle = find_cycle(graph)
    assert cycle is None, f"import cycle: {' -> '.join(cycle or [])}"


def test_routers_and_pages_import_neither_the_app_nor_each_other() -> None:
    graph = import_graph()
    routers = {name for name in graph if name.startswith("api.http.routes.")}
    routers.add("api.web.pages")
    assert len(routers) >= 6, "every router is walked"
    wrong = {
        name: sorted(graph[name] & (routers | {APP}))
        for name in sorted(routers)
        if graph[name] & (routers | {APP})
    }
    assert not wrong, f"routers and pages import only deps, schemas, errors, auth: {wrong}"


def test_the_cycle_finder_names_a_cycle_hidden_in_a_function_body(tmp_path: Path) -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None
    lazy = tmp_path / "lazy.py"
    lazy.write_text("def f():\n    from api.http.app import create_app\n")
    assert imported("api.http.routes.lazy", lazy, {APP}) == {APP}


def imported_modules(path: Path, package: str) -> set[str]:
    """Every module ``path`` imports (lazy imports inside functions too), relative ones resolved.

    ``from a.b import c`` counts as importing ``a.b`` and ``a.b.c`` (``c`` may be a submodule).
    """
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def test_no_cli_module_imports_the_cli_package_or_a_sibling_command_module() -> None:
    # __init__.py is the command table and __main__.py its `python -m` entry: they are the
    # package itself. Every other module is a command module, which imports common.py at
    # most, or common.py, which imports none of them: no module reads an attribute of a
    # half-imported package, and a command module can be read (and run) on its own.
    cli = API / "cli"
    siblings = {f"api.cli.{p.stem}" for p in cli.glob("*.py") if p.stem != "__init__"}
    commands = siblings - {"api.cli.common", "api.cli.__main__"}
    offences = []
    for path in sorted(cli.glob("*.py")):
        if path.stem in ("__init__", "__main__"):
            continue
        imported = imported_modules(path, "api.cli")
        forbidden = {"api.cli"} | (commands - {f"api.cli.{path.stem}"})
        offences += [f"{path.name} imports {name}" for name in sorted(imported & forbidden)]
    assert offences == []
