# Everything runs from the project venv; `make install` creates it.
.PHONY: install run test fast fuzz lint bench docs docs-serve clean clean-data web web-types

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
# `make test` runs a bounded schemathesis pass (tests/e2e/test_fuzz.py, fixed seed); this is the
# longer one. FUZZ_SEED picks another seed, FUZZ_MAX_EXAMPLES the cases per operation.
fuzz: install
	bash infra/scripts/ensure-services.sh
	FUZZ_MAX_EXAMPLES=$${FUZZ_MAX_EXAMPLES:-200} FUZZ_MIN_CALLS=5000 .venv/bin/pytest -q -s tests/e2e/test_fuzz.py

# The web UI alone (make install does it too); web-types regenerates its API types from the
# service's OpenAPI schema (a test fails while they differ).
web:
	bash infra/scripts/build-web.sh

web-types: install
	mkdir -p web/build
	.venv/bin/python -m entrypoints.http.openapi_dump web/build/openapi.json
	cd web && npx --no-install openapi-typescript build/openapi.json -o src/api/schema.d.ts
	bash infra/scripts/build-web.sh

lint: install
	.venv/bin/ruff check src tests bench
	.venv/bin/ruff format --check src tests bench
	.venv/bin/mypy
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
	rm -rf .pytest_cache site web/build artifacts
	find . -path ./.venv -prune -o -type d -name __pycache__ -exec rm -rf {} +

clean-data:
	rm -rf .data
