/* The C side of benches/allocator.py: what C code in a service does to its
 * allocator. Each thread runs a fixed, seeded sequence: keep a window of
 * live blocks, replace a random one at each step with a block of a mixed
 * size (mostly small, some medium, a few large), touch it, and every 64th
 * block hand to the next thread to free (cross-thread frees, as a request
 * buffer passed to a worker is). Nothing depends on timing: the same seed
 * gives the same allocations whatever the allocator. */

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define WINDOW 1024
#define HANDOFF 256

struct mailbox {
	pthread_mutex_t lock;
	void *slots[HANDOFF];
	int count;
};

struct worker {
	uint64_t seed;
	long iterations;
	struct mailbox *inbox;  /* blocks others pass to me to free */
	struct mailbox *outbox; /* the next thread's inbox */
	uint64_t checksum;
};

static uint64_t next(uint64_t *s) {
	/* xorshift64* */
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 2685821657736338717ULL;
}

static size_t pick_size(uint64_t r) {
	unsigned bucket = (unsigned)(r % 100);
	uint64_t v = r >> 8;
	if (bucket < 80) return 16 + v % 241;          /* 16..256 B */
	if (bucket < 95) return 257 + v % 3840;        /* 257 B..4 KiB */
	return 4097 + v % 61440;                       /* 4 KiB..64 KiB */
}

static void drain(struct mailbox *box) {
	pthread_mutex_lock(&box->lock);
	int n = box->count;
	void *taken[HANDOFF];
	memcpy(taken, box->slots, sizeof(void *) * (size_t)n);
	box->count = 0;
	pthread_mutex_unlock(&box->lock);
	for (int i = 0; i < n; i++) free(taken[i]);
}

static void *run(void *arg) {
	struct worker *w = arg;
	void *live[WINDOW] = {0};
	uint64_t s = w->seed;
	for (long i = 0; i < w->iterations; i++) {
		uint64_t r = next(&s);
		unsigned slot = (unsigned)(r >> 40) % WINDOW;
		void *old = live[slot];
		live[slot] = NULL;
		if (old != NULL) {
			if ((r & 63) == 0) {
				pthread_mutex_lock(&w->outbox->lock);
				int full = w->outbox->count == HANDOFF;
				if (!full) w->outbox->slots[w->outbox->count++] = old;
				pthread_mutex_unlock(&w->outbox->lock);
				if (full) free(old);
			} else {
				free(old);
			}
		}
		size_t size = pick_size(next(&s));
		unsigned char *p = malloc(size);
		if (p == NULL) abort();
		p[0] = (unsigned char)i;
		p[size - 1] = (unsigned char)(i >> 8);
		w->checksum += p[0] + size;
		live[slot] = p;
		if ((i & 1023) == 0) drain(w->inbox);
	}
	for (int k = 0; k < WINDOW; k++) free(live[k]);
	return NULL;
}

/* Run `threads` workers of `iterations` steps each; returns a checksum so
 * the work cannot be optimised away. */
uint64_t mt_workload(int threads, long iterations, uint64_t seed) {
	struct worker w[64];
	struct mailbox boxes[64];
	pthread_t tid[64];
	if (threads > 64) threads = 64;
	for (int t = 0; t < threads; t++) {
		pthread_mutex_init(&boxes[t].lock, NULL);
		boxes[t].count = 0;
	}
	for (int t = 0; t < threads; t++) {
		w[t].seed = seed * 0x9E3779B97F4A7C15ULL + (uint64_t)t + 1;
		w[t].iterations = iterations;
		w[t].inbox = &boxes[t];
		w[t].outbox = &boxes[(t + 1) % threads];
		w[t].checksum = 0;
		pthread_attr_t attr;
		pthread_attr_init(&attr);
		pthread_attr_setstacksize(&attr, 256 * 1024);
		if (pthread_create(&tid[t], &attr, run, &w[t]) != 0) abort();
		pthread_attr_destroy(&attr);
	}
	uint64_t sum = 0;
	for (int t = 0; t < threads; t++) {
		pthread_join(tid[t], NULL);
		sum += w[t].checksum;
	}
	for (int t = 0; t < threads; t++) drain(&boxes[t]);
	return sum;
}
