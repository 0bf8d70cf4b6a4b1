# The seed's make targets, each a dashenv command, so a team moving from make loses no habit.
# DASHENV can point elsewhere: make test DASHENV="dashenv -C ../dashtam"
DASHENV ?= dashenv
ARGS ?=
ENV ?= dev
MSG ?=
REV ?= -1

.PHONY: help up dev-up dev-down dev-logs dev-status test-setup test test-clean test-up test-down status certs ci doctor migrate migrate-create migrate-down migrate-history migrate-current

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

up: dev-up ## start development (same as dev-up)

dev-up: ## start the development environment and wait for health
	$(DASHENV) up dev

dev-down: ## stop development (its data stays on the volumes)
	$(DASHENV) down dev

dev-logs: ## follow the development logs
	$(DASHENV) logs dev --follow

dev-status: ## status of the development environment
	$(DASHENV) status dev

test-setup: ## start the test environment beside dev and reset its database
	$(DASHENV) test setup

test: ## run the tests in the test environment (ARGS go to pytest)
	$(DASHENV) test run -- $(ARGS)

test-clean: ## take the test environment down (dev untouched)
	$(DASHENV) test clean

test-up: ## start the test environment without resetting its database
	$(DASHENV) up test

test-down: ## stop the test environment
	$(DASHENV) down test

status: ## status of every environment
	$(DASHENV) status --all

certs: ## make the self-signed TLS certificate
	$(DASHENV) certs

doctor: ## check the machine and the environments
	$(DASHENV) doctor

ci: ## one throwaway run of the test suite in the ci environment
	$(DASHENV) ci run -- $(ARGS)

migrate: ## upgrade ENV's database to head (ENV=dev)
	$(DASHENV) db migrate $(ENV)

migrate-create: ## new Alembic revision: make migrate-create MSG="add accounts"
	@[ -n "$(MSG)" ] || { echo 'give the message: make migrate-create MSG="..."' >&2; exit 2; }
	$(DASHENV) db revision $(ENV) -m "$(MSG)" --autogenerate

migrate-down: ## downgrade ENV's database (REV=-1), typed confirmation, snapshot first
	$(DASHENV) db downgrade $(ENV) $(REV)

migrate-history: ## the revision history
	$(DASHENV) db history $(ENV)

migrate-current: ## the revision ENV's database is at
	$(DASHENV) db current $(ENV)
