// Command allocbench runs one allocator workload and prints its result as
// JSON: a seeded multi-threaded C allocation workload (workload.c), or
// SQLite inserts through go-sqlite3 from several goroutines.
package main

/*
#include <stdint.h>
uint64_t mt_workload(int threads, long iterations, uint64_t seed);
*/
import "C"

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	_ "github.com/mattn/go-sqlite3"
)

type result struct {
	Workload  string  `json:"workload"`
	Ops       int64   `json:"ops"`
	Seconds   float64 `json:"seconds"`
	OpsPerSec float64 `json:"ops_per_sec"`
	MaxRSSKiB int64   `json:"max_rss_kib"`
	Check     uint64  `json:"check"`
}

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: allocbench mt THREADS ITERATIONS | sqlite WORKERS ROWS")
		os.Exit(2)
	}
	a, _ := strconv.Atoi(os.Args[2])
	b, _ := strconv.ParseInt(os.Args[3], 10, 64)
	var r result
	start := time.Now()
	switch os.Args[1] {
	case "mt":
		r.Check = uint64(C.mt_workload(C.int(a), C.long(b), 42))
		r.Ops = int64(a) * b
	case "sqlite":
		r.Check = sqliteInserts(a, b)
		r.Ops = int64(a) * b
	default:
		fmt.Fprintln(os.Stderr, "unknown workload", os.Args[1])
		os.Exit(2)
	}
	r.Workload = os.Args[1]
	r.Seconds = time.Since(start).Seconds()
	r.OpsPerSec = float64(r.Ops) / r.Seconds
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		r.MaxRSSKiB = int64(ru.Maxrss)
	}
	out, _ := json.Marshal(r)
	fmt.Println(string(out))
}

// sqliteInserts has each worker fill its own in-memory database: a table
// with an index, rows of seeded text of mixed length, 500 per transaction.
func sqliteInserts(workers int, rows int64) uint64 {
	var wg sync.WaitGroup
	counts := make([]uint64, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			db, err := sql.Open("sqlite3", fmt.Sprintf("file:bench%d?mode=memory&cache=private", w))
			must(err)
			db.SetMaxOpenConns(1)
			defer db.Close()
			_, err = db.Exec("create table kv(id integer primary key, k text, v text); create index kv_k on kv(k)")
			must(err)
			seed := uint64(w+1) * 0x9E3779B97F4A7C15
			buf := make([]byte, 512)
			for done := int64(0); done < rows; {
				tx, err := db.Begin()
				must(err)
				stmt, err := tx.Prepare("insert into kv(k, v) values (?, ?)")
				must(err)
				for i := 0; i < 500 && done < rows; i++ {
					seed ^= seed << 13
					seed ^= seed >> 7
					seed ^= seed << 17
					n := 8 + int(seed%504)
					for j := 0; j < n; j++ {
						buf[j] = 'a' + byte((seed>>(uint(j)%56))%26)
					}
					_, err = stmt.Exec(string(buf[:16]), string(buf[:n]))
					must(err)
					done++
				}
				must(stmt.Close())
				must(tx.Commit())
			}
			var n uint64
			must(db.QueryRow("select count(*) from kv").Scan(&n))
			counts[w] = n
		}(w)
	}
	wg.Wait()
	var total uint64
	for _, c := range counts {
		total += c
	}
	return total
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
