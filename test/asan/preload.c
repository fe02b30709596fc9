/*
 * test/asan/preload.c — a small library test/asan/run preloads into the
 * (uninstrumented) postgres right after the ASan runtime, to keep postgres
 * from hanging at start.
 *
 * A preloaded ASan runtime initialises late, at the first malloc, which in
 * postgres comes from libgpg-error's constructor inside bindtextdomain(),
 * with glibc's gettext lock held for writing.  The runtime's
 * start-up looks up the optional symbol swift_demangle with dlsym() and clears
 * the failure with dlerror(), which translates the message and so takes that
 * same lock: the lock is broken and postgres's own bindtextdomain() then waits
 * for ever.  With this definition the lookup succeeds and dlerror() has
 * nothing to translate.  Returning NULL means "not a Swift name": reports
 * print the name as it is.
 */
#include <stddef.h>
#include <stdint.h>

char	   *swift_demangle(const char *mangled, size_t mangled_len, char *out,
						   size_t *out_len, uint32_t flags);

char *
swift_demangle(const char *mangled, size_t mangled_len, char *out,
			   size_t *out_len, uint32_t flags)
{
	return NULL;
}
