"""Presets, path rules and the plan document: pure functions, checked on their edges."""

from __future__ import annotations

import pytest

from lazyaf.workflows import paths, plan, presets
from lazyaf.workflows.kinds import StepKind


def _load(files: dict[str, str]) -> presets.Catalog:
    return presets._load(files, "repo", presets.builtin().workflows)


def test_every_builtin_preset_starts_with_an_agent_step_and_oneshot_is_plan_build() -> None:
    catalog = presets.builtin()
    assert all(w.steps[0] != StepKind.VERIFY for w in catalog.workflows.values())
    assert catalog.workflows["oneshot"].steps == catalog.workflows["plan_build"].steps
    assert catalog.workflows["long_build"].max_iterations == 10


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("steps: []", "steps must be a list of 1 to 20 step kinds"),
        ("steps: [verify]", "the first step must run the agent (verify needs one before it)"),
        ("steps: [build]\nalias: plan", "give steps or alias, not both"),
        ("alias: nothing", "alias 'nothing' names no preset with steps"),
        ("alias: oneshot", "alias 'oneshot' names no preset with steps"),
        ("steps: [build]\nrun: rm -rf /", "unknown keys: run"),
        ("steps: [loop]\nmax_iterations: 0", "max_iterations must be a whole number from 1 to 100"),
        ("- build", "must be a mapping"),
        ("description: [1]\nsteps: [build]", "description must be text"),
    ],
)
def test_a_bad_repo_preset_is_a_problem_with_a_sentence(text: str, problem: str) -> None:
    catalog = _load({"mine": text})
    assert "mine" not in catalog.workflows
    assert problem in catalog.problems["mine"] and catalog.problems["mine"].startswith(
        ".lazyaf/workflows/mine.yaml"
    )
    assert presets.unknown_workflow("mine", catalog).startswith("Workflow 'mine' cannot be used: ")


def test_a_broken_override_does_not_fall_back_to_the_builtin_preset() -> None:
    catalog = _load({"build": "steps: [deploy]"})
    assert catalog.get("build") is None and "unknown step 'deploy'" in catalog.problems["build"]


def test_a_repo_alias_may_name_a_repo_preset() -> None:
    catalog = _load({"mine": "steps: [test, verify]", "ours": "alias: mine"})
    ours = catalog.workflows["ours"]
    assert (ours.steps, ours.alias_of, ours.source) == ((StepKind.TEST, StepKind.VERIFY), "mine", "repo")


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("tests/test_app.py", True),
        ("backend/tests/unit/test_x.py", True),
        ("src/app_test.py", True),
        ("web/src/App.test.tsx", True),
        ("pkg/conftest.py", True),
        ("src/app.py", False),
        ("testsuite.py", False),
        ("src/latest/app.py", False),
        ("docs/tests.md", False),
    ],
)
def test_the_default_test_paths(path: str, allowed: bool) -> None:
    assert paths.matches(path, paths.DEFAULT_TEST_PATHS) is allowed


def test_globs_match_whole_paths_segment_by_segment() -> None:
    assert paths.matches("docs/plans/a.md", ["docs/plans/a.md"])
    assert not paths.matches("docs/plans/a.md.bak", ["docs/plans/a.md"])
    assert not paths.matches("x/docs/plans/a.md", ["docs/plans/a.md"])
    assert paths.matches("a/b/c.py", ["a/**"]) and not paths.matches("a/b/c.py", ["a/*"])
    assert paths.matches("a.py", ["**/a.py"]) and paths.matches("x/y/a.py", ["**/a.py"])
    assert not paths.matches("docs/plans/xmd", ["docs/plans/x.md"])  # the dot is literal


def test_refusals_name_the_paths_and_cut_long_lists() -> None:
    many = [f"src/f{i}.py" for i in range(12)]
    text = paths.plan_refusal("docs/plans/x.md", many)
    assert "src/f0.py" in text and "src/f9.py" in text and "and 2 more" in text and "src/f11.py" not in text


def test_planned_files_reads_the_front_matter_and_nothing_unsafe() -> None:
    text = "---\nfiles:\n  - ./a.py\n  - a.py\n  - ../etc/passwd\n  - /abs\n  - 3\n  - b/c.ts\n---\n# Plan\n"
    assert plan.planned_files(text) == ["a.py", "b/c.ts"]
    assert plan.planned_files("# Plan without front matter\n---\nfiles: [x]\n---\n") == []
    assert plan.planned_files("---\nfiles: [unclosed\n---\n") == []
    assert plan.planned_files("---\nfiles: a.py\n---\n") == []
    assert plan.planned_files("\ufeff---\r\nfiles:\r\n  - w.py\r\n---\r\n") == ["w.py"]


def test_a_progress_file_is_done_only_when_its_front_matter_says_so() -> None:
    assert plan.progress_done("---\ndone: true\n---\nAll finished.\n")
    assert plan.progress_done("---\nstatus: done\n---\n")
    assert not plan.progress_done("---\ndone: false\n---\n")
    assert not plan.progress_done("Status: done\n")  # prose is not the marker
    assert not plan.progress_done(None)
