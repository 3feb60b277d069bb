//! Object to kernel: create the maps, patch their fds into the programs, load the programs
//! with the verifier-log policy, and hand back typed handles.
//!
//! ```no_run
//! use bpfsmith::prelude::*;
//! use bpfsmith::load::{LoadedObject, TestRun};
//!
//! let mut obj = Object::new("GPL");
//! let queue = obj.map("queue", MapDef::queue::<u32>(8)).unwrap();
//! let mut p = ProgramBuilder::new("pop_one", Section::SOCKET);
//! let v = p.reserve::<u32>();
//! p.pop(&queue, v);
//! p.load(Size::U32, R0, R10, v.off).exit();
//! obj.add_program(p.finish().unwrap()).unwrap();
//!
//! let loaded = LoadedObject::load(&obj)?;
//! loaded.queue::<u32>("queue")?.push(42, PushFlags::ANY)?;
//! let run = loaded.program("pop_one")?.test_run(&TestRun {
//!     data: &[0; 64],
//!     ..Default::default()
//! })?;
//! assert_eq!(run.retval, 42);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The verifier-log policy
//!
//! A program is loaded first without a log (fast, and the common case). When the kernel
//! refuses it, it is loaded again with a level-1 log (or the level asked for in
//! [`LoadOptions::log_level`]) so that the error carries the verifier's reason
//! ([`LoadError::Verifier`]). When the log buffer is too small (`ENOSPC`, which since 6.4 the
//! kernel returns even for a valid program whose log was truncated) the buffer grows to the
//! size the kernel reports (`log_true_size`) and the load is retried. Asking for level 2
//! (every instruction) or 4 (stats) loads with the log from the start and keeps the log of an
//! accepted program too ([`LoadedProgram::log`]).
//!
//! A refusal at one of the verifier's limits (`E2BIG`: a million instructions processed) is
//! never verified more than twice: the first load, then one load with a buffer of the first
//! size that is not grown, whose tail holds the verdict (a log that did not fit and ends at the
//! limit is kept as that tail, at any level). `BPF_PROG_LOAD` interrupted by a signal
//! (`EAGAIN`) is tried again, up to [`crate::sys::PROG_LOAD_ATTEMPTS`] times.
//!
//! # bpf-to-bpf calls
//!
//! A program whose functions are all in it (the builder's `call_fn`) needs nothing: its calls
//! are pc-relative already. A [`RelocKind::Function`] relocation names a function of another
//! program of the object (typically the `.text` section of subprograms): as libbpf does, the
//! loader appends that program's instructions to the caller's and points the call at the
//! callee. Programs in `.text` are not loaded on their own.

pub mod isa;
mod map;
mod program;
pub mod run;
mod trace;

use std::collections::HashMap;
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

pub use map::{flags, Map, MapError, Queue, Stack};
pub use program::{log_level, LoadedProgram, TestRun, TestRunResult, DEFAULT_LOG_SIZE};

use crate::insn::{Callee, Insn, Pseudo};
use crate::maps::{MapDefError, MapValue};
use crate::object::btf::ObjectBtf;
use crate::object::link::{self as linker, LinkError};
use crate::object::{Object, Pinning};
use crate::program::{ProgType, Program, RelocKind, Section};
use crate::slots::SlotMap;
use crate::sys::{self, FuncInfo, LineInfo, MapCreate, ProgLoad, SysError};
pub(crate) use program::log_text;
use program::{load_with_policy, with_growing_log, LogPolicy, ProgramBtfRecs};

/// How to load an object.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// Verifier log level ([`log_level`]): 0 (the default) logs only to explain a refusal, at
    /// level 1; 1 or 1|8 sets the level of that explanation; a level with 2 or 4 loads with
    /// the log from the start and keeps it for accepted programs too.
    pub log_level: u32,
    /// First log buffer size in bytes (0: [`DEFAULT_LOG_SIZE`]); it grows as needed.
    pub log_size: usize,
    /// Where the BTF comes from (by default the object's own, so that the verifier log shows
    /// the source lines).
    pub btf: BtfSource,
    /// `prog_flags` for every program (`BPF_F_STRICT_ALIGNMENT` = 1, ...).
    pub prog_flags: u32,
    /// Where maps pinned by name ([`Pinning::ByName`]) live: a folder in a bpffs mount
    /// (`None`: [`DEFAULT_PIN_ROOT`], as libbpf).
    pub pin_root: Option<PathBuf>,
}

/// Where maps pinned by name live unless [`LoadOptions::pin_root`] says otherwise (libbpf's
/// default).
pub const DEFAULT_PIN_ROOT: &str = "/sys/fs/bpf";

/// The BTF a load passes to the kernel (`BPF_BTF_LOAD`, then the maps' type ids and the
/// programs' func_info / line_info).
#[derive(Clone, Debug, Default)]
pub enum BtfSource {
    /// Encode the object's own BTF ([`Object::btf`]): map types, one FUNC per function, and
    /// line info from each instruction's source location.
    #[default]
    FromObject,
    /// This BTF (e.g. the one an ELF file carried, [`crate::object::ElfObject`]); programs and
    /// maps in the object's order.
    Given(ObjectBtf),
    /// No BTF: no line info in the verifier log.
    Without,
}

/// What is needed to create BPF objects.
const PRIVILEGE_HINT: &str = "run as root, or give CAP_BPF (+ CAP_PERFMON for tracing programs, CAP_NET_ADMIN for networking ones); check kernel.unprivileged_bpf_disabled (and, before Linux 5.11, raise RLIMIT_MEMLOCK)";

/// Why an object could not be loaded.
#[derive(thiserror::Error)]
pub enum LoadError {
    /// A map definition breaks a kernel rule.
    #[error("map `{map}`: {error}")]
    BadMap {
        /// The map.
        map: String,
        /// The rule (shown in the message, so not also the error's `source()`).
        error: MapDefError,
    },
    /// The kernel refused to create a map.
    #[error("creating map `{map}`: {error}")]
    Map {
        /// The map.
        map: String,
        /// The failure (shown in the message, so not also the error's `source()`).
        error: SysError,
    },
    /// The kernel refused for lack of privilege (`EPERM`, or `EACCES` without a verifier log).
    #[error("{what}: {error}: {PRIVILEGE_HINT}")]
    Permission {
        /// What was being created (`creating map \`queue\``, `loading program \`p\` (xdp)`).
        what: String,
        /// The failure (shown in the message, so not also the error's `source()`).
        error: SysError,
    },
    /// The kernel said `EPERM` (or `EACCES` without a log) to a process that holds every
    /// capability BPF asks for: not a privilege to add, but something this kernel does not
    /// allow here (a map or program type left out of its build, lockdown, a security module).
    #[error("{what}: {error}, although this process has {caps}: no capability is missing; {why}")]
    NotAllowedHere {
        /// What was being created.
        what: String,
        /// The failure (shown in the message, so not also the error's `source()`).
        error: SysError,
        /// The capabilities the process holds, as text.
        caps: String,
        /// What the kernel is likely refusing.
        why: String,
    },
    /// The kernel said `EPERM` (or `EACCES` without a log) to a process whose capabilities
    /// belong to a user namespace other than the initial one (a container's, `unshare
    /// --user`'s): `bpf(2)` checks CAP_BPF in the initial user namespace, where this process
    /// has none, whatever it holds in its own.
    #[error("{what}: {error}: this process's capabilities are those of a user namespace (a container's, or `unshare --user`'s), and bpf(2) checks CAP_BPF in the initial one, where it has none: run it on the host, or in a container given CAP_BPF by the host")]
    UserNamespace {
        /// What was being created.
        what: String,
        /// The failure (shown in the message, so not also the error's `source()`).
        error: SysError,
    },
    /// A map is pinned by name ([`Pinning::ByName`]) under a folder that is not in a bpffs
    /// mount, or does not exist.
    #[error("map `{map}` is pinned by name (pinning = LIBBPF_PIN_BY_NAME) under {}, which {}: mount one there (`mount -t bpf bpf {}`) or choose another folder (LoadOptions::pin_root)", root.display(), if *missing { "does not exist" } else { "is not in a bpffs mount" }, root.display())]
    NotBpffs {
        /// The map.
        map: String,
        /// The folder.
        root: PathBuf,
        /// Whether the folder is missing (rather than on another file system).
        missing: bool,
    },
    /// The map pinned where a map of the object is pinned by name is not the same map: one
    /// of its type, key size, value size, max_entries or flags differs (libbpf checks the
    /// same).
    #[error("map `{map}` is pinned by name, and the map pinned at {} has {field} {pinned} where the object says {wanted}: remove the pin (`rm {}`) or make the definitions agree", path.display(), path.display())]
    PinnedMapMismatch {
        /// The map.
        map: String,
        /// Where the pinned map is.
        path: PathBuf,
        /// What differs (`map type`, `key_size`, `value_size`, `max_entries`, `map_flags`).
        field: &'static str,
        /// The pinned map's value.
        pinned: u32,
        /// The object's value.
        wanted: u32,
    },
    /// Opening or pinning a map pinned by name failed.
    #[error("map `{map}` is pinned by name, and {} {}: {error}", if *opening { "opening the map pinned at" } else { "pinning it at" }, path.display())]
    Pin {
        /// The map.
        map: String,
        /// The pin's path.
        path: PathBuf,
        /// Whether an existing pin was being opened (rather than a new one made).
        opening: bool,
        /// The failure (shown in the message, so not also the error's `source()`).
        error: SysError,
    },
    /// A program's section names no program type.
    #[error("program `{program}` is in section `{section}`, which names no program type (use a libbpf section name: socket, xdp, tc, tracepoint/<category>/<name> ...)")]
    UnknownSection {
        /// The program.
        program: String,
        /// Its section.
        section: String,
    },
    /// A relocation cannot be applied.
    #[error("program `{program}`, instruction {insn}: {reason}")]
    Relocation {
        /// The program.
        program: String,
        /// The instruction index in the program that holds the relocation.
        insn: usize,
        /// What is wrong.
        reason: RelocationProblem,
    },
    /// The license cannot be passed to the kernel.
    #[error("the license {0:?} contains a NUL byte")]
    BadLicense(String),
    /// The kernel refused the BTF blob.
    #[error("BPF_BTF_LOAD refused the object's BTF ({}){}", sys::errno_name(*errno).unwrap_or("error"), log_excerpt(log))]
    Btf {
        /// The errno.
        errno: i32,
        /// The BTF log.
        log: String,
    },
    /// The object's own BTF could not be encoded.
    #[error("encoding the object's BTF: {0}")]
    BtfEncode(crate::object::ElfError),
    /// [`LoadedObject::program`] was asked for a program the object does not have.
    #[error("no program `{name}` was loaded; {}", names_text("program", available))]
    NoSuchProgram {
        /// The name asked for.
        name: String,
        /// The loaded programs' names, in the object's order (programs in `.text` are not
        /// loaded on their own).
        available: Vec<String>,
    },
    /// The verifier refused a program.
    #[error("the verifier refused program `{program}` ({}){}", sys::errno_name(*errno).unwrap_or("error"), log_excerpt(log))]
    Verifier {
        /// The program.
        program: String,
        /// The errno of the load.
        errno: i32,
        /// The verifier log (level 1 unless another level was asked for).
        log: String,
        /// The program as it was built (its source locations, labels and map references),
        /// so that the report points at source lines and names maps.
        built: Option<Box<Program>>,
    },
    /// The kernel refused a program because it is too old for one of its instructions: the
    /// program uses a feature (cpu v4's `s/=`, `jmp32` ...) that a probe of this kernel
    /// ([`isa::isa`]) finds missing. Every other refusal is [`LoadError::Verifier`].
    #[error(transparent)]
    MissingFeature(Box<MissingFeature>),
}

/// Why a relocation cannot be applied ([`LoadError::Relocation`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RelocationProblem {
    /// The relocation names an instruction past the end of its program.
    #[error("relocation against `{symbol}` points past the end of `{program}`")]
    PastEnd {
        /// The symbol.
        symbol: String,
        /// The program holding the relocation.
        program: String,
    },
    /// The map the relocation names is not in the object.
    #[error("references map `{0}`, which the object does not define (an extern map: an undefined symbol, as llvm-mc writes for a name it does not know; declare it with `.map {0}, type=...`; bpfsmith does not link objects)")]
    UnknownMap(String),
    /// A map relocation on something other than an `ld_imm64`.
    #[error(
        "a map relocation (`{symbol}`) needs an ld_imm64, not `{}`",
        crate::text::Llvm(found)
    )]
    MapNotLdImm64 {
        /// The map.
        symbol: String,
        /// The instruction found there.
        found: Insn,
    },
    /// The function the relocation names is in no program of the object.
    #[error("calls function `{0}`, which no program of the object defines")]
    UnknownFunction(String),
    /// A function relocation on something other than a call or an `ld_imm64`.
    #[error(
        "a function relocation (`{symbol}`) needs a call or an ld_imm64, not `{}`",
        crate::text::Llvm(found)
    )]
    FunctionNotCall {
        /// The function.
        symbol: String,
        /// The instruction found there.
        found: Insn,
    },
    /// The callee lands too far away for a call's 32-bit offset.
    #[error("call offset {0} does not fit in 32 bits")]
    CallOffset(i64),
}

/// What [`LoadError::MissingFeature`] says: which instruction of which program needs what
/// this kernel lacks, and since which Linux release it exists.
#[derive(Debug, thiserror::Error)]
#[error(
    "this kernel ({release}) lacks {feature}: `{text}` at insn {insn} of `{program}`{} needs Linux {}",
    location.as_ref().map(|l| format!(" ({l})")).unwrap_or_default(),
    feature.since_text()
)]
pub struct MissingFeature {
    /// The program.
    pub program: String,
    /// The running kernel's release (`6.1.0-57-cloud-amd64`).
    pub release: String,
    /// What the kernel lacks.
    pub feature: crate::load::isa::Feature,
    /// The first instruction that needs it: its slot index in the loaded program, as the
    /// verifier numbers instructions.
    pub insn: usize,
    /// That instruction in LLVM's syntax ([`crate::text::Llvm`]).
    pub text: String,
    /// Where it came from (`file:line`, the Rust or assembly line), when known.
    pub location: Option<String>,
    /// The errno of the load.
    pub errno: i32,
    /// The verifier log of the refusal.
    pub log: String,
}

/// `the object has: a, b` (or `it has no program`), for lookup errors.
pub(crate) fn names_text(what: &str, names: &[String]) -> String {
    if names.is_empty() {
        return format!("the object has no {what}");
    }
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    format!("the object has: {}", quoted.join(", "))
}

/// The last lines of a log, for an error message (the whole log stays in the error).
fn log_excerpt(log: &str) -> String {
    const LINES: usize = 25;
    let lines: Vec<&str> = log.lines().collect();
    if lines.is_empty() {
        return ": the kernel wrote no log".to_owned();
    }
    let skip = lines.len().saturating_sub(LINES);
    let mut out = String::from(":\n");
    if skip > 0 {
        out.push_str(&format!(
            "  ... {skip} earlier lines (the whole log is in the error's `log`)\n"
        ));
    }
    for l in &lines[skip..] {
        out.push_str("  ");
        out.push_str(l);
        out.push('\n');
    }
    out.pop();
    out
}

impl LoadError {
    /// The verifier or BTF log carried by the error, if any.
    pub fn log(&self) -> Option<&str> {
        match self {
            LoadError::Verifier { log, .. } | LoadError::Btf { log, .. } => Some(log),
            LoadError::MissingFeature(m) => Some(&m.log),
            _ => None,
        }
    }

    /// The refusal of a program by `BPF_PROG_LOAD` (a [`LoadError::Verifier`] or a
    /// [`LoadError::MissingFeature`]): the program, the errno and the verifier log.
    pub fn refusal(&self) -> Option<(&str, i32, &str)> {
        match self {
            LoadError::Verifier {
                program,
                errno,
                log,
                ..
            } => Some((program, *errno, log)),
            LoadError::MissingFeature(m) => Some((&m.program, m.errno, &m.log)),
            _ => None,
        }
    }

    /// The errno behind the error, when the kernel gave one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            LoadError::Map { error, .. }
            | LoadError::Permission { error, .. }
            | LoadError::NotAllowedHere { error, .. }
            | LoadError::UserNamespace { error, .. } => Some(error.errno),
            LoadError::Btf { errno, .. } | LoadError::Verifier { errno, .. } => Some(*errno),
            LoadError::MissingFeature(m) => Some(m.errno),
            _ => None,
        }
    }
}

/// The capabilities `bpf(2)` checks, when this process holds them all (effective set), as
/// text; `None` when one is missing (then `EPERM` is about privilege).
pub fn full_bpf_capabilities() -> Option<String> {
    use caps::{CapSet, Capability as C};
    let all = [
        C::CAP_BPF,
        C::CAP_PERFMON,
        C::CAP_NET_ADMIN,
        C::CAP_SYS_ADMIN,
    ];
    let have = all
        .iter()
        .all(|&c| caps::has_cap(None, CapSet::Effective, c).unwrap_or(false));
    have.then(|| "CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN and CAP_SYS_ADMIN".to_owned())
}

/// Whether this process runs in a user namespace other than the initial one: its uid map is
/// not the identity over every id (`0 0 4294967295`).
pub fn in_user_namespace() -> bool {
    match std::fs::read_to_string("/proc/self/uid_map") {
        Ok(map) => {
            let fields: Vec<&str> = map.split_whitespace().collect();
            fields != ["0", "0", "4294967295"]
        }
        Err(_) => false,
    }
}

/// The error for a refusal for lack of privilege: [`LoadError::Permission`], or
/// [`LoadError::UserNamespace`] when the capabilities are a user namespace's, or
/// [`LoadError::NotAllowedHere`] when the process lacks no capability.
fn permission_error(what: String, error: SysError, why: String) -> LoadError {
    if in_user_namespace() {
        return LoadError::UserNamespace { what, error };
    }
    match full_bpf_capabilities() {
        Some(caps) => LoadError::NotAllowedHere {
            what,
            error,
            caps,
            why,
        },
        None => LoadError::Permission { what, error },
    }
}

/// What to say when the kernel refused a program without writing a verifier log: it
/// stopped before verifying (too many instructions for `E2BIG`, a bad attribute for `EINVAL`).
pub fn no_log_note(errno: i32) -> String {
    let why = match errno {
        libc::E2BIG => {
            ": more instructions than the kernel takes (BPF_MAXINSNS: 4096 without \
                        CAP_BPF, 1,000,000 with it), or attributes it does not know"
        }
        libc::EINVAL => ": an attribute or an instruction it refuses outright",
        _ => "",
    };
    format!("the kernel wrote no verifier log: it refused the program before verifying it{why}")
}

/// An object in the kernel: its maps, its programs and its BTF. Dropping it closes every file
/// descriptor (maps and programs that nothing else holds or pins go away).
#[derive(Debug)]
pub struct LoadedObject {
    maps: Vec<Map>,
    programs: Vec<LoadedProgram>,
    btf: Option<OwnedFd>,
}

impl Object {
    /// Load the object into the kernel with the default options ([`LoadedObject::load`]).
    pub fn load(&self) -> Result<LoadedObject, LoadError> {
        LoadedObject::load(self)
    }

    /// Load the object with these options ([`LoadedObject::load_with`]).
    pub fn load_with(&self, options: &LoadOptions) -> Result<LoadedObject, LoadError> {
        LoadedObject::load_with(self, options)
    }
}

impl LoadedObject {
    /// Load `obj` with the default options.
    pub fn load(obj: &Object) -> Result<LoadedObject, LoadError> {
        LoadedObject::load_with(obj, &LoadOptions::default())
    }

    /// Load `obj`: BTF first (if given), then every map, then every program but those in
    /// `.text`.
    ///
    /// A program the kernel refuses fails with [`LoadError::Verifier`], or with
    /// [`LoadError::MissingFeature`] when it uses an instruction this kernel is too old for
    /// (found by probing the kernel once per process, [`isa::isa`]).
    pub fn load_with(obj: &Object, options: &LoadOptions) -> Result<LoadedObject, LoadError> {
        LoadedObject::load_impl(obj, options, true)
    }

    /// [`LoadedObject::load_with`] without naming missing features: every refusal is
    /// [`LoadError::Verifier`]. The probes load through here (they are what finds the
    /// features).
    pub(crate) fn load_plain(
        obj: &Object,
        options: &LoadOptions,
    ) -> Result<LoadedObject, LoadError> {
        LoadedObject::load_impl(obj, options, false)
    }

    fn load_impl(
        obj: &Object,
        options: &LoadOptions,
        name_features: bool,
    ) -> Result<LoadedObject, LoadError> {
        let license = CString::new(obj.license.as_str())
            .map_err(|_| LoadError::BadLicense(obj.license.clone()))?;
        let log_size = if options.log_size == 0 {
            DEFAULT_LOG_SIZE
        } else {
            options.log_size
        };
        let encoded;
        let info: Option<&ObjectBtf> = match &options.btf {
            BtfSource::FromObject => {
                encoded = obj.btf().map_err(LoadError::BtfEncode)?;
                Some(&encoded)
            }
            BtfSource::Given(b) => Some(b),
            BtfSource::Without => None,
        };
        let info = info.filter(|b| !b.btf.is_empty());
        let btf = match info {
            Some(b) => Some(load_btf(&b.btf, log_size)?),
            None => None,
        };

        let mut maps = Vec::with_capacity(obj.maps.len());
        for (mi, m) in obj.maps.iter().enumerate() {
            m.def.check().map_err(|error| LoadError::BadMap {
                map: m.name.clone(),
                error,
            })?;
            // Queue and stack maps take no BTF ids (the kernel refuses them), as libbpf knows.
            let map_btf = match (&btf, info) {
                (Some(fd), Some(info)) if !m.def.map_type.is_queue_or_stack() => info
                    .maps
                    .get(mi)
                    .filter(|t| t.value_type_id != 0)
                    .map(|t| (fd.as_fd(), t.key_type_id, t.value_type_id)),
                _ => None,
            };
            let create = || {
                sys::map_create(&MapCreate {
                    map_type: m.def.map_type as u32,
                    key_size: m.def.key_size,
                    value_size: m.def.value_size,
                    max_entries: m.def.max_entries,
                    map_flags: m.def.map_flags,
                    name: &m.name,
                    btf: map_btf,
                    ..Default::default()
                })
                .map_err(|source| {
                    if source.is_permission() {
                        let what = format!("creating map `{}`", m.name);
                        let why = format!(
                            "this kernel does not allow maps of type {} ({}) here: left out \
                             of its build, or refused by lockdown or a security module",
                            m.def.map_type.name(),
                            m.def.map_type as u32
                        );
                        permission_error(what, source, why)
                    } else {
                        LoadError::Map {
                            map: m.name.clone(),
                            error: source,
                        }
                    }
                })
            };
            let fd = match m.pinning {
                Pinning::None => create()?,
                Pinning::ByName => {
                    let root = options
                        .pin_root
                        .as_deref()
                        .unwrap_or(Path::new(DEFAULT_PIN_ROOT));
                    pinned_map(m, root, create)?
                }
            };
            maps.push(Map::from_parts(m.name.clone(), m.def.clone(), fd));
        }
        let map_fds: HashMap<&str, i32> = maps
            .iter()
            .map(|m| (m.name(), m.fd().as_raw_fd()))
            .collect();

        let mut programs = Vec::new();
        for (index, p) in obj.programs.iter().enumerate() {
            let kind = match p.section.kind() {
                Some(k) => k,
                None if p.section == Section::TEXT => continue,
                None => {
                    return Err(LoadError::UnknownSection {
                        program: p.name.clone(),
                        section: p.section.name().to_owned(),
                    })
                }
            };
            let linked = link(obj, index, &map_fds, info)?;
            let bytes = crate::insn::encode(&linked.insns);
            let prog_flags = options.prog_flags | kind.prog_flags;
            let with_btf = btf.is_some()
                && !(linked.recs.func_info.is_empty() && linked.recs.line_info.is_empty());
            let base = ProgLoad {
                prog_type: kind.prog_type as u32,
                expected_attach_type: kind.expected_attach_type(),
                insns: &bytes,
                license: &license,
                name: &p.name,
                prog_flags,
                btf_fd: if with_btf {
                    btf.as_ref().map(|f| f.as_fd())
                } else {
                    None
                },
                func_info: if with_btf {
                    &linked.recs.func_info
                } else {
                    &[]
                },
                line_info: if with_btf {
                    &linked.recs.line_info
                } else {
                    &[]
                },
                ..Default::default()
            };
            let policy = LogPolicy {
                level: options.log_level,
                size: log_size,
            };
            let (fd, log) = load_with_policy(&base, policy).map_err(|f| {
                let permission =
                    f.errno == libc::EPERM || (f.errno == libc::EACCES && f.log.trim().is_empty());
                if permission {
                    let why = format!(
                        "this kernel does not allow {} programs (section `{}`) here: left out \
                         of its build, or refused by lockdown or a security module",
                        kind.prog_type,
                        p.section.name()
                    );
                    permission_error(
                        format!(
                            "loading program `{}` ({} programs need {})",
                            p.name,
                            kind.prog_type,
                            capabilities_for(kind.prog_type)
                        ),
                        SysError {
                            cmd: sys::Cmd::ProgLoad,
                            errno: f.errno,
                        },
                        why,
                    )
                } else {
                    let missing = if name_features {
                        missing_feature(obj, &linked, &p.name, f.errno, &f.log)
                    } else {
                        None
                    };
                    missing.unwrap_or_else(|| LoadError::Verifier {
                        program: p.name.clone(),
                        errno: f.errno,
                        log: f.log,
                        built: Some(Box::new(p.clone())),
                    })
                }
            })?;
            programs.push(LoadedProgram {
                name: p.name.clone(),
                section: p.section.clone(),
                prog_type: kind.prog_type,
                fd,
                log,
                insns: linked.insns,
            });
        }
        Ok(LoadedObject {
            maps,
            programs,
            btf,
        })
    }

    /// The maps, in the object's order.
    pub fn maps(&self) -> &[Map] {
        &self.maps
    }

    /// The map called `name`; [`MapError::NotFound`] names the maps there are.
    pub fn map(&self, name: &str) -> Result<&Map, MapError> {
        let i = self.map_index(name)?;
        Ok(&self.maps[i])
    }

    /// Take the map called `name` out of the object (it stays alive as long as the returned
    /// handle or a program using it does); [`MapError::NotFound`] names the maps there are.
    pub fn take_map(&mut self, name: &str) -> Result<Map, MapError> {
        let i = self.map_index(name)?;
        Ok(self.maps.remove(i))
    }

    fn map_index(&self, name: &str) -> Result<usize, MapError> {
        position_named(&self.maps, name, Map::name).map_err(|available| MapError::NotFound {
            map: name.to_owned(),
            available,
        })
    }

    /// The queue map called `name`, typed: checks that it is a queue of `T`-sized values.
    pub fn queue<T: MapValue>(&self, name: &str) -> Result<Queue<T, &Map>, MapError> {
        Queue::try_from_map(self.map(name)?)
    }

    /// The stack map called `name`, typed: checks that it is a stack of `T`-sized values.
    pub fn stack<T: MapValue>(&self, name: &str) -> Result<Stack<T, &Map>, MapError> {
        Stack::try_from_map(self.map(name)?)
    }

    /// The loaded programs, in the object's order (without `.text`).
    pub fn programs(&self) -> &[LoadedProgram] {
        &self.programs
    }

    /// The program called `name`; [`LoadError::NoSuchProgram`] names the programs there are.
    pub fn program(&self, name: &str) -> Result<&LoadedProgram, LoadError> {
        let i = position_named(&self.programs, name, LoadedProgram::name).map_err(|available| {
            LoadError::NoSuchProgram {
                name: name.to_owned(),
                available,
            }
        })?;
        Ok(&self.programs[i])
    }

    /// The BTF object's descriptor, when BTF was loaded.
    pub fn btf_fd(&self) -> Option<BorrowedFd<'_>> {
        self.btf.as_ref().map(|f| f.as_fd())
    }
}

/// The index of the item called `name`, or every item's name.
fn position_named<T>(
    items: &[T],
    name: &str,
    name_of: fn(&T) -> &str,
) -> Result<usize, Vec<String>> {
    items
        .iter()
        .position(|t| name_of(t) == name)
        .ok_or_else(|| items.iter().map(|t| name_of(t).to_owned()).collect())
}

/// Load a BTF blob: without a log first, with a level-1 log to explain a refusal.
fn load_btf(blob: &[u8], log_size: usize) -> Result<OwnedFd, LoadError> {
    if let Ok(fd) = sys::btf_load(blob, None).result {
        return Ok(fd);
    }
    let (result, log) = with_growing_log(1, log_size, |log| sys::btf_load(blob, log));
    result.map_err(|error| {
        let log = log.unwrap_or_default();
        if error.errno == libc::EPERM || (error.errno == libc::EACCES && log.trim().is_empty()) {
            permission_error("loading BTF".to_owned(), error, btf_refusal_reason(blob))
        } else {
            LoadError::Btf {
                errno: error.errno,
                log,
            }
        }
    })
}

/// Why a kernel refuses a BTF blob with `EPERM` from a process that lacks no capability: a
/// one-type blob (`int`) is tried to tell "no BTF here at all" from "not this BTF".
fn btf_refusal_reason(blob: &[u8]) -> String {
    let mut one = crate::object::btf::BtfBuilder::new();
    one.int("int", 4, true);
    let minimal = sys::btf_load(&one.finish(), None).result.map(drop);
    let kinds: Vec<crate::object::btf::Kind> = match crate::object::btf::Btf::parse(blob) {
        Ok(btf) => btf.types().map(|(_, t)| t.kind).collect(),
        Err(_) => Vec::new(),
    };
    btf_refusal_text(minimal, &kinds, &kernel_release())
}

/// The running kernel's release (`6.18.0-1-amd64`), or `?`.
fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "?".to_owned())
}

/// The Linux release that introduced a BTF kind (include/uapi/linux/btf.h history).
fn btf_kind_since(kind: crate::object::btf::Kind) -> (u32, u32) {
    use crate::object::btf::Kind as K;
    match kind {
        K::Func | K::FuncProto => (5, 0),
        K::Var | K::Datasec => (5, 2),
        K::Float => (5, 13),
        K::DeclTag => (5, 16),
        K::TypeTag => (5, 17),
        K::Enum64 => (6, 0),
        _ => (4, 18),
    }
}

/// [`btf_refusal_reason`] from its findings: how the kernel answered a one-type blob, the
/// kinds the refused blob uses, and the kernel's release.
fn btf_refusal_text(
    minimal: Result<(), SysError>,
    kinds: &[crate::object::btf::Kind],
    release: &str,
) -> String {
    const WITHOUT: &str = "load without BTF (LoadOptions { btf: BtfSource::Without, .. }), \
                           at the cost of source lines in the verifier log";
    match minimal {
        Err(e) if e.is_permission() => format!(
            "this kernel allows no BTF here: it refuses even a one-type BTF blob ({}), so \
             BPF_BTF_LOAD is refused by lockdown or a security module (SELinux, the BPF LSM); \
             {WITHOUT}",
            e.errno_name().unwrap_or("error")
        ),
        Err(e) => format!(
            "this kernel ({release}) lacks BTF support: it refuses even a one-type BTF blob ({}); \
             {WITHOUT}",
            e.errno_name().unwrap_or("error")
        ),
        Ok(()) => {
            let parse = |s: &str| s.parse::<u32>().ok();
            let mut parts = release.split(|c: char| !c.is_ascii_digit());
            let running = parts
                .next()
                .and_then(parse)
                .zip(parts.next().and_then(parse));
            let mut newer: Vec<String> = Vec::new();
            for &k in kinds {
                let since = btf_kind_since(k);
                let unknown = running.map_or(since > (5, 0), |r| since > r);
                let named = format!("{} (Linux {}.{})", k.name(), since.0, since.1);
                if unknown && !newer.contains(&named) {
                    newer.push(named);
                }
            }
            let kinds_text = if newer.is_empty() {
                "no BTF kind in it is newer than this kernel".to_owned()
            } else {
                format!(
                    "it uses BTF kinds this kernel may not know: {}",
                    newer.join(", ")
                )
            };
            format!(
                "this kernel ({release}) loads a one-type BTF blob, so it is this object's BTF \
                 it will not take ({kinds_text}); {WITHOUT}"
            )
        }
    }
}

/// The map of `m`, pinned by name under `root`: the one pinned there when its definition
/// matches, or a new one from `create`, pinned there.
fn pinned_map(
    m: &crate::object::Map,
    root: &Path,
    create: impl FnOnce() -> Result<sys::MapFd, LoadError>,
) -> Result<sys::MapFd, LoadError> {
    let not_bpffs = |missing| LoadError::NotBpffs {
        map: m.name.clone(),
        root: root.to_owned(),
        missing,
    };
    match sys::is_bpffs(root) {
        Ok(true) => {}
        Ok(false) => return Err(not_bpffs(false)),
        Err(e) => return Err(not_bpffs(e.kind() == std::io::ErrorKind::NotFound)),
    }
    let path = root.join(&m.name);
    let pin_error = |opening, error| LoadError::Pin {
        map: m.name.clone(),
        path: path.clone(),
        opening,
        error,
    };
    let open = || -> Result<sys::MapFd, LoadError> {
        let fd = sys::obj_get(&path, 0)
            .and_then(sys::MapFd::from_fd)
            .map_err(|e| pin_error(true, e))?;
        let info = fd.info();
        let d = &m.def;
        let fields = [
            ("map type", info.map_type, d.map_type as u32),
            ("key_size", info.key_size, d.key_size),
            ("value_size", info.value_size, d.value_size),
            ("max_entries", info.max_entries, d.max_entries),
            ("map_flags", info.map_flags, d.map_flags),
        ];
        if let Some(&(field, pinned, wanted)) = fields.iter().find(|(_, p, w)| p != w) {
            return Err(LoadError::PinnedMapMismatch {
                map: m.name.clone(),
                path: path.clone(),
                field,
                pinned,
                wanted,
            });
        }
        Ok(fd)
    };
    if path.exists() {
        return open();
    }
    let fd = create()?;
    match sys::obj_pin(fd.fd(), &path) {
        Ok(()) => Ok(fd),
        // Another loader pinned one in between: share it, as if it had been there first.
        Err(e) if e.errno == libc::EEXIST => open(),
        Err(e) => Err(pin_error(false, e)),
    }
}

/// A program ready for the kernel.
struct Linked {
    insns: Vec<Insn>,
    recs: ProgramBtfRecs,
    /// What makes it up, the program itself first, in ascending order of instruction: (program
    /// index, its first instruction there, index of that instruction in `insns`). The program is
    /// whole; each function another program gives is a unit of its own.
    units: Vec<(usize, usize, usize)>,
}

impl Linked {
    /// Where instruction `i` of the linked program came from: `file:line`.
    fn source(&self, obj: &Object, i: usize) -> Option<String> {
        let &(pi, first, base) = self.units.iter().rev().find(|u| u.2 <= i)?;
        obj.programs
            .get(pi)?
            .source(first + i - base)
            .map(|s| s.to_string())
    }
}

/// The [`LoadError::MissingFeature`] for a refused program that uses an instruction this
/// kernel lacks, if it does.
///
/// The kernel is probed (once per process) for the features the program uses. When the probe
/// is inconclusive (it could not load even its own programs), the refusal's wording decides:
/// `unknown opcode`, `uses reserved fields` or `invalid BPF_` is what kernels before 6.6 say
/// of a cpu v4 instruction.
fn missing_feature(
    obj: &Object,
    linked: &Linked,
    program: &str,
    errno: i32,
    log: &str,
) -> Option<LoadError> {
    use crate::load::isa::Feature;
    let used: Vec<(usize, usize, Feature)> = crate::slots::with_slots(&linked.insns)
        .filter_map(|(i, slot, insn)| Feature::of(insn).map(|f| (i, slot, f)))
        .collect();
    if used.is_empty() {
        return None;
    }
    let isa = crate::load::isa::isa();
    let mut lacking: Vec<(usize, usize, Feature)> = used
        .iter()
        .copied()
        .filter(|&(_, _, f)| isa.lacks(f))
        .collect();
    if lacking.is_empty() {
        let conclusive = used.iter().all(|&(_, _, f)| isa.support(f).is_known());
        let worded = ["unknown opcode", "uses reserved fields", "invalid BPF_"]
            .iter()
            .any(|w| log.contains(w));
        if conclusive || !worded {
            return None;
        }
        lacking = used
            .into_iter()
            .filter(|&(_, _, f)| f.cpu_version() == 4)
            .collect();
    }
    // The instruction the verifier stopped at, or the one whose opcode it did not know
    // (`unknown opcode d7` comes before verification, with no instruction line), or the first.
    let parsed = crate::verifier::VerifierLog::parse(log);
    let at_error = parsed
        .error()
        .and_then(|e| e.insn)
        .and_then(|s| lacking.iter().find(|&&(_, slot, _)| slot == s as usize));
    let unknown = log.lines().find_map(|l| {
        let hex = l.trim().strip_prefix("unknown opcode ")?;
        u8::from_str_radix(hex, 16).ok()
    });
    let by_opcode = unknown.and_then(|code| {
        lacking
            .iter()
            .find(|&&(i, _, _)| linked.insns[i].fields().0 == code)
    });
    let &(i, slot, feature) = at_error.or(by_opcode).or(lacking.first())?;
    Some(LoadError::MissingFeature(Box::new(MissingFeature {
        program: program.to_owned(),
        release: isa.release.clone(),
        feature,
        insn: slot,
        text: crate::text::Llvm(&linked.insns[i]).to_string(),
        location: linked.source(obj, i),
        errno,
        log: log.to_owned(),
    })))
}

/// Program `index` linked with the functions its function relocations reach, as libbpf links
/// ([`linker::link`]): the program whole first, then each function reached, in the object's
/// order. Another program gives the functions reached, one by one, when its calls between its
/// own functions all land on a function's start and no jump leaves a function; otherwise it is
/// appended whole. Map references and calls are patched, and the BTF records gathered,
/// shifted to where each unit lands.
fn link(
    obj: &Object,
    index: usize,
    map_fds: &HashMap<&str, i32>,
    btf: Option<&ObjectBtf>,
) -> Result<Linked, LoadError> {
    let main = &obj.programs[index];
    let err = |insn: usize, reason: RelocationProblem| LoadError::Relocation {
        program: main.name.clone(),
        insn,
        reason,
    };
    let mut first = Vec::with_capacity(obj.programs.len());
    let mut next = 0;
    for p in &obj.programs {
        first.push(next);
        // The program whole, then room for each function start (and instruction 0).
        next += p.functions.len() + 2;
    }
    let units = Units { obj, first };
    let mut refs = Refs {
        map_fds,
        entry: index,
        units: units.clone(),
        maps: vec![None; obj.programs.len()],
        split: HashMap::new(),
        insn_at: HashMap::new(),
        problems: Vec::new(),
    };
    let size = |u: usize| {
        let (pi, range) = units.get(u)?;
        let insns = &obj.programs[pi].insns[range];
        Some(linker::Size {
            insns: insns.len(),
            slots: insns.iter().map(Insn::slots).sum(),
        })
    };
    let linked = linker::link(units.first[index], |u| refs.of(u), size);
    // A linker error at the reference it names: its instruction in the linked program (in its
    // own unit when the linking failed). Every reference names a unit and slots of it
    // (checked when listed), so only an offset can fail.
    let fail = |e: LinkError, linked: Option<&linker::Linked>| {
        let (unit, slot) = e.at();
        let (insn, symbol) = refs.insn_at.get(&(unit, slot)).cloned().unwrap_or_default();
        let base = linked
            .and_then(|l| l.position(unit).map(|k| l.placed[k].insn))
            .unwrap_or(0);
        let symbol = symbol.to_owned();
        let reason = match e {
            LinkError::NoUnit { .. } => RelocationProblem::UnknownFunction(symbol),
            LinkError::PastEnd { to, .. } => RelocationProblem::PastEnd {
                symbol,
                program: units
                    .get(to)
                    .map_or("", |u| &obj.programs[u.0].name)
                    .to_owned(),
            },
            LinkError::Offset { offset, .. } => {
                RelocationProblem::CallOffset(offset.clamp(i64::MIN.into(), i64::MAX.into()) as i64)
            }
        };
        err(base + insn, reason)
    };
    let linked = linked.map_err(|e| fail(e, None))?;
    // The first problem in the linked program's order.
    let first = refs
        .problems
        .iter()
        .min_by_key(|&&(u, _, _)| linked.position(u));
    if let Some((u, insn, reason)) = first {
        let base = linked.position(*u).map_or(0, |k| linked.placed[k].insn);
        return Err(err(base + insn, reason.clone()));
    }
    let mut insns = Vec::with_capacity(linked.insns);
    // (program, its instructions in the unit) of each placed unit.
    let placed: Vec<(usize, std::ops::Range<usize>)> = linked
        .placed
        .iter()
        .filter_map(|pl| units.get(pl.unit))
        .collect();
    for (pl, (pi, range)) in linked.placed.iter().zip(&placed) {
        let p = &obj.programs[*pi];
        insns.extend_from_slice(&p.insns[range.clone()]);
        for r in p.relocs.iter().filter(|r| r.kind == RelocKind::Map) {
            // Each was checked when listed: a known map, on an ld_imm64.
            let fd = map_fds.get(r.symbol.as_str());
            let at = r
                .insn
                .checked_sub(range.start)
                .filter(|_| range.contains(&r.insn));
            let insn = at.and_then(|at| insns.get_mut(pl.insn + at));
            if let (Some(&fd), Some(Insn::LdImm64 { pseudo, imm, .. })) = (fd, insn) {
                if *pseudo == Pseudo::MapValue {
                    // Keep the value offset in the high half.
                    *imm = (*imm & !0xffff_ffff) | i64::from(fd as u32);
                } else {
                    *pseudo = Pseudo::MapFd;
                    *imm = i64::from(fd);
                }
            }
        }
    }
    let fixups = linked.fixups().map_err(|e| fail(e, Some(&linked)))?;
    for f in fixups {
        let pl = &linked.placed[f.placed];
        let insn = refs.insn_at.get(&(pl.unit, f.slot)).map_or(0, |&(i, _)| i);
        if let Some(insn) = insns.get_mut(pl.insn + insn) {
            f.imm.apply(insn);
        }
    }
    let mut recs = ProgramBtfRecs::default();
    if let Some(btf) = btf {
        for (pl, (pi, range)) in linked.placed.iter().zip(&placed) {
            let Some(pb) = btf.programs.get(*pi) else {
                continue;
            };
            // A whole program keeps all its records; a function those in its slots.
            let whole = pl.unit == units.first[*pi];
            let (from, to) = (refs.slot(*pi, range.start), refs.slot(*pi, range.end));
            let moved = |off: u32| {
                (whole || (from..to).contains(&(off as usize)))
                    .then(|| (off as usize - from + pl.slot) as u32)
            };
            let funcs = pb.func_info.iter().filter_map(|f| {
                let insn_off = moved(f.insn_off)?;
                Some(FuncInfo { insn_off, ..*f })
            });
            recs.func_info.extend(funcs);
            let lines = pb.line_info.iter().filter_map(|l| {
                let insn_off = moved(l.insn_off)?;
                Some(LineInfo { insn_off, ..*l })
            });
            recs.line_info.extend(lines);
        }
        recs.func_info.sort_by_key(|f| f.insn_off);
        recs.line_info.sort_by_key(|l| l.insn_off);
    }
    let units = linked
        .placed
        .iter()
        .zip(&placed)
        .map(|(pl, (pi, range))| (*pi, range.start, pl.insn))
        .collect();
    Ok(Linked { insns, recs, units })
}

/// The linker's units of an object: unit `first[p]` is program `p` whole, unit
/// `first[p] + 1 + k` its `k`th function (by [`function_starts`]).
#[derive(Clone)]
struct Units<'o> {
    obj: &'o Object,
    first: Vec<usize>,
}

impl Units<'_> {
    /// Unit `u`: its program and its instructions there.
    fn get(&self, u: usize) -> Option<(usize, std::ops::Range<usize>)> {
        let pi = self.first.partition_point(|&f| f <= u).checked_sub(1)?;
        let p = self.obj.programs.get(pi)?;
        match u - self.first[pi] {
            0 => Some((pi, 0..p.insns.len())),
            k => {
                let starts = function_starts(p);
                let start = *starts.get(k - 1)?;
                Some((pi, start..starts.get(k).copied().unwrap_or(p.insns.len())))
            }
        }
    }
}

/// Where the functions of `p` start, sorted, from instruction 0.
fn function_starts(p: &Program) -> Vec<usize> {
    let mut v: Vec<usize> = p.functions.iter().map(|f| f.insn).collect();
    v.push(0);
    v.retain(|&i| i == 0 || i < p.insns.len());
    v.sort_unstable();
    v.dedup();
    v
}

/// The slot a call or function address at `slot` with offset `off` points at, if any.
fn target_slot(slot: usize, off: i64) -> Option<usize> {
    let t = (slot as i64).checked_add(off)?.checked_add(1)?;
    usize::try_from(t).ok()
}

/// The instructions of `p` that a function relocation names, sorted.
fn function_relocs(p: &Program) -> Vec<usize> {
    let mut v: Vec<usize> = p
        .relocs
        .iter()
        .filter(|r| r.kind == RelocKind::Function)
        .map(|r| r.insn)
        .collect();
    v.sort_unstable();
    v
}

/// The references of the object's units, listed for [`linker::link`] as it reaches them, and
/// what is wrong with their relocations.
struct Refs<'o> {
    map_fds: &'o HashMap<&'o str, i32>,
    /// The program being linked (kept whole).
    entry: usize,
    units: Units<'o>,
    /// The slot maps of the programs looked at.
    maps: Vec<Option<SlotMap>>,
    /// Whether a program is linked function by function: its function starts if so.
    split: HashMap<usize, Option<Vec<usize>>>,
    /// (unit, slot in it) of each function reference -> its instruction in the unit and symbol.
    insn_at: HashMap<(usize, usize), (usize, &'o str)>,
    /// Relocations that cannot be applied: unit, instruction in it, why; in the order found.
    problems: Vec<(usize, usize, RelocationProblem)>,
}

impl<'o> Refs<'o> {
    /// The slot of instruction `insn` (at most the count) of program `pi`.
    fn slot(&mut self, pi: usize, insn: usize) -> usize {
        let programs = &self.units.obj.programs;
        self.maps[pi]
            .get_or_insert_with(|| SlotMap::new(&programs[pi].insns))
            .slot(insn)
    }

    /// The function starts of program `pi` when it is linked function by function: not the
    /// entry, more than one function, every call between its functions (without a relocation)
    /// lands on a function's start, and no jump leaves its function.
    fn split(&mut self, pi: usize) -> Option<Vec<usize>> {
        if let Some(known) = self.split.get(&pi) {
            return known.clone();
        }
        let p = &self.units.obj.programs[pi];
        let starts = function_starts(p);
        let relocated = function_relocs(p);
        let mut ok = pi != self.entry && starts.len() > 1;
        let bounds: Vec<usize> = starts.iter().map(|&i| self.slot(pi, i)).collect();
        let end = self.slot(pi, p.insns.len());
        let mut k = 0; // the function of instruction i
        for (i, slot, insn) in crate::slots::with_slots(&p.insns) {
            if !ok {
                break;
            }
            while starts.get(k + 1).is_some_and(|&s| s <= i) {
                k += 1;
            }
            let (off, call) = match *insn {
                Insn::LdImm64 {
                    pseudo: Pseudo::Func,
                    imm,
                    ..
                } => (Some(imm), true),
                _ => (
                    insn.branch_offset().map(i64::from),
                    matches!(insn, Insn::Call(_)),
                ),
            };
            if let (Some(off), Err(_)) = (off, relocated.binary_search(&i)) {
                let target = target_slot(slot, off);
                let inside = target.is_some_and(|t| {
                    (bounds[k]..bounds.get(k + 1).map_or(end, |&b| b)).contains(&t)
                });
                let at_start = target.is_some_and(|t| bounds.binary_search(&t).is_ok());
                ok = inside || (call && at_start);
            }
        }
        let out = ok.then_some(starts);
        self.split.insert(pi, out.clone());
        out
    }

    /// The unit and slot in it where instruction `insn` of program `pi` is, as a call target.
    fn target(&mut self, pi: usize, insn: usize) -> (usize, usize) {
        match self.split(pi).and_then(|s| s.binary_search(&insn).ok()) {
            Some(k) => (self.units.first[pi] + 1 + k, 0),
            None => (self.units.first[pi], self.slot(pi, insn)),
        }
    }

    /// The references of unit `unit`: its function relocations and, in a function of a
    /// program linked function by function, its calls to the program's other functions. Its
    /// map relocations are checked.
    fn of(&mut self, unit: usize) -> Vec<linker::Ref> {
        let obj = self.units.obj;
        let Some((pi, range)) = self.units.get(unit) else {
            return Vec::new();
        };
        let p = &obj.programs[pi];
        let base = self.slot(pi, range.start);
        let mut out = Vec::new();
        for r in &p.relocs {
            // A relocation past the end belongs to the unit that ends the program.
            let mine =
                range.contains(&r.insn) || (r.insn >= p.insns.len() && range.end == p.insns.len());
            if !mine {
                continue;
            }
            let local = r.insn - range.start;
            let mut problem = |reason| self.problems.push((unit, local, reason));
            let Some(insn) = p.insns.get(r.insn) else {
                problem(RelocationProblem::PastEnd {
                    symbol: r.symbol.clone(),
                    program: p.name.clone(),
                });
                continue;
            };
            match r.kind {
                RelocKind::Map => {
                    if !self.map_fds.contains_key(r.symbol.as_str()) {
                        problem(RelocationProblem::UnknownMap(r.symbol.clone()));
                    } else if !matches!(insn, Insn::LdImm64 { .. }) {
                        problem(RelocationProblem::MapNotLdImm64 {
                            symbol: r.symbol.clone(),
                            found: *insn,
                        });
                    }
                }
                RelocKind::Function => {
                    // A function of the program itself, or of the first program that has it.
                    let named = |q: &Program| {
                        let mut fs = q.functions.iter();
                        fs.find(|f| f.name == r.symbol).map(|f| f.insn)
                    };
                    let target = named(p).map(|i| (pi, i)).or_else(|| {
                        let mut all = obj.programs.iter().enumerate();
                        all.find_map(|(qi, q)| named(q).map(|i| (qi, i)))
                    });
                    let Some((qi, entry)) = target else {
                        problem(RelocationProblem::UnknownFunction(r.symbol.clone()));
                        continue;
                    };
                    let kind = match insn {
                        Insn::Call(_) => linker::RefKind::Call,
                        Insn::LdImm64 { .. } => linker::RefKind::FuncAddr,
                        other => {
                            problem(RelocationProblem::FunctionNotCall {
                                symbol: r.symbol.clone(),
                                found: *other,
                            });
                            continue;
                        }
                    };
                    if entry >= obj.programs[qi].insns.len() {
                        problem(RelocationProblem::PastEnd {
                            symbol: r.symbol.clone(),
                            program: obj.programs[qi].name.clone(),
                        });
                        continue;
                    }
                    let slot = self.slot(pi, r.insn) - base;
                    let (to, to_slot) = self.target(qi, entry);
                    self.insn_at.insert((unit, slot), (local, &r.symbol));
                    out.push(linker::Ref {
                        slot,
                        kind,
                        to,
                        to_slot,
                    });
                }
            }
        }
        if unit != self.units.first[pi] {
            // A function: its calls to the program's other functions (each lands on a start).
            let relocated = function_relocs(p);
            let end = self.slot(pi, range.end);
            let (first, code) = (range.start, &p.insns[range.clone()]);
            for (k, rel, insn) in crate::slots::with_slots(code) {
                let (i, at) = (first + k, base + rel);
                let (off, kind) = match *insn {
                    Insn::Call(Callee::Local(imm)) => (i64::from(imm), linker::RefKind::Call),
                    Insn::LdImm64 {
                        pseudo: Pseudo::Func,
                        imm,
                        ..
                    } => (imm, linker::RefKind::FuncAddr),
                    _ => continue,
                };
                let outside = target_slot(at, off).filter(|t| !(base..end).contains(t));
                let Some(t) = outside.filter(|_| relocated.binary_search(&i).is_err()) else {
                    continue;
                };
                if let Some(ti) = self.maps[pi].as_ref().and_then(|m| m.index(t)) {
                    let (to, to_slot) = self.target(pi, ti);
                    self.insn_at
                        .insert((unit, at - base), (i - range.start, ""));
                    out.push(linker::Ref {
                        slot: at - base,
                        kind,
                        to,
                        to_slot,
                    });
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod link_tests {
    use super::*;

    /// The program `name` of `src` linked, with its instructions' text.
    fn linked(src: &str, name: &str) -> (Linked, Vec<String>) {
        let obj = crate::text::assemble("t.s", src).expect("assembles");
        let index = obj.programs.iter().position(|p| p.name == name);
        let l = link(&obj, index.expect("the program"), &HashMap::new(), None).expect("links");
        let text = l
            .insns
            .iter()
            .map(|i| crate::text::Llvm(i).to_string())
            .collect();
        (l, text)
    }

    /// Where the call at instruction `i` lands (all one-slot instructions here).
    fn lands(l: &Linked, i: usize) -> usize {
        match l.insns[i] {
            Insn::Call(Callee::Local(off)) => (i as i64 + i64::from(off) + 1) as usize,
            other => panic!("not a local call: {other:?}"),
        }
    }

    #[test]
    fn text_functions_are_taken_one_by_one_with_their_calls_between_them() {
        let src = "\t.section socket\n\t.globl prog\nprog:\n\tcall f\n\texit\n\t.text\n\
                   unused:\n\tr0 = 99\n\texit\nf:\n\tcall g\n\tr0 += 40\n\texit\n\
                   g:\n\tr0 = 2\n\texit\n";
        let (l, text) = linked(src, "prog");
        // prog, then f, then g: `unused` stays out.
        assert_eq!(text.len(), 7, "{text:?}");
        assert!(!text.iter().any(|t| t == "r0 = 0x63"), "{text:?}");
        assert_eq!(lands(&l, 0), 2);
        assert_eq!(text[3], "r0 += 0x28");
        assert_eq!(lands(&l, 2), 5);
        assert_eq!(text[5], "r0 = 0x2");
        let firsts: Vec<usize> = l.units.iter().map(|u| u.2).collect();
        assert_eq!(firsts, [0, 2, 5]);
    }

    #[test]
    fn a_program_whose_jump_leaves_a_function_is_taken_whole() {
        // f jumps to `out`, inside g: cutting between f and g would break the jump.
        let src = "\t.section socket\n\t.globl prog\nprog:\n\tcall f\n\texit\n\t.text\n\
                   unused:\n\tr0 = 99\n\texit\nf:\n\tif r1 == 0 goto out\n\tcall g\n\
                   \texit\ng:\n\tr0 = 2\nout:\n\texit\n";
        let (l, text) = linked(src, "prog");
        assert_eq!(text.len(), 2 + 7, "{text:?}");
        // The call lands on f, after `unused`; f's call to g is as written.
        assert_eq!(lands(&l, 0), 4);
        assert_eq!(lands(&l, 5), 7);
    }
}

/// The capabilities `BPF_PROG_LOAD` checks for a program type (kernel/bpf/syscall.c:
/// `is_net_admin_prog_type`, `is_perfmon_prog_type`), for messages.
pub fn capabilities_for(prog_type: ProgType) -> &'static str {
    use ProgType as P;
    match prog_type {
        P::Ext => "CAP_BPF + CAP_NET_ADMIN + CAP_PERFMON",
        P::Kprobe
        | P::Tracepoint
        | P::PerfEvent
        | P::RawTracepoint
        | P::RawTracepointWritable
        | P::Tracing
        | P::Lsm
        | P::StructOps => "CAP_BPF + CAP_PERFMON",
        P::SchedCls
        | P::SchedAct
        | P::Xdp
        | P::LwtIn
        | P::LwtOut
        | P::LwtXmit
        | P::LwtSeg6local
        | P::SkSkb
        | P::SkMsg
        | P::FlowDissector
        | P::CgroupDevice
        | P::CgroupSock
        | P::CgroupSockAddr
        | P::CgroupSockopt
        | P::CgroupSysctl
        | P::SockOps
        | P::Netfilter => "CAP_BPF + CAP_NET_ADMIN",
        P::SocketFilter | P::CgroupSkb => {
            "CAP_BPF, or none while kernel.unprivileged_bpf_disabled is 0"
        }
        _ => "CAP_BPF",
    }
}

/// What `fn main() -> Result<(), LoadError>` prints: the message, and for a verifier refusal
/// the viewer's report of its log (the explanation, the failing instruction, where each
/// operand came from), as `bpfsmith load` shows it without colours.
impl std::fmt::Debug for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::Verifier {
                program,
                log,
                built,
                ..
            } => {
                let opts = crate::verifier::ReportOptions {
                    color: false,
                    full: false,
                };
                writeln!(f, "the verifier refused program `{program}`\n")?;
                let report = crate::verifier::render_log_text(log, built.as_deref(), &opts);
                f.write_str(&report)
            }
            e => std::fmt::Display::fmt(e, f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::btf::Kind;

    fn refused(errno: i32) -> Result<(), SysError> {
        Err(SysError {
            cmd: sys::Cmd::BtfLoad,
            errno,
        })
    }

    #[test]
    fn a_btf_eperm_with_every_capability_names_what_the_kernel_lacks() {
        // Even a one-type blob refused with EPERM: BTF is not allowed here at all.
        let t = btf_refusal_text(refused(libc::EPERM), &[Kind::Int], "6.18.0");
        assert!(t.contains("allows no BTF here"), "{t}");
        assert!(t.contains("BtfSource::Without"), "{t}");
        // Refused otherwise: no BTF support.
        let t = btf_refusal_text(refused(libc::EINVAL), &[Kind::Int], "4.14.0");
        assert!(t.contains("(4.14.0) lacks BTF support"), "{t}");
        // A one-type blob loads: the kinds newer than the kernel are named, each once.
        let kinds = [
            Kind::Int,
            Kind::Enum64,
            Kind::DeclTag,
            Kind::Enum64,
            Kind::Func,
        ];
        let t = btf_refusal_text(Ok(()), &kinds, "5.15.0-91-generic");
        assert!(
            t.contains("kinds this kernel may not know: ENUM64 (Linux 6.0), DECL_TAG (Linux 5.16)"),
            "{t}"
        );
        assert_eq!(t.matches("ENUM64").count(), 1, "{t}");
        assert!(!t.contains("FUNC"), "{t}");
        let t = btf_refusal_text(Ok(()), &kinds, "6.18.0");
        assert!(
            t.contains("no BTF kind in it is newer than this kernel"),
            "{t}"
        );
    }

    #[test]
    fn lookup_errors_name_what_there_is() {
        assert_eq!(
            names_text("program", &["a".into(), "b".into()]),
            "the object has: `a`, `b`"
        );
        assert_eq!(names_text("map", &[]), "the object has no map");
        let e = LoadError::NoSuchProgram {
            name: "typo".into(),
            available: vec!["push".into(), "pop".into()],
        };
        assert_eq!(
            e.to_string(),
            "no program `typo` was loaded; the object has: `push`, `pop`"
        );
    }

    #[test]
    fn wrapping_errors_show_their_cause_once() {
        use std::error::Error;
        let e = LoadError::Map {
            map: "q".into(),
            error: SysError {
                cmd: sys::Cmd::MapCreate,
                errno: libc::EINVAL,
            },
        };
        // The cause is in the message and not again as `source()`: `{:#}`-style printers
        // that walk the chain print it once.
        assert!(e.to_string().contains("EINVAL"));
        assert!(e.source().is_none());
        let e = MapError::NotFound {
            map: "x".into(),
            available: vec!["queue".into()],
        };
        assert_eq!(e.to_string(), "no map named `x`; the object has: `queue`");
    }
}
