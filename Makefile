# Tenantra build, run and test entry points. See README.md.
SHELL := bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
BIN := bin/tenantra
DATA_DIR ?= ./tenantra-data
TOOLS := $(CURDIR)/.tools
STATICCHECK_VERSION := v0.8.2
GOLANGCI_VERSION := v2.15.0

.PHONY: all build run test test-go lint fmt vet bench cross deps clean ui ui-test e2e

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/tenantra

run: ui build
	./$(BIN) serve --data-dir $(DATA_DIR)

# Every test. Tests that need a real peer skip locally when it is missing and fail under
# TENA_REQUIRE_PEERS=1 (set by .ci/run); scripts/install-deps.sh installs them.
test: vet fmt-check test-go ui-test e2e

test-go:
	$(GO) test -race -count=1 -timeout 20m ./...

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

fmt:
	gofmt -w $$(git ls-files '*.go')

$(TOOLS)/staticcheck:
	GOBIN=$(TOOLS) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

$(TOOLS)/golangci-lint:
	GOBIN=$(TOOLS) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_VERSION)

lint: vet fmt-check $(TOOLS)/staticcheck $(TOOLS)/golangci-lint
	$(TOOLS)/staticcheck ./...
	$(TOOLS)/golangci-lint run ./...

# The web console (ui/README.md): npm packages from ui/package-lock.json, built into ui/dist,
# which the binary embeds (build after `make ui`). Playwright never downloads a browser: the
# e2e suite drives Debian's chromium (scripts/install-deps.sh installs it) against a real
# `tenantra serve` and the loopback lab. Without chromium it is skipped, or fails under
# TENA_REQUIRE_PEERS=1.
NPM ?= npm
CHROMIUM ?= /usr/bin/chromium
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

ui:
	cd ui && $(NPM) ci --no-audit --no-fund && $(NPM) run build

ui-test: ui
	cd ui && $(NPM) run typecheck && $(NPM) run lint && $(NPM) test && node scripts/size-check.mjs

E2E_MISSING = e2e: $(CHROMIUM) is missing (run scripts/install-deps.sh)

e2e: ui
	@if [ ! -x '$(CHROMIUM)' ]; then \
	  if [ "$$TENA_REQUIRE_PEERS" = 1 ]; then echo "$(E2E_MISSING)"; exit 1; fi; \
	  echo "skipped: $(E2E_MISSING)"; exit 0; \
	fi; \
	cd ui && TENA_CHROMIUM='$(CHROMIUM)' npx playwright test

# Benchmarks; results go to docs/PERFORMANCE.md by hand, with the core count. The discovery
# benchmarks against nmap (network/probe, root) and the large AD collection (network/ldap,
# minutes of seeding) run on their own: see docs/PERFORMANCE.md §6 and §7.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 1x -timeout 60m ./store/... ./appliance/... \
	  ./scanner/... ./network/snmp/ ./network/fingerprint/

cross:
	GOOS=linux GOARCH=amd64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/tenantra-linux-amd64 ./cmd/tenantra
	GOOS=linux GOARCH=arm64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/tenantra-linux-arm64 ./cmd/tenantra
	GOOS=windows GOARCH=amd64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/tenantra-windows-amd64.exe ./cmd/tenantra

deps:
	scripts/install-deps.sh

clean:
	rm -rf bin .tools

# Packages (packaging/README.md): dist/tenantra_<version>_amd64.deb and _arm64.deb built with
# nfpm, and dist/tenantra-<version>-x64.msi built with Debian's wixl (`make deps` installs it),
# signed when TENA_SIGN_CERT and TENA_SIGN_KEY are set. nfpm v2.46 and later need modules
# from go.digitalxero.dev that the module proxy refuses here (403): v2.45.2 is the newest
# that builds.
NFPM_VERSION ?= v2.45.2
NFPM = $(GO) run github.com/goreleaser/nfpm/v2/cmd/nfpm@$(NFPM_VERSION)
PKG_VERSION = $(shell packaging/version.sh deb '$(VERSION)')
MSI_VERSION = $(shell packaging/version.sh msi '$(VERSION)')
.PHONY: deb msi

deb:
	@mkdir -p dist
	set -e; v='$(PKG_VERSION)'; for arch in amd64 arm64; do \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -trimpath -ldflags '$(LDFLAGS)' \
	    -o bin/tenantra-linux-$$arch ./cmd/tenantra; \
	  PKG_ARCH=$$arch PKG_VERSION=$$v $(NFPM) pkg --packager deb \
	    --config packaging/nfpm.yaml --target dist/; \
	done

msi:
	@mkdir -p dist
	CGO_ENABLED=0 GOOS=windows GOARCH=amd64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' \
	  -o bin/tenantra-windows-amd64.exe ./cmd/tenantra
	packaging/windows/sign.sh bin/tenantra-windows-amd64.exe
	cd packaging/windows && wixl -a x64 -D Version='$(MSI_VERSION)' -D SourceDir=../../bin \
	  -o '../../dist/tenantra-$(PKG_VERSION)-x64.msi' tenantra.wxs
	packaging/windows/sign.sh 'dist/tenantra-$(PKG_VERSION)-x64.msi'
