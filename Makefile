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

.PHONY: all build run test test-go lint fmt vet bench cross deps clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/tenantra

run: build
	./$(BIN) serve --data-dir $(DATA_DIR)

# Every test. Tests that need a real peer skip locally when it is missing and fail under
# TENA_REQUIRE_PEERS=1 (set by .ci/run); scripts/install-deps.sh installs them.
test: vet fmt-check test-go

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

# Benchmarks; results go to docs/PERFORMANCE.md by hand, with the core count.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 1x -timeout 60m ./store/... ./appliance/...

cross:
	GOOS=linux GOARCH=amd64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/tenantra-linux-amd64 ./cmd/tenantra
	GOOS=linux GOARCH=arm64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/tenantra-linux-arm64 ./cmd/tenantra
	GOOS=windows GOARCH=amd64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/tenantra-windows-amd64.exe ./cmd/tenantra

deps:
	scripts/install-deps.sh

clean:
	rm -rf bin .tools
