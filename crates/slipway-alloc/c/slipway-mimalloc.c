/* slipway's mimalloc unit: mimalloc's single-file build with its malloc
 * entry points overriding libc's, plus two things slipway adds:
 *   - an ELF note naming the allocator and its version, so `slipway inspect`
 *     and the SBOM can tell from the binary alone which allocator it carries;
 *   - an optional thread that prints mimalloc's statistics every N seconds
 *     (SLIPWAY_MALLOC_STATS_INTERVAL=N), since a Go program leaves through
 *     exit_group and never runs C exit handlers, where MIMALLOC_SHOW_STATS
 *     would print them.
 * SLIPWAY_ALLOCATOR_DESC is defined by slipway ("mimalloc <version>"), and
 * so are slipway's option defaults (SLIPWAY_MI_*). */

#include <malloc.h>
#include <stddef.h>
#include <stdlib.h>

/* Everything is compiled with hidden visibility except the C library's
 * allocation entry points: a dynamic (glibc) executable exports only these,
 * which is what interposes libc.so's malloc for every caller, instead of
 * all of mimalloc's API (hundreds of symbols, kept alive by the export). */
#define SLIPWAY_EXPORT __attribute__((visibility("default")))
SLIPWAY_EXPORT void *malloc(size_t);
SLIPWAY_EXPORT void *calloc(size_t, size_t);
SLIPWAY_EXPORT void *realloc(void *, size_t);
SLIPWAY_EXPORT void free(void *);
SLIPWAY_EXPORT void *reallocarray(void *, size_t, size_t);
SLIPWAY_EXPORT int posix_memalign(void **, size_t, size_t);
SLIPWAY_EXPORT void *aligned_alloc(size_t, size_t);
SLIPWAY_EXPORT void *memalign(size_t, size_t);
SLIPWAY_EXPORT void *valloc(size_t);
SLIPWAY_EXPORT void *pvalloc(size_t);
SLIPWAY_EXPORT size_t malloc_usable_size(void *);
SLIPWAY_EXPORT void cfree(void *);
SLIPWAY_EXPORT void *__libc_malloc(size_t);
SLIPWAY_EXPORT void *__libc_calloc(size_t, size_t);
SLIPWAY_EXPORT void *__libc_realloc(void *, size_t);
SLIPWAY_EXPORT void __libc_free(void *);
SLIPWAY_EXPORT void *__libc_memalign(size_t, size_t);

#include "static.c"

/* slipway's defaults for mimalloc options that have no compile-time
 * MI_DEFAULT_* define (see slipway-alloc's `flags` for why each suits a
 * device). mi_option_set_default changes only the default: a MIMALLOC_*
 * variable in the environment still wins, whether mimalloc read it before
 * this runs (an allocation inside the C library's start-up) or after. */
#ifndef SLIPWAY_MI_PURGE_DELAY
#error "SLIPWAY_MI_PURGE_DELAY must be defined"
#endif
__attribute__((constructor(101))) static void slipway_option_defaults(void) {
  mi_option_set_default(mi_option_purge_delay, SLIPWAY_MI_PURGE_DELAY);
}

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#ifndef SLIPWAY_ALLOCATOR_DESC
#error "SLIPWAY_ALLOCATOR_DESC must be defined"
#endif

/* An ELF note: owner "slipway", type 1 (allocator), the description as text.
 * `retain` keeps it through the link's --gc-sections. */
#define SLIPWAY_NOTE_PAD(n) (((n) + 3u) & ~3u)
struct slipway_allocator_note {
  uint32_t namesz;
  uint32_t descsz;
  uint32_t type;
  char name[8];
  char desc[SLIPWAY_NOTE_PAD(sizeof(SLIPWAY_ALLOCATOR_DESC))];
};

__attribute__((used, retain, aligned(4), section(".note.slipway.allocator")))
static const struct slipway_allocator_note slipway_allocator_note = {
  8, sizeof(SLIPWAY_ALLOCATOR_DESC), 1, "slipway", SLIPWAY_ALLOCATOR_DESC,
};

static void *slipway_stats_loop(void *arg) {
  const time_t secs = (time_t)(uintptr_t)arg;
  for (;;) {
    struct timespec left = { secs, 0 };
    while (nanosleep(&left, &left) != 0) {
    }
    mi_stats_print_out(NULL, NULL);
  }
  return NULL;
}

/* Runs before Go's runtime starts. The thread only sleeps and prints, never
 * calls into Go, and blocks every signal so Go's handlers never run on it. */
__attribute__((constructor)) static void slipway_stats_start(void) {
  const char *value = getenv("SLIPWAY_MALLOC_STATS_INTERVAL");
  if (value == NULL || *value == '\0') {
    return;
  }
  char *end = NULL;
  unsigned long secs = strtoul(value, &end, 10);
  if (*end != '\0' || secs == 0 || secs > 86400) {
    fputs("slipway: SLIPWAY_MALLOC_STATS_INTERVAL must be whole seconds from 1 to 86400; "
          "allocator statistics stay off\n", stderr);
    return;
  }
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  pthread_attr_t attr;
  pthread_t thread;
  int err = pthread_attr_init(&attr);
  if (err == 0) {
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    err = pthread_create(&thread, &attr, slipway_stats_loop, (void *)(uintptr_t)secs);
    pthread_attr_destroy(&attr);
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (err != 0) {
    fputs("slipway: could not start the allocator statistics thread\n", stderr);
  }
}
