"""The modules of redis_sync use each other in one direction only (no import circle)."""

from __future__ import annotations

import ast
from pathlib import Path

import binary_semantic_cache.redis_sync as package

# Each module may use only those before it (docs/architecture.md, "Shared cache (Redis)").
ORDER = ["keys", "codec", "scripts", "client", "store", "outbox", "options", "feed", "engine"]


def uses(name: str) -> set[str]:
    tree = ast.parse((Path(package.__file__).parent / f"{name}.py").read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == package.__name__:
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(package.__name__):
            found.add((node.module or "").rsplit(".", 1)[-1])
    return found


def test_each_module_uses_only_those_before_it() -> None:
    modules = {p.stem for p in Path(package.__file__).parent.glob("*.py")} - {"__init__"}
    assert modules == set(ORDER)
    for i, name in enumerate(ORDER):
        assert uses(name) <= set(ORDER[:i]), f"{name} uses {uses(name) - set(ORDER[:i])}"
