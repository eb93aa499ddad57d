# Rapport: `make run` to try it, `make test` to test it. See README.md.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_CUSTOMERS ?= 2000

.PHONY: run install migrate test test-fast lint format check-migrations check-deploy bench worker beat web clean

# Create the virtualenv and install once; re-install when pyproject.toml changes.
$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

install: $(BIN)/.installed

migrate: install
	$(BIN)/python manage.py migrate --no-input

run: migrate
	$(BIN)/python manage.py seed_demo --if-empty --customers $(DEMO_CUSTOMERS)
	$(BIN)/python manage.py demo_login
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

test: install
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

check-migrations: install
	$(BIN)/python manage.py makemigrations --check --dry-run

# The production settings must pass Django's deployment checklist.
check-deploy: install
	DEBUG=False SECRET_KEY=$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(50))') \
	ALLOWED_HOSTS=rapport.example.com $(BIN)/python manage.py check --deploy --fail-level WARNING

# The lifetimes reference lives in its own virtualenv: it needs numpy 1.x (pins tried on 3.11).
LIFETIMES_VENV ?= var/lifetimes
$(LIFETIMES_VENV)/.installed: bench/lifetimes-requirements.txt
	test -x $(LIFETIMES_VENV)/bin/python || $(PYTHON) -m venv $(LIFETIMES_VENV)
	$(LIFETIMES_VENV)/bin/python -m pip install --quiet -r bench/lifetimes-requirements.txt
	touch $@

# The seed benchmark keeps its database for the end-to-end one, which drops it at the end.
bench: install $(LIFETIMES_VENV)/.installed
	$(BIN)/python bench/seed.py --customers $${BENCH_CUSTOMERS:-1000000} --database rapport_bench_clv --keep
	$(BIN)/python bench/clv_model.py --lifetimes $(LIFETIMES_VENV)/bin/python
	$(BIN)/python bench/clv.py --customers $${BENCH_CUSTOMERS:-1000000} --reuse \
		--lifetimes $(LIFETIMES_VENV)/bin/python --json bench/results/clv.json
	$(BIN)/python bench/outbox.py --messages $${BENCH_MESSAGES:-100000} --workers 2 --runs 3

# Production-style processes (set DATABASE_URL, REDIS_URL, EMAIL_URL, SECRET_KEY, DEBUG=False).
web: install
	$(BIN)/gunicorn crm.wsgi --bind $(HOST):$(PORT) --workers 3
worker: install
	$(BIN)/celery -A crm worker --loglevel INFO
beat: install
	$(BIN)/celery -A crm beat --loglevel INFO

clean:
	rm -rf $(VENV) var/rapport.sqlite3* var/static
