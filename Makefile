# Everything runs from the project venv; `make install` creates it.
.PHONY: install run test fast lint bench clean clean-data

install:
	bash infra/scripts/bootstrap.sh

run: install
	.venv/bin/mirage-secrets dev

# Any non-zero pytest exit fails the target, including 5 (no tests collected):
# a run that tested nothing must not pass.
test: lint
	bash infra/scripts/ensure-services.sh
	.venv/bin/pytest -q

# The unit and contract suites alone (the contract suites' SQL legs need the local PostgreSQL/Redis).
fast: install
	.venv/bin/pytest -q tests/unit tests/contract -m "unit or contract"

# Fails on any lint finding, unformatted file, type error or layer violation.
lint: install
	.venv/bin/ruff check src tests bench
	.venv/bin/ruff format --check src tests bench
	.venv/bin/mypy
	.venv/bin/lint-imports

bench: install
	.venv/bin/python bench/run.py

clean:
	rm -rf .pytest_cache
	find . -path ./.venv -prune -o -type d -name __pycache__ -exec rm -rf {} +

clean-data:
	rm -rf .data
