//! What instructions the running kernel loads: the instruction-set part of the probe
//! ([`crate::probe`] re-exports it). It lives with the loader because the loader asks it, once
//! per process ([`isa`]), to tell "this kernel is too old for this instruction" from an
//! ordinary verifier refusal ([`super::LoadError::MissingFeature`]).

use std::fmt;
use std::sync::OnceLock;

use super::{BtfSource, LoadError, LoadOptions, LoadedObject};
use crate::insn::{AluOp, AtomicOp, Cond, Endian, Insn, Operand, Size, Width, R0, R1, R10};
use crate::object::Object;
use crate::program::{Program, ProgramBuilder, Section};
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

    pub(crate) fn no(errno: Option<i32>, message: impl Into<String>) -> Support {
        Support::No {
            errno,
            message: message.into(),
        }
    }

    pub(crate) fn from_load(r: Result<LoadedObject, LoadError>) -> Support {
        match r {
            Ok(_) => Support::Yes,
            Err(e) => Support::from_error(&e),
        }
    }

    pub(crate) fn from_error(e: &LoadError) -> Support {
        match e {
            LoadError::Verifier { errno, log, .. } => Support::no(Some(*errno), log_message(log)),
            e => Support::no(e.errno(), e.to_string()),
        }
    }

    pub(crate) fn json(&self) -> serde_json::Value {
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

pub(crate) fn load(obj: &Object, btf: BtfSource) -> Support {
    let options = LoadOptions {
        btf,
        ..Default::default()
    };
    Support::from_load(LoadedObject::load_plain(obj, &options))
}

fn release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

/// The major and minor version of a kernel release string (`6.1.0-57-cloud-amd64` ->
/// `(6, 1)`).
pub fn release_version(release: &str) -> Option<(u32, u32)> {
    let mut it = release.split(|c: char| !c.is_ascii_digit());
    let major = it.next()?.parse().ok()?;
    let minor = it.next()?.parse().ok()?;
    Some((major, minor))
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
