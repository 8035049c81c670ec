# mobilepush — run `make` (or `make help`) for the list of targets.
#
# The Lambda functions are built for provided.al2023 on arm64 as static
# `bootstrap` binaries. SAM's `BuildMethod: makefile` calls build-<LogicalId>
# with ARTIFACTS_DIR set; `make build` builds all four into bin/.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO            ?= go
BIN           ?= bin
LAMBDA_ENV    := GOOS=linux GOARCH=arm64 CGO_ENABLED=0
LAMBDA_FLAGS  := -tags lambda.norpc -trimpath -ldflags='-s -w -buildid='
FUNCTIONS     := register validate send expiry
FUZZTIME      ?= 30s
BENCHTIME     ?= 2s
DATA          ?= .mobilepush
ADDR          ?= 127.0.0.1:9006
GATEWAYS      ?= fake
ENV           ?= dev

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*## "; printf "mobilepush targets:\n"} /^[a-zA-Z0-9_%-]+:.*## / {printf "  %-24s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: $(addprefix $(BIN)/,$(addsuffix /bootstrap,$(FUNCTIONS))) ## Build the four Lambda bootstraps (linux/arm64) into bin/<function>/.

$(BIN)/%/bootstrap: FORCE
	@mkdir -p $(@D)
	$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o $@ ./functions/$*

# SAM (BuildMethod: makefile) entry points: one per LogicalId in template.yaml.
.PHONY: build-RegisterFunction build-ValidateFunction build-SendFunction build-ExpiryFunction
build-RegisterFunction: ## SAM: build the register function into $(ARTIFACTS_DIR).
	$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/register
build-ValidateFunction: ## SAM: build the validate function into $(ARTIFACTS_DIR).
	$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/validate
build-SendFunction: ## SAM: build the send function into $(ARTIFACTS_DIR).
	$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/send
build-ExpiryFunction: ## SAM: build the expiry function into $(ARTIFACTS_DIR).
	$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/expiry

.PHONY: mobilepush
mobilepush: ## Build the local binary into bin/mobilepush.
	$(GO) build -trimpath -o $(BIN)/mobilepush ./infra/mobilepush

.PHONY: run
run: ## Start the system locally on ADDR (fake Apple/Google unless GATEWAYS=real); prints URL and token.
	@echo "==> building $(BIN)/mobilepush and $(BIN)/mintcred (the first build fetches and compiles the dependencies: a few minutes)"
	@$(GO) build -trimpath -o $(BIN)/mobilepush ./infra/mobilepush
	@$(GO) build -trimpath -o $(BIN)/mintcred ./infra/mintcred
	@bash infra/scripts/run.sh "$(BIN)/mobilepush" "$(DATA)" "$(ADDR)" "$(GATEWAYS)" "$(BIN)/mintcred"

.PHONY: test
test: ## Run every test (starts moto_server for the AWS tests, runs fuzz seed corpora).
	@bash infra/scripts/test.sh

.PHONY: lint
lint: ## gofmt, go vet and cfn-lint template.yaml.
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	cfn-lint template.yaml

.PHONY: bench
bench: ## Run the benchmarks; each prints its figures and its ratio to an in-run baseline.
	@mkdir -p $(BIN)
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./... | tee $(BIN)/bench.txt

.PHONY: fuzz
fuzz: ## Run every fuzz target for FUZZTIME each (default 30s): make fuzz FUZZTIME=5m
	@bash infra/scripts/fuzz.sh "$(FUZZTIME)"

.PHONY: deploy
deploy: ## Build with SAM and deploy (needs the SAM CLI and AWS credentials): make deploy ENV=dev|prod
	@command -v sam >/dev/null || { echo "deploy needs the AWS SAM CLI: see README, Deploying"; exit 1; }
	sam build --config-env $(ENV)
	sam deploy --config-env $(ENV)

.PHONY: clean
clean: ## Remove build output and the local data directory.
	rm -rf $(BIN) $(DATA) .aws-sam

.PHONY: FORCE
FORCE:

.PHONY: bench-send
bench-send: ## Only the send-path table (dispatch vs apns2 and firebase SendEach, each run in a child process); SENDBENCH_REPS=5 for more runs.
	@mkdir -p $(BIN)
	$(GO) test -run '^$$' -bench '^BenchmarkSend$$' -benchtime 1x ./shared/dispatch/ | tee $(BIN)/bench-send.txt
