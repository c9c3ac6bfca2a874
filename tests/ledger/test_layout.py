"""The ledger's layout: nothing imported from outside, no import cycles, no switch on a class.

Read from the source (the ``ast`` of every module under ``ledger/``), so a new
import that breaks a rule fails here, naming the module and the import.
"""

from __future__ import annotations

import ast
from pathlib import Path

LEDGER = Path(__file__).resolve().parents[2] / "ledger"
OUTER = ("domain", "api", "projections", "contracts")
PRIVATE_HOOKS = ("_insert_events", "_fetch_ids_after_insert_events", "__wrapped__")


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name (``ledger.store`` for its ``__init__``)."""
    out = {}
    for path in sorted(LEDGER.rglob("*.py")):
        parts = path.relative_to(LEDGER.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_the_ledger_imports_nothing_of_the_packages_built_on_it() -> None:
    wrong = [
        f"{name} imports {target}"
        for name, path in modules().items()
        for target in sorted(imports(path))
        if target.split(".")[0] in OUTER
    ]
    assert wrong == []


def test_no_ledger_module_imports_one_that_imports_it_back() -> None:
    known = modules()
    graph = {name: imports(path) & known.keys() - {name} for name, path in known.items()}
    cycles = []
    for start in graph:
        stack, seen = [(start, [start])], set()
        while stack:
            name, trail = stack.pop()
            for target in graph[name]:
                if target == start:
                    cycles.append(" -> ".join([*trail, start]))
                elif target not in seen:
                    seen.add(target)
                    stack.append((target, [*trail, target]))
    assert cycles == []


def test_no_ledger_module_switches_on_the_class_of_a_store() -> None:
    switches = []
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", None) == "isinstance"
                and "LogStore" in ast.unparse(node.args[1])
            ):
                switches.append(f"{name}: {ast.unparse(node)}")
    assert switches == []


def test_only_the_recorder_module_touches_the_private_hooks_of_eventsourcing() -> None:
    uses = [
        f"{name} uses {hook}"
        for name, path in modules().items()
        if name != "ledger.store._recorder"
        for hook in PRIVATE_HOOKS
        if hook in path.read_text()
    ]
    assert uses == []
