//! Another Linux kernel as an engine: the same bpfsmith command, run inside a kernel image
//! booted under `qemu-system-x86_64`.
//!
//! The guest is a throw-away VM with no disk: its root file system is an initramfs built here
//! ([`initramfs`]) holding this very binary as `/init`, the shared libraries it needs, the
//! files the command names (at their host paths, so that relative paths and messages are the
//! same) and a request. When bpfsmith starts as PID 1 and finds the request
//! ([`is_guest_init`]), it mounts `/proc`, `/sys` and bpffs, sets the JIT as asked, runs the
//! command as a child with its stdout and stderr on the second and third serial ports, writes
//! the exit status on the console, and powers the VM off ([`guest_init`]). The host reads the
//! three ports back ([`Guest::run`]).
//!
//! Why not an existing runner: `vmtest` (kernel mode) shares the host's root over 9p and
//! `virtme-ng` over 9p or virtiofs; Debian's cloud kernels (the 6.1 LTS this project tests)
//! are built without 9p, and `virtiofsd` is not in Debian 12's archive, so neither boots them
//! (virtme-ng 1.42 stops with `mount: mounting /dev/root on /newroot/ failed: No such
//! device`). An initramfs needs nothing from the kernel but `CONFIG_BLK_DEV_INITRD` and a
//! serial port.
//!
//! The VM runs under TCG (software emulation) unless `BPFSMITH_GUEST_ACCEL` says otherwise:
//! `/dev/kvm` exists on this project's machines but a KVM guest hangs there.

pub mod campaign;
pub mod initramfs;
pub mod matrix;
pub mod minimise;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use initramfs::Initramfs;

/// Where the request lies in the guest.
const REQUEST: &str = "/bpfsmith-guest.json";
/// The console line that carries the command's exit status back to the host.
const STATUS_MARK: &str = "bpfsmith-guest-status: ";

/// The JIT setting a guest runs with (`/proc/sys/net/core/bpf_jit_enable`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Jit {
    /// Whatever the kernel boots with.
    #[default]
    Default,
    /// `bpf_jit_enable = 1`: programs are compiled to machine code.
    On,
    /// `bpf_jit_enable = 0`: programs run in the interpreter (refused by kernels built with
    /// `CONFIG_BPF_JIT_ALWAYS_ON`).
    Off,
}

impl Jit {
    fn as_str(self) -> &'static str {
        match self {
            Jit::Default => "default",
            Jit::On => "on",
            Jit::Off => "off",
        }
    }
}

/// A kernel image (`vmlinuz`, a bzImage) and the release its header names.
#[derive(Clone, Debug)]
pub struct KernelImage {
    /// The image file.
    pub path: PathBuf,
    /// The release (`6.1.0-57-cloud-amd64`), read from the image's setup header.
    pub release: String,
}

impl KernelImage {
    /// Open an image and read its release from the x86 boot protocol's `kernel_version`
    /// field, so that the version is known before the kernel boots.
    pub fn open(path: &Path) -> Result<KernelImage, GuestError> {
        let bytes = std::fs::read(path).map_err(|e| GuestError::Image {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        let release = bzimage_release(&bytes).ok_or_else(|| GuestError::Image {
            path: path.to_owned(),
            reason: "not an x86 bzImage (no `HdrS` setup header); give the kernel's \
                     `boot/vmlinuz-*` file"
                .into(),
        })?;
        Ok(KernelImage {
            path: path.to_owned(),
            release,
        })
    }

    /// The `(major, minor)` version of the release, e.g. `(6, 1)`.
    pub fn version(&self) -> Option<(u32, u32)> {
        release_version(&self.release)
    }
}

pub use crate::load::isa::release_version;

/// The release string of an x86 bzImage: the setup header (`HdrS` at 0x202) points at a
/// NUL-terminated version string 0x200 bytes past `kernel_version` (0x20e).
fn bzimage_release(b: &[u8]) -> Option<String> {
    if b.get(0x202..0x206)? != b"HdrS" {
        return None;
    }
    let ptr = u16::from_le_bytes([*b.get(0x20e)?, *b.get(0x20f)?]) as usize;
    let start = ptr.checked_add(0x200)?;
    let tail = b.get(start..)?;
    let end = tail.iter().take(256).position(|&c| c == 0 || c == b' ')?;
    let s = std::str::from_utf8(&tail[..end]).ok()?;
    (!s.is_empty()).then(|| s.to_owned())
}

/// Why a guest did not run a command to its end.
#[derive(Debug, thiserror::Error)]
pub enum GuestError {
    /// The kernel image cannot be used.
    #[error("kernel image {path}: {reason}")]
    Image {
        /// The image.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The initramfs could not be built.
    #[error("building the guest's initramfs: {0}")]
    Initramfs(std::io::Error),
    /// qemu could not be started.
    #[error("starting {qemu}: {reason} (install Debian's qemu-system-x86, or set BPFSMITH_QEMU)")]
    Qemu {
        /// The qemu binary.
        qemu: String,
        /// The error.
        reason: String,
    },
    /// The guest did not finish in time.
    #[error(
        "the guest ({release}) did not finish within {secs} s; its console ends with:\n{console}"
    )]
    Timeout {
        /// The kernel release.
        release: String,
        /// The limit.
        secs: u64,
        /// The last lines of its console.
        console: String,
    },
    /// The guest stopped without reporting a status (a panic, a missing feature).
    #[error("the guest ({release}) stopped without running the command; its console ends with:\n{console}")]
    NoStatus {
        /// The kernel release.
        release: String,
        /// The last lines of its console.
        console: String,
    },
    /// The guest's init could not prepare the command (e.g. the JIT cannot be switched off).
    #[error("in the guest ({release}): {reason}")]
    Init {
        /// The kernel release.
        release: String,
        /// What failed.
        reason: String,
    },
    /// Reading the guest's output failed.
    #[error("reading the guest's output: {0}")]
    Output(std::io::Error),
    /// An argument cannot be passed to the guest.
    #[error("argument {0:?}: {1}")]
    Argument(String, String),
}

/// What a command printed and returned inside a guest.
#[derive(Clone, Debug)]
pub struct GuestOutput {
    /// Its standard output, byte for byte.
    pub stdout: Vec<u8>,
    /// Its standard error.
    pub stderr: Vec<u8>,
    /// Its exit status (a signal's number + 128 when it was killed).
    pub status: i32,
    /// The guest kernel's release (`uname -r`).
    pub release: String,
    /// `bpf_jit_enable` while the command ran.
    pub jit_enabled: Option<u32>,
    /// Boot, command and power-off, as the host saw them.
    pub elapsed: Duration,
}

/// A kernel image to boot, and how.
#[derive(Clone, Debug)]
pub struct Guest {
    /// The kernel.
    pub kernel: KernelImage,
    /// The JIT setting.
    pub jit: Jit,
    /// How long boot, command and power-off may take together.
    pub timeout: Duration,
    /// Guest memory in MiB.
    pub memory_mib: u32,
}

impl Guest {
    /// A guest booting `kernel` with its default JIT setting, 512 MiB and a 10-minute limit
    /// (TCG is slow; the longest command here, the conformance suite, takes seconds).
    pub fn new(kernel: KernelImage) -> Guest {
        Guest {
            kernel,
            jit: Jit::Default,
            timeout: Duration::from_secs(600),
            memory_mib: 512,
        }
    }

    /// Run `bpfsmith ARGS...` in the guest, from the host's current directory. Every
    /// argument that names an existing file or directory (also as `@PATH` or `--opt=PATH`)
    /// is copied into the guest at its own path.
    pub fn run(&self, args: &[String]) -> Result<GuestOutput, GuestError> {
        if !cfg!(target_arch = "x86_64") {
            return Err(GuestError::Qemu {
                qemu: "qemu-system-x86_64".into(),
                reason: "guest kernels run on x86_64 hosts only (the guest runs this binary)"
                    .into(),
            });
        }
        let started = Instant::now();
        let work = tempfile::Builder::new()
            .prefix("bpfsmith-guest-")
            .tempdir()
            .map_err(GuestError::Initramfs)?;
        let cwd = std::env::current_dir().map_err(GuestError::Initramfs)?;
        let mut fs = Initramfs::base();
        let exe = std::env::current_exe().map_err(GuestError::Initramfs)?;
        fs.executable(&exe, "/init")
            .map_err(GuestError::Initramfs)?;
        let cwd_s = cwd
            .to_str()
            .ok_or_else(|| GuestError::Argument(cwd.display().to_string(), "not UTF-8".into()))?;
        fs.dir(cwd_s);
        for a in args {
            for candidate in path_candidates(a) {
                let p = Path::new(candidate);
                if p.exists() {
                    fs.host_path(p).map_err(|e| {
                        GuestError::Argument(a.clone(), format!("copying it into the guest: {e}"))
                    })?;
                }
            }
        }
        let color = std::io::IsTerminal::is_terminal(&std::io::stdout())
            && std::env::var_os("NO_COLOR").is_none();
        let request = serde_json::json!({
            "args": args,
            "cwd": cwd_s,
            "jit": self.jit.as_str(),
            "color": color,
        });
        fs.bytes(REQUEST, request.to_string().into_bytes(), 0o644);
        let initrd = work.path().join("initrd.cpio");
        let mut f =
            std::io::BufWriter::new(std::fs::File::create(&initrd).map_err(GuestError::Initramfs)?);
        fs.write(&mut f).map_err(GuestError::Initramfs)?;
        f.flush().map_err(GuestError::Initramfs)?;
        drop(f);

        let ports = ["console", "stdout", "stderr"].map(|n| work.path().join(n));
        let qemu = std::env::var("BPFSMITH_QEMU").unwrap_or_else(|_| "qemu-system-x86_64".into());
        let accel = std::env::var("BPFSMITH_GUEST_ACCEL").unwrap_or_else(|_| "tcg".into());
        let mut cmd = Command::new(&qemu);
        cmd.args(["-accel", &accel, "-cpu", "max", "-smp", "1"])
            .args(["-m", &self.memory_mib.to_string()])
            .args(["-nodefaults", "-no-user-config", "-display", "none"])
            .args(["-monitor", "none", "-no-reboot"])
            .arg("-kernel")
            .arg(&self.kernel.path)
            .arg("-initrd")
            .arg(&initrd)
            .args([
                "-append",
                "console=ttyS0 quiet loglevel=1 panic=-1 rdinit=/init",
            ]);
        for p in &ports {
            cmd.arg("-serial").arg(format!("file:{}", p.display()));
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| GuestError::Qemu {
            qemu: qemu.clone(),
            reason: e.to_string(),
        })?;
        let deadline = started + self.timeout;
        let exit = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() >= deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(GuestError::Timeout {
                        release: self.kernel.release.clone(),
                        secs: self.timeout.as_secs(),
                        console: console_tail(&ports[0]),
                    });
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(e) => return Err(GuestError::Output(e)),
            }
        };
        let read = |p: &Path| std::fs::read(p).map_err(GuestError::Output);
        let console = String::from_utf8_lossy(&read(&ports[0])?).into_owned();
        let Some(status) = console
            .lines()
            .rev()
            .find_map(|l| l.trim_end_matches('\r').split_once(STATUS_MARK))
            .and_then(|(_, json)| serde_json::from_str::<serde_json::Value>(json).ok())
        else {
            let mut tail = console_tail(&ports[0]);
            if !exit.success() {
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut e, &mut err);
                }
                tail = format!("{tail}\nqemu exited with {exit}: {}", err.trim());
            }
            return Err(GuestError::NoStatus {
                release: self.kernel.release.clone(),
                console: tail,
            });
        };
        let release = status["release"]
            .as_str()
            .unwrap_or(&self.kernel.release)
            .to_owned();
        if let Some(reason) = status["error"].as_str() {
            return Err(GuestError::Init {
                release,
                reason: reason.to_owned(),
            });
        }
        Ok(GuestOutput {
            stdout: read(&ports[1])?,
            stderr: read(&ports[2])?,
            status: status["status"].as_i64().unwrap_or(1) as i32,
            release,
            jit_enabled: status["jit"].as_u64().map(|j| j as u32),
            elapsed: started.elapsed(),
        })
    }
}

/// The paths an argument may name: itself, what follows `@` (`--data @FILE`) and what
/// follows the first `=` (`--html=FILE`).
fn path_candidates(arg: &str) -> Vec<&str> {
    let mut v = vec![arg];
    if let Some(rest) = arg.strip_prefix('@') {
        v.push(rest);
    }
    if let Some((_, rest)) = arg.split_once('=') {
        v.push(rest);
    }
    v.retain(|s| !s.is_empty() && !s.starts_with('-'));
    v
}

/// The last 40 lines of a console log, for error messages.
fn console_tail(path: &Path) -> String {
    let text = std::fs::read(path).unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let lines: Vec<&str> = text.lines().collect();
    let from = lines.len().saturating_sub(40);
    lines[from..]
        .iter()
        .map(|l| l.trim_end_matches('\r'))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether this process is the init of a guest that [`Guest::run`] built: PID 1 with a
/// request in its root.
pub fn is_guest_init() -> bool {
    std::process::id() == 1 && Path::new(REQUEST).exists()
}

/// Be the guest's init: prepare the system, run the requested command with its output on
/// the serial ports, report its status on the console and power off. Never returns.
#[cfg(bpfsmith_kernel)]
pub fn guest_init() -> ! {
    let status = match init_and_run() {
        Ok(s) => s,
        Err(e) => serde_json::json!({ "error": e, "release": release() }),
    };
    if let Ok(mut c) = std::fs::OpenOptions::new().write(true).open("/dev/console") {
        let _ = writeln!(c, "\n{STATUS_MARK}{status}");
    }
    let e = crate::sys::power_off();
    // Only reached when the kernel refused to power off; the VM's timeout ends it.
    eprintln!("bpfsmith guest: power off failed: {e}");
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

#[cfg(bpfsmith_kernel)]
fn release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

#[cfg(bpfsmith_kernel)]
fn init_and_run() -> Result<serde_json::Value, String> {
    use crate::sys;
    use std::os::fd::AsFd;
    let req: serde_json::Value = std::fs::read(REQUEST)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
        .map_err(|e| format!("reading the request: {e}"))?;
    for (src, target, fstype) in [
        ("proc", "/proc", "proc"),
        ("sysfs", "/sys", "sysfs"),
        ("bpf", "/sys/fs/bpf", "bpf"),
    ] {
        sys::mount(src, Path::new(target), fstype)
            .map_err(|e| format!("mounting {fstype} on {target}: {e}"))?;
    }
    const JIT: &str = "/proc/sys/net/core/bpf_jit_enable";
    let want = match req["jit"].as_str() {
        Some("on") => Some("1"),
        Some("off") => Some("0"),
        _ => None,
    };
    if let Some(v) = want {
        std::fs::write(JIT, v).map_err(|e| {
            format!(
                "setting bpf_jit_enable to {v}: {e} (a kernel built with \
                 CONFIG_BPF_JIT_ALWAYS_ON keeps the JIT on)"
            )
        })?;
    }
    let jit: Option<u32> = std::fs::read_to_string(JIT)
        .ok()
        .and_then(|s| s.trim().parse().ok());
    let args: Vec<String> = req["args"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let cwd = req["cwd"].as_str().unwrap_or("/");
    let open_port = |n: u32| -> Result<std::fs::File, String> {
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(format!("/dev/ttyS{n}"))
            .map_err(|e| format!("opening /dev/ttyS{n}: {e}"))?;
        sys::make_raw(f.as_fd()).map_err(|e| format!("/dev/ttyS{n}: {e}"))?;
        Ok(f)
    };
    let (out, err) = (open_port(1)?, open_port(2)?);
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/init"));
    let mut cmd = Command::new(exe);
    cmd.args(&args)
        .current_dir(cwd)
        .env_clear()
        .env("PATH", "/")
        .env("HOME", "/root")
        .env("TMPDIR", "/tmp")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    if req["color"].as_bool() != Some(true) {
        cmd.env("NO_COLOR", "1");
    }
    let status = cmd
        .status()
        .map_err(|e| format!("starting the command: {e}"))?;
    use std::os::unix::process::ExitStatusExt;
    let code = status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
    Ok(serde_json::json!({ "status": code, "release": release(), "jit": jit }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_versions() {
        assert_eq!(release_version("6.1.0-57-cloud-amd64"), Some((6, 1)));
        assert_eq!(release_version("6.18.44-fc-v1252"), Some((6, 18)));
        assert_eq!(release_version("5.4"), Some((5, 4)));
        assert_eq!(release_version("linux"), None);
    }

    #[test]
    fn a_bzimage_header_names_its_release() {
        let mut b = vec![0u8; 0x400];
        b[0x202..0x206].copy_from_slice(b"HdrS");
        b[0x20e..0x210].copy_from_slice(&0x100u16.to_le_bytes());
        let v = b"6.1.0-57-cloud-amd64 (debian-kernel@lists.debian.org) #1 SMP\0";
        b[0x300..0x300 + v.len()].copy_from_slice(v);
        assert_eq!(bzimage_release(&b).as_deref(), Some("6.1.0-57-cloud-amd64"));
        assert_eq!(bzimage_release(&b[..0x300]), None);
        b[0x202] = b'X';
        assert_eq!(bzimage_release(&b), None);
    }

    #[test]
    fn arguments_name_paths_directly_after_at_or_after_equals() {
        assert_eq!(path_candidates("asm/q.s"), vec!["asm/q.s"]);
        assert_eq!(path_candidates("@in.bin"), vec!["@in.bin", "in.bin"]);
        assert_eq!(path_candidates("--html=x.html"), vec!["x.html"]);
        assert!(path_candidates("--json").is_empty());
    }
}
