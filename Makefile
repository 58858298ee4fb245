# Everything runs from the project venv; `make install` creates it.
.PHONY: install run test lint bench clean clean-data

install:
	bash infra/scripts/bootstrap.sh

run: install
	.venv/bin/mirage-secrets dev

# Any non-zero pytest exit fails the target, including 5 (no tests collected):
# a run that tested nothing must not pass.
test: install
	bash infra/scripts/ensure-services.sh
	.venv/bin/lint-imports
	.venv/bin/pytest -q

lint: install
	.venv/bin/lint-imports

bench: install
	.venv/bin/python bench/run.py

clean:
	rm -rf .pytest_cache
	find . -path ./.venv -prune -o -type d -name __pycache__ -exec rm -rf {} +

clean-data:
	rm -rf .data
