//go:build cgo

package main

/*
#include <stdio.h>
#include <string.h>
#ifdef __GLIBC__
#include <gnu/libc-version.h>
#endif

// Which C library this was compiled against and, for glibc, which one runs it.
static void describe_libc(char *buf, size_t n) {
#ifdef __GLIBC__
	snprintf(buf, n, "glibc-%d.%d(runtime-%s)", __GLIBC__, __GLIBC_MINOR__, gnu_get_libc_version());
#else
	snprintf(buf, n, "musl");
#endif
}
*/
import "C"

import "unsafe"

const cgoEnabled = true

func cLibrary() string {
	buf := make([]byte, 64)
	C.describe_libc((*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)))
	return C.GoString((*C.char)(unsafe.Pointer(&buf[0])))
}
