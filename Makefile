# dsdeploy — two commands on a fresh machine: `make demo` and `make test`.
SWIFT ?= swift
BIN := .build/debug/dsdeploy

.PHONY: setup build test demo release bench-validate bench-peer fuzz catalogs clean

setup:
	@scripts/setup.sh

build: setup
	$(SWIFT) build

release: setup
	$(SWIFT) build -c release --product dsdeploy

# Tests run one at a time: the simulator's timing tests and the end-to-end tests start real
# processes and measure latencies, which parallel test threads on 2 cores would distort.
test: setup
	scripts/setup-tiny-engine.sh >/dev/null
	scripts/setup-gpustack.sh >/dev/null
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --no-parallel

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

clean:
	rm -rf .build .dsdeploy
