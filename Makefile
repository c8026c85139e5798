# tieup: the two set-up commands are `make demo` and `make test`.
BUILD ?= build
JOBS ?= $(shell nproc)
# -g1: function names and line tables (backtraces, perf) at three quarters of -g's compile time.
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" \
	-DCMAKE_C_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG"
# The clang build: AddressSanitizer + UndefinedBehaviorSanitizer for the whole suite, and the
# libFuzzer targets under fuzz/. -O1 keeps stack traces readable; line tables are all a report
# needs (function, file, line), and a seventh of the debug info of -g to compile and link; our
# asserts stay on (for third-party ones see TIEUP_SANITIZE in CMakeLists.txt). Unity builds
# there (TIEUP_UNITY): it is CI's slowest stage. Warnings are errors there too, as in the gcc
# tree: it is the only tree in which CI compiles the unit tests and the fuzz targets.
ASAN_BUILD ?= build-asan
ASAN_CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" \
	-DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" -DTIEUP_SANITIZE=address,undefined \
	-DTIEUP_FUZZ=ON -DTIEUP_UNITY=ON -DTIEUP_WERROR=ON
ASAN_ENV = ASAN_OPTIONS=detect_leaks=1 \
	LSAN_OPTIONS=suppressions=$(CURDIR)/scripts/lsan.supp \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# Seconds each fuzz target runs under `make fuzz` (FUZZ_TARGETS=regex picks some, FUZZ_JOBS=n
# runs n at once). The short runs of `make test` are ctests labelled "fuzz" in $(ASAN_BUILD)
# (each replays its committed corpus, then fuzzes TIEUP_FUZZ_SMOKE_SECONDS; fuzz/CMakeLists.txt).
FUZZ_SECONDS ?= 60
# What `make test` leaves out of its sanitizer pass (a ctest -LE regex over the labels, which are
# the test binaries' names): the integration tests, which the gcc pass runs and which cost the
# most under ASan (several daemons each). Empty: everything, as `make test-asan`.
CI_ASAN_EXCLUDE ?= integration
# The test directories `make test` leaves out of its sanitizer build (TIEUP_SKIP_MODULES): those
# whose tests the pass above leaves out, so they are not compiled for nothing (a fifth of the
# build). `make test-asan` builds and runs everything.
CI_ASAN_SKIP ?= integration;browser
ASAN_SKIP ?=
# The test directories of the gcc build (TIEUP_TEST_DIRS): all for `make build`; `make test`
# builds and runs only those its sanitizer pass leaves out (each test runs once, the unit tests
# under ASan+UBSan), which keeps CI well inside its hour.
TEST_DIRS ?= all
CI_TEST_DIRS ?= integration;browser
# Unity builds in $(BUILD) (TIEUP_UNITY, CMakeLists.txt): off for make build (an edit recompiles
# one file), on for make test's cold build of that tree (CI_UNITY). The two configurations
# rebuild the tree when they alternate. The sanitizer tree is always a unity build.
UNITY ?= OFF
CI_UNITY ?= ON
# The benchmarks (bench/, TIEUP_BENCH): built by make build and make bench, not by make test
# (nor in the sanitizer tree): they are never run there.
BENCH ?= ON

.PHONY: all deps build test demo bench format check-format clean asan-build test-asan fuzz \
	fuzz-smoke

all: build

deps:
	@scripts/install-deps.sh build

# Configured at every build: TEST_DIRS differs between make build and make test.
build: deps
	cmake -S . -B $(BUILD) -G Ninja $(CMAKE_FLAGS) -DTIEUP_TEST_DIRS='$(TEST_DIRS)' \
		-DTIEUP_UNITY=$(UNITY) -DTIEUP_BENCH=$(BENCH) > /dev/null
	cmake --build $(BUILD) -j $(JOBS)

test: deps
	@scripts/install-deps.sh test
	@scripts/check-format.sh
	$(MAKE) build TEST_DIRS='$(CI_TEST_DIRS)' UNITY=$(CI_UNITY) BENCH=OFF
	cd $(BUILD) && $(CURDIR)/scripts/with-postgres.sh \
		ctest --output-on-failure -j $(JOBS) --timeout 600
	$(MAKE) asan-build ASAN_SKIP='$(CI_ASAN_SKIP)'
	cd $(ASAN_BUILD) && $(ASAN_ENV) $(CURDIR)/scripts/with-postgres.sh \
		ctest --output-on-failure -j $(JOBS) --timeout 900 \
		$(if $(CI_ASAN_EXCLUDE),-LE '$(CI_ASAN_EXCLUDE)')

# Configured at every build: ASAN_SKIP differs between make test and make test-asan.
asan-build:
	@scripts/install-deps.sh test
	CC=clang CXX=clang++ cmake -S . -B $(ASAN_BUILD) -G Ninja $(ASAN_CMAKE_FLAGS) \
		-DTIEUP_SKIP_MODULES='$(ASAN_SKIP)' -DTIEUP_BENCH=OFF > /dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)

# The whole ctest suite, built with -fsanitize=address,undefined (fuzz smoke runs included).
test-asan: asan-build
	cd $(ASAN_BUILD) && $(ASAN_ENV) $(CURDIR)/scripts/with-postgres.sh \
		ctest --output-on-failure -j $(JOBS) --timeout 900

# Each fuzz target for FUZZ_SECONDS; new inputs go to $(ASAN_BUILD)/fuzz/corpus/<target>/,
# crashes to $(ASAN_BUILD)/fuzz/artifacts/ (copy a finding into fuzz/corpus/ once fixed).
fuzz: asan-build
	$(ASAN_ENV) fuzz/run.sh $(ASAN_BUILD) $(FUZZ_SECONDS)

# Each fuzz target for a few seconds from its committed corpus: a regression shows in CI.
fuzz-smoke: asan-build
	cd $(ASAN_BUILD) && $(ASAN_ENV) ctest --output-on-failure -j $(JOBS) -L fuzz

# Only the tieup binary: the demo needs no test.
demo: deps
	cmake -S . -B $(BUILD) -G Ninja $(CMAKE_FLAGS) -DTIEUP_TEST_DIRS='$(TEST_DIRS)' \
		-DTIEUP_UNITY=$(UNITY) -DTIEUP_BENCH=$(BENCH) > /dev/null
	cmake --build $(BUILD) -j $(JOBS) --target tieup
	$(BUILD)/apps/tieup/tieup demo $(DEMO_DIR)

bench: build
	@scripts/install-deps.sh bench
	bench/run.sh

format:
	git ls-files -co --exclude-standard -- '*.h' '*.cc' | xargs clang-format -i

check-format:
	@scripts/check-format.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
