"""``python -m lazyaf_testkit.github [--port N] [--seed FILE]``: a fake GitHub for end-to-end tests.

Prints ``fake-github listening on http://127.0.0.1:PORT`` once it answers, then serves until
killed. Seed and inspect it over ``/_fake/...`` (see ``control.py``).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

from lazyaf_testkit.github import control
from lazyaf_testkit.github.fake import FakeGitHub
from lazyaf_testkit.github.server import serve


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m lazyaf_testkit.github", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="Port on 127.0.0.1 (default: any free one).")
    parser.add_argument("--seed", help="A JSON seed document (the body of POST /_fake/seed).")
    args = parser.parse_args()
    fake = FakeGitHub()
    if args.seed:
        with open(args.seed, encoding="utf-8") as fh:
            control.seed(fake, json.load(fh))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with serve(fake, port=args.port) as url:
        print(f"fake-github listening on {url}", flush=True)
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
    sys.exit(0)


if __name__ == "__main__":
    main()
