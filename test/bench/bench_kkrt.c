/*
 * bench_kkrt.c — the OT-extension PSI core (crypto/kkrt.h) on balanced
 * sets, in one process, against two baselines measured in the same run:
 *
 *   - a plain (insecure) hash join of the same 16-byte keys: the floor any
 *     PSI is compared with (KKRT16 reports theirs as a multiple of it);
 *   - the current protocol's ristretto255 OPRF (crypto/oprf.h, RFC 9497):
 *     its per-element costs measured on a sample, times the set sizes (per
 *     asker key Blind + BlindEvaluate + Finalize, per owner row Evaluate),
 *     and its wire size (32 + 32 bytes per asker key, a 16-byte tag per
 *     owner row).
 *
 * For each thread count (1, then 2 per party: the phases of the two parties
 * run one after the other here, so "2 threads" means each party's work is
 * spread over 2 threads), every phase is timed, bytes each way are counted,
 * and memory is each state's own accounting plus the process's peak RSS.
 * The result is checked against the plaintext intersection.
 *
 * Usage: bench_kkrt [log2 n]     (default 20: 2^20 × 2^20, half matching)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <sodium.h>

#include "crypto/cuckoo.h"
#include "crypto/kkrt.h"
#include "crypto/okvs.h"
#include "crypto/oprf.h"
#include "crypto/parallel.h"

#define OPRF_SAMPLE 2000

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

static void *
xmalloc(size_t n)
{
	void	   *p = malloc(n);

	if (p == NULL)
	{
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	return p;
}

static void
die(const char *what, mpc_status st)
{
	fprintf(stderr, "%s: %s\n", what, mpc_status_reason(st));
	exit(1);
}

/* ------------------------------------------------ baseline: hash join */

static size_t
hash_join(const uint8_t *xs, size_t nx, const uint8_t *ys, size_t ny)
{
	size_t		size = 1,
				hits = 0;
	uint32_t   *t;

	while (size < 2 * ny)
		size <<= 1;
	t = calloc(size, sizeof(uint32_t));
	for (size_t j = 0; j < ny; j++)
	{
		uint64_t	k;
		size_t		pos;

		memcpy(&k, ys + 16 * j, 8);
		pos = (size_t) (k * 0x9E3779B97F4A7C15ull >> 20) & (size - 1);
		while (t[pos] != 0)
			pos = (pos + 1) & (size - 1);
		t[pos] = (uint32_t) j + 1;
	}
	for (size_t i = 0; i < nx; i++)
	{
		uint64_t	k;
		size_t		pos;

		memcpy(&k, xs + 16 * i, 8);
		pos = (size_t) (k * 0x9E3779B97F4A7C15ull >> 20) & (size - 1);
		while (t[pos] != 0)
		{
			if (memcmp(ys + 16 * (t[pos] - 1), xs + 16 * i, 16) == 0)
			{
				hits++;
				break;
			}
			pos = (pos + 1) & (size - 1);
		}
	}
	free(t);
	return hits;
}

/* ------------------------------------- baseline: ristretto255 OPRF */

typedef struct oprf_cost
{
	double		asker_per_key;	/* Blind + Finalize */
	double		owner_per_key;	/* BlindEvaluate */
	double		owner_per_row;	/* Evaluate */
} oprf_cost;

static oprf_cost
measure_oprf(const uint8_t *xs)
{
	uint8_t		sk[32],
				pk[32],
				seed[32] = {7};
	uint8_t    *blind = xmalloc(OPRF_SAMPLE * 32),
			   *blinded = xmalloc(OPRF_SAMPLE * 32),
			   *ev = xmalloc(OPRF_SAMPLE * 32),
			   *out = xmalloc(OPRF_SAMPLE * 64);
	double		t0,
				t1,
				t2,
				t3,
				t4;
	oprf_cost	c;

	oprf_derive_key_pair(seed, sizeof(seed), (const uint8_t *) "bench", 5, sk, pk);
	t0 = now();
	for (size_t i = 0; i < OPRF_SAMPLE; i++)
	{
		oprf_random_scalar(blind + 32 * i);
		oprf_blind(xs + 16 * i, 16, blind + 32 * i, blinded + 32 * i);
	}
	t1 = now();
	for (size_t i = 0; i < OPRF_SAMPLE; i++)
		oprf_blind_evaluate(sk, blinded + 32 * i, ev + 32 * i);
	t2 = now();
	for (size_t i = 0; i < OPRF_SAMPLE; i++)
		oprf_finalize(xs + 16 * i, 16, blind + 32 * i, ev + 32 * i, out + 64 * i);
	t3 = now();
	for (size_t i = 0; i < OPRF_SAMPLE; i++)
		oprf_evaluate(sk, xs + 16 * i, 16, out + 64 * i);
	t4 = now();
	c.asker_per_key = ((t1 - t0) + (t3 - t2)) / OPRF_SAMPLE;
	c.owner_per_key = (t2 - t1) / OPRF_SAMPLE;
	c.owner_per_row = (t4 - t3) / OPRF_SAMPLE;
	free(blind);
	free(blinded);
	free(ev);
	free(out);
	return c;
}

/* ------------------------------------------------------ the KKRT run */

typedef struct run_ctx
{
	kkrt_receiver *r;
	kkrt_sender *s;
	const uint8_t *ys;
	uint8_t   **umsg;
	size_t	   *ulen;
	uint8_t   **tmsg;
	size_t	   *tlen;
} run_ctx;

static int
recv_chunks(void *arg, size_t begin, size_t end, size_t *failed)
{
	run_ctx    *c = arg;

	for (size_t k = begin; k < end; k++)
	{
		size_t		cap = kkrt_receiver_chunk_bytes(c->r, k);
		mpc_status	st;

		c->umsg[k] = xmalloc(cap);
		st = kkrt_receiver_chunk(c->r, k, c->umsg[k], cap, &c->ulen[k]);
		if (st != MPC_OK)
		{
			*failed = k;
			return st;
		}
	}
	return 0;
}

static int
send_chunks(void *arg, size_t begin, size_t end, size_t *failed)
{
	run_ctx    *c = arg;

	for (size_t k = begin; k < end; k++)
	{
		mpc_status	st = kkrt_sender_chunk(c->s, c->umsg[k], c->ulen[k]);

		free(c->umsg[k]);
		c->umsg[k] = NULL;
		if (st != MPC_OK)
		{
			*failed = k;
			return st;
		}
	}
	return 0;
}

static int
send_tags(void *arg, size_t begin, size_t end, size_t *failed)
{
	run_ctx    *c = arg;

	for (size_t b = begin; b < end; b++)
	{
		size_t		cap = kkrt_tags_bytes(KKRT_TAG_BATCH, kkrt_sender_tag_bytes(c->s));
		mpc_status	st;

		c->tmsg[b] = xmalloc(cap);
		st = kkrt_sender_tags(c->s, c->ys, b, c->tmsg[b], cap, &c->tlen[b]);
		if (st != MPC_OK)
		{
			*failed = b;
			return st;
		}
	}
	return 0;
}

typedef struct run_result
{
	double		t_cuckoo,
				t_base,
				t_recv_ext,
				t_send_ext,
				t_send_tags,
				t_recv_match,
				total;
	size_t		r_to_s,
				s_to_r,
				mem_r,
				mem_s,
				members;
} run_result;

static run_result
run_kkrt(const uint8_t *xs, size_t nx, const uint8_t *ys, size_t ny, int threads)
{
	run_result	res = {0};
	run_ctx		c = {0};
	mpc_status	st;
	uint8_t		hello[128];
	uint8_t    *base = xmalloc(kkrt_base_bytes());
	size_t		hlen,
				blen,
				failed;
	double		t0,
				t1;

	c.ys = ys;
	t0 = now();
	c.r = kkrt_receiver_new(xs, nx, &st);
	if (c.r == NULL)
		die("receiver_new", st);
	t1 = now();
	res.t_cuckoo = t1 - t0;

	t0 = now();
	c.s = kkrt_sender_new(ny, &st);
	if (c.s == NULL)
		die("sender_new", st);
	if ((st = kkrt_receiver_hello(c.r, hello, sizeof(hello), &hlen)) != MPC_OK)
		die("hello", st);
	if ((st = kkrt_sender_hello(c.s, hello, hlen, nx, base, kkrt_base_bytes(), &blen)) != MPC_OK)
		die("sender_hello", st);
	if ((st = kkrt_receiver_base(c.r, base, blen, ny)) != MPC_OK)
		die("receiver_base", st);
	t1 = now();
	res.t_base = t1 - t0;
	res.r_to_s += hlen;
	res.s_to_r += blen;

	c.umsg = calloc(kkrt_receiver_chunks(c.r), sizeof(uint8_t *));
	c.ulen = calloc(kkrt_receiver_chunks(c.r), sizeof(size_t));
	t0 = now();
	st = crypto_parallel_for(kkrt_receiver_chunks(c.r), threads, recv_chunks, &c, &failed);
	if (st != MPC_OK)
		die("receiver_chunk", st);
	t1 = now();
	res.t_recv_ext = t1 - t0;
	for (size_t k = 0; k < kkrt_receiver_chunks(c.r); k++)
		res.r_to_s += c.ulen[k];
	t0 = now();
	st = crypto_parallel_for(kkrt_sender_chunks(c.s), threads, send_chunks, &c, &failed);
	if (st != MPC_OK)
		die("sender_chunk", st);
	t1 = now();
	res.t_send_ext = t1 - t0;

	c.tmsg = calloc(kkrt_sender_batches(c.s), sizeof(uint8_t *));
	c.tlen = calloc(kkrt_sender_batches(c.s), sizeof(size_t));
	t0 = now();
	st = crypto_parallel_for(kkrt_sender_batches(c.s), threads, send_tags, &c, &failed);
	if (st != MPC_OK)
		die("sender_tags", st);
	t1 = now();
	res.t_send_tags = t1 - t0;

	t0 = now();
	for (size_t b = 0; b < kkrt_sender_batches(c.s); b++)
	{
		res.s_to_r += c.tlen[b];
		if ((st = kkrt_receiver_tags(c.r, c.tmsg[b], c.tlen[b])) != MPC_OK)
			die("receiver_tags", st);
		free(c.tmsg[b]);
	}
	t1 = now();
	res.t_recv_match = t1 - t0;
	res.total = res.t_cuckoo + res.t_base + res.t_recv_ext + res.t_send_ext +
		res.t_send_tags + res.t_recv_match;
	for (size_t i = 0; i < nx; i++)
		if (kkrt_receiver_match(c.r, i) != SIZE_MAX)
			res.members++;
	res.mem_r = kkrt_receiver_memory(c.r);
	res.mem_s = kkrt_sender_memory(c.s);
	kkrt_receiver_free(c.r);
	kkrt_sender_free(c.s);
	free(c.umsg);
	free(c.ulen);
	free(c.tmsg);
	free(c.tlen);
	free(base);
	return res;
}

int
main(int argc, char **argv)
{
	int			logn = argc > 1 ? atoi(argv[1]) : 20;
	size_t		n,
				common;
	uint8_t    *xs,
			   *ys;
	double		t0,
				t_join,
				oprf_total;
	size_t		join_hits;
	oprf_cost	oc;
	struct rusage ru;
	double		oprf_bits;

	if (sodium_init() < 0 || logn < 4 || logn > 24)
	{
		fprintf(stderr, "usage: bench_kkrt [log2 n, 4..24]\n");
		return 1;
	}
	n = (size_t) 1 << logn;
	common = n / 2;
	xs = xmalloc(n * 16);
	ys = xmalloc(n * 16);
	randombytes_buf(xs, n * 16);
	randombytes_buf(ys, n * 16);
	/* the sender holds the first half of xs, at the far end of its list */
	memcpy(ys + 16 * (n - common), xs, common * 16);

	printf("KKRT16 PSI, %zu × %zu items of 16 bytes, %zu in common; code width %d, "
		   "%zu cuckoo bins (%.2f n), tags %zu bytes\n",
		   n, n, common, KKRT_CODE_BITS, cuckoo_bins(n), (double) cuckoo_bins(n) / n,
		   kkrt_tag_bytes(n, n));

	t0 = now();
	join_hits = hash_join(xs, n, ys, n);
	t_join = now() - t0;
	printf("baseline plain hash join: %.1f ms (%zu hits)\n", t_join * 1e3, join_hits);

	oc = measure_oprf(xs);
	oprf_total = n * (oc.asker_per_key + oc.owner_per_key) + n * oc.owner_per_row;
	oprf_bits = (64.0 * n + 16.0 * n) * 8 / n;
	printf("baseline ristretto255 OPRF (1 thread, sample of %d): asker %.1f us/key, owner "
		   "%.1f us/key + %.1f us/row → %.1f s for this n; %.0f bits/element on the wire\n",
		   OPRF_SAMPLE, oc.asker_per_key * 1e6, oc.owner_per_key * 1e6, oc.owner_per_row * 1e6,
		   oprf_total, oprf_bits);

	/* the RR22-class step's OKVS alone (no VOLE yet): encode the receiver's set */
	{
		uint8_t    *vals = xmalloc(n * 16),
				   *P = xmalloc(okvs_columns(n) * 16),
				   *out = xmalloc(n * 16);
		uint8_t		seed[16] = {5};
		size_t		core = 0;
		double		te,
					td;
		okvs_status os;
		int			bad = 0;

		randombytes_buf(vals, n * 16);
		t0 = now();
		os = okvs_encode(seed, xs, vals, n, P, &core);
		te = now() - t0;
		t0 = now();
		if (os == OKVS_OK)
			okvs_decode(seed, n, P, xs, n, out);
		td = now() - t0;
		for (size_t i = 0; os == OKVS_OK && i < n; i++)
			if (memcmp(out + 16 * i, vals + 16 * i, 16) != 0)
				bad++;
		printf("RR22-class OKVS (3-hash, %zu columns = %.3f n, 2-core %zu rows): encode %.1f ms, "
			   "decode %.1f ms (%s); as 128-bit VOLE corrections %.0f bits/element\n",
			   okvs_columns(n), (double) okvs_columns(n) / n, core, te * 1e3, td * 1e3,
			   os == OKVS_OK && bad == 0 ? "every key decodes to its value" : "WRONG",
			   (double) okvs_columns(n) * 128 / n);
		free(vals);
		free(P);
		free(out);
	}

	for (int threads = 1; threads <= 2; threads++)
	{
		run_result	r = run_kkrt(xs, n, ys, n, threads);
		double		bits_rs = (double) r.r_to_s * 8 / n,
					bits_sr = (double) r.s_to_r * 8 / n;

		printf("\n%d thread%s per party:\n", threads, threads > 1 ? "s" : "");
		printf("  receiver cuckoo hashing   %8.1f ms\n", r.t_cuckoo * 1e3);
		printf("  base OT (448 Chou-Orlandi)%8.1f ms\n", r.t_base * 1e3);
		printf("  receiver extension (U)    %8.1f ms\n", r.t_recv_ext * 1e3);
		printf("  sender extension (rows)   %8.1f ms\n", r.t_send_ext * 1e3);
		printf("  sender tags (3 per item)  %8.1f ms\n", r.t_send_tags * 1e3);
		printf("  receiver matching         %8.1f ms\n", r.t_recv_match * 1e3);
		printf("  total (parties in turn)   %8.1f ms;  receiver %.1f ms, sender %.1f ms\n",
			   r.total * 1e3,
			   (r.t_cuckoo + r.t_recv_ext + r.t_recv_match) * 1e3,
			   (r.t_send_ext + r.t_send_tags) * 1e3);
		printf("  wire: R→S %.1f MB (%.0f bits/element), S→R %.1f MB (%.0f bits/element), "
			   "total %.0f bits/element\n",
			   r.r_to_s / 1e6, bits_rs, r.s_to_r / 1e6, bits_sr, bits_rs + bits_sr);
		printf("  memory: receiver state %.1f MB, sender state %.1f MB\n",
			   r.mem_r / 1e6, r.mem_s / 1e6);
		printf("  result: %zu members (%s)\n", r.members,
			   r.members == common ? "= the plaintext intersection size" : "WRONG");
		printf("  ratios: KKRT / hash join = %.1f×;  ristretto OPRF (1 thread) / KKRT = %.1f×;  "
			   "wire KKRT / ristretto OPRF = %.2f\n",
			   r.total / t_join, oprf_total / r.total, (bits_rs + bits_sr) / oprf_bits);
		if (r.members != common)
			return 1;
	}
	getrusage(RUSAGE_SELF, &ru);
	printf("\nprocess peak RSS (both parties, all messages of a phase held at once): %.1f MB\n",
		   ru.ru_maxrss / 1e3);
	free(xs);
	free(ys);
	return 0;
}
