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
use std::sync::OnceLock;

use crate::helpers::Helper;
use crate::insn::{AluOp, AtomicOp, Cond, Endian, Insn, Operand, Size, Width, R0, R1, R10};
use crate::load::{BtfSource, LoadError, LoadOptions, LoadedObject};
use crate::maps::MapDef;
use crate::object::btf::BtfBuilder;
use crate::object::Object;
use crate::program::{Program, ProgramBuilder, PushFlags, Section, StackSlot};
use crate::sys;

/// A part of the instruction set that kernels gained at one point: the unit a probe tests
/// and the reason a loader or a test runner gives when a kernel lacks it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Feature {
    /// The original instruction set (cpu v1).
    Base,
    /// The 64-bit conditions `<`, `<=`, `s<`, `s<=` (cpu v2).
    JmpExt,
    /// The `JMP32` class: conditional jumps on `wN` (cpu v3).
    Jmp32,
    /// Atomics beyond `lock +=`: fetch variants, and/or/xor, `xchg`, `cmpxchg` (cpu v3 in
    /// LLVM, Linux 5.12).
    Atomics,
    /// Signed division and modulo `s/=`, `s%=` (cpu v4).
    SdivSmod,
    /// Sign-extending moves `r1 = (s8)r2` (cpu v4).
    Movsx,
    /// Sign-extending loads `r1 = *(s8 *)(r2 + 0)` (cpu v4).
    Ldsx,
    /// Unconditional byte swaps `bswap16/32/64` (cpu v4).
    Bswap,
    /// The long jump `gotol` (cpu v4).
    Gotol,
    /// `load_acquire` and `store_release` (cpu v4 since LLVM 22; Linux 6.15).
    LoadAcqStoreRel,
}

impl Feature {
    /// Every feature, oldest first.
    pub const ALL: [Feature; 10] = [
        Feature::Base,
        Feature::JmpExt,
        Feature::Jmp32,
        Feature::Atomics,
        Feature::SdivSmod,
        Feature::Movsx,
        Feature::Ldsx,
        Feature::Bswap,
        Feature::Gotol,
        Feature::LoadAcqStoreRel,
    ];

    /// The features that make up cpu v4 as the kernel's 6.6 release defines it (without the
    /// later load-acquire / store-release).
    pub const CPU_V4: [Feature; 5] = [
        Feature::SdivSmod,
        Feature::Movsx,
        Feature::Ldsx,
        Feature::Bswap,
        Feature::Gotol,
    ];

    /// The feature an instruction needs beyond the original set, if any. Extensions outside
    /// the numbered cpu versions (`may_goto`, kfuncs, arenas ...) give `None`: see
    /// [`Insn::since_linux`] for those.
    pub fn of(insn: &Insn) -> Option<Feature> {
        Some(match *insn {
            Insn::Alu {
                op: AluOp::SDiv | AluOp::SMod,
                ..
            } => Feature::SdivSmod,
            Insn::MovSx { .. } => Feature::Movsx,
            Insn::Load { sign: true, .. } => Feature::Ldsx,
            Insn::Endian {
                kind: Endian::Swap, ..
            } => Feature::Bswap,
            Insn::JaLong { .. } => Feature::Gotol,
            Insn::Atomic {
                op: AtomicOp::LoadAcquire | AtomicOp::StoreRelease,
                ..
            } => Feature::LoadAcqStoreRel,
            Insn::Atomic { .. } if insn.cpu_version() == 3 => Feature::Atomics,
            Insn::Jump {
                width: Width::W32, ..
            } => Feature::Jmp32,
            Insn::Jump { .. } if insn.cpu_version() == 2 => Feature::JmpExt,
            _ => return None,
        })
    }

    /// The LLVM `-mcpu` version the feature belongs to (1 to 4).
    pub fn cpu_version(self) -> u8 {
        match self {
            Feature::Base => 1,
            Feature::JmpExt => 2,
            Feature::Jmp32 | Feature::Atomics => 3,
            _ => 4,
        }
    }

    /// The first Linux release that has it, `(major, minor)`.
    pub fn since_linux(self) -> (u32, u32) {
        match self {
            Feature::Base => (3, 18),
            Feature::JmpExt => (4, 14),
            Feature::Jmp32 => (5, 1),
            Feature::Atomics => (5, 12),
            Feature::LoadAcqStoreRel => (6, 15),
            _ => (6, 6),
        }
    }

    /// [`Feature::since_linux`] as text: `"6.6"`.
    pub fn since_text(self) -> String {
        let (major, minor) = self.since_linux();
        format!("{major}.{minor}")
    }

    /// What it is, in the words people search for: `"sdiv/smod"`, `"jmp32"`.
    pub fn name(self) -> &'static str {
        match self {
            Feature::Base => "base instruction set",
            Feature::JmpExt => "jlt/jle/jslt/jsle",
            Feature::Jmp32 => "jmp32",
            Feature::Atomics => "atomic fetch/xchg/cmpxchg/and/or/xor",
            Feature::SdivSmod => "sdiv/smod",
            Feature::Movsx => "movsx",
            Feature::Ldsx => "ldsx",
            Feature::Bswap => "bswap",
            Feature::Gotol => "gotol",
            Feature::LoadAcqStoreRel => "load-acquire/store-release",
        }
    }

    /// A stable identifier for JSON: `"sdiv_smod"`.
    pub fn key(self) -> &'static str {
        match self {
            Feature::Base => "base",
            Feature::JmpExt => "jmp_ext",
            Feature::Jmp32 => "jmp32",
            Feature::Atomics => "atomics",
            Feature::SdivSmod => "sdiv_smod",
            Feature::Movsx => "movsx",
            Feature::Ldsx => "ldsx",
            Feature::Bswap => "bswap",
            Feature::Gotol => "gotol",
            Feature::LoadAcqStoreRel => "load_acq_store_rel",
        }
    }

    /// The probe: a socket filter whose one interesting instruction needs the feature and
    /// which the verifier accepts wherever the feature exists.
    fn program(self) -> Program {
        let mut p = ProgramBuilder::new(format!("probe_{}", self.key()), Section::SOCKET);
        match self {
            Feature::Base => {
                p.mov(R0, 0);
            }
            Feature::JmpExt => {
                p.mov(R0, 0).emit(jump(Width::W64, Cond::Lt));
            }
            Feature::Jmp32 => {
                p.mov(R0, 0).emit(jump(Width::W32, Cond::Eq));
            }
            Feature::Atomics => {
                p.store(Size::U64, R10, -8, 0).mov(R1, 1);
                p.atomic(Size::U64, AtomicOp::Add { fetch: true }, R10, -8, R1);
                p.mov(R0, 0);
            }
            Feature::SdivSmod => {
                p.mov(R0, 6).alu(AluOp::SDiv, R0, 3);
            }
            Feature::Movsx => {
                p.mov(R0, 1).emit(Insn::MovSx {
                    width: Width::W64,
                    bits: 8,
                    dst: R0,
                    src: R0,
                });
            }
            Feature::Ldsx => {
                p.store(Size::U64, R10, -8, 0);
                p.load_sx(Size::U8, R0, R10, -8);
            }
            Feature::Bswap => {
                p.mov(R0, 1).emit(Insn::Endian {
                    kind: Endian::Swap,
                    bits: 16,
                    dst: R0,
                });
            }
            Feature::Gotol => {
                // A jump over one instruction, so that a kernel reading the offset from the
                // `off` field (0) instead of `imm` finds the last `exit` unreachable.
                let (skip, far) = (p.new_label(), p.new_label());
                p.mov(R0, 0).jump_if(R0, Cond::Eq, 0, skip);
                p.jump_long(far);
                p.bind(skip).exit();
                p.bind(far);
            }
            Feature::LoadAcqStoreRel => {
                p.store(Size::U64, R10, -8, 0);
                p.emit(Insn::Atomic {
                    size: Size::U64,
                    op: AtomicOp::LoadAcquire,
                    dst: R0,
                    src: R10,
                    off: -8,
                });
            }
        }
        p.exit();
        p.finish().expect("the probe programs are well formed")
    }
}

/// `if r0 <cond> 0 goto +0` in the given width.
fn jump(width: Width, cond: Cond) -> Insn {
    Insn::Jump {
        width,
        cond,
        dst: R0,
        src: Operand::Imm(0),
        off: 0,
    }
}

impl fmt::Display for Feature {
    /// `cpu v4 (sdiv/smod)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cpu v{} ({})", self.cpu_version(), self.name())
    }
}

/// One probe's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Support {
    /// The kernel did it.
    Yes,
    /// It did not: the errno (when the kernel gave one) and its reason (the verifier's or the
    /// BTF log's message, or what failed).
    No {
        /// The errno of the refusal.
        errno: Option<i32>,
        /// Why.
        message: String,
    },
}

impl Support {
    /// Whether the kernel did it.
    pub fn is_yes(&self) -> bool {
        matches!(self, Support::Yes)
    }

    /// Whether the answer says something about the kernel: `Yes`, or a refusal other than
    /// for lack of privilege (`EPERM`, `EACCES`), which says nothing about the feature.
    pub fn is_known(&self) -> bool {
        match self {
            Support::Yes => true,
            Support::No { errno, .. } => !matches!(*errno, Some(libc::EPERM | libc::EACCES)),
        }
    }

    /// Whether the kernel lacks it: a refusal that is not for lack of privilege.
    pub fn is_missing(&self) -> bool {
        !self.is_yes() && self.is_known()
    }

    fn no(errno: Option<i32>, message: impl Into<String>) -> Support {
        Support::No {
            errno,
            message: message.into(),
        }
    }

    fn from_load(r: Result<LoadedObject, LoadError>) -> Support {
        match r {
            Ok(_) => Support::Yes,
            Err(e) => Support::from_error(&e),
        }
    }

    fn from_error(e: &LoadError) -> Support {
        match e {
            LoadError::Verifier { errno, log, .. } => Support::no(Some(*errno), log_message(log)),
            e => Support::no(e.errno(), e.to_string()),
        }
    }

    fn json(&self) -> serde_json::Value {
        match self {
            Support::Yes => serde_json::json!({ "supported": true }),
            Support::No { errno, message } => serde_json::json!({
                "supported": false,
                "errno": errno.map(|e| sys::errno_name(e).map_or_else(|| e.to_string(), str::to_owned)),
                "message": message,
            }),
        }
    }
}

impl fmt::Display for Support {
    /// `yes`, or `no (EINVAL: unknown opcode d7)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Support::Yes => f.write_str("yes"),
            Support::No { errno, message } => {
                let name =
                    errno.map(|e| sys::errno_name(e).map_or_else(|| e.to_string(), str::to_owned));
                match (name, message.is_empty()) {
                    (Some(n), false) => write!(f, "no ({n}: {message})"),
                    (Some(n), true) => write!(f, "no ({n})"),
                    (None, _) => write!(f, "no ({message})"),
                }
            }
        }
    }
}

/// The verifier's reason in a refusal's log: its error message, or the last line that is
/// not statistics.
fn log_message(log: &str) -> String {
    // The message's last line: an instruction the kernel cannot print comes first
    // (`1: BUG_db`, then `BPF_ATOMIC uses invalid atomic opcode 100`).
    let is_insn = |l: &str| {
        l.split_once(": ")
            .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    };
    if let Some(e) = crate::verifier::VerifierLog::parse(log).error() {
        if let Some(l) = e.lines.iter().rev().find(|l| !is_insn(l)) {
            return (*l).to_owned();
        }
    }
    log.lines()
        .rev()
        .find(|l| {
            !l.trim().is_empty()
                && !l.starts_with("processed ")
                && !l.starts_with("verification time")
                && !l.starts_with("stack depth")
        })
        .unwrap_or("")
        .to_owned()
}

/// The instruction-set features of the running kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Isa {
    /// The kernel release (`/proc/sys/kernel/osrelease`).
    pub release: String,
    /// Every [`Feature`], oldest first, with what its probe found.
    pub features: Vec<(Feature, Support)>,
}

impl Isa {
    /// Probe every feature (one program load each).
    pub fn probe() -> Isa {
        Isa {
            release: release(),
            features: Feature::ALL
                .iter()
                .map(|&f| (f, probe_program(f.program())))
                .collect(),
        }
    }

    /// What the probe of `feature` found.
    pub fn support(&self, feature: Feature) -> &Support {
        self.features
            .iter()
            .find(|(f, _)| *f == feature)
            .map(|(_, s)| s)
            .expect("every feature is probed")
    }

    /// Whether the kernel lacks `feature` (a refusal, not a lack of privilege).
    pub fn lacks(&self, feature: Feature) -> bool {
        self.support(feature).is_missing()
    }

    /// The highest cpu version whose features are all here, 0 when even the original set could
    /// not be loaded. cpu v4 means the five features of Linux 6.6 ([`Feature::CPU_V4`]); the
    /// later load-acquire / store-release is reported on its own.
    pub fn cpu_version(&self) -> u8 {
        let mut v = 0;
        for level in 1..=4u8 {
            let all = self
                .features
                .iter()
                .filter(|(f, _)| f.cpu_version() == level && *f != Feature::LoadAcqStoreRel)
                .all(|(_, s)| s.is_yes());
            if !all {
                break;
            }
            v = level;
        }
        v
    }

    /// The first instruction (index into `insns`) that needs a feature this kernel lacks, and
    /// that feature.
    pub fn first_lacking(&self, insns: &[Insn]) -> Option<(usize, Feature)> {
        insns
            .iter()
            .enumerate()
            .find_map(|(i, insn)| Feature::of(insn).filter(|&f| self.lacks(f)).map(|f| (i, f)))
    }
}

/// The running kernel's instruction-set features, probed on the first call and kept for the
/// life of the process.
pub fn isa() -> &'static Isa {
    static ISA: OnceLock<Isa> = OnceLock::new();
    ISA.get_or_init(Isa::probe)
}

/// Load one probe program into the kernel (without BTF, so that only the instruction is
/// tried) and drop it.
fn probe_program(prog: Program) -> Support {
    let mut obj = Object::new("GPL");
    if let Err(e) = obj.add_program(prog) {
        return Support::no(None, e.to_string());
    }
    load(&obj, BtfSource::Without)
}

fn load(obj: &Object, btf: BtfSource) -> Support {
    let options = LoadOptions {
        btf,
        ..Default::default()
    };
    Support::from_load(LoadedObject::load_plain(obj, &options))
}

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

fn release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
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
            crate::guest::release_version(&self.isa.release).map(|(a, b)| format!("{a}.{b}"));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_feature_has_its_instruction_in_its_probe() {
        for f in Feature::ALL {
            let prog = f.program();
            let found: Vec<Feature> = prog.insns.iter().filter_map(Feature::of).collect();
            if f == Feature::Base {
                assert!(found.is_empty(), "{found:?}");
            } else {
                assert_eq!(found, vec![f], "{f:?}");
            }
            for insn in &prog.insns {
                insn.validate().unwrap();
                assert!(insn.cpu_version() <= f.cpu_version());
            }
        }
    }

    #[test]
    fn features_agree_with_the_instructions() {
        for f in Feature::ALL {
            for insn in f.program().insns {
                if let Some(g) = Feature::of(&insn) {
                    assert_eq!(g.cpu_version(), insn.cpu_version());
                    assert_eq!(Some(g.since_linux()), insn.since_linux());
                }
            }
        }
        assert_eq!(Feature::SdivSmod.to_string(), "cpu v4 (sdiv/smod)");
        assert_eq!(Feature::LoadAcqStoreRel.since_text(), "6.15");
    }

    #[test]
    fn cpu_version_counts_complete_levels() {
        let isa = |missing: &[Feature]| Isa {
            release: "x".into(),
            features: Feature::ALL
                .iter()
                .map(|&f| {
                    let s = if missing.contains(&f) {
                        Support::no(Some(libc::EINVAL), "unknown opcode d7")
                    } else {
                        Support::Yes
                    };
                    (f, s)
                })
                .collect(),
        };
        assert_eq!(isa(&[]).cpu_version(), 4);
        assert_eq!(isa(&[Feature::LoadAcqStoreRel]).cpu_version(), 4);
        assert_eq!(isa(&[Feature::Bswap]).cpu_version(), 3);
        assert_eq!(isa(&[Feature::Atomics]).cpu_version(), 2);
        assert_eq!(isa(&[Feature::Base]).cpu_version(), 0);
        let six_one = isa(&Feature::CPU_V4);
        let sdiv = Insn::Alu {
            width: Width::W32,
            op: AluOp::SMod,
            dst: R1,
            src: Operand::Imm(3),
        };
        assert_eq!(
            six_one.first_lacking(&[Insn::Exit, sdiv, Insn::Exit]),
            Some((1, Feature::SdivSmod))
        );
        assert_eq!(six_one.first_lacking(&[Insn::Exit]), None);
    }

    #[test]
    fn the_reason_is_the_message_not_the_unprintable_instruction() {
        // Linux 6.12 on a load-acquire: its printer does not know the instruction.
        let log = "0: R1=ctx() R10=fp0\n; r0 = load_acquire((u64 *)(r10 - 8)) @ la.s:5\n\
                   1: BUG_db\nBPF_ATOMIC uses invalid atomic opcode 100\n\
                   processed 2 insns (limit 1000000) max_states_per_insn 0 total_states 0 \
                   peak_states 0 mark_read 0\n";
        assert_eq!(
            log_message(log),
            "BPF_ATOMIC uses invalid atomic opcode 100"
        );
        // Linux 6.1 on bswap: refused before verification, no instruction line.
        let log = "unknown opcode d7\nprocessed 0 insns (limit 1000000) max_states_per_insn 0 \
                   total_states 0 peak_states 0 mark_read 0\n";
        assert_eq!(log_message(log), "unknown opcode d7");
    }

    #[test]
    fn a_refusal_for_privilege_says_nothing_about_the_feature() {
        let eperm = Support::no(Some(libc::EPERM), "");
        assert!(!eperm.is_known() && !eperm.is_missing());
        let einval = Support::no(Some(libc::EINVAL), "unknown opcode d7");
        assert!(einval.is_missing());
        assert_eq!(einval.to_string(), "no (EINVAL: unknown opcode d7)");
        assert_eq!(Support::Yes.to_string(), "yes");
    }
}
