/*
 * fuzz_input.h — reading a fuzzer input as a sequence of fields.
 *
 * A harness takes what it needs from the front of the input: an operation
 * byte, sizes, then messages.  A field the input is too short for comes
 * back NULL (the harness returns: nothing to test), so every input is
 * usable and mutations stay local to the field they hit.
 */
#ifndef PGPRIV_FUZZ_INPUT_H
#define PGPRIV_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct FuzzInput
{
	const uint8_t *p;
	size_t		n;
} FuzzInput;

/* n bytes from the front, or NULL if fewer are left. */
static inline const uint8_t *
fuzz_take(FuzzInput *in, size_t n)
{
	const uint8_t *p = in->p;

	if (in->n < n)
		return NULL;
	in->p += n;
	in->n -= n;
	return p;
}

/* One byte, 0 once the input is used up. */
static inline uint8_t
fuzz_byte(FuzzInput *in)
{
	const uint8_t *p = fuzz_take(in, 1);

	return p ? *p : 0;
}

/* A little-endian uint32 (missing bytes are 0). */
static inline uint32_t
fuzz_u32(FuzzInput *in)
{
	uint32_t	v = 0;

	for (int i = 0; i < 4; i++)
		v |= (uint32_t) fuzz_byte(in) << (8 * i);
	return v;
}

/*
 * A length-prefixed field: a little-endian uint16 length, then that many
 * bytes (or what is left).
 */
static inline const uint8_t *
fuzz_field(FuzzInput *in, size_t *len)
{
	size_t		want = fuzz_byte(in);

	want |= (size_t) fuzz_byte(in) << 8;
	if (want > in->n)
		want = in->n;
	*len = want;
	return fuzz_take(in, want);
}

/* The rest of the input. */
static inline const uint8_t *
fuzz_rest(FuzzInput *in, size_t *len)
{
	*len = in->n;
	return fuzz_take(in, in->n);
}

#endif
