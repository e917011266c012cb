"""Workflow presets: what steps a run has, as YAML a user can read and extend.

The built-in presets are the files of ``presets/`` beside this module (``build``, ``plan``,
``plan_build``, ``plan_build_test``, ``test``, ``oneshot`` = ``plan_build``, ``iterate``,
``long_build``). A repository adds its own, or overrides one by name, with
``.lazyaf/workflows/<name>.yaml`` on its default branch. A file says::

    description: Write the plan, implement it, then run the repo's checks.
    steps: [plan, build, verify]        # StepKind values, in order
    # or: alias: plan_build             # the same steps as another preset
    # max_iterations: 10                # loop steps: fresh-session iterations at most

Reading a repo's presets is sync (dulwich; call it through ``lazyaf.git.run.in_thread``) and
cached per commit. A repo file that does not parse is listed as a problem and cannot be started,
never a crash: the repository is not trusted to be well-formed.
"""

from __future__ import annotations

import functools
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from dulwich.object_store import tree_lookup_path
from dulwich.objects import Blob, Commit, ObjectID, Tree
from dulwich.repo import Repo as DulwichRepo

from lazyaf.git import refs as git_refs
from lazyaf.workflows.kinds import AGENT_STEPS, StepKind

BUILTIN_DIR = Path(__file__).with_name("presets")
REPO_DIR = ".lazyaf/workflows"
"""Where a repository keeps its own presets (on its default branch)."""
DEFAULT_WORKFLOW = "build"
"""What a card runs when neither the start nor its repo names a workflow."""
DEFAULT_MAX_ITERATIONS = 10
MAX_STEPS = 20
MAX_FILE_BYTES = 16_384
NAME = re.compile(r"^[a-z][a-z0-9_-]{0,49}$")
_CACHE_SIZE = 64

Source = Literal["builtin", "repo"]


class PresetError(ValueError):
    """A preset file that cannot be used; the message says which file and why."""


@dataclass(frozen=True)
class Workflow:
    """A preset: its name, its steps in order, what it is for, and where it comes from."""

    name: str
    steps: tuple[StepKind, ...]
    description: str
    source: Source
    alias_of: str | None = None
    max_iterations: int = DEFAULT_MAX_ITERATIONS


@dataclass(frozen=True)
class Catalog:
    """The presets a repo can start (built-in ones overridden by the repo's, by name), and the
    repo files that could not be read."""

    workflows: dict[str, Workflow]
    problems: dict[str, str] = field(default_factory=dict)
    """By preset name: why its repo file cannot be used."""

    def names(self) -> list[str]:
        return sorted(self.workflows)

    def get(self, name: str) -> Workflow | None:
        return self.workflows.get(name)


def _parse(name: str, text: str, source: Source, where: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PresetError(f"{where} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise PresetError(f"{where} must be a mapping with steps (or alias) and a description.")
    unknown = set(data) - {"description", "steps", "alias", "max_iterations"}
    if unknown:
        raise PresetError(f"{where} has unknown keys: {', '.join(sorted(map(str, unknown)))}.")
    return data


def _build(
    name: str, data: dict[str, Any], source: Source, where: str, known: dict[str, Workflow]
) -> Workflow:
    description = data.get("description", "")
    if not isinstance(description, str):
        raise PresetError(f"{where}: description must be text.")
    iterations = data.get("max_iterations", DEFAULT_MAX_ITERATIONS)
    if not isinstance(iterations, int) or isinstance(iterations, bool) or not 1 <= iterations <= 100:
        raise PresetError(f"{where}: max_iterations must be a whole number from 1 to 100.")
    alias = data.get("alias")
    if alias is not None:
        if "steps" in data:
            raise PresetError(f"{where}: give steps or alias, not both.")
        target = known.get(str(alias))
        if target is None or target.alias_of is not None:
            raise PresetError(f"{where}: alias '{alias}' names no preset with steps.")
        return Workflow(
            name, target.steps, description.strip() or target.description, source, target.name, iterations
        )
    steps = data.get("steps")
    if not isinstance(steps, list) or not steps or len(steps) > MAX_STEPS:
        raise PresetError(f"{where}: steps must be a list of 1 to {MAX_STEPS} step kinds.")
    kinds: list[StepKind] = []
    for item in steps:
        try:
            kinds.append(StepKind(str(item)))
        except ValueError:
            choices = ", ".join(k.value for k in StepKind)
            raise PresetError(f"{where}: unknown step '{item}'; the steps are: {choices}.") from None
    if kinds[0] not in AGENT_STEPS:
        raise PresetError(f"{where}: the first step must run the agent ({kinds[0]} needs one before it).")
    return Workflow(name, tuple(kinds), description.strip(), source, None, iterations)


def _load(files: dict[str, str], source: Source, base: dict[str, Workflow]) -> Catalog:
    """Presets from ``files`` (name -> YAML text) on top of ``base``; aliases after the rest."""
    workflows = dict(base)
    problems: dict[str, str] = {}
    parsed: dict[str, dict[str, Any]] = {}
    for name, text in sorted(files.items()):
        where = f"{REPO_DIR}/{name}.yaml" if source == "repo" else f"preset {name}.yaml"
        try:
            parsed[name] = _parse(name, text, source, where)
        except PresetError as exc:
            problems[name] = str(exc)
            workflows.pop(name, None)
    for with_alias in (False, True):
        for name, data in parsed.items():
            if ("alias" in data) != with_alias:
                continue
            where = f"{REPO_DIR}/{name}.yaml" if source == "repo" else f"preset {name}.yaml"
            try:
                workflows[name] = _build(name, data, source, where, workflows)
            except PresetError as exc:
                problems[name] = str(exc)
                # A broken override is not silently replaced by the built-in preset it names.
                workflows.pop(name, None)
    return Catalog(workflows, problems)


@functools.cache
def builtin() -> Catalog:
    """The built-in presets (read once: they are part of the installed package)."""
    files = {path.stem: path.read_text() for path in BUILTIN_DIR.glob("*.yaml")}
    catalog = _load(files, "builtin", {})
    if catalog.problems:  # a broken built-in preset is a bug in LazyAF, not the user's input
        raise RuntimeError(f"built-in workflow presets are broken: {catalog.problems}")
    return catalog


_repo_catalogs: OrderedDict[tuple[str, str], Catalog] = OrderedDict()
_lock = threading.Lock()


def for_repo(path: Path, commit_sha: str | None) -> Catalog:
    """The presets of the repo at ``path`` whose default branch is at ``commit_sha`` (None: no
    commits yet): the built-in ones, overridden and extended by ``.lazyaf/workflows/*.yaml``."""
    if commit_sha is None:
        return builtin()
    key = (str(path), commit_sha)
    with _lock:
        if key in _repo_catalogs:
            _repo_catalogs.move_to_end(key)
            return _repo_catalogs[key]
    catalog = _load(_repo_files(path, commit_sha), "repo", builtin().workflows)
    with _lock:
        _repo_catalogs[key] = catalog
        while len(_repo_catalogs) > _CACHE_SIZE:
            _repo_catalogs.popitem(last=False)
    return catalog


def _repo_files(path: Path, commit_sha: str) -> dict[str, str]:
    """``name -> text`` of the ``*.yaml`` files in ``REPO_DIR`` at ``commit_sha`` (names that are
    not preset names, and files too big, are left out)."""
    with DulwichRepo(str(path)) as repo:
        try:
            commit = repo[ObjectID(commit_sha.encode())]
        except KeyError:
            return {}
        if not isinstance(commit, Commit):
            return {}
        try:
            _, sha = tree_lookup_path(repo.__getitem__, commit.tree, REPO_DIR.encode())
        except KeyError:
            return {}
        tree = repo[sha]
        if not isinstance(tree, Tree):
            return {}
        files: dict[str, str] = {}
        for entry in tree.items():
            filename = entry.path.decode("utf-8", "replace")
            stem, dot, ext = filename.rpartition(".")
            if not dot or ext not in ("yaml", "yml") or not NAME.match(stem):
                continue
            blob = repo[entry.sha]
            if isinstance(blob, Blob) and len(blob.data) <= MAX_FILE_BYTES:
                files[stem] = blob.data.decode("utf-8", "replace")
        return files


def catalog_at(path: Path, default_branch: str) -> Catalog:
    """``for_repo`` at the tip of ``default_branch`` (sync: the ref, then the files)."""
    (sha,) = git_refs.branch_shas(path, default_branch)
    return for_repo(path, sha)


def unknown_workflow(name: str, catalog: Catalog) -> str:
    """The sentence for a start naming a workflow the repo does not have."""
    if name in catalog.problems:
        return f"Workflow '{name}' cannot be used: {catalog.problems[name]}"
    return f"Unknown workflow '{name}'; the workflows are: {', '.join(catalog.names())}."
