// Command ko-layer builds an image layer from one binary the way ko does:
// archive/tar, compress/gzip at BestSpeed, and SHA-256 of both the
// uncompressed tar (diff_id) and the compressed blob (digest), in one pass.
// It prints the time spent after the file is in memory, as JSON.
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: ko-layer BINARY")
		os.Exit(2)
	}
	data, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	start := time.Now()
	digest := sha256.New()
	size := &countingWriter{}
	gz, _ := gzip.NewWriterLevel(io.MultiWriter(digest, size), gzip.BestSpeed)
	diffID := sha256.New()
	tw := tar.NewWriter(io.MultiWriter(gz, diffID))
	name := "ko-app/" + filepath.Base(os.Args[1])
	for _, dir := range []string{"ko-app/"} {
		if err := tw.WriteHeader(&tar.Header{Name: dir, Typeflag: tar.TypeDir, Mode: 0o555}); err != nil {
			panic(err)
		}
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o555, Size: int64(len(data))}); err != nil {
		panic(err)
	}
	if _, err := io.Copy(tw, bytes.NewReader(data)); err != nil {
		panic(err)
	}
	tw.Close()
	gz.Close()
	elapsed := time.Since(start).Seconds()
	json.NewEncoder(os.Stdout).Encode(map[string]any{
		"seconds":    elapsed,
		"input":      len(data),
		"compressed": size.n,
		"diff_id":    fmt.Sprintf("sha256:%x", diffID.Sum(nil)),
		"digest":     fmt.Sprintf("sha256:%x", digest.Sum(nil)),
	})
}
