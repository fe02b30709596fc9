/*
 * fuzz_seed.h — writing seed inputs.
 *
 * Run with PGPRIV_FUZZ_GENERATE=<directory>, a harness writes valid inputs
 * (made with pgpriv's own encoders, so they follow the protocol as it
 * changes) into that directory and exits instead of fuzzing; test/fuzz/run.sh
 * does this before every run.
 */
#ifndef PGPRIV_FUZZ_SEED_H
#define PGPRIV_FUZZ_SEED_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

/* The directory to write seeds into, or NULL when fuzzing. */
static inline const char *
fuzz_seed_dir(void)
{
	const char *dir = getenv("PGPRIV_FUZZ_GENERATE");

	if (dir != NULL)
		(void) mkdir(dir, 0777);
	return dir;
}

/*
 * The seed step of a harness's LLVMFuzzerInitialize: when seeds are asked
 * for, write them with generate and exit instead of fuzzing.
 */
static inline void
fuzz_seed_generate(void (*generate) (const char *dir))
{
	const char *dir = fuzz_seed_dir();

	if (dir != NULL)
	{
		generate(dir);
		exit(0);
	}
}

/* dir/name := head ‖ body (either may be empty); exits on failure. */
static inline void
fuzz_seed_write(const char *dir, const char *name, const void *head, size_t head_len,
				const void *body, size_t body_len)
{
	char		path[1024];
	FILE	   *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(head, 1, head_len, f) != head_len ||
		fwrite(body, 1, body_len, f) != body_len || fclose(f) != 0)
	{
		fprintf(stderr, "cannot write seed %s\n", path);
		exit(1);
	}
}

#endif
