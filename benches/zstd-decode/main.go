// Command zstd-decode times decompressing layer blobs the way Go container
// runtimes do (containerd pulls with Go's compress/gzip and
// klauspost/compress/zstd): for each FORMAT:FILE, the median seconds of
// RUNS full decompressions to io.Discard, as one JSON line. Built for
// arm64 by benches/zstd_layers.py and run under qemu-aarch64.
package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
)

func decode(format string, blob []byte) (int64, error) {
	var r io.Reader
	switch format {
	case "gzip":
		g, err := gzip.NewReader(bytes.NewReader(blob))
		if err != nil {
			return 0, err
		}
		r = g
	case "zstd":
		// One goroutine, as on a small device; no window beyond 128 MiB.
		z, err := zstd.NewReader(bytes.NewReader(blob), zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderMaxWindow(128<<20))
		if err != nil {
			return 0, err
		}
		defer z.Close()
		r = z
	default:
		return 0, fmt.Errorf("unknown format %q", format)
	}
	return io.Copy(io.Discard, r)
}

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: zstd-decode RUNS FORMAT:FILE...")
		os.Exit(2)
	}
	runs, err := strconv.Atoi(os.Args[1])
	if err != nil || runs < 1 {
		fmt.Fprintln(os.Stderr, "RUNS must be a positive number")
		os.Exit(2)
	}
	for _, arg := range os.Args[2:] {
		format, file, ok := strings.Cut(arg, ":")
		if !ok {
			fmt.Fprintf(os.Stderr, "%s: give FORMAT:FILE\n", arg)
			os.Exit(2)
		}
		blob, err := os.ReadFile(file)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		var times []float64
		var n int64
		for i := 0; i < runs; i++ {
			start := time.Now()
			n, err = decode(format, blob)
			if err != nil {
				fmt.Fprintf(os.Stderr, "%s: %v\n", file, err)
				os.Exit(1)
			}
			times = append(times, time.Since(start).Seconds())
		}
		sort.Float64s(times)
		out, _ := json.Marshal(map[string]any{
			"file": file, "format": format, "output": n,
			"seconds": times[len(times)/2], "goarch": runtime.GOARCH,
		})
		fmt.Println(string(out))
	}
}
