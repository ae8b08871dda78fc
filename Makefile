# The two commands a newcomer needs:  make demo   and   make test
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/postgres

.PHONY: demo test install lint typecheck test-sqlite test-postgres browser-deps postgres serve clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev,demo]"

## make demo: install, seed a local Radicale with two demo accounts, start the Google and Microsoft emulators,
## run creneau on http://127.0.0.1:8000
demo: install
	$(BIN)/creneau demo

serve: install
	$(BIN)/creneau serve

## make test: lint, type-check, then the whole suite on SQLite and on PostgreSQL (with the browser tests)
test: install browser-deps postgres lint typecheck test-sqlite test-postgres

lint:
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck:
	$(BIN)/mypy

test-sqlite:
	CRENEAU_TEST_DATABASE_URL= $(BIN)/pytest -q -p no:cacheprovider

test-postgres:
	CRENEAU_TEST_DATABASE_URL=$(PG_TEST_URL) $(BIN)/pytest -q -p no:cacheprovider

browser-deps:
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -q && apt-get install -y -q chromium; \
	  else echo "Browser tests need Debian's chromium: sudo apt-get install chromium" >&2; exit 1; fi; }

postgres:
	@pg_isready -h 127.0.0.1 -p 5432 -q || { \
	  pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start && \
	  for i in $$(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done; }

clean:
	rm -rf var .mypy_cache .ruff_cache .pytest_cache
