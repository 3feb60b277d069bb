//! What the running kernel supports, found by asking it: each feature is tried with the
//! smallest thing that needs it (a two- or three-instruction socket filter, a one-entry map, a
//! one-type BTF blob), never inferred from the version number.
//!
//! ```no_run
//! let p = bpfsmith::probe::probe();
//! println!("{p}");                       // one line per feature: yes, or no and why
//! println!("{}", p.to_json());           // the same as one JSON object
//! assert!(p.isa.cpu_version() >= 3);
//! ```
//!
//! Nothing is changed on the machine: the JIT setting is read, never written, and every object
//! a probe creates is closed before it returns. A probe that cannot run for lack of privilege
//! says so (`EPERM`) rather than claiming the feature is missing ([`Support::is_known`]).
//!
//! The instruction-set part ([`Isa`]) is what the loader and the conformance runner need to
//! tell "this kernel is too old for this instruction" from an ordinary verifier refusal; it is
//! probed once per process ([`isa`]).

use std::fmt;

pub use crate::load::isa::{isa, release_version, Feature, Isa, Support};

use crate::helpers::Helper;
use crate::insn::{Size, R0, R10};
use crate::load::isa::load;
use crate::load::{BtfSource, LoadOptions, LoadedObject};
use crate::maps::MapDef;
use crate::object::btf::BtfBuilder;
use crate::object::Object;
use crate::program::{ProgramBuilder, PushFlags, Section, StackSlot};
use crate::sys;

/// Everything [`probe`] finds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    /// The instruction set (and the kernel release).
    pub isa: Isa,
    /// `/proc/sys/net/core/bpf_jit_enable`: 0 interpreter, 1 JIT, 2 JIT with debug output
    /// (`None` when unreadable).
    pub jit_enable: Option<u32>,
    /// `/proc/sys/kernel/unprivileged_bpf_disabled`: 0 allowed, 1 disabled until reboot, 2
    /// disabled (an administrator may set 0 again).
    pub unprivileged_bpf_disabled: Option<u32>,
    /// Creating a queue map.
    pub queue_map: Support,
    /// Creating a stack map.
    pub stack_map: Support,
    /// A socket filter calling each queue/stack helper (87 push, 88 pop, 89 peek) on a queue.
    pub helpers: Vec<(Helper, Support)>,
    /// `BPF_BTF_LOAD` of a one-type blob.
    pub btf: Support,
    /// A program loaded with `func_info` records (the kernel kept them).
    pub func_info: Support,
    /// A program loaded with `line_info` records (the kernel kept them).
    pub line_info: Support,
    /// The kernel reports the size a verifier log needs (`log_true_size`, Linux 6.4).
    pub log_true_size: Support,
}

/// Probe the running kernel: its release, JIT and unprivileged-BPF settings (read, never
/// written), the instruction set feature by feature, queue and stack maps, the helpers 87 to
/// 89, BTF, func_info and line_info, and `log_true_size`.
pub fn probe() -> Probe {
    let isa = Isa::probe();
    let queue_map = map_support(&MapDef::queue::<u32>(1));
    let stack_map = map_support(&MapDef::stack::<u32>(1));
    let helpers = [Helper::MapPushElem, Helper::MapPopElem, Helper::MapPeekElem]
        .into_iter()
        .map(|h| (h, helper_support(h, &queue_map)))
        .collect();
    let (func_info, line_info) = btf_ext_support();
    Probe {
        isa,
        jit_enable: read_number("/proc/sys/net/core/bpf_jit_enable"),
        unprivileged_bpf_disabled: read_number("/proc/sys/kernel/unprivileged_bpf_disabled"),
        queue_map,
        stack_map,
        helpers,
        btf: btf_support(),
        func_info,
        line_info,
        log_true_size: log_true_size_support(),
    }
}

fn read_number(path: &str) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn map_support(def: &MapDef) -> Support {
    match crate::load::Map::create(def) {
        Ok(_) => Support::Yes,
        Err(crate::load::MapError::Other(e)) => Support::no(Some(e.errno), e.to_string()),
        Err(e) => Support::no(None, e.to_string()),
    }
}

fn helper_support(helper: Helper, queue_map: &Support) -> Support {
    if !queue_map.is_yes() {
        return Support::no(None, "no queue map to call it on");
    }
    let mut obj = Object::new("GPL");
    let queue = match obj.map("queue", MapDef::queue::<u32>(1)) {
        Ok(q) => q,
        Err(e) => return Support::no(None, e.to_string()),
    };
    let mut p = ProgramBuilder::new(format!("probe_{}", helper.id()), Section::SOCKET);
    let slot = StackSlot::of::<u32>(-4);
    match helper {
        Helper::MapPushElem => {
            p.store(Size::U32, R10, -4, 1);
            p.push(&queue, slot, PushFlags::ANY);
        }
        Helper::MapPopElem => {
            p.pop(&queue, slot);
        }
        _ => {
            p.peek(&queue, slot);
        }
    }
    p.mov(R0, 0).exit();
    match p.finish() {
        Ok(prog) => {
            if let Err(e) = obj.add_program(prog) {
                return Support::no(None, e.to_string());
            }
        }
        Err(e) => return Support::no(None, e.to_string()),
    }
    load(&obj, BtfSource::Without)
}

/// A BTF blob with one type, `int`.
fn minimal_btf() -> Vec<u8> {
    let mut b = BtfBuilder::new();
    b.int("int", 4, true);
    b.finish()
}

fn btf_support() -> Support {
    let mut buf = vec![0u8; 4096];
    let out = sys::btf_load(
        &minimal_btf(),
        Some(sys::LogBuf {
            level: 1,
            buf: &mut buf,
        }),
    );
    match out.result {
        Ok(_) => Support::Yes,
        Err(e) => {
            let log = crate::load::log_text(&buf);
            let message = log
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("");
            Support::no(Some(e.errno), message)
        }
    }
}

/// Load a program with its BTF records, first func_info alone, then func_info and line_info,
/// and ask the kernel whether it kept them.
fn btf_ext_support() -> (Support, Support) {
    let mut p = ProgramBuilder::new("probe_btf_ext", Section::SOCKET);
    p.mov(R0, 0);
    p.exit();
    let mut obj = Object::new("GPL");
    let added = p
        .finish()
        .map_err(|e| e.to_string())
        .and_then(|prog| obj.add_program(prog).map_err(|e| e.to_string()));
    if let Err(e) = added {
        return (Support::no(None, e.clone()), Support::no(None, e));
    }
    let btf = match obj.btf() {
        Ok(b) => b,
        Err(e) => {
            let e = e.to_string();
            return (Support::no(None, e.clone()), Support::no(None, e));
        }
    };
    let kept = |btf: crate::object::btf::ObjectBtf, count: fn(&sys::ProgInfo) -> u32| {
        let options = LoadOptions {
            btf: BtfSource::Given(btf),
            ..Default::default()
        };
        match LoadedObject::load_plain(&obj, &options) {
            Ok(loaded) => match loaded.programs().first().map(|p| p.info()) {
                Some(Ok(info)) if count(&info) > 0 => Support::Yes,
                Some(Ok(_)) => Support::no(None, "loaded, but the kernel kept no records"),
                Some(Err(e)) => Support::no(Some(e.errno), e.to_string()),
                None => Support::no(None, "the program was not loaded"),
            },
            Err(e) => Support::from_error(&e),
        }
    };
    let mut func_only = btf.clone();
    for p in &mut func_only.programs {
        p.line_info.clear();
    }
    let func_info = kept(func_only, |i| i.nr_func_info);
    let line_info = kept(btf, |i| i.nr_line_info);
    (func_info, line_info)
}

/// Whether the kernel writes `log_true_size` back after a load with a log (Linux 6.4+).
fn log_true_size_support() -> Support {
    let mut p = ProgramBuilder::new("probe_log_size", Section::SOCKET);
    p.mov(R0, 0);
    p.exit();
    let bytes = match p.finish() {
        Ok(prog) => prog.bytes(),
        Err(e) => return Support::no(None, e.to_string()),
    };
    let mut buf = vec![0u8; 4096];
    let mut req = sys::ProgLoad {
        prog_type: crate::program::ProgType::SocketFilter as u32,
        insns: &bytes,
        license: c"GPL",
        name: "probe_log_size",
        log: Some(sys::LogBuf {
            level: 1,
            buf: &mut buf,
        }),
        ..Default::default()
    };
    let out = sys::prog_load(&mut req);
    match out.result {
        Ok(_) if out.log_true_size > 0 => Support::Yes,
        Ok(_) => Support::no(
            None,
            "the kernel left log_true_size at 0 (before Linux 6.4)",
        ),
        Err(e) => Support::no(Some(e.errno), e.to_string()),
    }
}

impl Probe {
    /// The probe as one JSON object:
    /// `{"release": "6.1.0-57-cloud-amd64", "version": "6.1", "jit_enable": 1, ...,
    /// "cpu_version": 3, "isa": {"sdiv_smod": {"cpu": 4, "since": "6.6", "supported": false,
    /// "errno": "EINVAL", "message": "BPF_ALU uses reserved fields"}, ...}, "maps": {...},
    /// "helpers": {"87": {"name": "bpf_map_push_elem", "supported": true}, ...}, "btf": {...},
    /// "func_info": {...}, "line_info": {...}, "log_true_size": {...}}`.
    pub fn to_json(&self) -> String {
        use serde_json::{json, Map, Value};
        let mut isa = Map::new();
        for (f, s) in &self.isa.features {
            let mut v = s.json();
            if let Value::Object(o) = &mut v {
                o.insert("name".into(), json!(f.name()));
                o.insert("cpu".into(), json!(f.cpu_version()));
                o.insert("since".into(), json!(f.since_text()));
            }
            isa.insert(f.key().into(), v);
        }
        let mut helpers = Map::new();
        for (h, s) in &self.helpers {
            let mut v = s.json();
            if let Value::Object(o) = &mut v {
                o.insert("name".into(), json!(h.name()));
            }
            helpers.insert(h.id().to_string(), v);
        }
        let version =
            crate::load::isa::release_version(&self.isa.release).map(|(a, b)| format!("{a}.{b}"));
        json!({
            "release": self.isa.release,
            "version": version,
            "jit_enable": self.jit_enable,
            "unprivileged_bpf_disabled": self.unprivileged_bpf_disabled,
            "cpu_version": self.isa.cpu_version(),
            "isa": isa,
            "maps": { "queue": self.queue_map.json(), "stack": self.stack_map.json() },
            "helpers": helpers,
            "btf": self.btf.json(),
            "func_info": self.func_info.json(),
            "line_info": self.line_info.json(),
            "log_true_size": self.log_true_size.json(),
        })
        .to_string()
    }
}

impl fmt::Display for Probe {
    /// One line per probe, `what  answer`, the answers aligned.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let jit = match self.jit_enable {
            Some(0) => "off: the interpreter runs programs (bpf_jit_enable = 0)".to_owned(),
            Some(n) => format!("on (bpf_jit_enable = {n})"),
            None => "unknown (bpf_jit_enable unreadable)".to_owned(),
        };
        let unpriv = match self.unprivileged_bpf_disabled {
            Some(0) => "allowed (unprivileged_bpf_disabled = 0)".to_owned(),
            Some(1) => "disabled until reboot (unprivileged_bpf_disabled = 1)".to_owned(),
            Some(n) => format!("disabled (unprivileged_bpf_disabled = {n})"),
            None => "unknown (unprivileged_bpf_disabled unreadable)".to_owned(),
        };
        let mut rows: Vec<(String, String)> = vec![
            ("kernel".into(), self.isa.release.clone()),
            ("JIT".into(), jit),
            ("unprivileged BPF".into(), unpriv),
            ("cpu version".into(), format!("v{}", self.isa.cpu_version())),
        ];
        for (feat, s) in &self.isa.features {
            let label = format!(
                "  v{} {} (Linux {})",
                feat.cpu_version(),
                feat.name(),
                feat.since_text()
            );
            rows.push((label, s.to_string()));
        }
        rows.push(("queue map".into(), self.queue_map.to_string()));
        rows.push(("stack map".into(), self.stack_map.to_string()));
        for (h, s) in &self.helpers {
            rows.push((format!("helper {} {}", h.id(), h.name()), s.to_string()));
        }
        rows.push(("BTF".into(), self.btf.to_string()));
        rows.push(("func_info".into(), self.func_info.to_string()));
        rows.push(("line_info".into(), self.line_info.to_string()));
        rows.push((
            "log_true_size (Linux 6.4)".into(),
            self.log_true_size.to_string(),
        ));
        let width = rows.iter().map(|(l, _)| l.len()).max().unwrap_or(0) + 2;
        for (i, (label, answer)) in rows.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{label:width$}{answer}")?;
        }
        Ok(())
    }
}
