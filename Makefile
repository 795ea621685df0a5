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

.PHONY: all build test run vet fmt clean buildroot deb system-test

ifeq ($(NATIVE),)

all build test run vet deb:
	scripts/buildroot.sh run make $@ NATIVE=1

buildroot:
	scripts/buildroot.sh ensure

# Boots the build root with systemd and tests the installed .deb in it.
system-test: deb
	scripts/system-test.sh

else

all: build

build: $(CGO_SHIM)/libggml-cpu.a
	$(GO) build -o $(BIN)/ ./cmd/...

test: $(CGO_SHIM)/libggml-cpu.a vet
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) $(TESTFLAGS) ./...

vet: $(CGO_SHIM)/libggml-cpu.a
	@unformatted=$$(gofmt -l cmd internal); \
	if [ -n "$$unformatted" ]; then echo "not gofmt-formatted: $$unformatted"; exit 1; fi
	$(GO) vet ./...

run: build
	scripts/demo.sh

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
