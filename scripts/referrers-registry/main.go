// A registry that serves the OCI 1.1 referrers API, for slipway's tests:
// go-containerregistry's in-memory registry with its referrers endpoint
// switched on (its own `registry` command leaves it off).
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"

	"github.com/google/go-containerregistry/pkg/registry"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	flag.Parse()
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("listening on %s: %v", *addr, err)
	}
	// The test harness reads the chosen address from the first line.
	fmt.Fprintf(os.Stdout, "listening on %s\n", l.Addr())
	handler := registry.New(registry.WithReferrersSupport(true), registry.Logger(log.New(os.Stderr, "", log.LstdFlags)))
	log.Fatal(http.Serve(l, handler))
}
