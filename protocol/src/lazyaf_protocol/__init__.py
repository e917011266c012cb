"""What a LazyAF runner and a LazyAF backend must agree on, installed by both (pydantic only).

* ``lazyaf_protocol.messages``: the wire format of ``WS /api/runners/connect``, its version and
  the credential formats;
* ``lazyaf_protocol.redact``: the one redactor, applied by the runner before it sends and by the
  backend before it stores;
* ``lazyaf_protocol.conflict_markers``: the one rule for "this change leaves conflict markers",
  applied by the runner before it commits and by the backend before it merges.
"""

from lazyaf_protocol.messages import PROTOCOL_VERSION

__all__ = ["PROTOCOL_VERSION"]
__version__ = "0.1.0"
