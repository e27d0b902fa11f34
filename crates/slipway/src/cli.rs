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
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once; boxing would only add noise
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

    /// List platforms, variants and libc modes, with their cgo support.
    Targets(TargetsArgs),

    /// Check which toolchains this machine has and which targets it can build.
    Doctor(DoctorArgs),

    /// Show what an ELF binary is: architecture, linking, glibc floor,
    /// hardening, sections and Go build info.
    Inspect(InspectArgs),

    /// Strip an ELF binary of any architecture, optionally splitting its
    /// debug info into a separate file linked by .gnu_debuglink.
    #[command(after_help = "Examples:
  # ship a small binary, keep the debug info beside it for gdb
  slipway strip server -o dist/server --debug-out dist/server.debug

  # keep symbols (for profilers and backtraces), drop only DWARF
  slipway strip server -o server.small --mode debug")]
    Strip(StripArgs),

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

/// What to build and how: shared by `build` and `image`.
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

    /// Print the result as JSON on stdout (progress stays on stderr).
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
