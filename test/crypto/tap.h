/*
 * tap.h — the Test Anything Protocol for the test programs under
 * test/crypto, so prove (and test/run) can run them like any TAP test.
 * Header-only: each test program is a single translation unit.
 */
#ifndef PGPRIV_TEST_TAP_H
#define PGPRIV_TEST_TAP_H

#include <stdarg.h>
#include <stdio.h>

static int	tap_tests = 0;
static int	tap_failures = 0;

static void ok(int cond, const char *fmt,...) __attribute__((format(printf, 2, 3), unused));
static void diag(const char *fmt,...) __attribute__((format(printf, 1, 2), unused));
static int	tap_done(void) __attribute__((unused));

/* One test: "ok N - description" or "not ok N - description". */
static void
ok(int cond, const char *fmt,...)
{
	va_list		ap;

	tap_tests++;
	if (!cond)
		tap_failures++;
	printf("%sok %d - ", cond ? "" : "not ", tap_tests);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/* A comment line for humans. */
static void
diag(const char *fmt,...)
{
	va_list		ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/* Print the plan; the exit status for main. */
static int
tap_done(void)
{
	printf("1..%d\n", tap_tests);
	if (tap_failures)
		diag("%d of %d tests failed", tap_failures, tap_tests);
	fflush(stdout);
	return tap_failures ? 1 : 0;
}

#endif
