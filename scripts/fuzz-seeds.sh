#!/usr/bin/env bash
# Fill fuzz/corpus/<target>/ with seeds: the small hand-written ones in
# fuzz/seeds/, plus real files made here by real tools (Go binaries from the
# example, gcc binaries, GNU tar layers (plain, gzip, zstd), an umoci image layout, keys from
# cosign and openssl, OSV entries from golang.org/x/vuln's test data on the Go
# module proxy). Safe to run again: files already there are kept, so what the
# fuzzer found stays.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf 'fuzz-seeds: %s\n' "$*" >&2; }
corpus=fuzz/corpus
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for dir in fuzz/seeds/*/; do
    t=$(basename "$dir")
    mkdir -p "$corpus/$t"
    cp -n "$dir"* "$corpus/$t/" 2>/dev/null || true
done
seed() { # seed TARGET NAME FILE: copy FILE in as NAME unless present
    mkdir -p "$corpus/$1"
    [[ -e "$corpus/$1/$2" ]] || cp "$3" "$corpus/$1/$2"
}

# ELF: Go binaries for a 64-bit little-endian and a 32-bit big-endian target,
# a C binary with symbol versions and DWARF, and a tiny arm64 one.
for spec in amd64: arm:GOARM=7 mips:GOMIPS=softfloat riscv64:; do
    arch=${spec%%:*} extra=${spec#*:}
    out="$work/hello-$arch"
    (cd examples/hello && env CGO_ENABLED=0 GOOS=linux GOARCH="$arch" ${extra:+"$extra"} \
        go build -trimpath -ldflags=-buildid= -o "$out" .)
    # Go build info: the raw .go.buildinfo section (form byte 0) and the
    # module text of `go version -m` (form byte 1).
    objcopy --dump-section .go.buildinfo="$work/bi" "$out" 2>/dev/null &&
        { printf '\000'; cat "$work/bi"; } > "$work/bi-$arch" && seed go_buildinfo "section-$arch" "$work/bi-$arch"
    go version -m "$out" | tail -n +2 | sed 's/^\t//' | { printf '\001'; cat; } > "$work/mi-$arch"
    seed go_buildinfo "modinfo-$arch" "$work/mi-$arch"
done
seed elf go-amd64 "$work/hello-amd64"
# slipway size: whole Go binaries (form byte 1) and their raw function
# tables (form byte 0 little-endian, 2 big-endian).
for arch in amd64 arm mips riscv64; do
    { printf '\001'; cat "$work/hello-$arch"; } > "$work/size-$arch" && seed size "elf-$arch" "$work/size-$arch"
    order='\000'; [[ $arch == mips ]] && order='\002'
    objcopy --dump-section .gopclntab="$work/pcln" "$work/hello-$arch" 2>/dev/null &&
        { printf "$order"; cat "$work/pcln"; } > "$work/pcln-$arch" && seed size "gopclntab-$arch" "$work/pcln-$arch"
done
seed elf go-mips-softfloat "$work/hello-mips"
printf '#include <stdio.h>\n#include <pthread.h>\nstatic void *f(void *a) { return a; }\nint main(void) { pthread_t t; pthread_create(&t, 0, f, 0); pthread_join(t, 0); puts("ok"); return 0; }\n' > "$work/v.c"
gcc -g -O1 -pthread -Wl,--build-id -o "$work/c-gcc" "$work/v.c"
seed elf c-gcc-debug "$work/c-gcc"
printf 'void _start(void) { for (;;) ; }\n' > "$work/tiny.c"
if command -v aarch64-linux-gnu-gcc >/dev/null; then
    aarch64-linux-gnu-gcc -O1 -nostdlib -static -o "$work/tiny-arm64" "$work/tiny.c"
    seed elf tiny-arm64 "$work/tiny-arm64"
fi
gcc -O1 -nostdlib -static -o "$work/tiny-amd64" "$work/tiny.c"
seed elf tiny-amd64 "$work/tiny-amd64"

# Layers: GNU tar in three formats, gzip and plain, with an ELF and whiteouts.
mkdir -p "$work/layer/app" "$work/layer/etc/ssl"
cp "$work/tiny-amd64" "$work/layer/app/hello"
touch "$work/layer/app/.wh.old" "$work/layer/etc/ssl/.wh..wh..opq"
echo 'root:x:0:0::/:/sbin/nologin' > "$work/layer/etc/passwd"
ln -sf hello "$work/layer/app/link"
for format in gnu posix ustar; do
    tar --format="$format" --sort=name --mtime=@0 --owner=0 --group=0 -C "$work/layer" -cf "$work/l.tar" .
    seed layer_tar "layer-$format.tar" "$work/l.tar"
    gzip -9n < "$work/l.tar" > "$work/l.tar.gz"
    seed layer_tar "layer-$format.tar.gz" "$work/l.tar.gz"
    zstd -q -19 -c < "$work/l.tar" > "$work/l.tar.zst"
    seed layer_tar "layer-$format.tar.zst" "$work/l.tar.zst"
done

# Registry JSON: a real OCI layout made by umoci (index, manifest, config).
if command -v umoci >/dev/null; then
    umoci init --layout "$work/oci" >/dev/null
    umoci new --image "$work/oci:seed" >/dev/null
    seed registry_json umoci-index.json "$work/oci/index.json"
    for blob in "$work"/oci/blobs/sha256/*; do
        seed registry_json "umoci-$(basename "$blob" | cut -c1-12).json" "$blob"
    done
fi

# Keys: cosign's own encrypted key pair (password "fuzz", as the target
# tries), and openssl's PKCS#8, SEC1, other curves and RSA.
if [[ ! -e "$corpus/cosign_keys/cosign.key" ]]; then
    cosign="${COSIGN:-$(scripts/install-cosign.sh)}"
    (cd "$work" && COSIGN_PASSWORD=fuzz "$cosign" generate-key-pair >/dev/null 2>&1)
    seed cosign_keys cosign.key "$work/cosign.key"
    seed cosign_keys cosign.pub "$work/cosign.pub"
fi
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/p256.pem" 2>/dev/null
openssl ec -in "$work/p256.pem" -out "$work/p256-sec1.pem" 2>/dev/null
openssl pkey -in "$work/p256.pem" -pubout -out "$work/p256.pub" 2>/dev/null
openssl pkey -in "$work/p256.pem" -pubout -outform DER -out "$work/p256.pub.der" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$work/p384.pem" 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out "$work/rsa.pem" 2>/dev/null
for f in p256.pem p256-sec1.pem p256.pub p256.pub.der p384.pem rsa.pem; do seed cosign_keys "openssl-$f" "$work/$f"; done

# OSV: the Go vulnerability database entries in golang.org/x/vuln's test data.
vuln=$(GOFLAGS=-mod=mod go mod download -json golang.org/x/vuln@v1.1.4 | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
for f in "$vuln"/cmd/govulncheck/testdata/common/vulndb-v1/ID/*.json; do
    seed osv "$(basename "$f")" "$f"
done

# Kubernetes YAML: Argo Rollouts' examples (Rollouts, analysis templates,
# experiments, multi-document files with comments), from its Go module.
rollouts=$(GOFLAGS=-mod=mod go mod download -json github.com/argoproj/argo-rollouts@v1.7.2 | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
while IFS= read -r f; do
    seed k8s_yaml "argo-$(echo "${f#"$rollouts"/examples/}" | tr / -)" "$f"
done < <(find "$rollouts/examples" -name '*.yaml' | sort)

for dir in "$corpus"/*/; do say "$(basename "$dir"): $(ls "$dir" | wc -l) files"; done
