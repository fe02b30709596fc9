# pgpriv — PGXS build.  `make && make install`, then CREATE EXTENSION pgpriv.

EXTENSION = pgpriv
MODULE_big = pgpriv
EXTVERSION = 0.1.0

OBJS = \
	src/pgpriv.o \
	src/crypto/oprf.o \
	src/crypto/parallel.o \
	src/crypto/oprf_batch.o \
	src/primitives.o \
	src/catalog/identity.o \
	src/catalog/dataset.o \
	src/catalog/audit.o \
	src/peer/fdw_validator.o \
	src/peer/connection.o \
	src/peer/identity_check.o \
	src/wire/message.o \
	src/catalog/pgpriv_catalog.o \
	src/peer/call.o \
	src/protocol/batch.o \
	src/protocol/keys.o \
	src/protocol/progress.o \
	src/protocol/psi_oprf.o \
	src/protocol/oprf_table.o \
	src/protocol/projection.o \
	src/protocol/psi_count.o \
	src/protocol/ecdh.o \
	src/protocol/admission.o \
	src/crypto/shares.o \
	src/catalog/identity_secret.o \
	src/share_primitives.o \
	src/protocol/secure_sum.o \
	src/crypto/elgamal.o \
	src/protocol/psi_sum.o \
	src/crypto/lwe_pir.o \
	src/crypto/pir_cuckoo.o \
	src/protocol/pir_serve.o \
	src/protocol/pir.o \
	src/crypto/ot.o \
	src/crypto/triples.o \
	src/crypto/mpc.o \
	src/protocol/mpc_flight.o \
	src/protocol/joint_score.o \
	src/protocol/served_run.o

DATA = sql/pgpriv--$(EXTVERSION).sql
PGFILEDESC = "pgpriv - privacy-preserving joint queries between databases"

# pg_regress inputs live in sql/, outputs in expected/ (the PGXS defaults).
REGRESS = install oprf_vectors oprf_errors catalog fdw asker_errors shares

PG_CONFIG ?= pg_config
PG_CPPFLAGS = -I$(libpq_srcdir) -I$(srcdir)/src
PG_CFLAGS = -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Werror -pthread
SHLIB_LINK_INTERNAL = $(libpq)
SHLIB_LINK = -lsodium -lcrypto -pthread

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# Standalone benchmark of the pure crypto layer (no server needed).
BENCH_OBJS = src/crypto/oprf.o src/crypto/parallel.o
test/bench/bench_oprf: test/bench/bench_oprf.c $(BENCH_OBJS)
	$(CC) $(CFLAGS) -O2 -I$(srcdir)/src -o $@ $^ -lsodium -pthread

test/bench/unit_costs: test/bench/unit_costs.c src/crypto/oprf.o
	$(CC) $(CFLAGS) -O2 -I$(srcdir)/src -o $@ $^ -lsodium

.PHONY: bench bench-join
bench: test/bench/bench_oprf
	./test/bench/bench_oprf

# Two local clusters; see test/bench/blinded_join.sh for the knobs.
bench-join: test/bench/unit_costs
	bash test/bench/blinded_join.sh

EXTRA_CLEAN = test/bench/bench_oprf test/bench/unit_costs

# LWE PIR core (pure C, no server): unit test and benchmark.
PIR_OBJS = src/crypto/lwe_pir.o src/crypto/pir_cuckoo.o src/crypto/parallel.o
test/crypto/test_lwe_pir: test/crypto/test_lwe_pir.c $(PIR_OBJS)
	$(CC) $(CFLAGS) -O2 -I$(srcdir)/src -o $@ $^ -lsodium -lcrypto -lm -pthread

test/bench/bench_pir: test/bench/bench_pir.c $(PIR_OBJS)
	$(CC) $(CFLAGS) -O2 -I$(srcdir)/src -o $@ $^ -lsodium -lcrypto -lm -pthread

.PHONY: test-pir bench-pir
test-pir: test/crypto/test_lwe_pir
	prove test/crypto/test_lwe_pir

bench-pir: test/bench/bench_pir
	./test/bench/bench_pir

# pgpriv.pir end to end between two local clusters: a one-key lookup against
# a plain full-table scan on the owner (see test/bench/pir.sh; needs make install).
.PHONY: bench-pir-sql
bench-pir-sql:
	bash test/bench/pir.sh

EXTRA_CLEAN += test/crypto/test_lwe_pir test/bench/bench_pir

# Two-party engine core (pure C, ARCHITECTURE.md protocol 6): its test
# program (TAP, both parties in one process) and its benchmark.
MPC_OBJS = src/crypto/ot.o src/crypto/triples.o src/crypto/mpc.o
test/crypto/test_mpc: test/crypto/test_mpc.c $(MPC_OBJS)
	$(CC) $(CFLAGS) -O2 -I$(srcdir)/src -o $@ $^ -lsodium -lcrypto -pthread -lm

test/bench/bench_mpc: test/bench/bench_mpc.c $(MPC_OBJS)
	$(CC) $(CFLAGS) -O2 -I$(srcdir)/src -o $@ $^ -lsodium -lcrypto -pthread -lm

EXTRA_CLEAN += test/crypto/test_mpc test/bench/bench_mpc

# The two-party engine between two local clusters (mpc_selftest and
# joint_score); see test/bench/joint_score.sh.
.PHONY: bench-mpc
bench-mpc:
	bash test/bench/joint_score.sh

# Exponential ElGamal on ristretto255 and its bounded discrete logarithm
# (pure C, psi_sum: ARCHITECTURE.md protocol 3): its test program (TAP).
ELGAMAL_OBJS = src/crypto/elgamal.o src/crypto/parallel.o
test/crypto/test_elgamal: test/crypto/test_elgamal.c $(ELGAMAL_OBJS)
	$(CC) $(CFLAGS) -O2 -I$(srcdir)/src -o $@ $^ -lsodium -pthread

EXTRA_CLEAN += test/crypto/test_elgamal

# psi_sum between two local clusters; see test/bench/psi_sum.sh.
.PHONY: bench-psi-sum
bench-psi-sum: test/bench/unit_costs
	bash test/bench/psi_sum.sh

# The whole suite (test/run) with pgpriv and the crypto test programs built
# under AddressSanitizer and UBSan, against a relocated copy of PostgreSQL
# whose server runs with the ASan runtime preloaded; see docs/testing.md.
.PHONY: check-asan
check-asan:
	bash test/asan/run
