# erasure: see README.md. Every tool is installed by this Makefile into
# .bin (Go tools, pinned in tools/go.mod) or node_modules (buf, protoc-gen-es,
# esbuild, TypeScript and the web client's libraries, pinned in
# package-lock.json), so a fresh clone needs only Go, make and npm.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DELETE_ON_ERROR:
.DEFAULT_GOAL := help
MAKEFLAGS += --warn-undefined-variables --no-builtin-rules

BIN := $(abspath .bin)
BUF := node_modules/.bin/buf
GO_TOOLS := $(BIN)/protoc-gen-go $(BIN)/protoc-gen-go-grpc $(BIN)/protoc-gen-connect-go $(BIN)/grpcurl
export PATH := $(BIN):$(PATH)

.PHONY: help
help: ## Describe the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

.PHONY: build
build: ## Build erasured (the service) and erasurectl (the operators' client) into bin/
	go build -buildvcs=auto -o bin/ ./cmd/erasured ./cmd/erasurectl

.PHONY: run
run: build ## Build and start erasured on :8080 (embedded store under ./data unless MONGODB_URI is set)
	./bin/erasured -metrics-addr localhost:9090

.PHONY: test
test: tools libreoffice chromium ## Run every test (starts its own embedded stores; needs no running service)
	go test -count=1 ./...

.PHONY: test-huge
test-huge: ## The hostile-file cases with huge generated files (50 MB upload, 1M rows, zip bomb): minutes
	ERASURE_HUGE_FILES=1 go test -count=1 -timeout 30m -run TestHostileFiles ./internal/deletion

.PHONY: bench
bench: ## Measure everything issue 5 asks (about 25 minutes): end to end against the raw driver, file reading against the bare libraries, normalizers, a 50 MB upload, peak memory on 50 MB files
	go run ./cmd/erasure-bench
	go test -run '^$$' -bench . -benchmem ./internal/tabular ./internal/identifier ./internal/deletion ./storage
	$(MAKE) bench-memory

.PHONY: bench-memory
bench-memory: ## Measure peak memory of erasured on a 50 MB CSV and a 50 MB XLSX of 1,048,576 rows (about 11 minutes)
	go run ./cmd/erasure-bench -memory

.PHONY: fuzz-phone
fuzz-phone: ## Differential fuzz of the phone fast path against the full parse, for ten minutes (issue 15's check)
	go test -run '^$$' -fuzz '^FuzzPhoneFastPath$$' -fuzztime 10m ./internal/identifier

.PHONY: lint
lint: tools ## buf lint and format, go vet, gofmt, tsc on the web client
	$(BUF) lint
	$(BUF) format -d --exit-code
	go vet -composites=false ./...
	node_modules/.bin/tsc -p web/client
	node_modules/.bin/tsc -p web/wizard
	@unformatted="$$(gofmt -l $$(git ls-files '*.go'))"; \
	  if [ -n "$$unformatted" ]; then echo "gofmt -w these files:"; echo "$$unformatted"; exit 1; fi

.PHONY: generate
generate: tools ## Regenerate gen/ (Go) and web/client/src/gen (TypeScript) from proto/
	$(BUF) generate

.PHONY: check-generated
check-generated: generate ## Fail when gen/ or web/client/src/gen is not what proto/ generates
	@changed="$$(git status --porcelain -- gen web/client/src/gen)"; \
	  if [ -n "$$changed" ]; then echo "generated code is stale; run make generate and commit:"; echo "$$changed"; exit 1; fi

# The wizard's page: built by esbuild from web/wizard and web/client into
# web/dist, which is committed (erasured embeds it) and checked by CI.
.PHONY: web
web: tools ## Build the wizard's page (web/dist) from web/wizard and web/client
	node_modules/.bin/esbuild web/wizard/main.tsx --bundle --minify --format=esm --target=es2022 \
	  --jsx=automatic --jsx-import-source=preact --legal-comments=none --log-level=warning --outfile=web/dist/assets/app.js
	cp web/wizard/index.html web/dist/index.html
	cp web/wizard/app.css web/dist/assets/app.css

.PHONY: check-web
check-web: web ## Fail when web/dist is not what its sources build to
	@changed="$$(git status --porcelain -- web/dist)"; \
	  if [ -n "$$changed" ]; then echo "web/dist is stale; run make web and commit:"; echo "$$changed"; exit 1; fi

.PHONY: tools
tools: $(GO_TOOLS) $(BUF) ## Install the pinned tools

$(GO_TOOLS) &: tools/go.mod tools/go.sum
	cd tools && GOBIN=$(BIN) go install tool
	touch $(GO_TOOLS)

# The report test opens a downloaded report with LibreOffice Calc; without
# soffice it skips that part (CI sets ERASURE_REQUIRE_SOFFICE to fail instead).
.PHONY: libreoffice
libreoffice: ## Install LibreOffice Calc (headless) unless soffice is there: on Debian, as root or with sudo
	@if command -v soffice >/dev/null; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then sudo=; elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo=sudo; else sudo=no; fi; \
	if [ "$$sudo" = no ] || ! command -v apt-get >/dev/null; then \
	  echo "soffice not found and not installable here: the report test skips opening the download in LibreOffice (on Debian: apt-get install libreoffice-calc-nogui)"; \
	  exit 0; \
	fi; \
	echo "installing libreoffice-calc-nogui for the report test"; \
	{ $$sudo apt-get update -qq && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libreoffice-calc-nogui >/dev/null; } || \
	  echo "could not install libreoffice-calc-nogui: the report test skips opening the download in LibreOffice"

# The wizard's browser test drives Debian's Chromium with playwright-core; it
# fails (never skips) without it, saying how to install it.
.PHONY: chromium
chromium: ## Install Chromium for the browser test unless it is there: on Debian, as root or with sudo
	@if command -v chromium >/dev/null; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then sudo=; elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo=sudo; else sudo=no; fi; \
	if [ "$$sudo" = no ] || ! command -v apt-get >/dev/null; then \
	  echo "chromium not found and not installable here: install Debian's chromium (apt-get install chromium), or the browser test fails"; \
	  exit 0; \
	fi; \
	echo "installing chromium for the browser test"; \
	{ $$sudo apt-get update -qq && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
	  echo "could not install chromium: the browser test will fail saying so"

$(BUF): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $(BUF)

.PHONY: clean
clean: ## Remove built binaries and the embedded store's data
	rm -rf bin data
