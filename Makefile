# onair: `make demo` runs the simulated board into a local room; `make test`
# passes the tests. Both install what they need first (make deps).

GO        ?= go
TAGS      := nolibopusfile
CACHE     ?= $(HOME)/.cache/onair
BIN       := $(CACHE)/bin
LIVEKIT_VERSION     := v1.13.5
STATICCHECK_VERSION := v0.8.2
export ONAIR_LIVEKIT_SERVER ?= $(BIN)/server
export PATH := $(BIN):$(PATH)

# Debian / Raspberry Pi OS packages: build (pkg-config, libopus, libasound, libspeexdsp)
# and the browser listener of the interop tests (chromium; Node.js and npm
# are installed from Debian only when no node is on the PATH, since a
# NodeSource node bundles its own npm, which Debian's npm conflicts with).
APT_BUILD := pkg-config libopus-dev libasound2-dev libspeexdsp-dev gcc
APT_TEST  := chromium mosquitto

VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: all deps deps-build deps-apt deps-go deps-npm build test check fmt vet staticcheck size unit realtime bench demo clean fuzz deb cross cross-test systemd-check screenshot
ARCH ?= arm64

all: build

deps: deps-apt deps-go deps-npm

deps-build:
	@scripts/deps-apt.sh $(APT_BUILD)

deps-apt:
	@scripts/deps-apt.sh $(APT_BUILD) $(APT_TEST)
	@command -v node >/dev/null && command -v npm >/dev/null || scripts/deps-apt.sh nodejs npm

deps-go: $(ONAIR_LIVEKIT_SERVER) $(BIN)/staticcheck
	@$(GO) mod download

$(ONAIR_LIVEKIT_SERVER):
	@mkdir -p $(BIN)
	@echo "==> installing livekit-server $(LIVEKIT_VERSION) into $(BIN) (about 3-5 minutes the first time)"
	@GOBIN=$(BIN) GOFLAGS=-buildvcs=false $(GO) install github.com/livekit/livekit-server/cmd/server@$(LIVEKIT_VERSION)
	@echo "==> livekit-server installed"

$(BIN)/staticcheck:
	@mkdir -p $(BIN)
	@echo "==> installing staticcheck $(STATICCHECK_VERSION)"
	@GOBIN=$(BIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

deps-npm:
	@scripts/deps-npm.sh

build:
	@mkdir -p bin
	$(GO) build -tags $(TAGS) -ldflags "$(LDFLAGS)" -o bin/ ./cmd/onaird ./cmd/onairctl

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet -tags $(TAGS) ./...

staticcheck: $(BIN)/staticcheck
	$(BIN)/staticcheck -tags $(TAGS) ./...

# No build output in git: a tracked file over 1 MiB outside testdata/ fails.
size:
	@scripts/check-size.sh

check: size fmt vet staticcheck

unit:
	$(GO) test -race -tags $(TAGS) -count=1 -timeout 20m ./...

# The checks the race detector's slowdown makes impossible, run without it:
# the echo canceller end to end (the simulated board must keep real time
# with three WebRTC participants in one process) and the send path's
# allocation count (sync.Pool is disabled under -race).
realtime:
	$(GO) test -tags $(TAGS) -count=1 -timeout 5m -run '^(TestAECInRealRoom|TestWriteOpusAllocs)$$' ./gateway ./net/whip

# The test command README promises: install, lint, then every test with
# the race detector against real servers on loopback.
test:
	@scripts/test.sh

bench:
	$(GO) test -tags $(TAGS) -run '^$$' -bench . -benchmem -count 6 ./audio/... ./net/e2ee

# Every fuzz target in the module, each for FUZZTIME (default 10s).
fuzz:
	@GO=$(GO) TAGS=$(TAGS) scripts/fuzz.sh

# The main job on built-in defaults: a loopback LiveKit server, onaird on the
# simulated board speaking into room "demo", and a listener showing what
# arrives. Ctrl-C stops all three.
demo: deps-build $(ONAIR_LIVEKIT_SERVER) build
	@scripts/demo.sh

# docs/web.png, README's picture of the web page: the browser test of the
# page (TestWebPage) on the simulated board takes it.
screenshot: $(ONAIR_LIVEKIT_SERVER)
	ONAIR_SCREENSHOT=$(CURDIR)/docs/web.png $(GO) test -tags $(TAGS) -count=1 -run '^TestWebPage$$' ./cmd/onaird

# Debian packages for arm64, armhf and amd64 into dist/ (nfpm, cgo cross
# builds); each is listed with dpkg-deb -I/-c and checked by lintian.
deb:
	@scripts/deb.sh

# onaird and onairctl for the Pi into bin/linux-$(ARCH)/; installs the
# cross toolchain the first time. make cross ARCH=armhf
cross:
	@scripts/cross.sh $(ARCH)

# Unit tests of ./audio/... ./provisioning ./hw/sim built for arm64 and
# armhf and run under qemu-user.
cross-test:
	@scripts/cross.sh arm64 test
	@scripts/cross.sh armhf test

# systemd-analyze verify + security exposure <= 2.0, then onaird under the
# unit's seccomp filters.
systemd-check:
	@scripts/systemd-check.sh

clean:
	rm -rf bin dist
