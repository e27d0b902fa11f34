//! mimalloc's vendored sources, embedded so a build needs nothing but zig.

/// The mimalloc version in `third_party/mimalloc` (`MI_MALLOC_VERSION`).
pub const MIMALLOC_VERSION: &str = "3.3.2";

/// `third_party/mimalloc/SHA256SUMS`: every vendored file's digest.
pub const SHA256SUMS: &str = include_str!("../../../third_party/mimalloc/SHA256SUMS");

/// The license the sources come under, shipped with them.
pub const LICENSE: &str = include_str!("../../../third_party/mimalloc/LICENSE");

/// slipway's unit around mimalloc: the ELF note and the statistics thread.
pub const GLUE: &str = include_str!("../c/slipway-mimalloc.c");

/// The glue's file name; it is compiled from mimalloc's `src/` directory.
pub const GLUE_NAME: &str = "src/slipway-mimalloc.c";

/// The sources the single-file build reads, by path under `third_party/mimalloc`.
pub const SOURCES: &[(&str, &str)] = &[
    (
        "include/mimalloc-stats.h",
        include_str!("../../../third_party/mimalloc/include/mimalloc-stats.h"),
    ),
    (
        "include/mimalloc.h",
        include_str!("../../../third_party/mimalloc/include/mimalloc.h"),
    ),
    (
        "include/mimalloc/atomic.h",
        include_str!("../../../third_party/mimalloc/include/mimalloc/atomic.h"),
    ),
    (
        "include/mimalloc/bits.h",
        include_str!("../../../third_party/mimalloc/include/mimalloc/bits.h"),
    ),
    (
        "include/mimalloc/internal.h",
        include_str!("../../../third_party/mimalloc/include/mimalloc/internal.h"),
    ),
    (
        "include/mimalloc/prim.h",
        include_str!("../../../third_party/mimalloc/include/mimalloc/prim.h"),
    ),
    (
        "include/mimalloc/track.h",
        include_str!("../../../third_party/mimalloc/include/mimalloc/track.h"),
    ),
    (
        "include/mimalloc/types.h",
        include_str!("../../../third_party/mimalloc/include/mimalloc/types.h"),
    ),
    (
        "src/alloc-aligned.c",
        include_str!("../../../third_party/mimalloc/src/alloc-aligned.c"),
    ),
    (
        "src/alloc-override.c",
        include_str!("../../../third_party/mimalloc/src/alloc-override.c"),
    ),
    (
        "src/alloc-posix.c",
        include_str!("../../../third_party/mimalloc/src/alloc-posix.c"),
    ),
    (
        "src/alloc.c",
        include_str!("../../../third_party/mimalloc/src/alloc.c"),
    ),
    (
        "src/arena-meta.c",
        include_str!("../../../third_party/mimalloc/src/arena-meta.c"),
    ),
    (
        "src/arena.c",
        include_str!("../../../third_party/mimalloc/src/arena.c"),
    ),
    (
        "src/bitmap.c",
        include_str!("../../../third_party/mimalloc/src/bitmap.c"),
    ),
    (
        "src/bitmap.h",
        include_str!("../../../third_party/mimalloc/src/bitmap.h"),
    ),
    (
        "src/free.c",
        include_str!("../../../third_party/mimalloc/src/free.c"),
    ),
    (
        "src/heap.c",
        include_str!("../../../third_party/mimalloc/src/heap.c"),
    ),
    (
        "src/init.c",
        include_str!("../../../third_party/mimalloc/src/init.c"),
    ),
    (
        "src/libc.c",
        include_str!("../../../third_party/mimalloc/src/libc.c"),
    ),
    (
        "src/options.c",
        include_str!("../../../third_party/mimalloc/src/options.c"),
    ),
    (
        "src/os.c",
        include_str!("../../../third_party/mimalloc/src/os.c"),
    ),
    (
        "src/page-map.c",
        include_str!("../../../third_party/mimalloc/src/page-map.c"),
    ),
    (
        "src/page-queue.c",
        include_str!("../../../third_party/mimalloc/src/page-queue.c"),
    ),
    (
        "src/page.c",
        include_str!("../../../third_party/mimalloc/src/page.c"),
    ),
    (
        "src/prim/prim.c",
        include_str!("../../../third_party/mimalloc/src/prim/prim.c"),
    ),
    (
        "src/prim/unix/prim.c",
        include_str!("../../../third_party/mimalloc/src/prim/unix/prim.c"),
    ),
    (
        "src/random.c",
        include_str!("../../../third_party/mimalloc/src/random.c"),
    ),
    (
        "src/static.c",
        include_str!("../../../third_party/mimalloc/src/static.c"),
    ),
    (
        "src/stats.c",
        include_str!("../../../third_party/mimalloc/src/stats.c"),
    ),
    (
        "src/theap.c",
        include_str!("../../../third_party/mimalloc/src/theap.c"),
    ),
    (
        "src/threadlocal.c",
        include_str!("../../../third_party/mimalloc/src/threadlocal.c"),
    ),
];
