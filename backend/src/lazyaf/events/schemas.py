"""The documented shapes of board events (``WS /ws``).

Every frame is ``{"seq": int, "type": str, "data": {...}, "at": iso8601}``; ``seq`` grows by one
per event across the whole server. Connect with ``/ws?since=<last seq you saw>`` to receive what
you missed first; the server then streams live events. A frame of type ``resync`` (no seq) says
the events you missed are no longer kept: reload the board from the REST API.

| type           | data                                                        |
| -------------- | ----------------------------------------------------------- |
| hello          | ``{"seq": <latest seq>}`` (first frame; no seq of its own)  |
| card_updated   | ``{"card": CardRead}``                                      |
| card_deleted   | ``{"card_id", "repo_id"}``                                  |
| repo_updated   | ``{"repo_id"}``                                             |
| repo_deleted   | ``{"repo_id"}``                                             |
| job_status     | ``{"job": JobRead}``                                        |
| job_event      | ``{"job_id", "card_id", "attempt", "seq", "event": AgentEvent}`` |
| runner_status  | ``{"runner": RunnerRead}``                                  |
| github_updated | ``{"repo_id", "github": GitHubLinkRead | null}`` (linked, synced, verified, unlinked…) |
| runner_deleted | ``{"runner_id"}`` (removed by hand, or by a pool scale-down) |
| queue_updated  | ``{"waiting": {job_id: WaitingReason}}``: why queued jobs wait (jobs/waiting.py) |

``queue_updated`` carries the reasons of the first 200 queued jobs in dispatch order, and replaces
the map the board had (``GET /api/runners`` → ``waiting`` at load).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

BoardEventType = Literal[
    "card_updated",
    "card_deleted",
    "repo_updated",
    "repo_deleted",
    "job_status",
    "job_event",
    "runner_status",
    "runner_deleted",
    "github_updated",
    "queue_updated",
]


class BoardEventRead(BaseModel):
    seq: int
    type: BoardEventType
    data: dict[str, Any]
    at: str
