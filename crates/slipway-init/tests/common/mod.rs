//! Running slipway-init for real: as PID 1 of a fresh PID namespace
//! (`unshare -pf --mount-proc`), as PID 1 of a runc container, or as a plain
//! process (a subreaper), on amd64 natively and on arm64 through
//! qemu-user-static registered with binfmt_misc.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use slipway_platform::{Arch, Platform};
use slipway_testkit::require;
use slipway_toolchain::{CacheDir, Zig};

pub const HELPER_SOURCE: &str = include_str!("../../../../init/test/helper.c");

/// Where the init and the helper sit inside test containers.
pub const HELPER_IN_ROOTFS: &str = "/bin/helper";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// PID 1 of a new PID namespace with its own /proc.
    Unshare,
    /// PID 1 of a runc container.
    Runc,
    /// A plain process on the host: not PID 1, so a child subreaper.
    Subreaper,
}

/// Every (mode, arch) pair the PID-1 scenarios run in.
pub const PID1: [(Mode, Arch); 4] = [
    (Mode::Unshare, Arch::Amd64),
    (Mode::Unshare, Arch::Arm64),
    (Mode::Runc, Arch::Amd64),
    (Mode::Runc, Arch::Arm64),
];

pub struct Artifacts {
    pub arch: Arch,
    pub init: PathBuf,
    pub helper: PathBuf,
    /// A read-only root filesystem with the init, the helper and empty
    /// mount points; nothing else (no shell, no libc, no /etc files).
    pub rootfs: PathBuf,
}

pub fn cache() -> CacheDir {
    CacheDir::resolve(None)
}

pub fn zig() -> &'static Zig {
    static ZIG: OnceLock<Zig> = OnceLock::new();
    ZIG.get_or_init(|| {
        Zig::discover(None, &cache()).unwrap_or_else(|e| {
            panic!("zig is required by these tests: {e} (scripts/setup.sh installs it)")
        })
    })
}

pub fn artifacts(arch: Arch) -> &'static Artifacts {
    static AMD64: OnceLock<Artifacts> = OnceLock::new();
    static ARM64: OnceLock<Artifacts> = OnceLock::new();
    let cell = match arch {
        Arch::Amd64 => &AMD64,
        Arch::Arm64 => &ARM64,
        other => panic!("no test artifacts for {other}"),
    };
    cell.get_or_init(|| {
        if arch != Arch::Amd64 {
            require_binfmt(arch);
        }
        let platform = Platform::new(arch);
        let cache = cache();
        // The scenarios run the init slipway ships, not a fresh compile.
        let shipped = slipway_init::build(&platform)
            .unwrap_or_else(|e| panic!("the shipped init for {platform}: {e}"));
        let init = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("slipway-init-{arch}"));
        std::fs::write(&init, shipped).unwrap();
        std::fs::set_permissions(&init, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let helper = slipway_init::compile_static(
            "slipway-init-helper",
            HELPER_SOURCE,
            &platform,
            zig(),
            &cache,
        )
        .unwrap_or_else(|e| panic!("building the test helper for {platform}: {e}"));
        let rootfs = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("init-rootfs-{arch}"));
        let _ = std::fs::remove_dir_all(&rootfs);
        for dir in ["sbin", "bin", "etc", "tmp", "proc", "dev", "sys"] {
            std::fs::create_dir_all(rootfs.join(dir)).unwrap();
        }
        std::fs::copy(&init, rootfs.join("sbin/slipway-init")).unwrap();
        std::fs::copy(&helper, rootfs.join("bin/helper")).unwrap();
        Artifacts {
            arch,
            init,
            helper,
            rootfs,
        }
    })
}

/// Foreign binaries must start through binfmt_misc (what runc relies on).
fn require_binfmt(arch: Arch) {
    let entry = Path::new("/proc/sys/fs/binfmt_misc").join(format!("qemu-{}", arch.qemu_name()));
    let text = std::fs::read_to_string(&entry).unwrap_or_default();
    assert!(
        text.starts_with("enabled") && text.contains("flags: ") && text.contains('F'),
        "{arch} binaries need qemu-user-static registered with binfmt_misc (flag F): \
         apt-get install qemu-user-static binfmt-support; mount -t binfmt_misc binfmt_misc \
         /proc/sys/fs/binfmt_misc; update-binfmts --enable (scripts/setup.sh does this). \
         {} says: {text:?}",
        entry.display()
    );
}

/// A change to a runc config.json.
pub type ConfigEdit<'a> = Box<dyn Fn(&mut serde_json::Value) + 'a>;

/// One run of the init. Strings `{init}` and `{helper}` in `argv` become the
/// paths of the init and the helper as the mode sees them.
pub struct Spec<'a> {
    pub mode: Mode,
    pub arch: Arch,
    pub argv: &'a [&'a str],
    pub env: Vec<(String, String)>,
    pub stdin: Option<Vec<u8>>,
    /// Keep stdin open for [`Running::type_in`].
    pub interactive: bool,
    pub cwd: Option<PathBuf>,
    /// Changes to the runc config.json before the container starts.
    pub runc_config: Option<ConfigEdit<'a>>,
}

impl<'a> Spec<'a> {
    pub fn new(mode: Mode, arch: Arch, argv: &'a [&'a str]) -> Spec<'a> {
        Spec {
            mode,
            arch,
            argv,
            env: Vec::new(),
            stdin: None,
            interactive: false,
            cwd: None,
            runc_config: None,
        }
    }
}

pub struct Running {
    pub what: String,
    child: Child,
    stdin: Option<std::process::ChildStdin>,
    lines: mpsc::Receiver<String>,
    stdout: String,
    stderr: mpsc::Receiver<String>,
    container: Option<(PathBuf, String)>,
    pid_file: Option<PathBuf>,
    _bundle: Option<tempfile::TempDir>,
    init_pid: Option<i32>,
}

pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

fn runc_root() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("runc-root")
}

pub fn start(spec: Spec) -> Running {
    let art = artifacts(spec.arch);
    let (init, helper) = match spec.mode {
        Mode::Runc => (
            slipway_init::PATH_IN_IMAGE.to_string(),
            HELPER_IN_ROOTFS.to_string(),
        ),
        _ => (
            art.init.display().to_string(),
            art.helper.display().to_string(),
        ),
    };
    let argv: Vec<String> = spec
        .argv
        .iter()
        .map(|a| a.replace("{init}", &init).replace("{helper}", &helper))
        .collect();
    let what = format!("{:?}/{}: {}", spec.mode, spec.arch, argv.join(" "));
    let mut container = None;
    let mut pid_file = None;
    let mut bundle_dir = None;
    let mut cmd = match spec.mode {
        Mode::Unshare => {
            let mut c = Command::new(require("unshare", "util-linux"));
            c.args(["-pf", "--mount-proc"]).args(&argv);
            c
        }
        Mode::Subreaper => {
            let mut c = Command::new(&argv[0]);
            c.args(&argv[1..]);
            c
        }
        Mode::Runc => {
            let runc = require("runc", "runc");
            let bundle = tempfile::Builder::new()
                .prefix("bundle-")
                .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
                .unwrap();
            let mut env: Vec<String> = vec!["PATH=/bin:/sbin".into()];
            env.extend(spec.env.iter().map(|(k, v)| format!("{k}={v}")));
            let mut config = runc_config(&art.rootfs, &argv, &env);
            if let Some(edit) = &spec.runc_config {
                edit(&mut config);
            }
            std::fs::write(
                bundle.path().join("config.json"),
                serde_json::to_vec_pretty(&config).unwrap(),
            )
            .unwrap();
            static COUNTER: AtomicUsize = AtomicUsize::new(0);
            let id = format!(
                "slipway-init-test-{}-{}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::SeqCst)
            );
            let pf = bundle.path().join("pid");
            let mut c = Command::new(runc);
            c.arg("--root")
                .arg(runc_root())
                .arg("run")
                .arg("--bundle")
                .arg(bundle.path())
                .arg("--pid-file")
                .arg(&pf)
                .arg(&id);
            container = Some((runc_root(), id));
            pid_file = Some(pf);
            bundle_dir = Some(bundle);
            c
        }
    };
    if spec.mode != Mode::Runc {
        cmd.envs(spec.env.iter().map(|(k, v)| (k, v)));
    }
    if let Some(dir) = &spec.cwd {
        cmd.current_dir(dir);
    }
    cmd.stdin(if spec.stdin.is_some() || spec.interactive {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("starting {what}: {e}"));
    if let Some(bytes) = spec.stdin {
        let mut stdin = child.stdin.take().unwrap();
        std::thread::spawn(move || {
            let _ = stdin.write_all(&bytes);
        });
    }
    let kept_stdin = if spec.interactive {
        child.stdin.take()
    } else {
        None
    };
    let out = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut err = child.stderr.take().unwrap();
    let (err_tx, stderr) = mpsc::channel();
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        let _ = err_tx.send(s);
    });
    let init_pid = match spec.mode {
        Mode::Subreaper => Some(child.id() as i32),
        _ => None,
    };
    Running {
        what,
        child,
        stdin: kept_stdin,
        lines: rx,
        stdout: String::new(),
        stderr,
        container,
        pid_file,
        _bundle: bundle_dir,
        init_pid,
    }
}

/// A config.json like `runc spec` writes, for a non-terminal process.
fn runc_config(rootfs: &Path, argv: &[String], env: &[String]) -> serde_json::Value {
    let caps = serde_json::json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    serde_json::json!({
        "ociVersion": "1.0.2-dev",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": argv,
            "env": env,
            "cwd": "/",
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps, "ambient": caps},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": rootfs, "readonly": true},
        "hostname": "slipway-init-test",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]}
        ],
        "linux": {
            "namespaces": [
                {"type": "pid"}, {"type": "network"}, {"type": "ipc"},
                {"type": "uts"}, {"type": "mount"}
            ],
            "maskedPaths": ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
        }
    })
}

/// The pid of the process whose parent is `parent`, from /proc.
fn child_of(parent: u32) -> Option<i32> {
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        let ppid = rest
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(parent) {
            return Some(pid);
        }
    }
    None
}

impl Running {
    /// The init's pid as the host sees it.
    pub fn init_pid(&mut self) -> i32 {
        if let Some(pid) = self.init_pid {
            return pid;
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let found = match (&self.pid_file, self.child.id()) {
                (Some(pf), _) => std::fs::read_to_string(pf)
                    .ok()
                    .and_then(|s| s.trim().parse().ok()),
                (None, unshare) => child_of(unshare),
            };
            if let Some(pid) = found {
                self.init_pid = Some(pid);
                return pid;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        panic!("{}: the init did not start within 20 s", self.what);
    }

    pub fn signal(&mut self, sig: i32) {
        let pid = self.init_pid();
        // SAFETY: kill(2) with a pid we started and a signal number.
        let r = unsafe { libc::kill(pid, sig) };
        assert_eq!(r, 0, "{}: kill({pid}, {sig}) failed", self.what);
    }

    /// Wait for a line of the program's output that contains `pattern`.
    pub fn wait_for(&mut self, pattern: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let hit = line.contains(pattern);
                    self.stdout.push_str(&line);
                    self.stdout.push('\n');
                    if hit {
                        return;
                    }
                }
                Err(_) => {
                    self.kill_all();
                    panic!(
                        "{}: no output line with {pattern:?} within 30 s; output so far:\n{}",
                        self.what, self.stdout
                    );
                }
            }
        }
    }

    /// The output read so far.
    pub fn stdout_so_far(&self) -> &str {
        &self.stdout
    }

    /// Send bytes to the program's stdin (kept open with `interactive`).
    pub fn type_in(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("started with interactive: true");
        stdin.write_all(bytes).unwrap();
        stdin.flush().unwrap();
    }

    /// Wait for the next line of the program's output.
    pub fn next_line(&mut self) -> String {
        match self.lines.recv_timeout(Duration::from_secs(30)) {
            Ok(line) => {
                self.stdout.push_str(&line);
                self.stdout.push('\n');
                line
            }
            Err(_) => {
                self.kill_all();
                panic!(
                    "{}: no more output within 30 s; output so far:\n{}",
                    self.what, self.stdout
                );
            }
        }
    }

    /// Wait for the end; a run still going after `limit` is a hang, a failure.
    pub fn finish(mut self, limit: Duration) -> Outcome {
        let start = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if start.elapsed() > limit {
                self.kill_all();
                let what = self.what.clone();
                let out = self.drain();
                panic!("{what}: hung (still running after {limit:?}); output:\n{out}");
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let elapsed = start.elapsed();
        let stdout = self.drain();
        // A process left behind that holds the pipe open is a failure too,
        // not a reason to wait forever.
        let stderr = self
            .stderr
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| {
                panic!(
                    "{}: stderr still open 10 s after the init exited: a process was left behind\nstdout:\n{stdout}",
                    self.what
                )
            });
        use std::os::unix::process::ExitStatusExt;
        let code = status
            .code()
            .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
        Outcome {
            code,
            stdout,
            stderr,
            elapsed,
        }
    }

    fn drain(&mut self) -> String {
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.stdout.push_str(&line);
            self.stdout.push('\n');
        }
        std::mem::take(&mut self.stdout)
    }
}

impl Running {
    /// Kill what the run started. For unshare that is the namespace's PID 1
    /// (which takes the namespace with it), not just unshare itself.
    fn kill_all(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let init = self.init_pid.or_else(|| {
                self.pid_file
                    .is_none()
                    .then(|| child_of(self.child.id()))
                    .flatten()
            });
            if let Some(pid) = init {
                // SAFETY: kill(2) to a process this run started.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.kill_all();
        if let Some((root, id)) = &self.container {
            let _ = Command::new("runc")
                .arg("--root")
                .arg(root)
                .args(["delete", "-f", id])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// Start, wait, and return the outcome: for scenarios that need no signals.
pub fn run(spec: Spec) -> Outcome {
    start(spec).finish(Duration::from_secs(60))
}

pub fn show(o: &Outcome) -> String {
    format!(
        "exit {}\nstdout:\n{}\nstderr:\n{}",
        o.code, o.stdout, o.stderr
    )
}

/// A host tool the scenario needs, or a failure naming its package.
pub fn require_tool(tool: &str, debian_package: &str) {
    require(tool, debian_package);
}
