"""orchestration/AGENTS.md, checked on the source: only the orchestration package writes a status."""

from __future__ import annotations

import ast
import re
from importlib import metadata
from pathlib import Path

import lazyaf

SRC = Path(lazyaf.__file__).parent
ORCHESTRATION = SRC / "orchestration"


STATUSES = {"CardStatus", "JobStatus", "RunnerStatus", "RunStatus", "StepStatus"}
"""The statuses the orchestration owns (the GitHub outbox's delivery status is the outbox's own)."""
TABLES = {"Card", "Job", "Runner", "Run", "Step"}
OWNERS = {"card", "job", "runner", "run", "step"}
"""What the code calls the rows of TABLES."""


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _status_writes(path: Path) -> list[str]:
    """Writes of an orchestrated status in one module: ``card.status = ...`` (or job, runner, run,
    step), ``x.status = <one of STATUSES>`` (alone or in a tuple assignment), and
    ``update(<one of TABLES>).values(status=...)``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            items = [i for t in targets for i in (t.elts if isinstance(t, ast.Tuple) else [t])]
            writes = [i for i in items if isinstance(i, ast.Attribute) and i.attr == "status"]
            owned = any(isinstance(w.value, ast.Name) and w.value.id in OWNERS for w in writes)
            if writes and (owned or _names(node.value) & STATUSES):
                found.append(f"{path.relative_to(SRC)}:{node.lineno}")
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "values"
            and any(k.arg == "status" for k in node.keywords)
            and _names(node.func.value) & TABLES
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
    assert {
        "orchestration/columns.py",
        "orchestration/attempts.py",
        "orchestration/runners.py",
        "orchestration/runs.py",
    } <= modules


def _imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_the_backend_takes_the_wire_format_from_the_protocol_package_not_the_runner() -> None:
    """The backend depends on ``lazyaf-protocol`` and never imports the runner program (local
    runners are spawned as ``python -m lazyaf_runner``, a process, not an import)."""
    modules = list(SRC.rglob("*.py"))
    importers = [str(p.relative_to(SRC)) for p in modules if "lazyaf_runner" in _imported_modules(p)]
    assert importers == []
    assert any("lazyaf_protocol" in _imported_modules(p) for p in modules)  # the scan sees imports
    requires = [re.split(r"[ ;<>=\[]", r, maxsplit=1)[0].lower() for r in metadata.requires("lazyaf") or []]
    assert "lazyaf-protocol" in requires and "lazyaf-runner" not in requires
