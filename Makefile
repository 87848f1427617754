# PGXS build of the idempotency extension (C++17), plus the project's front
# doors: `make demo` and `make test` set up a fresh Debian 12 machine.
.DEFAULT_GOAL := all

PG_CONFIG ?= $(firstword $(wildcard /usr/lib/postgresql/15/bin/pg_config) pg_config)

EXTENSION = idempotency
MODULE_big = idempotency
SOURCES = $(sort $(wildcard src/*.cpp $(foreach layer,core glue counters guards config claims worker sql_functions,src/$(layer)/*.cpp)))
OBJS = $(SOURCES:.cpp=.o)
DATA = $(wildcard sql/idempotency--*.sql)

# pg_regress suite: sql/<name>.sql against expected/<name>.out, in this order.
REGRESS = setup claim claim_attempt batch_claims claim_wait record_outcome record_outcomes lookup release expiry lease fingerprint counters \
          transactions validation privileges search_path retention purge \
          dba_privileges scope_access bad_input table_changes extend_lease json_fingerprint limits drop_extension
CONTRIB_TESTDB = idempotency_regression
# pg_isolation_regress: test/isolation/specs/<name>.spec against
# test/isolation/expected/<name>.out. TAP: PostgreSQL::Test::Cluster tests in
# test/t. `make installcheck` runs all three against the server PGHOST/PGPORT
# point to; `make prove_installcheck` runs the TAP tests alone (they start
# their own clusters).
ISOLATION = $(sort $(basename $(notdir $(wildcard test/isolation/specs/*.spec))))
ISOLATION_OPTS = --inputdir=test/isolation
ISOLATION_TESTDB = idempotency_isolation
TAP_TESTS = 1
PROVE_TESTS = test/t/*.pl

# Our own code builds warning-free; PostgreSQL's headers are system headers.
PG_CPPFLAGS = -Isrc -isystem $(includedir_server)
# -MMD -MP: PGXS tracks no header dependencies for C++; without them a changed
# header leaves stale objects behind (e.g. an enum renumbered under them).
PG_CXXFLAGS = -std=c++17 -Wall -Wextra -Werror -MMD -MP
SHLIB_LINK = -lstdc++

.PHONY: test test-versions demo bench bench-versions portable test-portable
# The portable edition (SQL and PL/pgSQL, for managed PostgreSQL): the psql -f
# script and the pg_tle installer, in build/portable (portable/README.md).
portable:
	python3 portable/build.py --out build/portable
# Its conformance, pg_tle, pg_cron and dump/restore tests, in chroots (root).
test-portable: portable
	./scripts/test-portable.sh
test:
	./scripts/test.sh
# PostgreSQL 17 and 18 from Debian's packages, in chroots (needs root).
test-versions:
	./scripts/test-versions.sh
demo:
	./scripts/demo.sh
bench:
	./bench/run
# The claim and lookup workloads on PostgreSQL 17 and 18 (chroots, root).
bench-versions:
	./bench/versions

PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
ifneq ($(PGXS),)
include $(PGXS)
# PGXS runs TAP tests only inside installcheck; pgvector's habit, alone.
.PHONY: prove_installcheck
prove_installcheck:
	$(prove_installcheck)
-include $(OBJS:.o=.d)
EXTRA_CLEAN = $(OBJS:.o=.d)
# Debian's PGXS also compiles each .cpp to LLVM bitcode with clang for JIT
# inlining; that compile needs the language standard too.
BITCODE_CXXFLAGS += -std=c++17
# The bitcode is rebuilt whenever its object is (which knows the headers).
$(OBJS:.o=.bc): %.bc: %.o
else ifeq ($(filter test test-versions demo bench bench-versions portable test-portable,$(MAKECMDGOALS)),)
$(error pg_config not found: install postgresql-server-dev-15, or run 'make test' or 'make demo', which install what they need)
endif
