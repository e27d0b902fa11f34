//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  the build failed (compile error, a result that breaks a promise such as static linking)
  2  invalid input: arguments, slipway.toml, a platform/libc combination that cannot work
  3  the machine: a missing toolchain, an unwritable output directory, an I/O error";

#[derive(Debug, Parser)]
#[command(
    name = "slipway",
    version,
    about = "Go module to small, reproducible, multi-arch binaries and images for embedded Linux",
    long_about = "slipway cross-compiles a Go module for embedded Linux targets (arm64, armv5-7, mips \
softfloat, riscv64, ...) in one validated, reproducible step: it checks every platform/libc/C-compiler \
combination before anything runs, drives `go build` with zig as the cgo cross compiler, and checks \
what comes out.",
    after_help = EXIT_CODES
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// When to use colour on stderr.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    /// slipway's cache (zig wrappers, zig's cache, build staging).
    /// Default: $SLIPWAY_CACHE_DIR, $XDG_CACHE_HOME/slipway or ~/.cache/slipway.
    #[arg(long, global = true, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,

    /// A remote build cache shared by runners: http(s)://host[:port][/path] (the Bazel
    /// remote-cache HTTP protocol: bazel-remote, nginx with WebDAV PUT) or
    /// s3://bucket[/prefix] (credentials from AWS_* or ~/.aws). "none" switches off one set
    /// in a file. Overrides [cache] remote in slipway.toml, which overrides
    /// ~/.config/slipway/config.toml. See docs/cache.md.
    #[arg(
        long,
        global = true,
        value_name = "URL",
        env = "SLIPWAY_CACHE_REMOTE",
        hide_env_values = true
    )]
    pub cache_remote: Option<String>,

    /// read: only download from the remote cache (untrusted pull requests); readwrite
    /// (default): also upload what was built.
    #[arg(long, global = true, value_enum, env = "SLIPWAY_CACHE_REMOTE_MODE")]
    pub cache_remote_mode: Option<CacheRemoteMode>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CacheRemoteMode {
    Read,
    Readwrite,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)]
// parsed once; boxing would only add noise
// Each subcommand's arguments are built only when it runs (or its help is
// shown): building all of them took about 0.9 ms of every command's start.
// Deferred, a flattened struct's doc comment would replace the subcommand's
// own `about`, so theirs are plain comments.
#[command(defer = true)]
pub enum Command {
    /// Cross-compile a Go main package for several platforms.
    #[command(
        long_about = "Cross-compile one Go main package for every platform listed, in parallel.\n\n\
Each binary lands in OUT/<os>_<arch>[_<variant>]/<name>, with OUT/SHA256SUMS beside them. \
Builds are reproducible by default (-trimpath, a hermetic environment, SOURCE_DATE_EPOCH from \
the last commit, no VCS stamping) and checked afterwards: `none` and `musl` results must be static.\n\n\
Settings can also come from [build] in the module's slipway.toml; flags override it.",
        after_help = "Examples:
  # pure Go, four targets
  slipway build --platform linux/amd64,linux/arm64,linux/arm/v7,linux/riscv64

  # cgo, static against musl, for a soft-float MIPS router
  slipway build ./svc --platform linux/mipsle/softfloat --libc musl

  # cgo against the device's glibc 2.28, built from another package
  slipway build --platform linux/arm64 --libc glibc:2.28 --package ./cmd/gateway

  # show the exact go build commands and environment, build nothing
  slipway build --platform linux/arm64 --libc musl --dry-run

Platforms are os/arch[/variant]; variants use Go's spelling (GOARM=7 -> linux/arm/v7,
GOMIPS=softfloat -> linux/mipsle/softfloat) and Go's comma options join with '+'
(linux/arm64/v8.2+lse). `slipway targets` lists them all."
    )]
    Build(BuildArgs),

    /// Build a multi-platform OCI image: no daemon, no base image, reproducible.
    #[command(
        long_about = "Plan, build and assemble a multi-platform OCI image in one go.\n\n\
Each platform's image has up to four layers: base files shared by every platform (passwd, group, \
nsswitch.conf, /tmp, an optional CA bundle and zoneinfo), slipway's PID-1 init at \
/sbin/slipway-init (which reaps zombies and forwards signals; `init = false` in [image] leaves it \
out), optional data files from the module, and the app at /app/<name>. Layers are deterministic (sorted entries, fixed owners, modes and times from \
SOURCE_DATE_EPOCH) and compressed once per content. The image runs as 65532:65532.\n\n\
Every file bound for a layer is scanned for secrets (private keys, AWS keys, JWTs, password \
assignments, high-entropy tokens); a finding stops the build with nothing written unless \
--allow-secret or allow_secrets in [image] lets it through (docs/scan.md).\n\n\
Settings can also come from [build] and [image] in slipway.toml; flags override it.",
        after_help = "Examples:
  # a 3-platform OCI layout in dist/image
  slipway image --platform linux/amd64,linux/arm64,linux/arm/v7

  # a tar for `docker load`
  slipway image --platform linux/amd64 --format docker-archive --tag hello:dev --out hello.tar

  # inspect the result with skopeo
  skopeo inspect --raw oci:dist/image:latest"
    )]
    Image(ImageArgs),

    /// Build the module's image and push it to a registry.
    #[command(
        override_usage = "slipway push [OPTIONS] [DIR] REF",
        long_about = "Plan, build and assemble the image exactly as `slipway image` does, then push \
every platform to the registry: blobs in parallel (skipping those the registry has), then the \
platform manifests, and the tag last, so a failed push leaves the tag where it was.\n\n\
REF is host[:port]/repository[:tag]. HTTPS is used unless the registry is on this machine \
(127.0.0.0/8, ::1, localhost) or --insecure is given. Credentials come from --username with \
--password-stdin, else from ~/.docker/config.json (auths, credHelpers, credsStore).",
        after_help = "Examples:
  # push three platforms to a registry on this machine
  slipway push 127.0.0.1:5000/team/hello:v1 --platform linux/amd64,linux/arm64,linux/arm/v7

  # tag from `git describe`, and never move a tag that exists
  slipway push registry.example.com/team/hello --tag auto --immutable

  # CI: credentials on stdin, machine-readable result
  echo \"$TOKEN\" | slipway push registry.example.com/team/hello:v1 --username ci --password-stdin --json"
    )]
    Push(PushArgs),

    /// Copy an image with all its platforms and signatures between registries,
    /// OCI layouts and archives (the air-gap path).
    #[command(
        long_about = "Copy an image, every platform of it, and what refers to it, from SRC to DST: \
every OCI 1.1 referrer of the index and of each platform, recursively (Sigstore bundles, SBOMs, \
signatures of attestations), and cosign's legacy sha256-<digest>.sig/.att/.sbom tags. What the \
destination already has is kept (merged, never replaced). Blobs move verbatim and manifests as \
raw bytes, so digests never change. With --verify-key nothing is written unless the signature \
verifies and no signature, attestation or blob was altered.\n\n\
SRC and DST are each one of:\n  \
host[:port]/repo[:tag|@sha256:…]   a registry\n  \
oci:DIR[:tag]                       an OCI layout directory\n  \
oci-archive:FILE[:tag]              the same as one tar file\n  \
docker-archive:FILE                 a tar for `docker load` (DST only)",
        after_help = "Examples:
  # connected side: registry to a file that can be carried across
  slipway copy registry.example.com/team/hello:v1 oci-archive:hello-v1.tar

  # isolated side: the file into the local registry, same digest, through the gate
  slipway copy oci-archive:hello-v1.tar registry.plant.local/team/hello:v1 --verify-key release.pub

  # only the Sigstore bundles, not SBOMs or other artifacts
  slipway copy SRC DST --referrers application/vnd.dev.sigstore.bundle.v0.3+json

  # ... only if a Notary signature verifies with the plant's trust policy
  slipway copy oci-archive:hello-v1.tar registry.plant.local/team/hello:v1 \\
    --trust-policy trustpolicy.json --trust-store truststore"
    )]
    Copy(CopyArgs),

    /// Write an SBOM (SPDX 2.3 or CycloneDX 1.6 JSON) of a Go binary, a build
    /// output or an image, C parts of cgo builds included.
    #[command(
        long_about = "Write a software bill of materials for a Go binary, for every Go binary under a \
directory (a `slipway build` output), or for one platform of an image (oci:DIR, oci-archive:FILE \
or a registry reference; the binaries in its layers and slipway's init): each binary, its main module, every dependency module (purl \
pkg:golang/...), the Go standard library (stdlib), and for cgo builds the C library (musl, or \
glibc with its floor) and the compiler runtime.\n\n\
The document is deterministic: its namespace / serial number derive from the binaries' digests \
and its time from SOURCE_DATE_EPOCH (1970 when unset). The musl version of a cgo build is not \
recorded in the binary: it is taken from the zig slipway uses (--zig) when that zig's clang \
matches the binary's.",
        after_help = "Examples:
  # SPDX for every binary slipway build wrote
  slipway sbom dist --output dist/sbom.spdx.json

  # CycloneDX for one binary, on stdout
  slipway sbom dist/linux_arm64/hello --format cyclonedx-json

  # the arm64 platform of a pushed image
  slipway sbom registry.example.com/team/hello:v1 --platform linux/arm64"
    )]
    Sbom(SbomArgs),

    /// Check Go binaries or images against a Go vulnerability database (OSV
    /// entries, offline): every module, the standard library by Go version.
    #[command(
        long_about = "Match the modules and the standard library recorded in Go binaries' build info \
against an offline Go vulnerability database (the vuln.go.dev layout: a directory or its zip). PATH \
is a binary or a directory (every Go ELF under it, e.g. a `slipway build` output); REF an image \
(oci:DIR, oci-archive:FILE or a registry reference), every platform unless --platform. Matching is by \
module version, not by symbol reachability.",
        after_help = "Examples:
  # download the database once, scan offline
  curl -o vulndb.zip https://vuln.go.dev/vulndb.zip
  slipway scan dist/ --db vulndb.zip

  # report only, never fail
  slipway scan dist/linux_arm64/server --db vulndb/ --fail-on none --json

Exit codes: 0 nothing found (or --fail-on none), 1 vulnerabilities found,
2 bad input (no Go binary, unreadable or malformed database)."
    )]
    Scan(ScanArgs),

    /// Where the bytes go: a binary, a build output or an image by Go package,
    /// C part, runtime metadata, section and layer; or the diff of two.
    #[command(
        override_usage = "slipway size [OPTIONS] BINARY|DIR|IMAGE\n       slipway size [OPTIONS] --diff OLD NEW",
        long_about = "Account for every byte of a Go binary: by Go package (from the symbol table, the \
split debug file `slipway build` writes beside a stripped binary, or else Go's function table), the C \
parts of a cgo build (libc, compiler-rt, the allocator, cgo objects), Go's runtime metadata (function \
table, type data, build info) and by section. The rows add up to the file size; what no rule explains \
is shown as `unattributed`. A DIR is a `slipway build` output (every binary in it); an IMAGE \
(oci:DIR[:tag], oci-archive:FILE[:tag] or host/repository[:tag|@digest]) is reported per platform by \
layer, with the compressed sizes its layer descriptors record, and by binary. docs/size.md lists the \
attribution rules.",
        after_help = "Examples:
  # one binary (finds dist/linux_arm64/server.debug through its debuglink)
  slipway size dist/linux_arm64/server

  # every binary of a build, machine-readable
  slipway size dist/ --json

  # one platform of an image, by layer
  slipway size oci:dist/image --platform linux/arm64

  # what grew between two builds or two images, largest change first
  slipway size --diff old/linux_arm64/server dist/linux_arm64/server
  slipway size --diff registry.example.com/team/app:v1 registry.example.com/team/app:v2

Exit codes: 0 report printed, 2 bad input (not an ELF file, no such image or platform),
3 an unreadable file."
    )]
    Size(SizeArgs),

    /// Generate a cosign-compatible ECDSA P-256 key pair (PATH.key, PATH.pub).
    #[command(
        long_about = "Generate an ECDSA P-256 key pair that cosign reads: PATH.key is cosign's \
ENCRYPTED SIGSTORE PRIVATE KEY (scrypt N=65536, NaCl secretbox, mode 0600), PATH.pub a PKIX \
PUBLIC KEY PEM. The password comes from COSIGN_PASSWORD (which may be empty), or is asked \
twice on a terminal.",
        after_help = "Examples:
  # cosign.key and cosign.pub in the current directory, asking for a password
  slipway keygen

  # in CI
  COSIGN_PASSWORD=\"$SECRET\" slipway keygen --prefix keys/release"
    )]
    Keygen(KeygenArgs),

    /// Sign an image with a cosign key (a Sigstore bundle referrer, as cosign v3 writes).
    #[command(
        long_about = "Sign the image REF names (its index digest) with a cosign-compatible key, in the \
same registry repository, OCI layout or archive. By default the signature is a Sigstore bundle \
v0.3 (an in-toto statement about the digest in a DSSE envelope, key-based, no transparency log) \
stored as an OCI 1.1 referrer of the image, as cosign v3 does; on a registry without the \
referrers API it is listed under the sha256-<digest> fallback tag. A multi-platform image's \
platform manifests are signed too (--recursive). --format legacy writes cosign v2's \
sha256-<digest>.sig tag instead. Works offline on layouts and archives, and signatures travel \
with `slipway copy`. Signing again with the same key changes nothing. The key's password \
comes from COSIGN_PASSWORD or a prompt.",
        after_help = "Examples:
  slipway sign 127.0.0.1:5000/team/hello:v1 --key cosign.key
  slipway sign oci-archive:hello-v1.tar --key cosign.key --identity registry.plant.local/team/hello
  slipway sign 127.0.0.1:5000/team/hello:v1 --key cosign.key --format legacy --recursive=false

  # check with cosign (v3 reads both formats, v2 the legacy one)
  cosign verify --key cosign.pub --insecure-ignore-tlog=true 127.0.0.1:5000/team/hello@sha256:…

  # a Notary Project signature (notation's format) with an X.509 key and its chain
  slipway sign --notation --key signer.key --cert signer-chain.pem 127.0.0.1:5000/team/hello:v1"
    )]
    Sign(SignArgs),

    /// Verify an image's signatures (and attestations) with a public key.
    #[command(
        long_about = "Check that REF carries a signature by the key that verifies and whose payload \
names REF's digest, in either format: a Sigstore bundle referrer (cosign v3's default, found \
through the referrers API or the sha256-<digest> fallback tag) or a legacy sha256-<digest>.sig \
tag; the output says which it found. With --attestations, also that its in-toto attestations \
are signed by the key and are about the image. Exit 1 otherwise, saying which check failed: no \
signature, a tampered payload, another image's digest, a corrupted signature, or another key.",
        after_help = "Examples:
  slipway verify 127.0.0.1:5000/team/hello:v1 --key cosign.pub
  slipway verify oci-archive:hello-v1.tar --key cosign.pub --attestations --json

  # Notary Project signatures, judged by notation's trust policy and trust store
  slipway verify --trust-policy trustpolicy.json --trust-store truststore 127.0.0.1:5000/team/hello:v1"
    )]
    Verify(VerifyArgs),

    /// Attach signed in-toto attestations to an image: SBOMs of its platforms,
    /// or a predicate from a file.
    #[command(
        long_about = "Sign in-toto statements about REF in DSSE envelopes and store them the cosign \
way: Sigstore bundle referrers by default (of the index, and of each platform for its own SBOM), \
or the sha256-<digest>.att tag with --store-as legacy. By default: an SBOM of every platform \
(SPDX, or --format cyclonedx-json), each about the index and the platform's manifest. With \
--predicate FILE --type URI: that predicate instead (e.g. provenance from another system).",
        after_help = "Examples:
  slipway attest 127.0.0.1:5000/team/hello:v1 --key cosign.key
  slipway attest oci:dist/image --key cosign.key --predicate scan.json --type https://example.com/scan/v1"
    )]
    Attest(AttestArgs),

    /// Pin the images in Kubernetes manifests to digests (name@sha256:…).
    #[command(
        long_about = "Rewrite every container image of the workloads in Kubernetes YAML \
(Pods, Deployments, StatefulSets, DaemonSets, ReplicaSets, ReplicationControllers, Jobs, CronJobs, \
PodTemplates, List items, and Argo Rollouts, AnalysisTemplates and Experiments) to name@sha256:…, \
looked up in its registry, so what runs is exactly what was tested and signed, whatever the tag \
does later. containers, initContainers and ephemeralContainers are all covered.\n\n\
Only the image values change: comments, key order, quoting, indentation and `---` separators stay \
byte for byte as written. A reference already pinned (name@sha256:… or name:tag@sha256:…) is left \
as it is after checking the registry has that digest. Other kinds are left untouched.\n\n\
With --channel NAME, a reference written without a tag (registry.example.com/team/app) resolves \
through the channel's tag (fleet-eu/stable is held by the tag fleet-eu--stable) instead of \
`latest`; references with a tag or digest resolve as written.\n\n\
Everything is resolved before anything is written: bad YAML (reported as FILE:LINE:COLUMN), an \
unknown tag or an unreachable registry writes nothing. --in-place replaces each changed file \
atomically. See docs/resolve.md.",
        after_help = "Examples:
  # print the pinned manifests, for kubectl apply -f -
  slipway resolve -f deploy/ | kubectl apply -f -

  # pin the files where they are
  slipway resolve -f deploy/app.yaml -f deploy/jobs.yaml --in-place

  # an Argo Rollout that follows the canary channel: untagged images take the channel's digest
  slipway resolve -f rollout.yaml --channel canary -o rollout.pinned.yaml

  # what changed, for a pipeline
  slipway resolve -R -f k8s/ --in-place --json

Exit codes: 0 resolved; 1 the registry failed; 2 bad YAML, a bad reference, an unknown tag or
channel, bad arguments; 3 a file could not be read or written."
    )]
    Resolve(ResolveArgs),
    /// Move a release channel to an image, once it passes the channel's policy.
    #[command(
        long_about = "Move the channel NAME (a tag in REF's repository that slipway only ever moves \
to a digest; `fleet-eu/stable` is stored as the tag `fleet-eu--stable`) to the image REF \
resolves to, after checking it against [channels.\"NAME\"] in slipway.toml: cosign keys and/or a \
Notary trust policy, required attestations, a clean vulnerability scan, and `after` (it has \
already been promoted to another channel). Refused if the digest was marked bad. The move is \
recorded as an entry signed with --key in the channel's audit log in the registry. Promoting \
what the channel already holds changes nothing. Exit 1 when a rule fails (the channel stays \
where it was), 4 when another promotion of the channel won a race.",
        after_help = "Examples:
  slipway promote 127.0.0.1:5000/team/hello:v2 --channel canary --key ops.key --reason \"release 2\"
  slipway promote 127.0.0.1:5000/team/hello@sha256:… --channel fleet-eu/stable --key ops.key --operator alice"
    )]
    Promote(PromoteArgs),

    /// Move a release channel back to an earlier image, verified again.
    #[command(
        long_about = "Move the channel back to the newest digest it held before that is not marked \
bad, or to --to DIGEST (which must have been in the channel). The target's signatures and \
attestations are checked against the channel's policy again first (not the scan: a rollback \
must not wait on a vulnerability published since). Recorded in the audit log like a promotion.",
        after_help = "Examples:
  slipway rollback 127.0.0.1:5000/team/hello --channel stable --key ops.key --reason \"crash loop\"
  slipway rollback --channel stable --to sha256:… --key ops.key   # repository from slipway.toml"
    )]
    Rollback(RollbackArgs),

    /// Mark a digest bad: it is never promoted or rolled back to again.
    #[command(
        long_about = "Record in the repository's audit log (tag _slipway-audit) that DIGEST is bad. \
promote and rollback refuse it from then on, naming the entry that marked it.",
        after_help = "Examples:
  slipway mark-bad 127.0.0.1:5000/team/hello@sha256:… --reason \"CVE-2026-1234\" --key ops.key"
    )]
    MarkBad(MarkBadArgs),

    /// Print and verify a channel's audit log, from a registry or an archive.
    #[command(
        long_about = "Walk the channel's audit log from its head tag (_slipway-audit--<channel tag>) to \
the first entry, checking each entry's signature and its link to the one before: a deleted, \
reordered or edited entry, or one signed by a key not given with --key (or the policy's \
`operators`), fails with exit 1 and names the entry. Works offline on an oci: layout or \
oci-archive: that `slipway copy` made (copies carry the logs of the image's channels). Without \
--channel, the repository's mark-bad log.",
        after_help = "Examples:
  slipway history 127.0.0.1:5000/team/hello --channel stable --key ops.pub
  slipway history oci-archive:hello.tar --channel stable --key ops.pub --json"
    )]
    History(HistoryArgs),

    /// List platforms, variants and libc modes, with their cgo support.
    Targets(TargetsArgs),

    /// Check which toolchains this machine has and which targets it can build.
    Doctor(DoctorArgs),

    /// Build zig's C runtimes (libc, compiler-rt) for a cgo matrix ahead of
    /// time, in parallel: for runner images, or before a first cgo build.
    #[command(
        long_about = "The first cgo build for a target makes zig compile that target's C library \
and compiler-rt, a minute or more per target on 2 cores, once per machine and zig version. \
`slipway warm` does it now, for every platform given, so later builds start warm. Targets \
already built are skipped. Pure-Go builds (--libc none) need none of this. With a remote \
cache (--cache-remote, [cache] remote in ~/.config/slipway/config.toml) each runtime is \
restored from it when another runner built it, else built here and uploaded.",
        after_help = "Examples:
  slipway warm --platform linux/amd64,linux/arm64,linux/arm/v7
  slipway warm --platform linux/arm64 --libc glibc:2.28 --json
  slipway --cache-remote http://cache.internal:8080 warm --platform linux/amd64,linux/arm64"
    )]
    Warm(WarmArgs),

    /// Show what an ELF binary is: architecture, linking, glibc floor,
    /// hardening, sections and Go build info.
    Inspect(InspectArgs),

    /// Prove that an image's programs can start: the runtime closure check
    /// (interpreter, libraries, symbol versions) on the merged layers.
    #[command(
        name = "check-image",
        long_about = "Run the runtime closure check on an existing image, as `slipway image` does \
before writing one: with all layers merged and whiteouts applied, each program's PT_INTERP must \
exist (symlinks followed inside the image), every DT_NEEDED library must resolve the way glibc's \
loader searches (DT_RPATH, DT_RUNPATH with $ORIGIN, ld.so.conf when the image has ld.so.cache, \
/lib/<triplet>, /usr/lib/<triplet>, /lib, /usr/lib), and every symbol version needed (GLIBC_2.34, \
...) must be defined by the library that provides it.\n\n\
The programs checked are the entrypoint (and what slipway's init starts), or those named with \
--binary. Exit code 1 when any cannot start.",
        after_help = "Examples:
  # every platform of a layout
  slipway check-image oci:dist/image

  # one platform of a registry image, a chosen binary, machine-readable
  slipway check-image 127.0.0.1:5000/team/gw:1.4 --platform linux/arm64 --binary /app/gwctl --json"
    )]
    CheckImage(CheckImageArgs),

    /// Strip an ELF binary of any architecture, optionally splitting its
    /// debug info into a separate file linked by .gnu_debuglink.
    #[command(after_help = "Examples:
  # ship a small binary, keep the debug info beside it for gdb
  slipway strip server -o dist/server --debug-out dist/server.debug

  # keep symbols (for profilers and backtraces), drop only DWARF
  slipway strip server -o server.small --mode debug")]
    Strip(StripArgs),

    /// A Kubernetes admission webhook that admits only verified images.
    #[command(subcommand)]
    Admission(crate::commands::admission::AdmissionCommand),

    /// Serve Go's build cache to `go` over GOCACHEPROG: a local tier and the remote behind it.
    #[command(
        long_about = "Speak Go's GOCACHEPROG protocol (Go 1.24+) on stdin and stdout: `go` starts \
this command and asks it for build results instead of reading $GOCACHE. Results live in slipway's \
local cache (--cache-dir) and, when a remote is configured (--cache-remote, [cache] remote), are \
fetched from it (verified by digest) and uploaded to it (unless --cache-remote-mode read).\n\n\
slipway build, image and push set GOCACHEPROG themselves when a remote is configured; this is \
for your own `go build` and `go test`.",
        after_help = "Examples:
  # go test through the team's cache (a Bazel HTTP cache, e.g. bazel-remote or nginx)
  export SLIPWAY_CACHE_REMOTE=http://cache.internal:8080
  GOCACHEPROG=\"slipway cache-prog\" go test ./...

  # a pull-request runner: read, never write
  SLIPWAY_CACHE_REMOTE_MODE=read GOCACHEPROG=\"slipway cache-prog\" go build ./...

Remote faults are misses: the build goes on locally, with one warning."
    )]
    CacheProg,

    /// Show the size of the local cache, or trim it.
    #[command(subcommand)]
    Cache(CacheCommand),
}

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Files and bytes of the local cache: blobs, action entries, build stages, the rest.
    #[command(after_help = "Examples:
  slipway cache stats
  slipway cache stats --json")]
    Stats(CacheStatsArgs),

    /// Remove the least recently used blobs, entries and build stages until the cache fits.
    #[command(
        long_about = "Remove the least recently used blobs, action entries and build stages \
(stage/<key>/, where go build writes) until they total at most --max-size. Nothing used in the \
last hour is removed, so a build running meanwhile keeps what it uses; zig's own cache and the \
compiler wrappers are counted but never removed.",
        after_help = "Examples:
  slipway cache prune --max-size 5G
  slipway cache prune --max-size 500M --json"
    )]
    Prune(CachePruneArgs),
}

#[derive(Debug, Args)]
pub struct CacheStatsArgs {
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CachePruneArgs {
    /// The size to trim to: bytes, or a number with K, M, G, T or KiB, MiB,
    /// GiB, TiB (powers of 1024), or kB, MB, GB, TB (powers of 1000).
    #[arg(long, value_name = "SIZE")]
    pub max_size: String,
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SbomArgs {
    /// A Go binary, a directory searched for Go binaries, or an image:
    /// oci:DIR[:tag], oci-archive:FILE[:tag] or host/repository[:tag|@digest].
    #[arg(value_name = "PATH|REF")]
    pub target: String,

    /// For an image: the platform to describe. Default: this machine's, or the only one.
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    pub platform: Option<String>,

    #[command(flatten)]
    pub registry: RegistryArgs,

    /// spdx-json (SPDX 2.3) or cyclonedx-json (CycloneDX 1.6).
    #[arg(long, value_name = "FORMAT", default_value = "spdx-json")]
    pub format: String,

    /// Write the document here (whole, then renamed) instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// The zig that built cgo binaries, for the musl and compiler_rt versions.
    /// Default: `zig` on PATH, else the ziglang Python package.
    #[arg(long, value_name = "PATH")]
    pub zig: Option<PathBuf>,

    /// The glibc a glibc cgo build was linked against (as in --libc glibc:2.28);
    /// default: the floor its symbol versions show.
    #[arg(long, value_name = "X.Y")]
    pub glibc: Option<String>,
}

#[derive(Debug, Args)]
pub struct SizeArgs {
    /// A binary, a `slipway build` output directory, or an image:
    /// oci:DIR[:tag], oci-archive:FILE[:tag] or host/repository[:tag|@digest].
    #[arg(value_name = "BINARY|DIR|IMAGE", required_unless_present = "diff")]
    pub target: Option<String>,

    /// Compare two binaries, build outputs or images: every row that
    /// changed, largest change first.
    #[arg(long, num_args = 2, value_names = ["OLD", "NEW"], conflicts_with = "target")]
    pub diff: Option<Vec<String>>,

    /// For an image: only this platform. Default: every platform.
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    pub platform: Option<String>,

    /// Rows shown per table (the rest are summed into one line); --json lists all.
    #[arg(long, value_name = "N", default_value_t = 15)]
    pub top: usize,

    #[command(flatten)]
    pub registry: RegistryArgs,

    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// A Go binary, a directory searched for Go binaries, or an image:
    /// oci:DIR[:tag], oci-archive:FILE[:tag] or host/repository[:tag|@digest].
    #[arg(value_name = "PATH|REF")]
    pub target: String,

    /// For an image: scan only this platform. Default: every platform.
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    pub platform: Option<String>,

    #[command(flatten)]
    pub registry: RegistryArgs,

    /// The vulnerability database: a directory or a zip holding
    /// index/modules.json and ID/<id>.json.
    #[arg(long, value_name = "DIR|ZIP")]
    pub db: PathBuf,

    /// any: exit 1 when anything is found; none: report only.
    #[arg(long, value_name = "any|none", default_value = "any")]
    pub fail_on: String,

    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Write PATH.key and PATH.pub.
    #[arg(long, value_name = "PATH", default_value = "cosign")]
    pub prefix: PathBuf,

    /// Replace an existing key pair.
    #[arg(long)]
    pub force: bool,

    /// Print the file names and the key fingerprint as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The ELF file.
    pub file: PathBuf,

    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CheckImageArgs {
    /// oci:DIR[:tag], oci-archive:FILE[:tag] or host/repository[:tag|@digest].
    #[arg(value_name = "REF")]
    pub image: String,

    /// Check only this platform (OS/ARCH[/VARIANT]). Default: every platform.
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    pub platform: Option<String>,

    /// A program in the image to check (repeatable). Default: the entrypoint.
    #[arg(long = "binary", value_name = "PATH")]
    pub binaries: Vec<String>,

    /// Check every ELF program in the image (shared libraries are checked
    /// as what the programs load), not only what it starts.
    #[arg(long)]
    pub all: bool,

    #[command(flatten)]
    pub registry: RegistryArgs,

    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct StripArgs {
    /// The ELF file to strip (left unchanged).
    pub file: PathBuf,

    /// Where to write the stripped binary (written whole, then renamed).
    #[arg(short = 'o', long = "output", value_name = "OUT")]
    pub output: PathBuf,

    /// Also write the debug info here; OUT gets a .gnu_debuglink to it.
    #[arg(long, value_name = "FILE")]
    pub debug_out: Option<PathBuf>,

    /// all: DWARF, symbol table and .comment; debug: DWARF only.
    #[arg(long, value_name = "debug|all", default_value = "all")]
    pub mode: String,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    #[command(flatten)]
    pub settings: BuildSettings,

    /// Output directory. Default: dist/ in the module.
    #[arg(short, long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Print the plan (environment and go build commands) and build nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Print the result as JSON on stdout (progress stays on stderr).
    #[arg(long)]
    pub json: bool,
}

// What to build and how: shared by `build` and `image`.
#[derive(Debug, Args)]
pub struct BuildSettings {
    /// The Go module's directory (holding go.mod and, optionally, slipway.toml).
    #[arg(default_value = ".")]
    pub dir: PathBuf,

    /// Platforms to build, comma-separated or repeated: linux/amd64,linux/arm/v7.
    #[arg(short, long = "platform", value_name = "LIST")]
    pub platforms: Vec<String>,

    /// How C is linked: none (CGO_ENABLED=0), musl (cgo, static) or glibc:X.Y
    /// (cgo, dynamic, runs on glibc >= X.Y). Default: none.
    #[arg(long, value_name = "MODE")]
    pub libc: Option<String>,

    /// The C cross compiler for cgo: zig (every target) or gnu (Debian's
    /// <triple>-gcc, glibc targets only). Default: zig.
    #[arg(long, value_name = "zig|gnu")]
    pub cc: Option<String>,

    /// The main package to build, relative to the module. Default: `.`.
    #[arg(long, value_name = "PKG")]
    pub package: Option<String>,

    /// The binary's file name. Default: the package's last path element.
    #[arg(long)]
    pub name: Option<String>,

    /// Extra build tags, comma-separated (netgo,osusergo are added for static builds).
    #[arg(long, value_name = "TAGS")]
    pub tags: Option<String>,

    /// Extra linker flags, e.g. "-s -X main.version=1.2.3".
    #[arg(long, value_name = "FLAGS", allow_hyphen_values = true)]
    pub ldflags: Option<String>,

    /// Declare a variable for go build (GOEXPERIMENT=..., CGO_CFLAGS=...);
    /// undeclared inherited Go and cgo variables are dropped.
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,

    /// Stamp VCS information into the binaries (off by default: an untracked
    /// file in the checkout changes the binary).
    #[arg(long)]
    pub buildvcs: bool,

    /// How many targets to build at once. Default: the number of CPUs.
    #[arg(short, long)]
    pub jobs: Option<usize>,

    /// The go executable. Default: `go` on PATH.
    #[arg(long, value_name = "PATH")]
    pub go: Option<PathBuf>,

    /// The zig executable. Default: `zig` on PATH, else the ziglang Python package.
    #[arg(long, value_name = "PATH")]
    pub zig: Option<PathBuf>,

    /// What happens to debug info: split (a stripped binary plus <name>.debug
    /// beside it, linked for gdb), strip (stripped, debug info dropped) or
    /// none (as linked). Default: split. Images always get the stripped binary
    /// unless this is none.
    #[arg(long, value_name = "split|strip|none")]
    pub strip: Option<String>,

    /// The most bytes one shipped binary may take, e.g. 8MiB (overrides
    /// budget in [build]; `none` turns it off). Over it, nothing is written
    /// or pushed and the largest packages are listed (docs/size.md).
    #[arg(long, value_name = "SIZE|none")]
    pub budget: Option<String>,
    /// The malloc of the binary's C code (cgo, C libraries, the C library's
    /// own callers): libc (musl's or glibc's own) or mimalloc (compiled per
    /// target with zig and linked in; much faster than musl's malloc for
    /// threaded C code). Go's heap is not affected. Needs a C library
    /// (--libc musl or glibc) and --cc zig. Default: libc.
    /// See docs/allocator.md.
    #[arg(long, value_name = "libc|mimalloc")]
    pub allocator: Option<String>,
}

#[derive(Debug, Args)]
pub struct ImageArgs {
    #[command(flatten)]
    pub settings: BuildSettings,

    /// Where to write the image. Default: dist/image (a directory) or
    /// dist/image.tar (archives) in the module.
    #[arg(short, long, value_name = "PATH")]
    pub out: Option<PathBuf>,

    /// oci (an OCI layout directory), oci-archive (the same as one tar) or
    /// docker-archive (a tar `docker load` accepts). Default: oci.
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,

    /// The image's name inside the output, NAME[:TAG]. Default: <binary name>:latest.
    #[arg(short, long, value_name = "NAME:TAG")]
    pub tag: Option<String>,

    #[command(flatten)]
    pub secrets: SecretArgs,

    #[command(flatten)]
    pub content: ContentArgs,

    #[command(flatten)]
    pub supply_chain: SupplyChainArgs,

    /// Print the result as JSON on stdout (progress stays on stderr).
    #[arg(long)]
    pub json: bool,
}

// The image's secret gate: shared by `image` and `push`.
#[derive(Debug, Args)]
pub struct SecretArgs {
    /// Let a secret through the image's secret gate: PATH (in the image,
    /// every kind) or PATH:KIND (aws-access-key-id, aws-secret-key,
    /// private-key, jwt, password-assignment, high-entropy); a PATH ending
    /// in / covers a directory. Repeatable; adds to allow_secrets in [image].
    #[arg(long = "allow-secret", value_name = "PATH[:KIND]")]
    pub allow_secrets: Vec<String>,
}

// What goes into the image besides the app: shared by `image` and `push`.
#[derive(Debug, Args)]
pub struct ContentArgs {
    /// Make a dynamically linked binary startable: `glibc` copies the loader
    /// and every library it needs from a sysroot into the image (overrides
    /// runtime in [image]). Every image is checked either way: a binary that
    /// could not start in it is refused before anything is written.
    #[arg(long, value_name = "glibc")]
    pub runtime: Option<String>,

    /// The glibc sysroot `--runtime glibc` copies from: a target root file
    /// system (lib/, usr/lib/<triplet>/). Default: Debian's cross glibc,
    /// /usr/<triplet> (apt-get install libc6-<arch>-cross).
    #[arg(long, value_name = "DIR")]
    pub sysroot: Option<PathBuf>,

    /// Build on this base image instead of slipway's minimal base files
    /// (overrides base in [image]): host/repository[:tag|@digest],
    /// oci:DIR[:tag] or oci-archive:FILE[:tag]. Each platform takes the base's
    /// matching manifest; the base is recorded by name and digest.
    #[arg(long, value_name = "REF")]
    pub base: Option<String>,

    /// The most compressed bytes one platform's image may take (layers,
    /// config and manifest: what a pull transfers), e.g. 12MiB (overrides
    /// budget in [image]; `none` turns it off). Over it, nothing is written
    /// or pushed and the largest layers and packages are listed.
    #[arg(long, value_name = "SIZE|none")]
    pub image_budget: Option<String>,

    /// How slipway's layers are compressed (overrides compression in
    /// [image]): gzip (level 6) or zstd (level 9), optionally with a level:
    /// gzip:1..9, zstd:1..19. zstd layers are smaller and decompress faster;
    /// containerd >= 1.5 and Docker >= 23 pull them. Default: gzip.
    #[arg(long, value_name = "gzip|zstd[:LEVEL]")]
    pub compression: Option<String>,
}

// Signing, attestations and SBOMs for what `image` and `push` produce.
#[derive(Debug, Args)]
pub struct SupplyChainArgs {
    /// Sign the image with this cosign key and attach signed SLSA provenance
    /// and SBOM attestations (password from COSIGN_PASSWORD or a prompt).
    #[arg(long, value_name = "KEY")]
    pub sign_key: Option<PathBuf>,

    /// How --sign-key's signature and attestations are stored: `bundle`
    /// (Sigstore bundles as OCI 1.1 referrers, of the index and of each
    /// platform) or `legacy` (sha256-<digest>.sig/.att tags of the index).
    #[arg(long, value_name = "bundle|legacy", default_value = "bundle")]
    pub sign_format: SignatureFormat,

    /// Attach an SPDX SBOM to every platform (cosign's sha256-<digest>.sbom form).
    #[arg(long)]
    pub sbom: bool,
}

// How to reach registries: shared by every command that talks to one.
#[derive(Debug, Args)]
pub struct RegistryArgs {
    /// Allow plain HTTP and unverified TLS to registries not on this machine.
    #[arg(long)]
    pub insecure: bool,

    /// Trust this PEM CA certificate (in addition to the system's) for HTTPS.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,

    /// Log in as this user; the password is read from stdin (--password-stdin).
    #[arg(long, requires = "password_stdin")]
    pub username: Option<String>,

    /// Read the password for --username from stdin.
    #[arg(long, requires = "username")]
    pub password_stdin: bool,

    /// Blob transfers in flight at once.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub transfers: usize,

    /// Upload blobs larger than this many MiB in chunks that can resume.
    #[arg(long, value_name = "MIB", default_value_t = 16, hide = true)]
    pub chunk_mib: u64,
}

// Which tag to write.
#[derive(Debug, Args)]
pub struct TagArgs {
    /// The tag to write, overriding the one in the reference; `auto` derives
    /// one from `git describe --tags --always --dirty`.
    #[arg(long, value_name = "TAG|auto")]
    pub tag: Option<String>,

    /// Refuse to move an existing tag to a different image.
    #[arg(long)]
    pub immutable: bool,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    #[command(flatten)]
    pub settings: BuildSettings,

    /// Where to push: host[:port]/repository[:tag].
    #[arg(value_name = "REF")]
    pub reference: Option<String>,

    #[command(flatten)]
    pub tag: TagArgs,

    #[command(flatten)]
    pub secrets: SecretArgs,

    #[command(flatten)]
    pub content: ContentArgs,

    #[command(flatten)]
    pub supply_chain: SupplyChainArgs,

    #[command(flatten)]
    pub registry: RegistryArgs,

    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CopyArgs {
    /// Where the image is.
    #[arg(value_name = "SRC")]
    pub source: String,

    /// Where it goes.
    #[arg(value_name = "DST")]
    pub destination: String,

    #[command(flatten)]
    pub tag: TagArgs,

    /// Copy only the image, not its signatures, attestations and SBOMs
    /// (the same as --referrers none).
    #[arg(long)]
    pub no_attachments: bool,

    /// Which OCI 1.1 referrers to carry, recursively, of the image and of
    /// each platform: `all` (default; the legacy sha256-….sig/.att/.sbom tags
    /// too), `none`, or artifact types (e.g.
    /// application/vnd.dev.sigstore.bundle.v0.3+json), comma-separated or repeated.
    #[arg(
        long,
        value_name = "all|none|TYPE",
        value_delimiter = ',',
        default_value = "all"
    )]
    pub referrers: Vec<String>,

    /// Recompress the image's layers on the way: gzip or zstd, optionally
    /// with a level (gzip:1..9, zstd:1..19; default levels 6 and 19). Layers
    /// already in that algorithm are kept; configs (and so diff_ids) are
    /// unchanged; manifests and the index get new digests. Signatures and
    /// other referrers of the source name its old digests, so none are
    /// carried: sign the converted image again.
    #[arg(long, value_name = "gzip|zstd[:LEVEL]")]
    pub compression: Option<String>,

    /// Before copying, verify the source's signatures with this public key
    /// and refuse to copy unless one verifies (the far side of an air gap).
    #[arg(long, value_name = "PUB")]
    pub verify_key: Option<PathBuf>,

    /// Before copying, require a Notary signature that passes this trust
    /// policy (with --trust-store), and refuse to copy otherwise.
    #[command(flatten)]
    pub notary: NotaryTrustArgs,

    #[command(flatten)]
    pub registry: RegistryArgs,

    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SignArgs {
    /// The image: host/repository[:tag|@digest], oci:DIR[:tag] or oci-archive:FILE[:tag].
    #[arg(value_name = "REF")]
    pub reference: String,

    /// The private key (cosign's encrypted format, or PKCS#8 / SEC1 PEM).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,

    /// The repository the signature names (docker-reference). Default: the
    /// registry repository, or the name recorded in the layout.
    #[arg(long, value_name = "NAME")]
    pub identity: Option<String>,

    #[command(flatten)]
    pub cosign: CosignFormatArgs,

    #[command(flatten)]
    pub registry: RegistryArgs,

    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub notary: NotarySignArgs,
}

// How `sign` makes a Notary Project signature instead of a cosign one.
#[derive(Debug, Args)]
pub struct NotarySignArgs {
    /// Write a Notary Project signature (the format `notation` verifies): a
    /// JWS envelope signed with --key (unencrypted PKCS#8, EC or RSA PEM) under
    /// the X.509 chain --cert, stored as an OCI 1.1 referrer of the image.
    #[arg(long)]
    pub notation: bool,

    /// With --notation: the signing certificate, then its CAs up to the root (PEM).
    #[arg(long, value_name = "FILE", requires = "notation")]
    pub cert: Option<PathBuf>,

    /// With --notation: a "best by" time after which verifiers reject the
    /// signature (24h, 30m, 3h20m, 7d). The signing time is now, or
    /// SOURCE_DATE_EPOCH when set.
    #[arg(long, value_name = "DURATION", requires = "notation")]
    pub expiry: Option<String>,
}

// How `verify` and `copy` judge Notary Project signatures: notation's trust
// policy and trust store, offline.
#[derive(Debug, Args)]
pub struct NotaryTrustArgs {
    /// notation's trust policy document (trustpolicy.json, version 1.0): at
    /// least one Notary signature of the image must pass its statement.
    #[arg(long, value_name = "FILE")]
    pub trust_policy: Option<PathBuf>,

    /// The trust store the policy names (DIR/x509/ca/NAME/*.pem; notation's
    /// configuration directory works too).
    #[arg(long, value_name = "DIR", requires = "trust_policy")]
    pub trust_store: Option<PathBuf>,

    /// The registry scope to choose the statement by (REGISTRY/REPOSITORY).
    /// Default: the registry repository, or the name a layout recorded.
    #[arg(long, value_name = "SCOPE", requires = "trust_policy")]
    pub scope: Option<String>,
}

/// How signatures and attestations are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SignatureFormat {
    /// Sigstore bundle v0.3 in an OCI 1.1 referrer (cosign v3's default).
    Bundle,
    /// cosign's `sha256-<digest>.sig` / `.att` tags (cosign v2's format).
    Legacy,
}

// `slipway sign`'s format options.
#[derive(Debug, Args)]
pub struct CosignFormatArgs {
    /// `bundle` (Sigstore bundle v0.3 as an OCI 1.1 referrer, what cosign v3
    /// writes) or `legacy` (the sha256-<digest>.sig tag cosign v2 writes).
    #[arg(long, value_name = "bundle|legacy", default_value = "bundle")]
    pub format: SignatureFormat,

    /// Sign each platform manifest too, so a device that checks only the
    /// manifest it pulls finds a signature. Default: on for multi-platform images.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub recursive: Option<bool>,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The image: host/repository[:tag|@digest], oci:DIR[:tag] or oci-archive:FILE[:tag].
    #[arg(value_name = "REF")]
    pub reference: String,

    /// The public key (PKIX PEM, as `slipway keygen` and cosign write it).
    /// Not needed with --trust-policy alone.
    #[arg(long, value_name = "FILE", required_unless_present = "trust_policy")]
    pub key: Option<PathBuf>,

    #[command(flatten)]
    pub notary: NotaryTrustArgs,

    /// Also require attestations signed by the key, and list them.
    #[arg(long)]
    pub attestations: bool,

    #[command(flatten)]
    pub registry: RegistryArgs,

    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct AttestArgs {
    /// The image: host/repository[:tag|@digest], oci:DIR[:tag] or oci-archive:FILE[:tag].
    #[arg(value_name = "REF")]
    pub reference: String,

    /// The private key (cosign's encrypted format, or PKCS#8 / SEC1 PEM).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,

    /// A predicate (JSON) to attest instead of the SBOMs; needs --type.
    #[arg(long, value_name = "FILE", requires = "predicate_type")]
    pub predicate: Option<PathBuf>,

    /// The predicate type URI of --predicate.
    #[arg(long = "type", value_name = "URI", requires = "predicate")]
    pub predicate_type: Option<String>,

    /// The SBOM format: spdx-json or cyclonedx-json.
    #[arg(long, value_name = "FORMAT", default_value = "spdx-json")]
    pub format: String,

    /// How the attestations are stored: `bundle` (Sigstore bundles as OCI
    /// 1.1 referrers, cosign v3's default) or `legacy` (the sha256-….att tag).
    #[arg(
        long = "store-as",
        value_name = "bundle|legacy",
        default_value = "bundle"
    )]
    pub store_as: SignatureFormat,

    /// Attest each platform manifest too (its own SBOM). Default: on for
    /// multi-platform images.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub recursive: Option<bool>,

    #[command(flatten)]
    pub registry: RegistryArgs,

    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct TargetsArgs {
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// The go executable. Default: `go` on PATH.
    #[arg(long, value_name = "PATH")]
    pub go: Option<PathBuf>,

    /// The zig executable. Default: `zig` on PATH, else the ziglang Python package.
    #[arg(long, value_name = "PATH")]
    pub zig: Option<PathBuf>,

    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct WarmArgs {
    /// Platforms to prepare, comma-separated or repeated: linux/amd64,linux/arm/v7.
    #[arg(short, long = "platform", value_name = "LIST", required = true)]
    pub platforms: Vec<String>,

    /// The C library the cgo builds will use: musl or glibc:X.Y. Default: musl.
    #[arg(long, value_name = "MODE", default_value = "musl")]
    pub libc: String,

    /// The zig executable. Default: `zig` on PATH, else the ziglang Python package.
    #[arg(long, value_name = "PATH")]
    pub zig: Option<PathBuf>,

    /// How many targets to prepare at once. Default: the number of CPUs.
    #[arg(short, long)]
    pub jobs: Option<usize>,

    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ResolveArgs {
    /// A YAML file, a directory of *.yaml/*.yml/*.json files, or - for stdin; repeatable.
    #[arg(
        short = 'f',
        long = "filename",
        value_name = "FILE|DIR",
        required = true
    )]
    pub files: Vec<PathBuf>,

    /// Also read the directories' subdirectories.
    #[arg(short = 'R', long)]
    pub recursive: bool,

    /// Resolve references written without a tag through this release channel's tag.
    #[arg(long, value_name = "NAME")]
    pub channel: Option<String>,

    /// Rewrite each file in place (atomically; unchanged files are not touched).
    #[arg(long, conflicts_with = "output")]
    pub in_place: bool,

    /// Write the pinned YAML (all inputs, as one stream) to this file instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Print a JSON report of every image on stdout (needs --in-place or -o).
    #[arg(long)]
    pub json: bool,

    /// Allow plain HTTP and unverified TLS to registries not on this machine.
    #[arg(long)]
    pub insecure: bool,

    /// Trust this PEM CA certificate (in addition to the system's) for HTTPS.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
}

// The channel, the operator and the policy file, shared by promote and rollback.
#[derive(Debug, Args)]
pub struct ChannelArgs {
    /// The channel: lower-case components joined by `/`, e.g. `stable` or `fleet-eu/stable`.
    #[arg(long, value_name = "NAME")]
    pub channel: String,

    /// The operator's private key; it signs the audit log entry.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,

    /// Why, recorded in the audit log.
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,

    /// A name for the operator, recorded next to the key's fingerprint.
    #[arg(long, value_name = "NAME")]
    pub operator: Option<String>,

    /// The slipway.toml holding [channels."NAME"]; paths in it are relative to it.
    #[arg(long, value_name = "FILE", default_value = "slipway.toml")]
    pub config: PathBuf,
}

#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// The image: host/repository:tag or host/repository@sha256:…; the channel is in its repository.
    #[arg(value_name = "REF")]
    pub reference: String,

    #[command(flatten)]
    pub channel: ChannelArgs,

    #[command(flatten)]
    pub registry: RegistryArgs,

    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The repository (host/repository); default the policy's `repository`.
    #[arg(value_name = "REPO")]
    pub repository: Option<String>,

    #[command(flatten)]
    pub channel: ChannelArgs,

    /// Roll back to this digest (it must have been in the channel before).
    #[arg(long, value_name = "DIGEST")]
    pub to: Option<String>,

    #[command(flatten)]
    pub registry: RegistryArgs,

    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct MarkBadArgs {
    /// The image: host/repository@sha256:….
    #[arg(value_name = "REF@DIGEST")]
    pub reference: String,

    /// Why, recorded in the audit log.
    #[arg(long, value_name = "TEXT")]
    pub reason: String,

    /// The operator's private key; it signs the audit log entry.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,

    /// A name for the operator, recorded next to the key's fingerprint.
    #[arg(long, value_name = "NAME")]
    pub operator: Option<String>,

    /// Public keys the existing mark-bad log must be signed with (repeatable).
    #[arg(long = "trust", value_name = "FILE")]
    pub trust: Vec<PathBuf>,

    #[command(flatten)]
    pub registry: RegistryArgs,

    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// host/repository, oci:DIR or oci-archive:FILE; default the policy's `repository`.
    #[arg(value_name = "REPO")]
    pub repository: Option<String>,

    /// The channel; without it, the repository's mark-bad log.
    #[arg(long, value_name = "NAME")]
    pub channel: Option<String>,

    /// Operator public keys every entry must be signed with one of
    /// (repeatable); default the channel policy's `operators`, if any.
    #[arg(long, value_name = "FILE")]
    pub key: Vec<PathBuf>,

    /// The slipway.toml holding [channels."NAME"] (read if present).
    #[arg(long, value_name = "FILE", default_value = "slipway.toml")]
    pub config: PathBuf,

    #[command(flatten)]
    pub registry: RegistryArgs,

    /// Print the log as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}
