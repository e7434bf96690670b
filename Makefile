# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
# Development defaults; the environment can override them (DEBUG=false make run), .env not:
# what make sets here is in the environment, which the portal reads before .env.
RUN_ENV := DEBUG=$${DEBUG:-true}
# Where `make run` serves the portal: make run ADDRPORT=127.0.0.1:8001 when 8000 is taken.
ADDRPORT ?= 127.0.0.1:8000

.PHONY: install run test lint bench clean messages

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

run: install
	$(RUN_ENV) $(PY) manage.py migrate --noinput
	$(RUN_ENV) $(PY) manage.py run_portal --addrport $(ADDRPORT)

lint: install
	$(PY) -m ruff check .

# The whole suite on SQLite, then again on PostgreSQL when TEST_DATABASE_URL is set
# (e.g. postgres://postgres@127.0.0.1:5432/portal: pytest-django creates test_portal).
test: lint
	rm -f test-results*.xml
	env -u TEST_DATABASE_URL $(PY) -m pytest --junitxml=test-results-sqlite.xml
	if [ -n "$${TEST_DATABASE_URL:-}" ]; then \
	  $(PY) -m pytest --junitxml=test-results-postgresql.xml; \
	fi

# The Polish translation: collect every translatable string into locale/pl/LC_MESSAGES/django.po
# (translate the new or fuzzy entries there), then compile django.mo. Commit both files.
# It also compiles locale_libraries/pl, the Polish of the libraries' admin pages (django-axes,
# django-tasks-db, django-rq), kept by hand: after upgrading one, run
# tests/test_polish_libraries.py, which names the strings to add there or drop.
messages: install
	$(RUN_ENV) $(PY) manage.py makemessages --locale pl --add-location file --no-obsolete \
		--ignore 'tests/*' --ignore 'staticfiles/*' --ignore 'build/*' --ignore 'bench/*'
	$(RUN_ENV) $(PY) manage.py compilemessages --locale pl --ignore '.venv'

bench: install
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) staticfiles test-results*.xml .pytest_cache
