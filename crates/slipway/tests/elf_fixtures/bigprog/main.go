// Command bigprog is a test fixture for slipway's ELF toolkit: a program that
// pulls in a large part of the standard library (HTTP, TLS, templates, the Go
// type checker, images, compression) so its binary is big and DWARF-heavy,
// and that does a little real work with each so none of it is dead code.
package main

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"go/types"
	htmltemplate "html/template"
	"image"
	"image/color"
	"image/png"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"text/template"
)

const source = `package p

func Add(a, b int) int { return a + b }
`

func main() {
	var out bytes.Buffer

	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, "p.go", source, 0)
	check(err)
	conf := types.Config{}
	pkg, err := conf.Check("p", fset, []*ast.File{file}, nil)
	check(err)
	check(format.Node(&out, fset, file))
	fmt.Fprintf(&out, "%s %d\n", pkg.Name(), len(pkg.Scope().Names()))

	check(template.Must(template.New("t").Parse("{{.}}\n")).Execute(&out, "text"))
	check(htmltemplate.Must(htmltemplate.New("h").Parse("<b>{{.}}</b>\n")).Execute(&out, "<html>"))

	blob, err := json.Marshal(map[string]any{"n": 1})
	check(err)
	xmlBlob, err := xml.Marshal(item{N: 2})
	check(err)
	out.Write(blob)
	out.Write(xmlBlob)

	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write(out.Bytes())
	check(w.Close())
	zw := zip.NewWriter(&bytes.Buffer{})
	f, err := zw.Create("a")
	check(err)
	f.Write(gz.Bytes())
	check(zw.Close())

	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	img.Set(1, 1, color.RGBA{255, 0, 0, 255})
	var pngBuf bytes.Buffer
	check(png.Encode(&pngBuf, img))

	n := new(big.Int).Exp(big.NewInt(2), big.NewInt(100), nil)
	re := regexp.MustCompile(`^[a-z]+$`)

	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	_ = srv
	pool := x509.NewCertPool()
	cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}

	sum := sha256.Sum256(out.Bytes())
	fmt.Printf("bigprog ok %x %s %t %d %d\n", sum[:4], n, re.MatchString("abc"), pngBuf.Len(), cfg.MinVersion)
}

type item struct{ N int }

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bigprog:", err)
		os.Exit(1)
	}
}
