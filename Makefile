# pairchat: the commands a new user and CI run. See README.md.
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
STAMP  := $(VENV)/.installed
STATIC := src/pairchat/static
ARGS   ?=
# Every file of web/ but node_modules: the web client is built again only when one of them
# is newer than the last build, whose index.html is the build's stamp.
WEB_SOURCES := $(shell find web -path web/node_modules -prune -o -type f -print)

.PHONY: install up test test-py test-web bench lint proto web clean

install: $(STAMP) web

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PIP) install -q --disable-pip-version-check -e '.[dev,bench]'
	touch $@

web/node_modules/.package-lock.json: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund

web: $(STATIC)/index.html

$(STATIC)/index.html: web/node_modules/.package-lock.json $(WEB_SOURCES)
	cd web && npm run build

up: install
	$(VENV)/bin/pairchat up $(ARGS)

test: install test-web test-py

test-web: web/node_modules/.package-lock.json
	cd web && npm test

test-py: $(STAMP)
	$(PY) -m pytest $(ARGS)

bench: install
	$(VENV)/bin/pairchat bench $(ARGS)

# ruff (lint and format), mypy --strict on src and tests, and the import rule
# (roles never import each other: [tool.importlinter] in pyproject.toml).
lint: $(STAMP)
	$(VENV)/bin/ruff check src tests
	$(VENV)/bin/ruff format --check src tests
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

# Regenerate the protobuf messages from proto/ (committed, so users need no protoc);
# the services are wired by hand in src/pairchat/api/rpc.py.
proto: $(STAMP)
	PATH=$(VENV)/bin:$$PATH $(PY) -m grpc_tools.protoc -Iproto --python_out=src --mypy_out=src proto/pairchat/api/v1/*.proto

clean:
	rm -rf $(VENV) web/node_modules $(STATIC) data
