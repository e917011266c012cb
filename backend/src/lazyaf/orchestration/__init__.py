"""The orchestration core: the only code that changes the status of cards, runs, steps, attempts
and runners (AGENTS.md states the contracts).

* ``states``: the FROM -> TO tables, each refusal with its reason;
* ``announce``: the board event of each change, recorded in the change's transaction;
* ``columns``: where a card sits (its column and position);
* ``cards``: a person's moves of a card (edit, drag, start, retry, delete);
* ``runs``: a card's runs and steps, the workflow engine: start them, queue their attempts, and
  settle what follows when an attempt ends (another attempt, the next step, the run's end and
  the card's move);
* ``rework``: a person's moves on a run: retry, iterate, a plan's review, follow-up prompts;
* ``attempts``: an attempt's life on a runner: claim, lease, fence, progress, events, completion,
  cancel, and the reaper's sweeps;
* ``review``: approve, reject, request changes;
* ``runners``: a runner's status;
* ``repos``: deleting a repo with work still on it.
"""
