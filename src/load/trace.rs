//! What `bpf_trace_printk` prints during a kernel test run, read back from a trace instance
//! of the run's own: `instances/bpfsmith-PID-N` in tracefs, with only the `bpf_trace_printk`
//! event enabled, only for this thread (`set_event_pid`: `BPF_PROG_TEST_RUN` runs the
//! program in the calling task), and without the context columns (`options/context-info`), so
//! other programs' messages and other tracing users are left alone. The instance is removed
//! when the capture ends, and one left by a bpfsmith process that was killed is removed by the
//! next capture.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// Where tracefs is mounted, in the order the kernel documents.
const TRACEFS: [&str; 2] = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];
/// How each entry starts once the context columns are off.
const EVENT: &str = "bpf_trace_printk: ";

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A trace instance collecting this process's `bpf_trace_printk` messages; removed on drop.
#[derive(Debug)]
pub(crate) struct TraceCapture {
    dir: PathBuf,
}

impl TraceCapture {
    /// Make the instance, or say why it cannot be made (tracefs not mounted, no permission).
    pub(crate) fn start() -> Result<TraceCapture, String> {
        let root = TRACEFS
            .iter()
            .map(Path::new)
            .find(|p| p.join("instances").is_dir())
            .ok_or_else(|| {
                "tracefs is not mounted (`mount -t tracefs nodev /sys/kernel/tracing`)".to_owned()
            })?;
        remove_stale(&root.join("instances"));
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = root
            .join("instances")
            .join(format!("bpfsmith-{}-{n}", std::process::id()));
        std::fs::create_dir(&dir)
            .map_err(|e| format!("cannot make the trace instance {}: {e}", dir.display()))?;
        // From here on the instance exists: dropping `capture` removes it on every error path.
        let capture = TraceCapture { dir };
        let write = |file: &str, value: &str| {
            let path = capture.dir.join(file);
            std::fs::write(&path, value)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))
        };
        write("options/context-info", "0")?;
        write("set_event_pid", &this_thread()?)?;
        write("events/bpf_trace/bpf_trace_printk/enable", "1")?;
        Ok(capture)
    }

    /// The messages so far, oldest first (only this thread's: make the capture on the
    /// thread that runs the program).
    pub(crate) fn messages(&self) -> Result<Vec<String>, String> {
        let path = self.dir.join("trace");
        let bytes =
            std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        // Messages are bytes; the VM's are read the same way.
        Ok(parse(&String::from_utf8_lossy(&bytes)))
    }

    /// How many messages the instance's ring buffer overwrote (each CPU's `overrun`): a run
    /// that prints more than the buffer holds keeps only the newest.
    pub(crate) fn overwritten(&self) -> u64 {
        let Ok(cpus) = std::fs::read_dir(self.dir.join("per_cpu")) else {
            return 0;
        };
        cpus.filter_map(|c| std::fs::read_to_string(c.ok()?.path().join("stats")).ok())
            .map(|stats| overrun(&stats))
            .sum()
    }
}

impl Drop for TraceCapture {
    fn drop(&mut self) {
        // tracefs removes an instance's files with the directory itself.
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// Remove the instances of bpfsmith processes that are gone (killed during a run, so their
/// `Drop` never ran): each keeps the event enabled and holds its ring buffers.
fn remove_stale(instances: &Path) {
    let Ok(entries) = std::fs::read_dir(instances) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("bpfsmith-"))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new("/proc").join(pid.to_string()).exists() {
            let _ = std::fs::remove_dir(e.path());
        }
    }
}

/// The calling thread's id, which `set_event_pid` filters on (the process id names only the
/// main thread).
fn this_thread() -> Result<String, String> {
    let link = std::fs::read_link("/proc/thread-self")
        .map_err(|e| format!("cannot read /proc/thread-self: {e}"))?;
    link.file_name()
        .and_then(|t| t.to_str())
        .map(str::to_owned)
        .ok_or_else(|| format!("/proc/thread-self points at {}", link.display()))
}

/// The messages of a trace file without context columns: each entry starts a line with
/// `bpf_trace_printk: ` and ends with the newline the trace output adds, which is removed (a
/// message that ended with its own `\n` keeps it). Comment lines (`#`) head the file.
fn parse(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in text.split_inclusive('\n') {
        if let Some(m) = line.strip_prefix(EVENT) {
            out.push(m.to_owned());
        } else if let Some(last) = out.last_mut() {
            // A message with newlines inside goes on over several lines.
            last.push_str(line);
        }
    }
    for m in &mut out {
        if m.ends_with('\n') {
            m.pop();
        }
    }
    out
}

/// The `overrun:` count of a per-CPU `stats` file.
fn overrun(stats: &str) -> u64 {
    stats
        .lines()
        .find_map(|l| l.strip_prefix("overrun:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::{overrun, parse};

    #[test]
    fn the_overrun_count_is_read_from_stats() {
        assert_eq!(overrun("entries: 3\noverrun: 17\ncommit overrun: 0\n"), 17);
        assert_eq!(overrun("entries: 3\n"), 0);
    }

    #[test]
    fn entries_split_at_the_event_name_and_lose_one_newline() {
        let text = "# tracer: nop\n#\nbpf_trace_printk: n= -42\n\nbpf_trace_printk: no newline\nbpf_trace_printk: two\nlines\n\n";
        assert_eq!(parse(text), ["n= -42\n", "no newline", "two\nlines\n"]);
        assert!(parse("# tracer: nop\n").is_empty());
    }
}
