"""The layout of ``api/``, checked on the source: which module may import which."""

from __future__ import annotations

import ast
from pathlib import Path

API = Path(__file__).resolve().parents[2] / "api"


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
