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
UNIT_PKGS := ./hardening/... ./spec/... ./shim/... ./idmap/... ./runtimeconfig/... ./internal/...

.PHONY: all build test test-vm unit integration hostile stress e2e cri conformance conformance-runc conformance-runc-quick conformance-runc-default bench bench-userns demo install uninstall clean vet fmt man deb packaging

all: build

build:
	$(GO) build -trimpath -tags "$(BUILDTAGS)" -ldflags "$(LDFLAGS)" -o $(BIN) .

# test runs everything CI runs: static checks, unit tests, real containers,
# Docker, containerd and Podman end to end, pods through containerd's CRI,
# the OCI conformance suite and runc's own suite.
test: vet unit integration hostile stress e2e cri conformance conformance-runc packaging

# staticcheck at a pinned version, built from the Go module proxy on first
# use (go run pkg@version; a few minutes on a cold module cache, seconds after).
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet -tags "$(BUILDTAGS)" ./...
	$(STATICCHECK) -tags "$(BUILDTAGS)" ./...

unit:
	$(GO) test -tags "$(BUILDTAGS)" -count=1 $(UNIT_PKGS)

integration: build
	HARDENED_BIN=$(BIN) $(GO) test -tags "$(BUILDTAGS)" -count=1 -p 1 -timeout 20m ./tests/integration/...

# hostile: config.json written by an attacker, against the default policy
# (tests/hostile, docs/threat-model.md).
hostile: build
	HARDENED_BIN=$(BIN) $(GO) test -tags "$(BUILDTAGS)" -count=1 -p 1 -timeout 20m ./tests/hostile/...

# stress: kill -9 at random points of create, run, exec, delete and the
# init, 4 at a time (STRESS_INJECTIONS of them), and on a full and a
# read-only --root; after each, delete --force must leave nothing behind
# (tests/faults). About a minute on 2 cores.
STRESS_INJECTIONS ?= 120
stress: build
	FAULTS_INJECTIONS=$(STRESS_INJECTIONS) HARDENED_BIN=$(BIN) $(GO) test -tags "$(BUILDTAGS)" -count=1 -p 1 -timeout 10m -v ./tests/faults/...

e2e: build
	HARDENED_BIN=$(BIN) $(GO) test -tags "$(BUILDTAGS)" -count=1 -p 1 -timeout 30m ./tests/e2e/...

# cri: pods as the kubelet runs them, through containerd's CRI plugin
# (Debian's 1.6 and 2.x built by hack/cri-tools.sh into the tests' cache),
# crictl, Debian's CNI bridge plugin and a pause image built here, with the
# runtime as a RuntimeClass handler beside the reference runc (tests/cri).
cri: build
	tools=$$(./hack/cri-tools.sh) && HARDENED_CRI_TOOLS=$$tools HARDENED_BIN=$(BIN) \
		$(GO) test -tags "$(BUILDTAGS)" -count=1 -p 1 -timeout 30m -v ./tests/cri/...

# test-vm runs the integration and e2e suites again inside a Debian 12
# guest booted with qemu: systemd as PID 1, cgroup v2 only, AppArmor
# enforcing, the host most users have (tests/vm/README.md). The guest
# image is built once per recipe (a few minutes) into $HARDENED_CACHE/vm,
# by default /var/cache/hardened-tests/vm.
test-vm: build
	HARDENED_BIN=$(BIN) ./tests/vm/run.sh

conformance: build
	HARDENED_BIN=$(BIN) $(GO) test -count=1 -timeout 40m -v -run TestConformance ./tests/conformance/...

# conformance-runc: runc's own integration suite (the bats files of the
# runc module at go.mod's version, helpers built from the same tree) against
# the binary with {"mode": "off"}, compared with the expected failures
# listed with their reasons in tests/conformance-runc/expected-off.txt
# (hack/conformance-runc.sh; CONFORMANCE_FILES="a.bats b.bats" for some).
# The whole suite takes ~7 minutes on a 2-core machine (the first run also
# builds runc's test helpers and its images, ~2 more): make test runs it;
# conformance-runc-quick runs only the command-line files (~2 minutes).
# conformance-runc-default: the same suite under the default policy, every
# failure listed with the rule that causes it (expected-default.txt).
CONFORMANCE_RUNC_QUICK ?= create.bats delete.bats events.bats exec.bats help.bats kill.bats list.bats \
	pause.bats pidfd-socket.bats ps.bats run.bats spec.bats start.bats start_detached.bats \
	start_hello.bats state.bats update.bats version.bats
conformance-runc: build
	HARDENED_BIN=$(BIN) ./hack/conformance-runc.sh

conformance-runc-quick: build
	HARDENED_BIN=$(BIN) ./hack/conformance-runc.sh $(CONFORMANCE_RUNC_QUICK)

conformance-runc-default: build
	HARDENED_BIN=$(BIN) ./hack/conformance-runc.sh -p default

# packaging builds and installs the Debian package on this machine (and
# purges it), and registers the runtime with a private dockerd and containerd.
packaging: build
	HARDENED_BIN=$(BIN) $(GO) test -tags "$(BUILDTAGS)" -count=1 -p 1 -timeout 20m ./tests/packaging/...

# bench: start-up cost against runc (the libcontainer we embed, built by
# hack/bench.sh; HARDENED_BENCH_RUNC for another), BENCH_RUNS interleaved
# rounds of create-start-wait-delete, `run`, the engine sequence, CPU per
# container and N = 1, 8, 50 parallel `run` loops (hack/bench.sh,
# tests/bench/README.md; ~3 minutes at 20 on 2 loaded cores);
# bench-userns: create with user namespaces on small and 100k-file rootfs.
BENCH_RUNS ?= 20
bench: build
	HARDENED_BIN=$(BIN) ./hack/bench.sh $(BENCH_RUNS)

bench-userns: build
	HARDENED_BIN=$(BIN) BENCH=BenchmarkUsernsCreate ./hack/bench.sh 50

# demo builds a busybox rootfs and runs one hardened container that reports
# its own confinement from the inside.
demo: build
	./hack/demo.sh $(BIN)

install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/hardened

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/hardened

# Packaging (#5): man pages from docs/man/*.md with go-md2man, and a
# Debian package built by nfpm. Both tools run as pinned Go modules
# (go run pkg@version), outside this module's go.mod.
OUTPUT         ?= $(CURDIR)/_output
MD2MAN         ?= $(GO) run github.com/cpuguy83/go-md2man/v2@v2.0.7
NFPM           ?= $(GO) run github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2
VERSION        := $(shell cat VERSION)
DEB_UPSTREAM   := $(subst -,~,$(VERSION))
DEB_VERSION    := $(DEB_UPSTREAM)-1
DEB_MAINTAINER ?= hardened developers <hardened-runtime@users.noreply.github.com>
DEB            ?= $(OUTPUT)/hardened_$(DEB_VERSION)_amd64.deb
STAGE          := $(OUTPUT)/stage
# Dates in the package come from the last commit, so one commit builds
# the same package twice.
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || date +%s)
export SOURCE_DATE_EPOCH

man:
	mkdir -p $(OUTPUT)/man
	for page in docs/man/*.md; do \
		out=$(OUTPUT)/man/$$(basename $$page .md); \
		$(MD2MAN) -in $$page -out $$out && gzip -9nf $$out || exit 1; \
	done

# deb builds the binary as Debian builds Go programs (PIE, full RELRO,
# stripped), stages it with the default policy it prints, and packages it.
deb: man
	rm -rf $(STAGE) && mkdir -p $(STAGE)
	CGO_CPPFLAGS="-D_FORTIFY_SOURCE=2" CGO_CFLAGS="-O2 -fstack-protector-strong" \
		$(GO) build -trimpath -buildmode=pie -tags "$(BUILDTAGS)" \
		-ldflags "$(LDFLAGS) -s -w -linkmode=external -extldflags '-Wl,-z,relro,-z,now'" \
		-o $(STAGE)/hardened .
	objcopy --remove-section=.comment $(STAGE)/hardened
	env -u HARDENED_POLICY $(STAGE)/hardened --policy "" policy > $(STAGE)/policy.json
	cp $(OUTPUT)/man/hardened.8.gz $(OUTPUT)/man/hardened-policy.5.gz $(STAGE)/
	./packaging/debian-changelog.sh "$(DEB_VERSION)" "$(VERSION)" "$(DEB_MAINTAINER)" "$(SOURCE_DATE_EPOCH)" | gzip -9n > $(STAGE)/changelog.Debian.gz
	gzip -9nc CHANGELOG.md > $(STAGE)/changelog.gz
	cp packaging/copyright packaging/completion/hardened.bash packaging/lintian-overrides $(STAGE)/
	rm -f $(DEB)
	cd $(OUTPUT) && DEB_UPSTREAM_VERSION="$(DEB_UPSTREAM)" DEB_MAINTAINER="$(DEB_MAINTAINER)" \
		$(NFPM) package --config $(CURDIR)/packaging/nfpm.yaml --packager deb --target $(DEB)
	@echo "built $(DEB)"

clean:
	rm -f $(BIN)
	rm -rf $(OUTPUT)
	$(GO) clean -testcache
