# Classy Book: `make run` starts the server on the embedded SQLite default; `make test` runs every test.
.PHONY: deps build run test check-generated generate format lint bench clean

deps:
	@scripts/install-deps.sh

build: deps
	swift build

run: deps
	swift run classy-server serve

test: deps
	swift test

check-generated:
	scripts/check-generated-code.sh

generate:
	scripts/generate-protos.sh

format:
	scripts/format.sh

lint:
	scripts/format.sh --lint

bench: deps
	swift run -c release --scratch-path .build-release classy-bench rpc --login-rounds 3

clean:
	rm -rf .build .build-release
