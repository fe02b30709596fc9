# pgpriv — PGXS build.  `make && make install`, then CREATE EXTENSION pgpriv.

EXTENSION = pgpriv
MODULE_big = pgpriv
# The version being built is pgpriv.control's default_version.
EXTVERSION = $(shell sed -nE "s/^default_version[[:space:]]*=[[:space:]]*'([^']*)'.*/\1/p" $(EXTENSION).control)

OBJS = \
	src/pgpriv.o \
	src/crypto/oprf.o \
	src/crypto/parallel.o \
	src/crypto/oprf_batch.o \
	src/functions/primitives.o \
	src/catalog/identity.o \
	src/catalog/dataset.o \
	src/catalog/change_check.o \
	src/catalog/audit.o \
	src/catalog/audit_failure.o \
	src/catalog/receipt.o \
	src/peer/fdw_validator.o \
	src/peer/connection.o \
	src/peer/identity_check.o \
	src/peer/peer_permits.o \
	src/peer/authenticate.o \
	src/peer/version.o \
	src/wire/message.o \
	src/catalog/pgpriv_catalog.o \
	src/catalog/catalog_spi.o \
	src/peer/call.o \
	src/run/batch.o \
	src/run/keys.o \
	src/run/progress.o \
	src/protocol/join/psi_oprf.o \
	src/protocol/join/psi_ot.o \
	src/protocol/join/oprf_table.o \
	src/protocol/join/join_serve.o \
	src/protocol/join/join_catalog.o \
	src/protocol/join/join_ask.o \
	src/run/projection.o \
	src/protocol/join/psi_count.o \
	src/protocol/join/ecdh.o \
	src/run/admission.o \
	src/crypto/shares.o \
	src/catalog/identity_secret.o \
	src/functions/share_primitives.o \
	src/protocol/sum/secure_sum.o src/protocol/sum/secure_sum_serve.o \
	src/crypto/elgamal.o \
	src/crypto/elgamal_proof.o \
	src/protocol/join/psi_sum.o \
	src/crypto/lwe_pir.o \
	src/crypto/pir_cuckoo.o \
	src/protocol/pir/pir_serve.o \
	src/protocol/pir/pir.o \
	src/crypto/ot.o \
	src/crypto/triples.o \
	src/crypto/mpc.o \
	src/protocol/mpc/mpc_schedule.o src/protocol/mpc/mpc_session.o \
	src/protocol/mpc/joint_score.o src/protocol/mpc/joint_score_serve.o \
	src/protocol/mpc/mpc_asker.o \
	src/protocol/mpc/mpc_terms.o \
	src/protocol/mpc/mpc_serve.o \
	src/run/served_run.o \
	src/run/capability.o \
	src/run/secret_mem.o \
	src/run/ask.o \
	src/crypto/cuckoo.o \
	src/crypto/kkrt.o \
	src/crypto/okvs.o \
	src/protocol/train/joint_woe.o \
	src/crypto/fixprod.o src/protocol/train/joint_train.o \
	src/crypto/gf128.o src/crypto/vole.o \
	src/crypto/rr22.o src/crypto/psi_stream.o

# sql/pgpriv.sql is the install script of the current version; the one of
# each past release is kept as released (CREATE EXTENSION pgpriv VERSION
# '0.1.0'), next to the upgrade scripts between them (docs/upgrading.md).
DATA_built = sql/pgpriv--$(EXTVERSION).sql
DATA = sql/pgpriv--0.1.0.sql $(wildcard sql/pgpriv--*--*.sql)
PGFILEDESC = "pgpriv - privacy-preserving joint queries between databases"

# pg_regress inputs live in sql/, outputs in expected/ (the PGXS defaults).
REGRESS = install oprf_vectors oprf_errors catalog fdw asker_errors shares

PG_CONFIG ?= pg_config
# The server's headers as system headers: some of their inline functions
# leave parameters unused, which -Wextra would report in every file.
PG_CPPFLAGS = -I$(libpq_srcdir) -I$(srcdir)/src -isystem $(includedir_server) -isystem $(includedir_internal)
PG_CFLAGS = -Wall -Wextra -Wno-missing-field-initializers -pthread
# Warnings are errors where the tests run (test/lib.sh sets PGPRIV_WERROR=1
# for test/run, CI and the package build it checks), not for whoever builds
# a release with another compiler (docs/testing.md).
ifeq ($(PGPRIV_WERROR),1)
PG_CFLAGS += -Werror
endif
SHLIB_LINK_INTERNAL = $(libpq)
SHLIB_LINK = -lsodium -lcrypto -pthread

# Defined before PGXS is included: pgxs.mk decides at parse time whether
# `make clean` removes EXTRA_CLEAN at all; the lists below add to it.
EXTRA_CLEAN = $(OBJS:.o=.d)

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# Header dependencies (PGXS tracks none unless the server was configured
# with --enable-depend): a changed struct in a header rebuilds its users.
override CFLAGS += -MMD -MP
-include $(OBJS:.o=.d)

sql/pgpriv--$(EXTVERSION).sql: sql/pgpriv.sql
	cp $< $@

# The test programs and benchmarks of the pure C layers (no server): each is
# its own .c file linked with the src/ objects it names below, by one rule.
TEST_PROGRAM_LIBS = -lsodium -lcrypto -lm -pthread
BENCH_OBJS = src/crypto/oprf.o src/crypto/parallel.o
PIR_OBJS = src/crypto/lwe_pir.o src/crypto/pir_cuckoo.o src/crypto/parallel.o
MPC_OBJS = src/crypto/ot.o src/crypto/triples.o src/crypto/mpc.o src/crypto/fixprod.o
ELGAMAL_OBJS = src/crypto/elgamal.o src/crypto/parallel.o

# Standalone benchmark of the pure crypto layer.
test/bench/bench_oprf: $(BENCH_OBJS)
test/bench/unit_costs: src/crypto/oprf.o
# LWE PIR core: unit test and benchmark.
test/crypto/test_lwe_pir test/bench/bench_pir: $(PIR_OBJS)
# Two-party engine core (docs/architecture.md, protocol 6): its test program
# (TAP, both parties in one process) and its benchmark.
test/crypto/test_mpc test/bench/bench_mpc: $(MPC_OBJS)
# Exponential ElGamal on ristretto255 and its bounded discrete logarithm
# (psi_sum: docs/architecture.md, protocol 3): its test program (TAP).
test/crypto/test_elgamal: $(ELGAMAL_OBJS)
# The proof that a ciphertext encrypts 0 or 1 (joint_woe's labels).
test/crypto/test_elgamal_proof: src/crypto/elgamal_proof.o $(ELGAMAL_OBJS)
# Cross products on shares for joint training (#11).
test/crypto/test_gram: src/crypto/gram.o $(MPC_OBJS)
# OT-extension PSI core (issue #12): KKRT16 batched OPRF over a 448-wide IKNP
# and stash-less cuckoo hashing; its test program and its benchmark against a
# plain hash join and the ristretto255 OPRF measured in the same run; the
# RR22-class step's OKVS (no protocol uses it yet).
KKRT_OBJS = src/crypto/kkrt.o src/crypto/psi_stream.o src/crypto/cuckoo.o src/crypto/ot.o src/crypto/parallel.o
test/crypto/test_kkrt: $(KKRT_OBJS) test/fuzz/fuzz_rng.o
test/bench/bench_kkrt: $(KKRT_OBJS) src/crypto/oprf.o src/crypto/okvs.o
test/crypto/test_okvs: src/crypto/okvs.o
# GF(2^128) and the silent VOLE over it (issue #12, RR22's step 2).
test/crypto/test_gf128: src/crypto/gf128.o
test/crypto/test_vole: src/crypto/vole.o src/crypto/gf128.o src/crypto/ot.o src/crypto/parallel.o
# The RR22 PSI (OKVS + the silent VOLE): its two-party test, with the 2^20 timing.
test/crypto/test_rr22: src/crypto/rr22.o src/crypto/psi_stream.o src/crypto/okvs.o src/crypto/vole.o src/crypto/gf128.o \
	src/crypto/ot.o src/crypto/parallel.o

TEST_PROGRAMS = test/bench/bench_oprf test/bench/unit_costs test/crypto/test_lwe_pir \
	test/bench/bench_pir test/crypto/test_mpc test/bench/bench_mpc test/crypto/test_elgamal \
	test/crypto/test_elgamal_proof test/crypto/test_gram test/crypto/test_kkrt test/bench/bench_kkrt \
	test/crypto/test_okvs test/crypto/test_gf128 test/crypto/test_vole test/crypto/test_rr22
$(TEST_PROGRAMS): %: %.c
	$(CC) $(CFLAGS) -O2 -I$(srcdir)/src -o $@ $^ $(TEST_PROGRAM_LIBS)

EXTRA_CLEAN += $(TEST_PROGRAMS) test/fuzz/fuzz_rng.o

.PHONY: bench bench-join bench-join-ot test-pir bench-pir bench-pir-sql bench-mpc bench-psi-sum bench-kkrt bench-woe bench-train
bench: test/bench/bench_oprf
	./test/bench/bench_oprf

bench-kkrt: test/bench/bench_kkrt
	./test/bench/bench_kkrt

# joint_woe between two local clusters; see test/bench/joint_woe.sh.
bench-woe:
	bash test/bench/joint_woe.sh

# joint_train between two local clusters; see test/bench/joint_train.sh.
bench-train:
	bash test/bench/joint_train.sh

# Two local clusters; see test/bench/blinded_join.sh for the knobs.
bench-join: test/bench/unit_costs
	bash test/bench/blinded_join.sh

# psi and psi_fetch over ot against the table; see test/bench/blinded_join_ot.sh.
bench-join-ot:
	bash test/bench/blinded_join_ot.sh

test-pir: test/crypto/test_lwe_pir
	prove test/crypto/test_lwe_pir

bench-pir: test/bench/bench_pir
	./test/bench/bench_pir

# pgpriv.pir end to end between two local clusters: a one-key lookup against
# a plain full-table scan on the owner (see test/bench/pir.sh; needs make install).
bench-pir-sql:
	bash test/bench/pir.sh

# The two-party engine between two local clusters (mpc_selftest and
# joint_score); see test/bench/joint_score.sh.
bench-mpc:
	bash test/bench/joint_score.sh

# psi_sum between two local clusters; see test/bench/psi_sum.sh.
bench-psi-sum: test/bench/unit_costs
	bash test/bench/psi_sum.sh

# The TAP tests of test/t against the installed extension, as PGXS projects
# run theirs (prove; docs/testing.md).  PROVE_TESTS picks some, PROVE_FLAGS
# adds prove's options.  Run as a user initdb accepts (not root).
PROVE_TESTS ?= test/t/*.pl
.PHONY: prove_installcheck
prove_installcheck:
	$(prove_installcheck)

EXTRA_CLEAN += tmp_check

# libFuzzer harnesses for every decoder of peer input (test/fuzz,
# docs/fuzzing.md).  Built with clang into test/fuzz/build, apart from the
# extension's own objects; `make fuzz` runs each for FUZZ_SECONDS, one at a
# time, `make fuzz-smoke` for FUZZ_SMOKE_SECONDS (the suite's fuzz stage).
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 10
FUZZ_BUILD = test/fuzz/build
FUZZ_SAN = -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS = -g -O1 -fno-omit-frame-pointer -Wall -Wextra -Wno-unused-parameter \
	-Wno-missing-field-initializers -Wno-ignored-attributes \
	-pthread -DUSE_ASSERT_CHECKING \
	-I$(srcdir)/src -I$(srcdir)/test/fuzz -I$(shell $(PG_CONFIG) --includedir-server) \
	-I$(shell $(PG_CONFIG) --includedir)
FUZZ_LIBS = -lsodium -lcrypto -lm -pthread
FUZZ_HARNESSES = fuzz_wire fuzz_points fuzz_pir fuzz_mpc fuzz_mpc_flight fuzz_terms fuzz_kkrt fuzz_receipt

FUZZ_SHIM = test/fuzz/pg_shim.o test/fuzz/fuzz_rng.o

# -fsanitize=fuzzer only for the harness's own file (it brings main());
# everything else gets the coverage and sanitizer instrumentation.
$(FUZZ_BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(subst fuzzer,fuzzer-no-link,$(FUZZ_SAN)) -MMD -MP -c -o $@ $<

# Header dependencies of the fuzz objects too (a harness keeps structs of
# src/ headers on its stack).
-include $(shell find $(FUZZ_BUILD) -name '*.d' 2>/dev/null)

# What each harness links besides its own file (src/ objects built for fuzzing).
FUZZ_OBJS_fuzz_wire = $(FUZZ_SHIM) src/wire/message.o
FUZZ_OBJS_fuzz_points = test/fuzz/fuzz_rng.o src/crypto/oprf.o src/crypto/oprf_batch.o \
	src/crypto/elgamal.o src/crypto/elgamal_proof.o src/crypto/parallel.o
FUZZ_OBJS_fuzz_mpc = test/fuzz/fuzz_rng.o src/crypto/ot.o src/crypto/triples.o src/crypto/mpc.o
FUZZ_OBJS_fuzz_mpc_flight = $(FUZZ_SHIM) src/wire/message.o src/protocol/mpc/mpc_schedule.o src/protocol/mpc/mpc_session.o \
	src/crypto/ot.o src/crypto/triples.o src/crypto/mpc.o
FUZZ_TERMS_OBJS = $(FUZZ_SHIM) test/fuzz/terms_secure_sum.o test/fuzz/terms_joint_score.o \
	test/fuzz/terms_joint_train.o \
	src/wire/message.o src/protocol/join/oprf_table.o src/protocol/join/ecdh.o src/run/batch.o \
	src/crypto/oprf.o src/crypto/oprf_batch.o src/crypto/parallel.o src/crypto/shares.o
FUZZ_TERMS_OBJS += src/protocol/mpc/mpc_terms.o
FUZZ_OBJS_fuzz_terms = $(FUZZ_TERMS_OBJS) test/fuzz/fuzz_terms_stubs.o
FUZZ_OBJS_fuzz_kkrt = test/fuzz/fuzz_rng.o src/crypto/kkrt.o src/crypto/psi_stream.o src/crypto/cuckoo.o src/crypto/ot.o
FUZZ_RECEIPT_OBJS = $(FUZZ_SHIM) src/catalog/receipt.o
FUZZ_OBJS_fuzz_receipt = $(FUZZ_RECEIPT_OBJS) test/fuzz/fuzz_receipt_stubs.o
FUZZ_OBJS_fuzz_pir = test/fuzz/fuzz_rng.o src/crypto/lwe_pir.o src/crypto/pir_cuckoo.o \
	src/crypto/parallel.o
# The silent VOLE (issue #12, RR22's step 2).
FUZZ_HARNESSES += fuzz_vole
FUZZ_OBJS_fuzz_vole = test/fuzz/fuzz_rng.o src/crypto/vole.o src/crypto/gf128.o src/crypto/ot.o \
	src/crypto/parallel.o
# The RR22 PSI over the OKVS and the silent VOLE (issue #12).
FUZZ_HARNESSES += fuzz_rr22
FUZZ_OBJS_fuzz_rr22 = test/fuzz/fuzz_rng.o src/crypto/rr22.o src/crypto/psi_stream.o src/crypto/okvs.o src/crypto/vole.o \
	src/crypto/gf128.o src/crypto/ot.o src/crypto/parallel.o

.SECONDEXPANSION:
$(addprefix $(FUZZ_BUILD)/,$(FUZZ_HARNESSES)): $(FUZZ_BUILD)/test/fuzz/$$(@F).o \
		$$(addprefix $(FUZZ_BUILD)/,$$(FUZZ_OBJS_$$(@F)))
	$(FUZZ_CC) $(FUZZ_SAN) -o $@ $^ $(FUZZ_LIBS)

# The backend symbols fuzz_terms's whole protocol files refer to but never
# reach, as aborting stubs (test/fuzz/stubs.sh).
$(FUZZ_BUILD)/test/fuzz/fuzz_terms_stubs.c: test/fuzz/stubs.sh $(FUZZ_BUILD)/test/fuzz/fuzz_terms.o \
		$(addprefix $(FUZZ_BUILD)/,$(FUZZ_TERMS_OBJS))
	sh test/fuzz/stubs.sh $@ $(FUZZ_CC) $(FUZZ_SAN) $(filter %.o,$^) $(FUZZ_LIBS)

$(FUZZ_BUILD)/test/fuzz/fuzz_terms_stubs.o: $(FUZZ_BUILD)/test/fuzz/fuzz_terms_stubs.c
	$(FUZZ_CC) -g -O1 -c -o $@ $<

$(FUZZ_BUILD)/test/fuzz/fuzz_receipt_stubs.c: test/fuzz/stubs.sh $(FUZZ_BUILD)/test/fuzz/fuzz_receipt.o \
		$(addprefix $(FUZZ_BUILD)/,$(FUZZ_RECEIPT_OBJS))
	sh test/fuzz/stubs.sh $@ $(FUZZ_CC) $(FUZZ_SAN) $(filter %.o,$^) $(FUZZ_LIBS)

$(FUZZ_BUILD)/test/fuzz/fuzz_receipt_stubs.o: $(FUZZ_BUILD)/test/fuzz/fuzz_receipt_stubs.c
	$(FUZZ_CC) -g -O1 -c -o $@ $<

.PHONY: fuzz-build fuzz fuzz-smoke fuzz-list
fuzz-list:
	@echo $(FUZZ_HARNESSES)

fuzz-build: $(addprefix $(FUZZ_BUILD)/,$(FUZZ_HARNESSES))

fuzz: fuzz-build
	bash test/fuzz/run.sh $(FUZZ_SECONDS) $(addprefix $(FUZZ_BUILD)/,$(FUZZ_HARNESSES))

fuzz-smoke: fuzz-build
	bash test/fuzz/run.sh $(FUZZ_SMOKE_SECONDS) $(addprefix $(FUZZ_BUILD)/,$(FUZZ_HARNESSES))

EXTRA_CLEAN += $(FUZZ_BUILD)

# The whole suite (test/run) with pgpriv and the crypto test programs built
# under AddressSanitizer and UBSan, against a relocated copy of PostgreSQL
# whose server runs with the ASan runtime preloaded; see docs/testing.md.
.PHONY: check-asan
check-asan:
	bash test/asan/run
