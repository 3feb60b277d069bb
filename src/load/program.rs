//! Loaded programs: the verifier-log policy of `BPF_PROG_LOAD`, and `BPF_PROG_TEST_RUN`.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use crate::insn::Insn;
use crate::program::{ProgType, Section};
use crate::sys::{self, FuncInfo, LineInfo, LogBuf, Logged, ProgLoad, SysError};

/// The first log buffer size when a log is wanted.
pub const DEFAULT_LOG_SIZE: usize = 64 * 1024;

/// The largest log buffer the kernel accepts since 6.4 (`UINT_MAX >> 2`).
const MAX_LOG_SIZE: usize = (u32::MAX >> 2) as usize;

/// The largest log buffer older kernels accept (`UINT_MAX >> 8`); without `log_true_size`
/// the buffer doubles up to this.
const OLD_MAX_LOG_SIZE: usize = (u32::MAX >> 8) as usize;

/// The verifier log flags.
pub mod log_level {
    /// The failing path only (what a refused program needs).
    pub const FAILING_PATH: u32 = 1;
    /// Every instruction visited, with register state (keeps the log of an accepted program).
    pub const EVERY_INSN: u32 = 2;
    /// Statistics.
    pub const STATS: u32 = 4;
    /// Fixed: keep the head of the log instead of rotating to keep the tail.
    pub const FIXED: u32 = 8;
}

/// The text of a log buffer: up to the first NUL, invalid UTF-8 replaced.
pub(crate) fn log_text(buf: &[u8]) -> String {
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// Run a command that writes a log, growing the buffer while the kernel answers `ENOSPC`:
/// to `log_true_size` when the kernel reports it (6.4+), doubling otherwise.
///
/// Returns the command's result and the log text (`None` when `level` is 0).
pub(crate) fn with_growing_log<T>(
    level: u32,
    initial_size: usize,
    mut call: impl FnMut(Option<LogBuf<'_>>) -> Logged<T>,
) -> (Result<T, SysError>, Option<String>) {
    if level == 0 {
        return (call(None).result, None);
    }
    let mut size = initial_size.clamp(128, MAX_LOG_SIZE);
    // Loads that did not finish (a signal, memory), tried again at the same size: their log's
    // size says nothing about the whole log's, and growing the buffer for them would verify a
    // program at the complexity limit once more into a log of hundreds of megabytes.
    let mut unfinished = 0;
    loop {
        let mut buf = vec![0u8; size];
        let out = call(Some(LogBuf {
            level,
            buf: &mut buf,
        }));
        let text = log_text(&buf);
        let true_size = out.log_true_size as usize;
        if let Err(e) = &out.result {
            let transient = matches!(e.errno, libc::EAGAIN | libc::EINTR | libc::ENOMEM);
            let cut_short = e.errno == libc::ENOSPC && true_size > size && !finished(&text);
            if (transient || cut_short) && unfinished < UNFINISHED_RETRIES {
                unfinished += 1;
                continue;
            }
            if transient {
                return (out.result, Some(text));
            }
        }
        // A log that did not fit: since 6.4 the buffer keeps the tail, which holds the
        // verdict. When that tail shows the verifier gave up at its complexity limit, the
        // whole log (up to a gigabyte) would cost another verification as long as the first
        // (a million instructions walked again): keep the tail instead.
        if true_size > size {
            if let Some(errno) = too_complex(&text) {
                let cmd = match &out.result {
                    Err(e) => e.cmd,
                    Ok(_) => sys::Cmd::ProgLoad,
                };
                return (Err(SysError { cmd, errno }), Some(text));
            }
        }
        match out.result {
            // A refusal whose log did not fit (kernels that report the refusal's errno rather
            // than ENOSPC): load again for the whole log.
            Err(e) if e.errno != libc::ENOSPC && true_size > size && size < MAX_LOG_SIZE => {
                size = true_size.min(MAX_LOG_SIZE);
            }
            Err(e) if e.errno == libc::ENOSPC => {
                let next = if true_size > size {
                    true_size.min(MAX_LOG_SIZE)
                } else if true_size == 0 {
                    (size * 2).min(OLD_MAX_LOG_SIZE)
                } else {
                    // The kernel says the buffer was big enough: ENOSPC means something else.
                    return (Err(e), Some(text));
                };
                if next <= size {
                    return (Err(e), Some(text));
                }
                size = next;
            }
            result => return (result, Some(text)),
        }
    }
}

/// How many times a load that did not finish is tried again by [`with_growing_log`].
const UNFINISHED_RETRIES: u32 = 3;

/// Whether a log (or its tail) ends as a finished verification does: with its verdict (an
/// error) or its statistics (`processed N insns ...`).
fn finished(text: &str) -> bool {
    text.lines()
        .rev()
        .take(64)
        .any(|l| l.starts_with("processed ") && l.contains(" insns"))
        || crate::verifier::VerifierLog::parse(text).error().is_some()
}

/// `Some(E2BIG)` when the log (or its tail) ends with the verifier giving up at its
/// complexity limit (`BPF program is too large. Processed 1000001 insn`), the refusal the
/// kernel reports as `E2BIG`.
fn too_complex(text: &str) -> Option<i32> {
    let log = crate::verifier::VerifierLog::parse(text);
    let e = log.error()?;
    e.lines
        .iter()
        .any(|l| l.starts_with("BPF program is too large"))
        .then_some(libc::E2BIG)
}

/// How one program's log is asked for.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LogPolicy {
    /// The level asked for (0: none unless the load fails).
    pub level: u32,
    /// First buffer size.
    pub size: usize,
}

/// Why `BPF_PROG_LOAD` failed: errno and the log of the (retried) load.
pub(crate) struct ProgLoadFailure {
    pub errno: i32,
    pub log: String,
}

/// Load with the verifier-log policy: first without a log (or with the asked level when it
/// keeps accepted programs' logs: 2 or 4); on failure again with a log (level 1 or the level
/// asked for) to say why.
pub(crate) fn load_with_policy(
    base: &ProgLoad<'_>,
    policy: LogPolicy,
) -> Result<(OwnedFd, Option<String>), ProgLoadFailure> {
    let attempt = |level: u32| {
        with_growing_log(level, policy.size, |log| {
            let mut req = ProgLoad {
                log,
                ..clone_req(base)
            };
            sys::prog_load(&mut req)
        })
    };
    let keep = policy.level & (log_level::EVERY_INSN | log_level::STATS) != 0;
    if keep {
        return match attempt(policy.level) {
            (Ok(fd), log) => Ok((fd, log)),
            (Err(e), log) => Err(ProgLoadFailure {
                errno: e.errno,
                log: log.unwrap_or_default(),
            }),
        };
    }
    let first = match attempt(0).0 {
        Ok(fd) => return Ok((fd, None)),
        Err(e) => e,
    };
    if first.errno == libc::EPERM {
        // Refused before the verifier ran: a log would be empty.
        return Err(ProgLoadFailure {
            errno: first.errno,
            log: String::new(),
        });
    }
    let level = if policy.level == 0 {
        log_level::FAILING_PATH
    } else {
        policy.level
    };
    if first.errno == libc::E2BIG {
        return explain_e2big(base, level, policy.size);
    }
    match attempt(level) {
        // Accepted the second time (a transient failure): keep what the log says.
        (Ok(fd), log) => Ok((fd, log)),
        (Err(e), log) => Err(ProgLoadFailure {
            errno: e.errno,
            log: log.unwrap_or_default(),
        }),
    }
}

/// Explain an `E2BIG` refusal with one more load, whatever its log's size.
///
/// `E2BIG` after a verification is the verifier giving up at one of its limits (a million
/// instructions processed, 8192 jumps in a row): the explanation costs a verification as long
/// as the first, so there is exactly one, into a buffer of the first size that is never grown.
/// Since 6.4 the kernel keeps the log's tail, which holds the verdict and the path to it;
/// `BPF_LOG_FIXED` (which keeps the head) is dropped for this load. A truncated log makes
/// the kernel answer `ENOSPC`: the refusal stays the first load's `E2BIG`. Before any
/// verification (more instructions than the kernel takes) the log is empty and the load
/// costs nothing.
fn explain_e2big(
    base: &ProgLoad<'_>,
    level: u32,
    size: usize,
) -> Result<(OwnedFd, Option<String>), ProgLoadFailure> {
    let mut buf = vec![0u8; size.clamp(128, MAX_LOG_SIZE)];
    let out = sys::prog_load(&mut ProgLoad {
        log: Some(LogBuf {
            level: level & !log_level::FIXED,
            buf: &mut buf,
        }),
        ..clone_req(base)
    });
    let log = log_text(&buf);
    match out.result {
        Ok(fd) => Ok((fd, Some(log))),
        Err(e) => Err(ProgLoadFailure {
            errno: if e.errno == libc::ENOSPC {
                libc::E2BIG
            } else {
                e.errno
            },
            log,
        }),
    }
}

fn clone_req<'a>(r: &ProgLoad<'a>) -> ProgLoad<'a> {
    ProgLoad {
        prog_type: r.prog_type,
        expected_attach_type: r.expected_attach_type,
        insns: r.insns,
        license: r.license,
        name: r.name,
        prog_flags: r.prog_flags,
        kern_version: r.kern_version,
        log: None,
        btf_fd: r.btf_fd,
        func_info: r.func_info,
        line_info: r.line_info,
        attach_btf_id: r.attach_btf_id,
        attach_fd: r.attach_fd,
        prog_ifindex: r.prog_ifindex,
    }
}

/// What [`LoadedProgram::test_run`] feeds the program. The default runs it once on a packet
/// of 64 zero bytes, which every program type the crate names accepts (socket filters, tc and
/// XDP programs refuse a packet shorter than an Ethernet header, 14 bytes, with `EINVAL`).
#[derive(Clone, Copy, Debug)]
pub struct TestRun<'a> {
    /// The input packet (socket filters, tc and XDP programs need at least 14 bytes, an
    /// Ethernet header).
    pub data: &'a [u8],
    /// Room for the output packet (0: do not copy it back). Too small a room fails with
    /// `ENOSPC`.
    pub data_out_size: usize,
    /// The input context (`struct __sk_buff`, `struct xdp_md` ...), if any.
    pub ctx: Option<&'a [u8]>,
    /// Room for the output context (0: do not copy it back).
    pub ctx_out_size: usize,
    /// How many runs (0 counts as 1); `duration_ns` is their mean.
    pub repeat: u32,
    /// `BPF_F_TEST_*` flags.
    pub flags: u32,
}

/// The default packet: 64 zero bytes.
static ZERO_PACKET: [u8; 64] = [0; 64];

impl Default for TestRun<'_> {
    fn default() -> Self {
        TestRun {
            data: &ZERO_PACKET,
            data_out_size: 0,
            ctx: None,
            ctx_out_size: 0,
            repeat: 0,
            flags: 0,
        }
    }
}

/// What a test run gave back.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TestRunResult {
    /// The program's return value (`r0`, low 32 bits: a helper's `-E2BIG` returned as is
    /// reads `(-7i32) as u32`).
    pub retval: u32,
    /// Mean run time in nanoseconds.
    pub duration_ns: u32,
    /// The output packet (empty when `data_out_size` was 0).
    pub data_out: Vec<u8>,
    /// The output context (empty when `ctx_out_size` was 0).
    pub ctx_out: Vec<u8>,
}

impl TestRunResult {
    /// The return value as a signed number (for helpers' negative errnos).
    pub fn retval_i32(&self) -> i32 {
        self.retval as i32
    }
}

/// A program in the kernel: its file descriptor, what it was loaded as, the instructions the
/// kernel saw, and the verifier log when one was kept.
#[derive(Debug)]
pub struct LoadedProgram {
    pub(crate) name: String,
    pub(crate) section: Section,
    pub(crate) prog_type: ProgType,
    pub(crate) fd: OwnedFd,
    pub(crate) log: Option<String>,
    pub(crate) insns: Vec<Insn>,
}

impl LoadedProgram {
    /// The program's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its section.
    pub fn section(&self) -> &Section {
        &self.section
    }

    /// Its program type.
    pub fn prog_type(&self) -> ProgType {
        self.prog_type
    }

    /// The file descriptor.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The verifier log of the load, when one was kept (a log level with 2 or 4 asked for, or
    /// a program accepted only on the retry).
    pub fn log(&self) -> Option<&str> {
        self.log.as_deref()
    }

    /// The instructions as passed to the kernel: map fds patched in, callees appended. The
    /// verifier log's instruction numbers are slot indexes into these.
    pub fn insns(&self) -> &[Insn] {
        &self.insns
    }

    /// What the kernel reports about the program (`BPF_OBJ_GET_INFO_BY_FD`).
    pub fn info(&self) -> Result<sys::ProgInfo, SysError> {
        sys::prog_info(self.fd.as_fd())
    }

    /// Pin the program at `path` (in a bpffs mount).
    pub fn pin(&self, path: impl AsRef<Path>) -> Result<(), SysError> {
        sys::obj_pin(self.fd.as_fd(), path.as_ref())
    }

    /// Run the program with `BPF_PROG_TEST_RUN`.
    pub fn test_run(&self, run: &TestRun<'_>) -> Result<TestRunResult, SysError> {
        let mut data_out = vec![0u8; run.data_out_size];
        let mut ctx_out = vec![0u8; run.ctx_out_size];
        let out = sys::prog_test_run(
            self.fd.as_fd(),
            sys::TestRunAttrs {
                data_in: run.data,
                data_out: &mut data_out,
                ctx_in: run.ctx.unwrap_or(&[]),
                ctx_out: &mut ctx_out,
                repeat: run.repeat,
                flags: run.flags,
                cpu: 0,
                batch_size: 0,
            },
        )?;
        data_out.truncate(out.data_size_out as usize);
        ctx_out.truncate(out.ctx_size_out as usize);
        Ok(TestRunResult {
            retval: out.retval,
            duration_ns: out.duration_ns,
            data_out,
            ctx_out,
        })
    }
}

impl AsFd for LoadedProgram {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Records ready for `BPF_PROG_LOAD`.
#[derive(Debug, Default)]
pub(crate) struct ProgramBtfRecs {
    pub func_info: Vec<FuncInfo>,
    pub line_info: Vec<LineInfo>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake `BPF_PROG_LOAD` answering from a script: (errno or success, the log it writes,
    /// the log's true size). Returns the buffer sizes it was given.
    fn script(steps: &[(Option<i32>, &str, u32)]) -> (Result<(), i32>, String, Vec<usize>) {
        let mut sizes = Vec::new();
        let mut k = 0;
        let (result, log) = with_growing_log(1, 4096, |log| {
            let (errno, text, true_size) = steps[k.min(steps.len() - 1)];
            k += 1;
            if let Some(l) = log {
                sizes.push(l.buf.len());
                let n = text.len().min(l.buf.len() - 1);
                l.buf[..n].copy_from_slice(&text.as_bytes()[..n]);
            }
            Logged {
                result: match errno {
                    None => Ok(()),
                    Some(errno) => Err(SysError {
                        cmd: sys::Cmd::ProgLoad,
                        errno,
                    }),
                },
                log_true_size: true_size,
            }
        });
        (result.map_err(|e| e.errno), log.unwrap_or_default(), sizes)
    }

    const TOO_LARGE: &str = "1: (07) r1 += 1\nBPF program is too large. Processed 1000001 insn\n\
                             processed 1000001 insns (limit 1000000) max_states_per_insn 4 \
                             total_states 25001 peak_states 25001 mark_read 0\n";

    /// A verification cut short (its tail has neither a verdict nor statistics) is tried again
    /// at the same size: the retry's tail shows the complexity limit, so no buffer of the
    /// whole log's size is asked for and the program is verified twice, not three times.
    #[test]
    fn a_load_cut_short_is_retried_at_the_same_size() {
        let cut = "1: (07) r1 += 1\n2: R1=0x7a11f\n";
        let (r, log, sizes) = script(&[
            (Some(libc::ENOSPC), cut, 393_000_000),
            (Some(libc::ENOSPC), TOO_LARGE, 914_000_000),
        ]);
        assert_eq!(r, Err(libc::E2BIG));
        assert!(log.contains("too large"), "{log}");
        assert_eq!(sizes, [4096, 4096]);
        // Interrupted (EAGAIN after the syscall layer's own retries), then finished.
        let (r, _, sizes) = script(&[
            (Some(libc::EAGAIN), cut, 393_000_000),
            (
                Some(libc::EACCES),
                "R1 invalid mem access 'scalar'\nprocessed 3 insns\n",
                60,
            ),
        ]);
        assert_eq!(
            (r, sizes.as_slice()),
            (Err(libc::EACCES), &[4096, 4096][..])
        );
        // Never finishing: bounded, and the interruption is the answer.
        let (r, _, sizes) = script(&[(Some(libc::EAGAIN), cut, 393_000_000)]);
        assert_eq!(r, Err(libc::EAGAIN));
        assert_eq!(sizes.len() as u32, UNFINISHED_RETRIES + 1);
    }

    /// A finished log that did not fit still grows to its true size (an accepted program's
    /// level-2 log, or a refusal that is not the complexity limit).
    #[test]
    fn a_finished_log_that_did_not_fit_grows() {
        let done = "0: (b7) r0 = 0\n1: (95) exit\nprocessed 2 insns (limit 1000000)\n";
        let (r, _, sizes) = script(&[(Some(libc::ENOSPC), done, 10_000), (None, done, 60)]);
        assert_eq!((r, sizes.as_slice()), (Ok(()), &[4096, 10_000][..]));
    }
}
