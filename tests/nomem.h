/* nomem.h -- a failing allocator for out-of-memory tests: malloc, calloc
 * and realloc are replaced (glibc's __libc_* underneath) and fail once a
 * countdown reaches zero. Include it in one test program only (it defines
 * the allocator for the whole program).
 *
 *   nomem_countdown = k;  the (k+1)th allocation from now fails; -1 never
 *   nomem_once = 1;       after that failure every allocation succeeds
 *                         again (countdown becomes -2); 0: all fail
 *
 * Sanitizer builds own malloc, so there NOMEM_SKIP is defined and nothing
 * is replaced: the tests skip their cases (and pass). */
#ifndef CHORUS_TESTS_NOMEM_H
#define CHORUS_TESTS_NOMEM_H

#include <stddef.h>

#if defined(__SANITIZE_ADDRESS__)
#define NOMEM_SKIP 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NOMEM_SKIP 1
#endif
#endif

__attribute__((unused)) static long nomem_countdown = -1;
__attribute__((unused)) static int nomem_once;

#ifndef NOMEM_SKIP
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);

static int nomem_fail_now(void)
{
    if (nomem_countdown < 0) return 0;
    if (nomem_countdown == 0) {
        if (nomem_once) nomem_countdown = -2;
        return 1;
    }
    nomem_countdown--;
    return 0;
}

void *malloc(size_t n)
{
    return nomem_fail_now() ? NULL : __libc_malloc(n);
}

void *calloc(size_t n, size_t k)
{
    return nomem_fail_now() ? NULL : __libc_calloc(n, k);
}

void *realloc(void *p, size_t n)
{
    return nomem_fail_now() ? NULL : __libc_realloc(p, n);
}

void free(void *p)
{
    __libc_free(p);
}
#endif

#endif
