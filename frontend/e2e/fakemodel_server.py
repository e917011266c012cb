"""Serve the scripted Messages API stand-in (runner/tests/fakemodel.py) for the board's e2e tests.

Prints the model's URL as the first line on stdout, then serves until stdin closes or it is
terminated. The script writes `hello.txt` for a new card and changes it when a reviewer asks
for changes (an iterate job), saying something recognisable each time so the tests can find it
in the card's logs. A workflow's plan step gets the plan file its prompt names.

    python fakemodel_server.py [--script board|text]
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import signal
import sys
import threading
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]

BUILD_TEXT = "I'll create hello.txt with a greeting."
BUILD_FINAL = "Done: hello.txt greets the reader."
ITERATE_TEXT = "I'll address the review comments in hello.txt."
ITERATE_FINAL = "Done: the review comments are addressed."
PLAN_TEXT = "I'll write the plan for the greeting first."
PLAN_FINAL = "The plan is ready: one file, hello.txt."
PLAN_CONTENT = "---\nfiles:\n  - hello.txt\n---\n# Plan\n\nWrite hello.txt with a greeting.\n"
# The plan step's prompt names the one file it may write (prompts/steps/plan.md.j2).
PLAN_PATH = re.compile(r"Write the plan to `([^`]+)`")
BUILD_CONTENT = "Hello from the scripted model\nA second line to review\n"
ITERATE_CONTENT = "Hello from the scripted model, revised\nA second line to review\n"


def _fakemodel() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fakemodel", ROOT / "runner" / "tests" / "fakemodel.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["fakemodel"] = module
    spec.loader.exec_module(module)
    return module


def board_script(fm: ModuleType):  # type: ignore[no-untyped-def]
    build = fm.Steps(
        fm.reply(BUILD_TEXT, fm.ToolUse("Write", {"file_path": "hello.txt", "content": BUILD_CONTENT})),
        BUILD_FINAL,
    )
    iterate = fm.Steps(
        fm.reply(ITERATE_TEXT, fm.ToolUse("Write", {"file_path": "hello.txt", "content": ITERATE_CONTENT})),
        ITERATE_FINAL,
    )

    def plan(path: str):  # type: ignore[no-untyped-def]
        return fm.Steps(fm.reply(PLAN_TEXT, fm.ToolUse("Write", {"file_path": path, "content": PLAN_CONTENT})), PLAN_FINAL)

    def script(request):  # type: ignore[no-untyped-def]
        if "A reviewer asked for changes" in request.last_user_text:
            return iterate(request)
        planned = PLAN_PATH.search(request.last_user_text)
        return plan(planned.group(1))(request) if planned else build(request)

    return script


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--script", choices=["board", "text"], default="board")
    args = parser.parse_args()
    fm = _fakemodel()
    script = board_script(fm) if args.script == "board" else fm.text_script("Done.")
    model = fm.FakeModel(script).start()
    print(model.url, flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())

    def watch_stdin() -> None:
        sys.stdin.read()  # EOF: the test harness went away
        done.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    done.wait()
    model.close()


if __name__ == "__main__":
    main()
