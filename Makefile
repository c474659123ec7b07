# dsdeploy — two commands on a fresh machine: `make demo` and `make test`.
SWIFT ?= swift
BIN := .build/debug/dsdeploy

.PHONY: setup build test demo release bench-validate bench-peer bench-timing fuzz catalogs clean

setup:
	@scripts/setup.sh

build: setup
	$(SWIFT) build

# The Swift runtime and Foundation linked in (--static-swift-stdlib): a start without resolving
# them in shared libraries is ~4 ms faster, which is most of validating a small manifest.
release: setup
	$(SWIFT) build -c release --product dsdeploy --static-swift-stdlib

# Tests run in parallel (Swift Testing's default): no test asserts a timing (those are in
# benchmarks/timing.sh), waits with a fixed sleep, shares a fixed port or changes the working
# directory. Suites that share one scratch project are marked .serialized. The end-to-end suites
# (CLITests) block their threads on child processes, so they run in a second invocation: sharing
# Swift's cooperative pool (one thread per core) with them starved the async unit tests on 2 cores.
test: setup
	scripts/setup-tiny-engine.sh >/dev/null
	scripts/setup-gpustack.sh >/dev/null
	scripts/setup-kubernetes-validate.sh >/dev/null
	scripts/setup-sglang-router.sh >/dev/null
	scripts/setup-podman.sh >/dev/null
	scripts/setup-sshd.sh >/dev/null
	scripts/setup-dockerd.sh >/dev/null
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --parallel --skip CLITests
	$(SWIFT) test --skip-build --parallel --filter CLITests

# Timings the tests used to assert, as ratios against a reference in the same run.
bench-timing: build
	benchmarks/timing.sh

demo: build
	@scripts/demo.sh $(BIN)

bench-validate: release
	benchmarks/validate.sh

# dsdeploy bench vs python -m sglang.bench_serving on the simulator (pip-installs a pinned venv once).
bench-peer: setup
	benchmarks/peer.sh

fuzz: setup
	scripts/fuzz.sh 300

catalogs:
	python3 scripts/gen-catalogs.py catalog-sources Sources/Engines/Resources/catalogs
	python3 scripts/gen-stock-templates.py
	python3 scripts/gen-embedded.py

clean:
	rm -rf .build .dsdeploy
