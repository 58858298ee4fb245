# Everything runs from the project venv; `make install` creates it.
.PHONY: install run test lint bench clean clean-data web web-types

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

# The web UI alone (make install does it too); web-types regenerates its API types from the
# service's OpenAPI schema (a test fails while they differ).
web:
	bash infra/scripts/build-web.sh

web-types: install
	.venv/bin/python -m entrypoints.http.openapi_dump web/build/openapi.json
	cd web && npx --no-install openapi-typescript build/openapi.json -o src/api/schema.d.ts
	bash infra/scripts/build-web.sh

lint: install
	.venv/bin/lint-imports

bench: install
	.venv/bin/python bench/run.py

clean:
	rm -rf .pytest_cache web/build artifacts
	find . -path ./.venv -prune -o -type d -name __pycache__ -exec rm -rf {} +

clean-data:
	rm -rf .data
