"""Workflows: what a run's steps are and what each of its agent passes is told.

* ``kinds``: the step kinds (``StepKind``; the attempts that run a step have a
  ``lazyaf_protocol.messages.JobKind``, which picks their prompt);
* ``prompts``: the sandboxed Jinja2 environment over ``prompts/`` (``StrictUndefined``: a typo is
  an error) and the prompt assembly per attempt kind.

The orchestration core (``lazyaf.orchestration``) decides *when* a step runs and moves statuses;
this package decides *what* the agent is asked.
"""
