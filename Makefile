# dsdeploy — two commands on a fresh machine: `make demo` and `make test`.
SWIFT ?= swift
BIN := .build/debug/dsdeploy

.PHONY: setup build test demo release bench-validate fuzz catalogs clean

setup:
	@scripts/setup.sh

build: setup
	$(SWIFT) build

release: setup
	$(SWIFT) build -c release --product dsdeploy

test: setup
	$(SWIFT) build
	$(SWIFT) test

demo: build
	@scripts/demo.sh $(BIN)

bench-validate: release
	benchmarks/validate.sh

fuzz: setup
	scripts/fuzz.sh 300

catalogs:
	python3 scripts/gen-catalogs.py ../shared/reference Sources/Engines/Resources/catalogs

clean:
	rm -rf .build .dsdeploy
