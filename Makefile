# hardened: build, test, install.
GO        ?= go
PREFIX    ?= /usr
BINDIR    ?= $(PREFIX)/bin
# urfave_cli_no_docs drops the man-page generator (and its init cost) from
# every start of the binary, the container init included.
BUILDTAGS ?= seccomp urfave_cli_no_docs
COMMIT    ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS   := -X main.gitCommit=$(COMMIT)
BIN       := $(CURDIR)/hardened
# Packages without real containers: fast, no root needed.
UNIT_PKGS := ./hardening/... ./spec/... ./shim/...

.PHONY: all build test unit integration e2e conformance bench demo install uninstall clean vet fmt

all: build

build:
	$(GO) build -trimpath -tags "$(BUILDTAGS)" -ldflags "$(LDFLAGS)" -o $(BIN) .

# test runs everything CI runs: static checks, unit tests, real containers,
# Docker and containerd end to end, and the OCI conformance suite.
test: vet unit integration e2e conformance

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet -tags "$(BUILDTAGS)" ./...

unit:
	$(GO) test -tags "$(BUILDTAGS)" -count=1 $(UNIT_PKGS)

integration: build
	HARDENED_BIN=$(BIN) $(GO) test -tags "$(BUILDTAGS)" -count=1 -p 1 -timeout 20m ./tests/integration/...

e2e: build
	HARDENED_BIN=$(BIN) $(GO) test -tags "$(BUILDTAGS)" -count=1 -p 1 -timeout 30m ./tests/e2e/...

conformance: build
	HARDENED_BIN=$(BIN) $(GO) test -count=1 -timeout 40m -v -run TestConformance ./tests/conformance/...

bench: build
	HARDENED_BIN=$(BIN) $(GO) test -tags "$(BUILDTAGS)" -run '^$$' -bench . -benchtime 50x ./tests/bench/...

# demo builds a busybox rootfs and runs one hardened container that reports
# its own confinement from the inside.
demo: build
	./hack/demo.sh $(BIN)

install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/hardened

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/hardened

clean:
	rm -f $(BIN)
	$(GO) clean -testcache
