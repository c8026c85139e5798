# tieup: the two set-up commands are `make demo` and `make test`.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo

.PHONY: all deps build test demo bench format check-format clean

all: build

deps:
	@scripts/install-deps.sh build

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja $(CMAKE_FLAGS)

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

test: deps
	@scripts/install-deps.sh test
	@scripts/check-format.sh
	$(MAKE) build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 600

demo: build
	$(BUILD)/apps/tieup/tieup demo $(DEMO_DIR)

bench: build
	@scripts/install-deps.sh bench
	bench/run.sh

format:
	git ls-files -co --exclude-standard -- '*.h' '*.cc' | xargs clang-format -i

check-format:
	@scripts/check-format.sh

clean:
	rm -rf $(BUILD)
