"""orchestration/AGENTS.md, checked on the source: only the orchestration package writes a status."""

from __future__ import annotations

import ast
from pathlib import Path

import lazyaf

SRC = Path(lazyaf.__file__).parent
ORCHESTRATION = SRC / "orchestration"


def _status_writes(path: Path) -> list[str]:
    """``x.status = ...`` (not ``self.status``, an exception's or a response's own field) and
    ``update(...).values(status=...)`` in one module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets = (
            node.targets
            if isinstance(node, ast.Assign)
            else [node.target]
            if isinstance(node, ast.AugAssign | ast.AnnAssign)
            else []
        )
        for target in targets:
            for item in target.elts if isinstance(target, ast.Tuple) else [target]:
                if (
                    isinstance(item, ast.Attribute)
                    and item.attr == "status"
                    and not (isinstance(item.value, ast.Name) and item.value.id == "self")
                ):
                    found.append(f"{path.relative_to(SRC)}:{node.lineno}")
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "values"
            and any(k.arg == "status" for k in node.keywords)
        ):
            found.append(f"{path.relative_to(SRC)}:{node.lineno}")
    return found


def test_no_module_outside_orchestration_writes_a_status() -> None:
    outside = [p for p in SRC.rglob("*.py") if ORCHESTRATION not in p.parents and "migrations" not in p.parts]
    assert [w for p in outside for w in _status_writes(p)] == []


def test_the_check_sees_the_writes_orchestration_makes() -> None:
    """The scan finds status writes where they are (so the test above cannot pass by seeing nothing)."""
    inside = [w for p in ORCHESTRATION.glob("*.py") for w in _status_writes(p)]
    modules = {w.split(":")[0] for w in inside}
    assert {"orchestration/columns.py", "orchestration/attempts.py", "orchestration/runners.py"} <= modules
