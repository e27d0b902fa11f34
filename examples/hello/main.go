// Command hello is slipway's example service: an HTTP server that says which
// platform it was built for and which C library, if any, is linked in.
//
//	hello            serve on $HELLO_ADDR (default :8080)
//	hello --once     print the greeting and exit
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
	"runtime"
)

func greeting() string {
	return fmt.Sprintf("hello from %s/%s cgo=%t c=%s", runtime.GOOS, runtime.GOARCH, cgoEnabled, cLibrary())
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "--once" {
		fmt.Println(greeting())
		return
	}
	addr := os.Getenv("HELLO_ADDR")
	if addr == "" {
		addr = ":8080"
	}
	http.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, greeting())
	})
	log.Printf("listening on %s", addr)
	log.Fatal(http.ListenAndServe(addr, nil))
}
