"""One home for git: the bare repositories LazyAF keeps, and everything it does to them.

* ``run``: the git binary, its clean environment, and ``in_thread`` (the one way async code
  reaches a repository: every function below is sync and runs in a worker thread);
* ``store``: where each repo's bare repository lives; create, delete, point HEAD;
* ``refs``: the one ref reader, and the compare-and-swap moves of branches;
* ``history``: branches and commits, read with dulwich;
* ``files``: a file of a commit (the README a prompt quotes);
* ``diff`` and ``merge``: the review engines, on the git binary.
"""
