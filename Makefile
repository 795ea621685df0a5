# asr-server build, test and demo.
#
# asr-worker links whisper.cpp, which Debian ships from forky on. When this
# host has it (pkg-config finds "whisper"), everything runs natively; else
# every target re-runs itself inside the forky build root managed by
# scripts/buildroot.sh, which it creates on first use.

GO ?= go
NATIVE ?= $(shell pkg-config --exists whisper 2>/dev/null && echo 1)
BIN := bin
CGO_SHIM := build/cgo
TEST_TIMEOUT ?= 30m

# MODEL=/path/to/ggml-model.bin makes `make run` use a real model.
export MODEL

# Debian builds ggml's CPU backend as loadable modules chosen at run time,
# but the Go bindings ask the linker for -lggml-cpu: an empty archive
# satisfies that flag and the real backend is loaded when the worker starts.
export CGO_LDFLAGS := -L$(CURDIR)/$(CGO_SHIM) $(CGO_LDFLAGS)

.PHONY: all build test run run-dev vet fmt clean buildroot deb system-test bench

ifeq ($(NATIVE),)

all build test run-dev vet deb bench:
	scripts/buildroot.sh run make $@ NATIVE=1 $(if $(BENCH_QUICK),BENCH_QUICK=$(BENCH_QUICK))

buildroot:
	scripts/buildroot.sh ensure

# Both boot a bare forky system with systemd and install the .deb in it.
run: deb
	scripts/demo.sh

system-test: deb
	scripts/system-test.sh

else

all: build

# Position-independent, as Debian builds every binary.
build: $(CGO_SHIM)/libggml-cpu.a
	$(GO) build -buildmode=pie -o $(BIN)/ ./cmd/...

test: $(CGO_SHIM)/libggml-cpu.a vet
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) $(TESTFLAGS) ./...

vet: $(CGO_SHIM)/libggml-cpu.a
	@unformatted=$$(gofmt -l cmd internal); \
	if [ -n "$$unformatted" ]; then echo "not gofmt-formatted: $$unformatted"; exit 1; fi
	$(GO) vet ./...

run: deb
	scripts/demo.sh

# The same pipeline as plain processes on this machine, without systemd or
# the package: quicker while developing.
run-dev: build
	scripts/demo-dev.sh

# Side-by-side benchmarks (BENCHMARKS.md); BENCH_QUICK=1 for a short trial.
bench: build
	scripts/bench.sh

deb: build
	scripts/build-deb.sh

system-test: deb
	scripts/system-test.sh

$(CGO_SHIM)/libggml-cpu.a:
	mkdir -p $(CGO_SHIM)
	ar rc $@

endif

fmt:
	gofmt -w cmd internal

clean:
	rm -rf $(BIN) build
