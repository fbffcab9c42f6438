# dnsbox — build, test, run, firmware, image, size, bench.
# `make` and `make test` run scripts/setup.sh first (idempotent, ~1 s when done).

ARCH ?= $(shell uname -m | sed 's/arm64/aarch64/')
BOARD ?= generic-$(ARCH)
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.1.0)
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
SWIFT_BUILD_FLAGS ?=
PYTEST ?= python3 -m pytest
HOST_BIN := .build/debug/dnsbox

.PHONY: all setup build test unit-test system-test run firmware firmware-all smoke image size bench fuzz clean

all: build

setup:
	@scripts/setup.sh

build: setup
	swift build $(SWIFT_BUILD_FLAGS)

# Everything the project tests: unit tests, then system tests against the
# host build (and the firmware build, where out/ARCH/dnsbox exists).
test: build unit-test system-test

# The allocation proofs run again optimized: at -Onone Swift allocates in
# places the optimizer removes, so some of them only count in release.
unit-test:
	swift test $(SWIFT_BUILD_FLAGS)
	swift test -c release --filter AllocationTests $(SWIFT_BUILD_FLAGS)

# DNSBOX_BIN=out/x86_64/dnsbox runs the same suite against the firmware binary.
DNSBOX_BIN ?= $(abspath $(HOST_BIN))
system-test:
	DNSBOX_BIN=$(DNSBOX_BIN) $(PYTEST) -q -rs Tests/system

# A development instance: init with scripts/dev.conf on unprivileged paths,
# database under ./var/, logs on the terminal. Ctrl-C stops it.
run: build
	@mkdir -p var
	$(HOST_BIN) init -c scripts/dev.conf

# Static musl firmware for ARCH (aarch64 | x86_64): out/ARCH/dnsbox.
firmware: setup
	scripts/build-deps.sh $(ARCH)
	scripts/firmware.sh $(ARCH)

firmware-all:
	$(MAKE) firmware ARCH=x86_64
	$(MAKE) firmware ARCH=aarch64

# Runs the firmware binaries (aarch64 under qemu-aarch64-static) through the
# firmware system tests: version, symlink dispatch, config, store, init.
smoke:
	$(PYTEST) -q -rs Tests/system/firmware

image:
	$(MAKE) firmware ARCH=$$(sed -n 's/^ARCH := //p' board/$(BOARD)/board.mk)
	SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) python3 scripts/mkimage.py \
	  --binary out/$$(sed -n 's/^ARCH := //p' board/$(BOARD)/board.mk)/dnsbox \
	  --board board/$(BOARD) --version $(VERSION) --out out/dnsbox-$(BOARD).tar
	@echo "image: out/dnsbox-$(BOARD).tar"

size:
	@scripts/size.sh

bench:
	@scripts/bench.sh

# Coverage-guided fuzzing (libFuzzer + ASan) of every decoder; FUZZ_SECONDS each.
FUZZ_SECONDS ?= 60
fuzz:
	scripts/fuzz.sh uci $(FUZZ_SECONDS)
	scripts/fuzz.sh dns $(FUZZ_SECONDS)
	scripts/fuzz.sh zone $(FUZZ_SECONDS)
	scripts/fuzz.sh dhcp $(FUZZ_SECONDS)
	scripts/fuzz.sh http $(FUZZ_SECONDS)
	scripts/fuzz.sh xfr $(FUZZ_SECONDS)
	scripts/fuzz.sh netlink $(FUZZ_SECONDS)

clean:
	rm -rf .build .build-fw-x86_64 .build-fw-aarch64 .build-fuzz out var
