# 社区小助手: `make run` to start everything, `make test` to run every test.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
RASA := $(VENV)/bin/rasa
SHARED ?= ../shared
MODEL := models/community-assistant.tar.gz
RASA_PORT ?= 5005
ACTIONS_PORT ?= 5055
CONSOLE_PORT ?= 8080
# Where the Rasa server listens: this machine only, behind nginx (docs/deployment.md).
# The action server always listens on 127.0.0.1: only the Rasa server calls it.
RASA_INTERFACE ?= 127.0.0.1

export PYTHONPATH := $(CURDIR)
# One database for tickets and conversations: SQLite by default, PostgreSQL by setting this.
export DATABASE_URL ?= sqlite:///$(CURDIR)/var/community.db
# The FAQ file `make run` imports into an empty database (staff keep it in the console after);
# it is not part of the model: no training when it changes.
export FAQ_FILE ?= faq/sample_faq.yml
export TF_CPP_MIN_LOG_LEVEL ?= 2
export RASA_TELEMETRY_ENABLED := false
export SQLALCHEMY_SILENCE_UBER_WARNING := 1

# Rasa 3.6 needs Python 3.10: pyenv's 3.10.x first, then any python3.10 that really is one.
PYTHON310 := $(shell for p in "$$(pyenv root 2>/dev/null)"/versions/3.10*/bin/python3.10 \
	"$$HOME"/.pyenv/versions/3.10*/bin/python3.10 python3.10 /usr/bin/python3.10 /usr/local/bin/python3.10; do \
	"$$p" -c 'import sys; assert sys.version_info[:2] == (3, 10)' >/dev/null 2>&1 && { echo "$$p"; break; }; done)

# the data, the components, and what they learn from (the rules label the danger model's examples)
TRAINING_INPUTS := config.yml domain.yml $(shell find nlu_data -type f 2>/dev/null) $(wildcard nlu/*.py) \
	bot/locations.py bot/place_names.py bot/embeddings.py bot/normalize.py bot/respell.py bot/typed_in_pinyin.py bot/urgency.py bot/taxonomy.py

.PHONY: help install train validate run shell test test-fast bench bench-load crossval clean

help:
	@echo "make run    install if needed, train if the data changed, start the bot"
	@echo "make test   install if needed, run every test"
	@echo "make test-fast  the tests that need no model, servers or browser (under 2 minutes)"
	@echo "make bench  measure the NLU on ../shared/eval against a TF-IDF + SVM peer, then the bot under load"
	@echo "make crossval  k-fold cross-validation of the NLU over nlu_data/, the peer beside it (FOLDS=5),"
	@echo "               then again with whole files held out (a stranger's words)"

# Debian's chromium and a Chinese font, for the staff console's browser tests and their
# screenshots (Playwright drives it; it downloads nothing).
CHROMIUM := /usr/bin/chromium
CHROMIUM_PACKAGES := chromium fonts-wqy-microhei

install: $(VENV)/.installed $(CHROMIUM)

$(CHROMIUM):
	@if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		apt-get install -y $(CHROMIUM_PACKAGES) || { apt-get update && apt-get install -y $(CHROMIUM_PACKAGES); }; \
	else echo "note: $(CHROMIUM) is missing and needs root and apt-get to install: the browser tests will be skipped" >&2; fi

$(VENV)/.installed: requirements.txt
	@test -n "$(PYTHON310)" || { echo "error: Python 3.10 not found. Rasa 3.6 needs Python < 3.11:" \
		"install it (pyenv install 3.10.13, or apt-get install python3.10) and run make again." >&2; exit 1; }
	test -x $(PY) || $(PYTHON310) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check "pip==26.3"
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

train: $(MODEL)

$(MODEL): $(VENV)/.installed $(TRAINING_INPUTS)
	$(RASA) train --data nlu_data --config config.yml --domain domain.yml \
		--out models --fixed-model-name community-assistant
	touch $@

validate: $(VENV)/.installed
	$(RASA) data validate --fail-on-warnings --data nlu_data --domain domain.yml --config config.yml

run: $(MODEL)
	@mkdir -p var
	$(PY) -m bot org import --if-empty org/sample_site.yml
	$(PY) -m bot faq import --if-empty $(FAQ_FILE)
	$(PY) -m bot endpoints var/endpoints.yml --action-url http://127.0.0.1:$(ACTIONS_PORT)/webhook
	@$(PY) -m bot users ensure-admin --credentials-file var/console_admin.txt
	@echo "Starting the action server (:$(ACTIONS_PORT)), the worker, the Rasa server (:$(RASA_PORT)) and the console (:$(CONSOLE_PORT)) …"
	@token=$$($(PY) -m bot rasa-token var/rasa_token) || exit 1; \
	trap 'kill 0' INT TERM EXIT; \
	SANIC_HOST=127.0.0.1 $(RASA) run actions --actions actions --port $(ACTIONS_PORT) > var/actions.log 2>&1 & \
	$(PY) -m bot worker > var/worker.log 2>&1 & \
	$(RASA) run --enable-api --auth-token="$$token" --interface $(RASA_INTERFACE) --model $(MODEL) --port $(RASA_PORT) \
		--endpoints var/endpoints.yml --credentials credentials.yml > var/rasa.log 2>&1 & \
	RASA_URL=http://127.0.0.1:$(RASA_PORT) RASA_TOKEN="$$token" $(PY) -m console --port $(CONSOLE_PORT) > var/console.log 2>&1 & \
	until curl -sf "127.0.0.1:$(RASA_PORT)/status?token=$$token" >/dev/null; do sleep 1; done; \
	echo ""; \
	echo "社区小助手 is running (logs in var/, database $$DATABASE_URL):"; \
	echo "  chat over REST:  curl -s 127.0.0.1:$(RASA_PORT)/webhooks/rest/webhook -d '{\"sender\":\"rest:wangjiang-demo:me\",\"message\":\"7号楼电梯坏了\"}'"; \
	echo "  chat in a shell: make shell"; \
	echo "  org directory:   .venv/bin/python -m bot org show"; \
	echo "  Rasa HTTP API:   http://127.0.0.1:$(RASA_PORT)/status?token=… (the token in var/rasa_token, or RASA_TOKEN)"; \
	echo "  staff console:   http://localhost:$(CONSOLE_PORT)/ (user admin, password in var/console_admin.txt)"; \
	echo "Ctrl-C stops everything."; \
	wait

shell: $(MODEL)
	$(PY) -m bot org import --if-empty org/sample_site.yml
	$(PY) -m bot faq import --if-empty $(FAQ_FILE)
	$(PY) -m bot endpoints var/endpoints.yml --action-url http://127.0.0.1:$(ACTIONS_PORT)/webhook
	@trap 'kill 0' INT TERM EXIT; \
	SANIC_HOST=127.0.0.1 $(RASA) run actions --actions actions --port $(ACTIONS_PORT) > var/actions.log 2>&1 & \
	$(RASA) shell --interface 127.0.0.1 --model $(MODEL) --endpoints var/endpoints.yml

# Two passes over the model `make train` keeps: the tests that start no servers and drive no
# browser on both cores, then the ones that do, one at a time (their servers and Chromium want
# the machine to themselves). Each pass ends with its slowest tests: where time goes.
test: $(VENV)/.installed $(CHROMIUM) validate $(MODEL)
	TEST_MODEL=$(MODEL) $(PY) -m pytest -n 2 -m "not servers and not browser" --durations=15
	TEST_MODEL=$(MODEL) $(PY) -m pytest -m "servers or browser" --durations=15

# The inner loop: no training, no servers, no browser, no fuzzing, SQLite only (markers in pytest.ini).
FAST_TIER = not model and not servers and not browser and not postgres and not fuzz
test-fast: $(VENV)/.installed
	$(PY) -m pytest -q -n 2 -m "$(FAST_TIER)"

bench: $(VENV)/.installed
	$(PY) bench/nlu_bench.py --shared $(SHARED) --write
	$(PY) bench/same_problem.py --write
	$(PY) bench/pinyin_keyboard.py --write
	$(PY) bench/embedding_contention.py --write
	$(MAKE) --no-print-directory bench-load

# k-fold cross-validation of the whole NLU pipeline over nlu_data/, the peer beside it (FOLDS=5)
FOLDS ?= 5
crossval: $(VENV)/.installed
	$(PY) bench/crossval.py --folds $(FOLDS) --write
	$(PY) bench/crossval.py --folds $(FOLDS) --by-file --write

# LOAD= passes options to the load benchmark, e.g. LOAD="--rate 40 --duration 120 --profile"
bench-load: $(MODEL)
	$(PY) bench/load.py --model $(MODEL) $(LOAD)

clean:
	rm -rf models results var .pytest_cache
