# The README's commands. `make run` sets everything up and serves; `make test` runs every test.
.PHONY: run test lint bench

run:
	@scripts/bootstrap.sh
	.venv/bin/lazyaf serve

test:
	@scripts/bootstrap.sh
	scripts/test.sh

lint:
	@scripts/bootstrap.sh
	.venv/bin/ruff check protocol backend cli runner bench
	.venv/bin/mypy --config-file backend/pyproject.toml protocol/src/lazyaf_protocol backend/src/lazyaf cli/src/lazyaf_cli runner/src/lazyaf_runner

bench:
	@scripts/bootstrap.sh
	.venv/bin/python bench/git_bench.py
