"""Who may do what through the git endpoint, by principal (auth.py):

* **user**: anything (clone, fetch, push any ref, delete).
* **runner** (runner secret): fetch and clone any repo; never push.
* **attempt** (attempt token): fetch and clone its own job's repo; push only
  ``refs/lazyaf/attempts/<job>/<attempt>`` (create or move it, never delete it), and only while
  that attempt runs (auth.py refuses the token once it has ended). Card branches and the default
  branch move only by the backend's own compare-and-swap (orchestration/attempts.py).
* anyone else never gets here (auth.py answers first).

The ref rule is enforced inside receive-pack, before any ref changes: the C git backend passes
the allowed ref to its ``pre-receive`` hook (``PUSH_ALLOW_ENV``; ``*`` means any), which declines
the whole push with our reason on git's own ``remote:`` lines; the dulwich backend checks the same
in its receive-pack handler. A push refused there changes no ref.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from lazyaf_protocol.messages import attempt_ref

from lazyaf.auth import AttemptPrincipal, Principal, RunnerPrincipal, UserPrincipal
from lazyaf.gitserver.httpio import GitHTTPError, Service

PUSH_ALLOW_ENV = "LAZYAF_PUSH_ALLOW"
ANY_REF = "*"


@dataclass(frozen=True, slots=True)
class Access:
    """What a request may do: ``push_ref`` is the one ref it may write (``ANY_REF``: any)."""

    push_ref: str


def check(principal: Principal, repo_id: uuid.UUID, service: Service) -> Access:
    """What ``principal`` may do with ``service`` on ``repo_id``; GitHTTPError(403) with the reason."""
    if isinstance(principal, UserPrincipal):
        return Access(ANY_REF)
    if isinstance(principal, RunnerPrincipal):
        if service == "git-receive-pack":
            raise GitHTTPError(
                403,
                "LazyAF: a runner secret may fetch but not push; "
                "push an attempt's ref with its attempt token.",
            )
        return Access(ANY_REF)  # read-only: receive-pack never runs
    if isinstance(principal, AttemptPrincipal):
        if principal.repo_id != repo_id:
            raise GitHTTPError(403, "LazyAF: this attempt token is for another repository.")
        return Access(attempt_ref(str(principal.job_id), principal.attempt))
    raise GitHTTPError(403, "LazyAF: this credential does not reach git.")


def refusal(allowed: str, ref: str, deleting: bool) -> str | None:
    """Why a push may not change ``ref`` when only ``allowed`` may be written; None when it may."""
    if allowed == ANY_REF:
        return None
    if ref != allowed:
        return f"LazyAF: refused {ref}: this attempt token may push only {allowed}"
    if deleting:
        return f"LazyAF: refused to delete {ref}: an attempt may move its ref, never delete it"
    return None
