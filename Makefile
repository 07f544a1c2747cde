# Tessera — the two commands a new user runs: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Named after this checkout and its pyproject.toml: a virtualenv shared between checkouts (CI keeps one)
# is re-synced when either changes, so its editable install always points at the checkout in use.
STAMP := $(VENV)/.installed-$(shell { echo '$(CURDIR)'; cat pyproject.toml; } | sha256sum | cut -c1-16)
DEMO_DIR ?= data/demo
HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: install demo test test-unit services-start services-stop bench-ingest definitions clean

install: $(STAMP)

$(STAMP):
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	$(BIN)/python -m adapters.embeddings.prepare
	@rm -f $(VENV)/.installed*
	@touch $(STAMP)

demo: install
	@TESSERA_DATA_DIR=$(DEMO_DIR) $(BIN)/tessera load-sample --if-empty
	@TOKEN=$$(TESSERA_DATA_DIR=$(DEMO_DIR) $(BIN)/tessera token issue --client demo --institution local \
	    --scope "system/*.cruds tessera/audit.read" --ttl 12h); \
	echo ""; \
	echo "Tessera demo (embedded profile, data in $(DEMO_DIR)). A token for the next 12 hours:"; \
	echo "  export TOKEN=$$TOKEN"; \
	echo "Try:"; \
	echo "  curl http://$(HOST):$(PORT)/healthz"; \
	echo "  curl http://$(HOST):$(PORT)/fhir/metadata"; \
	echo "  curl -H \"Authorization: Bearer \$$TOKEN\" 'http://$(HOST):$(PORT)/fhir/Patient?_count=5'"; \
	echo "  curl -H \"Authorization: Bearer \$$TOKEN\" 'http://$(HOST):$(PORT)/fhir/Observation?code=http://loinc.org|8302-2&_sort=-date&_include=Observation:subject'"; \
	echo "  curl http://$(HOST):$(PORT)/metrics"; \
	echo "  API docs: http://$(HOST):$(PORT)/docs"; \
	echo ""
	TESSERA_DATA_DIR=$(DEMO_DIR) $(BIN)/tessera serve --host $(HOST) --port $(PORT)

# Starts PostgreSQL, Redis and Elasticsearch on loopback (only those not already running),
# runs every test against them, and stops what it started.
test: install
	bash deploy/with-services.sh $(BIN)/python -m pytest $(PYTEST_ARGS)

test-unit: install
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

services-start:
	bash deploy/services.sh start

services-stop:
	bash deploy/services.sh stop

bench-ingest: install
	$(BIN)/tessera bench ingest --json

# Regenerate engine/fhir/definitions/search_parameters.json from the official R4 package.
definitions:
	mkdir -p .cache/definitions && cd .cache/definitions && npm pack hl7.fhir.r4.examples@4.0.1 >/dev/null \
	  && tar xzf hl7.fhir.r4.examples-4.0.1.tgz package/Bundle-searchParams.json
	$(PYTHON) deploy/definitions/build_search_parameters.py .cache/definitions/package/Bundle-searchParams.json

clean:
	rm -rf $(VENV) .pytest_cache *.egg-info
