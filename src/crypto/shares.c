/*
 * shares.c — additive sharing over Z_2^64, fixed point, and secure_sum's
 * pairwise masks (see shares.h; docs/architecture.md, protocol 5).
 */
#include <string.h>

#include <sodium.h>

#include "crypto/shares.h"

/* Exponents beyond this are out of range (or inexact) whatever the digits. */
#define EXPONENT_CAP 100000

/* Domain labels: each hash below is used for one purpose only. */
static const char transcript_label[] = "pgpriv/secure_sum/v1/transcript";
static const char pair_label[] = "pgpriv/secure_sum/v1/pair-seed";

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int
equals_ignore_case(const char *p, size_t len, const char *word)
{
	size_t		i;

	if (len != strlen(word))
		return 0;
	for (i = 0; i < len; i++)
	{
		char		c = p[i];

		if (c >= 'A' && c <= 'Z')
			c = (char) (c - 'A' + 'a');
		if (c != word[i])
			return 0;
	}
	return 1;
}

/*
 * The digits of a mantissa are the integer part [ip, ip+ni) followed by the
 * fraction part [fp, fp+nf); digit_at reads the i-th of the ni+nf.
 */
typedef struct mantissa
{
	const char *ip;
	size_t		ni;
	const char *fp;
	size_t		nf;
} mantissa;

static int
digit_at(const mantissa *m, size_t i)
{
	return (i < m->ni ? m->ip[i] : m->fp[i - m->ni]) - '0';
}

share_status
share_fixed_parse(const char *text, size_t len, int scale, int64_t *out)
{
	const char *p = text;
	const char *end = text + len;
	int			negative = 0;
	mantissa	m = {NULL, 0, NULL, 0};
	long long	exponent = 0;
	size_t		n;
	size_t		first;
	size_t		last;
	long long	shift;
	uint64_t	acc = 0;
	size_t		i;

	*out = 0;
	if (scale < 0 || scale > SHARE_MAX_SCALE)
		return SHARE_RANGE;
	while (p < end && is_space(*p))
		p++;
	while (end > p && is_space(end[-1]))
		end--;
	if (p < end && (*p == '+' || *p == '-'))
		negative = *p++ == '-';
	if (equals_ignore_case(p, (size_t) (end - p), "nan") ||
		equals_ignore_case(p, (size_t) (end - p), "infinity") ||
		equals_ignore_case(p, (size_t) (end - p), "inf"))
		return SHARE_NOT_FINITE;

	m.ip = p;
	while (p < end && is_digit(*p))
		p++;
	m.ni = (size_t) (p - m.ip);
	m.fp = p;
	if (p < end && *p == '.')
	{
		m.fp = ++p;
		while (p < end && is_digit(*p))
			p++;
		m.nf = (size_t) (p - m.fp);
	}
	if (m.ni + m.nf == 0)
		return SHARE_SYNTAX;
	if (p < end && (*p == 'e' || *p == 'E'))
	{
		int			eneg = 0;
		const char *e0;

		p++;
		if (p < end && (*p == '+' || *p == '-'))
			eneg = *p++ == '-';
		e0 = p;
		while (p < end && is_digit(*p))
		{
			if (exponent < EXPONENT_CAP)
				exponent = exponent * 10 + (*p - '0');
			p++;
		}
		if (p == e0)
			return SHARE_SYNTAX;
		if (eneg)
			exponent = -exponent;
	}
	if (p != end)
		return SHARE_SYNTAX;

	/* The significant digits [first, last]; none means zero. */
	n = m.ni + m.nf;
	for (first = 0; first < n && digit_at(&m, first) == 0; first++)
		;
	if (first == n)
		return SHARE_OK;
	for (last = n - 1; digit_at(&m, last) == 0; last--)
		;

	/* v·10^scale = digits[first..last] · 10^shift */
	shift = (long long) (n - 1 - last) + exponent - (long long) m.nf + scale;
	if (shift < 0)
		return SHARE_INEXACT;
	if ((long long) (last - first + 1) + shift > 19)
		return SHARE_RANGE;
	/* At most 19 digits: below 10^19 < 2^64, so nothing here overflows. */
	for (i = first; i <= last; i++)
		acc = acc * 10 + (uint64_t) digit_at(&m, i);
	while (shift-- > 0)
		acc *= 10;
	if (acc > (negative ? (uint64_t) INT64_MAX + 1 : (uint64_t) INT64_MAX))
		return SHARE_RANGE;
	*out = negative ? (int64_t) (0 - acc) : (int64_t) acc;
	return SHARE_OK;
}

size_t
share_fixed_format(int64_t v, int scale, char *buf)
{
	uint64_t	mag = v < 0 ? 0 - (uint64_t) v : (uint64_t) v;
	char		rev[24];
	int			nd = 0;
	size_t		len = 0;
	int			i;

	do
	{
		rev[nd++] = (char) ('0' + mag % 10);
		mag /= 10;
	} while (mag > 0);
	while (nd <= scale)
		rev[nd++] = '0';
	if (v < 0)
		buf[len++] = '-';
	for (i = nd - 1; i >= 0; i--)
	{
		buf[len++] = rev[i];
		if (i == scale && scale > 0)
			buf[len++] = '.';
	}
	buf[len] = '\0';
	return len;
}

void
share_split(int64_t v, int parties, uint64_t *out)
{
	uint64_t	rest = (uint64_t) v;
	int			i;

	if (parties <= 0)
		return;
	/* Any parties-1 shares are uniform and independent of v. */
	randombytes_buf(out, sizeof(uint64_t) * (size_t) (parties - 1));
	for (i = 0; i < parties - 1; i++)
		rest -= out[i];
	out[parties - 1] = rest;
}

int64_t
share_open(const uint64_t *shares, size_t n)
{
	uint64_t	sum = 0;
	int64_t		v;
	size_t		i;

	for (i = 0; i < n; i++)
		sum += shares[i];
	/* Two's complement reading of the residue, without relying on a cast. */
	memcpy(&v, &sum, sizeof(v));
	return v;
}

static void
put_u32(crypto_generichash_state *st, uint32_t v)
{
	uint8_t		b[4] = {(uint8_t) (v >> 24), (uint8_t) (v >> 16), (uint8_t) (v >> 8), (uint8_t) v};

	crypto_generichash_update(st, b, 4);
}

void
share_transcript(const uint8_t session[SHARE_KEY_BYTES], const char *dataset, const char *column,
				 const uint8_t *sorted_keys, size_t nkeys, uint8_t out[SHARE_KEY_BYTES])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, SHARE_KEY_BYTES);
	crypto_generichash_update(&st, (const uint8_t *) transcript_label, sizeof(transcript_label) - 1);
	crypto_generichash_update(&st, session, SHARE_KEY_BYTES);
	/* Length-prefixed names: ("ab", "c") and ("a", "bc") differ. */
	put_u32(&st, (uint32_t) strlen(dataset));
	crypto_generichash_update(&st, (const uint8_t *) dataset, strlen(dataset));
	put_u32(&st, (uint32_t) strlen(column));
	crypto_generichash_update(&st, (const uint8_t *) column, strlen(column));
	put_u32(&st, (uint32_t) nkeys);
	crypto_generichash_update(&st, sorted_keys, nkeys * SHARE_KEY_BYTES);
	crypto_generichash_final(&st, out, SHARE_KEY_BYTES);
}

int
share_pair_sign(const uint8_t my_public[SHARE_KEY_BYTES], const uint8_t their_public[SHARE_KEY_BYTES])
{
	return memcmp(my_public, their_public, SHARE_KEY_BYTES) < 0 ? 1 : -1;
}

share_status
share_pair_seed(const uint8_t my_secret[SHARE_KEY_BYTES], const uint8_t my_public[SHARE_KEY_BYTES],
				const uint8_t their_public[SHARE_KEY_BYTES], const uint8_t transcript[SHARE_KEY_BYTES],
				uint8_t seed[SHARE_KEY_BYTES])
{
	uint8_t		shared[crypto_scalarmult_BYTES];
	crypto_generichash_state st;
	int			mine_first = share_pair_sign(my_public, their_public) > 0;

	/* libsodium refuses (all-zero result) public keys of small order. */
	if (crypto_scalarmult(shared, my_secret, their_public) != 0)
	{
		sodium_memzero(shared, sizeof(shared));
		return SHARE_BAD_KEY;
	}
	/*
	 * The raw X25519 output is not uniform: hash it, with both public keys
	 * in a canonical order (both sides agree) and the run's transcript.
	 */
	crypto_generichash_init(&st, shared, sizeof(shared), SHARE_KEY_BYTES);
	crypto_generichash_update(&st, (const uint8_t *) pair_label, sizeof(pair_label) - 1);
	crypto_generichash_update(&st, mine_first ? my_public : their_public, SHARE_KEY_BYTES);
	crypto_generichash_update(&st, mine_first ? their_public : my_public, SHARE_KEY_BYTES);
	crypto_generichash_update(&st, transcript, SHARE_KEY_BYTES);
	crypto_generichash_final(&st, seed, SHARE_KEY_BYTES);
	sodium_memzero(shared, sizeof(shared));
	sodium_memzero(&st, sizeof(st));
	return SHARE_OK;
}

static uint64_t
load_le64(const uint8_t *b)
{
	uint64_t	v = 0;
	int			i;

	for (i = 7; i >= 0; i--)
		v = (v << 8) | b[i];
	return v;
}

void
share_pair_mask(const uint8_t seed[SHARE_KEY_BYTES], const uint8_t *key, size_t len,
				uint64_t *value_mask, uint64_t *presence_mask)
{
	uint8_t		out[16];

	/* Keyed BLAKE2b is a PRF; one call gives both 64-bit streams. */
	crypto_generichash(out, sizeof(out), key, len, seed, SHARE_KEY_BYTES);
	*value_mask = load_le64(out);
	*presence_mask = load_le64(out + 8);
	sodium_memzero(out, sizeof(out));
}

int
share_mask_range(void *arg, size_t begin, size_t end, size_t *failed_index __attribute__((unused)))
{
	share_mask_job *job = arg;
	size_t		i;

	for (i = begin; i < end; i++)
	{
		int			p;

		for (p = 0; p < job->npairs; p++)
		{
			uint64_t	mv;
			uint64_t	mp;

			share_pair_mask(job->seeds + (size_t) p * SHARE_KEY_BYTES, job->keys[i], job->lens[i],
							&mv, &mp);
			if (job->signs[p] > 0)
			{
				job->value[i] += mv;
				job->presence[i] += mp;
			}
			else
			{
				job->value[i] -= mv;
				job->presence[i] -= mp;
			}
		}
	}
	return 0;
}
