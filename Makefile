# Everything runs from the project venv; `make install` creates it.
.PHONY: install run test lint bench docs docs-serve clean clean-data

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

# The site under site/; --strict turns every warning (a broken link, a missing page) into a failure.
# NO_MKDOCS_2_WARNING silences Material's end-of-life banner (a notice about the theme, not the docs).
docs: install
	NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict

docs-serve: install
	NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs serve --dev-addr 127.0.0.1:8001

clean:
	rm -rf .pytest_cache site
	find . -path ./.venv -prune -o -type d -name __pycache__ -exec rm -rf {} +

clean-data:
	rm -rf .data
