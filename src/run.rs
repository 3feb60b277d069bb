//! What a run is asked and what it gives back, the same for both engines: the kernel's
//! `BPF_PROG_TEST_RUN` ([`crate::load::run`], Linux only) and the VM ([`crate::vm::run`],
//! every OS). Also which engine runs: [`EngineChoice`].

use std::fmt::Write;

/// What to run and with what.
#[derive(Clone, Debug, Default)]
pub struct RunRequest {
    /// The program to run (`None`: the object's only loadable program, or its first).
    pub program: Option<String>,
    /// The input packet or context data (`None`: 64 zero bytes, enough for socket filters,
    /// tc and XDP, which need an Ethernet header's 14).
    pub data: Option<Vec<u8>>,
    /// How many runs (`duration_ns` is their mean).
    pub repeat: u32,
    /// Values to push into queue/stack maps before the run, per map, in push order.
    pub push: Vec<(String, Vec<Vec<u8>>)>,
    /// Verifier log level for the load.
    pub log_level: u32,
}

/// A value read back from a map: a number for 1-, 2-, 4- and 8-byte values, bytes otherwise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MapValueOut {
    /// A little-endian unsigned integer.
    Uint(u64),
    /// Any other size.
    Bytes(Vec<u8>),
}

impl MapValueOut {
    /// The number, or `None` for a value of another size.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            MapValueOut::Uint(n) => Some(*n),
            MapValueOut::Bytes(_) => None,
        }
    }

    pub(crate) fn from_bytes(b: &[u8]) -> MapValueOut {
        match b.len() {
            1 | 2 | 4 | 8 => {
                let mut w = [0u8; 8];
                w[..b.len()].copy_from_slice(b);
                MapValueOut::Uint(u64::from_le_bytes(w))
            }
            _ => MapValueOut::Bytes(b.to_vec()),
        }
    }
}

/// What a run gave back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunReport {
    /// The program that ran.
    pub program: String,
    /// Its return value as the kernel reports it (32 bits).
    pub retval: u32,
    /// Mean duration of one run in nanoseconds.
    pub duration_ns: u32,
    /// The output data.
    pub data_out: Vec<u8>,
    /// Every queue/stack map's contents after the run, drained in pop order.
    pub maps: Vec<(String, Vec<MapValueOut>)>,
    /// The verifier's log, when a log level was asked for.
    pub log: Option<String>,
    /// What `bpf_trace_printk` printed during the run, one message per call, as the trace
    /// buffer shows them after `bpf_trace_printk: ` (the VM: every message, up to
    /// [`crate::vm::TRACE_KEPT`]; the kernel: read from a trace instance of the run's own).
    pub trace: Vec<String>,
    /// Why `trace` may be incomplete: messages past the VM's limit, or a kernel run whose
    /// trace could not be read (tracefs not mounted ...). `None` when it is whole.
    pub trace_note: Option<String>,
}

pub(crate) fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        let _ = write!(s, "{x:02x}");
    }
    s
}

impl RunReport {
    /// The report as one JSON object: `{"program": NAME, "retval": N, "duration_ns": N,
    /// "data_out": HEX, "maps": {MAP: [values in pop order]}}`, values as unsigned integers for
    /// 1-, 2-, 4- and 8-byte values and as hex strings otherwise.
    pub fn to_json(&self) -> String {
        self.json_value().to_string()
    }

    /// [`RunReport::to_json`] with an `"engine"` key saying which engine ran (`"kernel"` or
    /// `"vm"`).
    pub fn to_json_with_engine(&self, engine: Engine) -> String {
        let mut v = self.json_value();
        v["engine"] = serde_json::json!(engine.name());
        v.to_string()
    }

    fn json_value(&self) -> serde_json::Value {
        use serde_json::{json, Map, Value};
        let mut maps = Map::new();
        for (name, values) in &self.maps {
            let vs = values
                .iter()
                .map(|v| match v {
                    MapValueOut::Uint(n) => json!(n),
                    MapValueOut::Bytes(b) => json!(hex(b)),
                })
                .collect();
            maps.insert(name.clone(), Value::Array(vs));
        }
        json!({
            "program": self.program,
            "retval": self.retval,
            "duration_ns": self.duration_ns,
            "data_out": hex(&self.data_out),
            "maps": maps,
            "trace": self.trace,
            "trace_note": self.trace_note,
        })
    }
}

/// A `bpf_trace_printk` message on one line: its final newline dropped (most messages end
/// with one), other control characters escaped (`\n`, `\t`, `\u{1b}`).
///
/// ```
/// assert_eq!(bpfsmith::run::trace_line("n=5\n"), "n=5");
/// assert_eq!(bpfsmith::run::trace_line("a\nb"), "a\\nb");
/// ```
pub fn trace_line(message: &str) -> String {
    let m = message.strip_suffix('\n').unwrap_or(message);
    m.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Map values as `[a, b, c]`: decimal integers, hex bytes for other sizes.
pub fn values_text(values: &[MapValueOut]) -> String {
    let vs: Vec<String> = values
        .iter()
        .map(|v| match v {
            MapValueOut::Uint(n) => n.to_string(),
            MapValueOut::Bytes(b) => hex(b),
        })
        .collect();
    format!("[{}]", vs.join(", "))
}

/// The shortest packet a socket filter, tc or XDP test run takes (`ETH_HLEN`).
pub const ETH_HLEN: usize = 14;

/// Whether the kernel's test run of this program type takes a packet of at least
/// [`ETH_HLEN`] bytes (and refuses less with a bare EINVAL).
pub(crate) fn needs_ethernet_header(t: crate::program::ProgType) -> bool {
    use crate::program::ProgType;
    matches!(
        t,
        ProgType::SocketFilter
            | ProgType::SchedCls
            | ProgType::SchedAct
            | ProgType::Xdp
            | ProgType::CgroupSkb
    )
}

/// `a, b`, or `none`: the names an error offers instead.
pub(crate) fn none_or_list(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

/// Encode a number given on the command line into a map value of `size` bytes: integers for
/// 1, 2, 4 and 8 bytes (decimal, `0x` hex, or negative), `0x`-prefixed hex bytes otherwise.
/// `None` when the text is not such a number or does not fit ([`parse_value`] says why).
pub fn value_bytes(text: &str, size: u32) -> Option<Vec<u8>> {
    parse_value(text, size).ok()
}

/// [`value_bytes`], with the reason when the text is refused. An integer of `n` bytes may be
/// given signed or unsigned: from `-2^(8n-1)` to `2^(8n) - 1` (`-1` is all ones, `-0` is 0);
/// anything outside is an error, never wrapped.
pub fn parse_value(text: &str, size: u32) -> Result<Vec<u8>, String> {
    let t = text.trim();
    if matches!(size, 1 | 2 | 4 | 8) {
        let bits = size * 8;
        let (negative, body) = match t.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, t),
        };
        let (digits, radix) = match body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
            Some(h) => (h, 16),
            None => (body, 10),
        };
        let magnitude = if !digits.is_empty() && digits.chars().all(|c| c.is_digit(radix)) {
            // Any digit string too long for u128 is out of range anyway.
            u128::from_str_radix(digits, radix).unwrap_or(u128::MAX)
        } else {
            return Err(format!(
                "`{t}` is not an integer (decimal, 0x hex, or negative)"
            ));
        };
        let max_unsigned = (1u128 << bits) - 1;
        let max_negative = 1u128 << (bits - 1);
        let value = if negative {
            if magnitude > max_negative {
                None
            } else {
                Some(((1u128 << bits) - magnitude) & max_unsigned)
            }
        } else if magnitude > max_unsigned {
            None
        } else {
            Some(magnitude)
        };
        let Some(value) = value else {
            return Err(format!(
                "`{t}` does not fit in {size} bytes (from -{max_negative} to {max_unsigned})"
            ));
        };
        return Ok(value.to_le_bytes()[..size as usize].to_vec());
    }
    let want = size as usize * 2;
    let h = t.strip_prefix("0x").ok_or_else(|| {
        format!("`{t}`: a {size}-byte value is given as 0x and {want} hex digits")
    })?;
    if h.len() != want || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "`{t}`: a {size}-byte value is given as 0x and {want} hex digits"
        ));
    }
    Ok((0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap_or(0))
        .collect())
}

/// A push from user space (`--push`) that found its queue or stack full, in either engine.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("map `{map}` is full: it holds {capacity} values (max_entries), and value {index} of --push ({value}) does not fit; a program's push with BPF_EXIST (2) would drop the oldest element instead")]
pub struct PushFull {
    /// The map.
    pub map: String,
    /// Its capacity.
    pub capacity: u32,
    /// The 1-based position of the value among those pushed into this map.
    pub index: usize,
    /// The value, as hex bytes.
    pub value: String,
}

/// The engine that runs a program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// The running kernel: loaded, verified, run with `BPF_PROG_TEST_RUN` (root or CAP_BPF).
    Kernel,
    /// The crate's interpreter ([`crate::vm`]): anywhere, without privileges, verifying nothing.
    Vm,
}

impl Engine {
    /// `kernel` or `vm`, as `--engine` and the JSON output spell it.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Kernel => "kernel",
            Engine::Vm => "vm",
        }
    }
}

impl std::fmt::Display for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Which engine to use: one of them, or `Auto`, the kernel when this process may load
/// programs ([`may_load_programs`]) and the VM otherwise.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EngineChoice {
    /// The kernel, whatever the privileges (a run without them fails as the kernel refuses).
    Kernel,
    /// The VM.
    Vm,
    /// The kernel when it may be used, else the VM.
    #[default]
    Auto,
}

impl EngineChoice {
    /// The engine this choice means for this process.
    pub fn resolve(self) -> Engine {
        match self {
            EngineChoice::Kernel => Engine::Kernel,
            EngineChoice::Vm => Engine::Vm,
            EngineChoice::Auto if may_load_programs() => Engine::Kernel,
            EngineChoice::Auto => Engine::Vm,
        }
    }
}

impl std::str::FromStr for EngineChoice {
    type Err = String;

    /// `kernel`, `vm` or `auto`.
    fn from_str(s: &str) -> Result<EngineChoice, String> {
        match s {
            "kernel" => Ok(EngineChoice::Kernel),
            "vm" => Ok(EngineChoice::Vm),
            "auto" => Ok(EngineChoice::Auto),
            other => Err(format!("`{other}`: the engine is kernel, vm or auto")),
        }
    }
}

/// `CAP_SYS_ADMIN`'s bit in the capability sets.
const CAP_SYS_ADMIN: u32 = 21;
/// `CAP_BPF`'s bit (Linux 5.8 and later; before, loading needs CAP_SYS_ADMIN).
const CAP_BPF: u32 = 39;

/// Whether this process may create maps and load programs: Linux, with CAP_BPF or
/// CAP_SYS_ADMIN in its effective set (root has both). Read from `/proc/self/status`, so
/// nothing is loaded to find out; without `/proc`, no.
pub fn may_load_programs() -> bool {
    if !cfg!(bpfsmith_kernel) {
        return false;
    }
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return false;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .is_some_and(|caps| caps & (1 << CAP_BPF | 1 << CAP_SYS_ADMIN) != 0)
}
