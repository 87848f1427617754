# PGXS build of the idempotency extension (C++17), plus the project's front
# doors: `make demo` and `make test` set up a fresh Debian 12 machine.
.DEFAULT_GOAL := all

PG_CONFIG ?= $(firstword $(wildcard /usr/lib/postgresql/15/bin/pg_config) pg_config)

# The source tree: this Makefile's directory. Builds may run elsewhere with
# VPATH pointing here (Debian's pg_buildext builds in build-N/, test.sh runs the
# TAP tests from a scratch directory), so sources and data are looked up here
# and named relative to it, as PGXS expects (it prefixes DATA with $(srcdir)).
source_dir := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
in_source = $(patsubst $(source_dir)/%,%,$(wildcard $(addprefix $(source_dir)/,$(1))))

EXTENSION = idempotency
MODULE_big = idempotency
# Every source of src/; their layers are stated and checked by scripts/check-layering.sh.
SOURCES = $(sort $(call in_source,src/*.cpp src/*/*.cpp))
OBJS = $(SOURCES:.cpp=.o)
DATA = $(call in_source,sql/idempotency--*.sql)

# pg_regress suite: sql/<name>.sql against expected/<name>.out, in this order.
REGRESS = setup claim claim_attempt batch_claims claim_wait record_outcome record_outcomes lookup release expiry lease fingerprint counters \
          transactions validation privileges search_path retention purge \
          dba_privileges scope_access bad_input table_changes extend_lease json_fingerprint limits drop_extension
# pg_isolation_regress: test/isolation/specs/<name>.spec against
# test/isolation/expected/<name>.out. TAP: PostgreSQL::Test::Cluster tests in
# test/t. `make installcheck` runs all three (TAP_TESTS= leaves out the TAP
# tests); `make prove_installcheck` runs the TAP tests alone. None needs a
# server of ours, nor root: pg_regress and pg_isolation_regress start a
# temporary instance (tmp_check, tmp_check_iso) of this PostgreSQL, where the
# extension must be installed, with test/installcheck.conf's settings;
# TEMP_INSTANCE= runs them against the server PGHOST/PGPORT point to instead,
# which must have those settings. The TAP tests start their own clusters.
# The databases are UTF8 with the C locale, whatever the user's locale.
ISOLATION = $(sort $(basename $(notdir $(call in_source,test/isolation/specs/*.spec))))
TEMP_INSTANCE = 1
test_server_opts = --encoding=UTF8 --no-locale $(if $(TEMP_INSTANCE), \
  --temp-config=$(source_dir)/test/installcheck.conf --temp-instance=$(1))
REGRESS_OPTS = $(call test_server_opts,tmp_check)
ISOLATION_OPTS = --inputdir=$(source_dir)/test/isolation $(call test_server_opts,tmp_check_iso)
TAP_TESTS = 1
PROVE_TESTS = test/t/*.pl
# PostgreSQL::Test::Utils needs Perl's IPC::Run: without it `make installcheck`
# says so and leaves out the TAP tests, and `make prove_installcheck` stops.
ifneq ($(filter prove_installcheck $(if $(TAP_TESTS),installcheck),$(MAKECMDGOALS)),)
ifneq ($(shell perl -MIPC::Run -e 1 2>/dev/null && echo found),found)
tap_tests_refused = the TAP tests need Perl's IPC::Run (Debian: libipc-run-perl)
TAP_TESTS =
$(if $(filter installcheck,$(MAKECMDGOALS)),$(info $(tap_tests_refused): skipped))
endif
endif

# Our own code builds warning-free; PostgreSQL's headers are system headers.
PG_CPPFLAGS = -I$(source_dir)/src -isystem $(includedir_server)
# -MMD -MP: PGXS tracks no header dependencies for C++; without them a changed
# header leaves stale objects behind (e.g. an enum renumbered under them).
PG_CXXFLAGS = -std=c++17 -Wall -Wextra -Werror -MMD -MP
SHLIB_LINK = -lstdc++

.PHONY: test test-versions packages test-packages dist demo bench bench-versions portable test-portable
# The portable edition (SQL and PL/pgSQL, for managed PostgreSQL): the psql -f
# script and the pg_tle installer, in build/portable (portable/README.md).
portable:
	python3 portable/build.py --out build/portable
# Its conformance, pg_tle, pg_cron and dump/restore tests, in chroots (root).
test-portable: portable
	./scripts/test-portable.sh
test:
	./scripts/test.sh
# PostgreSQL 17, 18 and 19 from Debian's packages, in chroots (needs root).
test-versions:
	./scripts/test-versions.sh
# The Debian packages postgresql-N-idempotency, built in the version chroots
# into $(PACKAGES_DIR) (default: /var/cache/idempotency-test/packages), then
# installed and tested there as a DBA would, with the PGXN zip (needs root).
packages:
	./scripts/build-packages.sh
test-packages:
	./scripts/test-packages.sh
# The PGXN distribution: $(DIST_DIR)/idempotency-<version>.zip of the
# committed tree (git archive of DIST_REF, HEAD by default), named with
# META.json's version (default_version X.Y of the control file is X.Y.0 there).
DIST_DIR ?= $(source_dir)/dist
DIST_REF ?= HEAD
dist_version = $(shell sed -n 's/^   "version": "\(.*\)",$$/\1/p' $(source_dir)/META.json)
dist:
	mkdir -p $(DIST_DIR)
	git -C $(source_dir) archive --format=zip --prefix=idempotency-$(dist_version)/ \
	  -o $(abspath $(DIST_DIR))/idempotency-$(dist_version).zip $(DIST_REF)
demo:
	./scripts/demo.sh
bench:
	./bench/run
# The claim and lookup workloads on PostgreSQL 17, 18 and 19 (chroots, root).
bench-versions:
	./bench/versions

PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
ifneq ($(PGXS),)
include $(PGXS)
# The test databases: PGXS sets both when included, so they are set after it.
CONTRIB_TESTDB = idempotency_regression
ISOLATION_TESTDB = idempotency_isolation
# Out of the source tree, the objects' directories (src/core/...) are made first.
$(OBJS): | object-directories
.PHONY: object-directories
object-directories:
	@mkdir -p $(sort $(dir $(OBJS)))
# PGXS runs TAP tests only inside installcheck; pgvector's habit, alone.
.PHONY: prove_installcheck
prove_installcheck:
	$(if $(tap_tests_refused),$(error $(tap_tests_refused)))
	$(prove_installcheck)
-include $(OBJS:.o=.d)
EXTRA_CLEAN = $(OBJS:.o=.d)
# Debian's PGXS also compiles each .cpp to LLVM bitcode with clang for JIT
# inlining; that compile needs the language standard too.
BITCODE_CXXFLAGS += -std=c++17
# The bitcode is rebuilt whenever its object is (which knows the headers).
$(OBJS:.o=.bc): %.bc: %.o
else ifeq ($(filter test test-versions packages test-packages dist demo bench bench-versions portable test-portable,$(MAKECMDGOALS)),)
$(error pg_config not found: install postgresql-server-dev-15, or run 'make test' or 'make demo', which install what they need)
endif
