//! `bpfsmith run` in the VM: the kernel path's [`RunRequest`] in, its [`RunReport`] out, so
//! either engine's result reads the same.

use super::{MapError, SetupError, Vm, VmError, VmMap};
use crate::object::Object;
use crate::program::ProgType;
use crate::run::{hex, MapValueOut, RunReport, RunRequest, ETH_HLEN};

/// Why a run in the VM did not happen or did not finish.
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
pub enum VmRunError {
    /// No program of that name, or none loadable.
    #[error("no program `{name}` to run (the object has: {})", available.join(", "))]
    NoProgram {
        /// The name asked for (`(any)` when none was).
        name: String,
        /// The object's loadable programs.
        available: Vec<String>,
    },
    /// The program could not be linked with its maps and functions.
    #[error(transparent)]
    Setup(#[from] SetupError),
    /// `--push` named a map the object does not have, or one that is not a queue or stack.
    #[error("cannot push into `{map}`: the object has no queue or stack map of that name (its queue and stack maps: {})", crate::run::none_or_list(queues))]
    NoQueue {
        /// The map asked for.
        map: String,
        /// The object's queue and stack maps.
        queues: Vec<String>,
    },
    /// A push from user space found the map full.
    #[error(transparent)]
    Full(crate::run::PushFull),
    /// A push from user space was refused otherwise (a value of the wrong size ...).
    #[error("map `{map}`: value {index} of --push ({value}): {error}")]
    Push {
        /// The map.
        map: String,
        /// The 1-based position of the value among those pushed into this map.
        index: usize,
        /// The value, as hex bytes.
        value: String,
        /// The map's refusal, with the kernel's errno.
        error: MapError,
    },
    /// The input packet is shorter than the kernel's test run takes for this program type.
    #[error("`{program}` ({prog_type}) runs on a packet of at least {ETH_HLEN} bytes (an Ethernet header), and --data gave {len}: the kernel's test run would refuse it with EINVAL")]
    DataTooShort {
        /// The program.
        program: String,
        /// Its program type.
        prog_type: String,
        /// The bytes given.
        len: usize,
    },
    /// The VM stopped the run (an access outside memory, the budget, a helper it lacks ...).
    #[error("running `{program}` in the VM: {error}")]
    Run {
        /// The program.
        program: String,
        /// Where and why it stopped.
        error: Box<VmError>,
    },
}

impl VmRunError {
    /// The error as the one JSON object `run --engine vm --json` prints for it:
    /// `{"engine": "vm", "error": {"message": TEXT}}`, and for a run the VM stopped also
    /// `"program"` and, inside `"error"`, `"insn"`, `"text"` and `"location"` (or null).
    pub fn to_json(&self) -> String {
        let mut v = serde_json::json!({
            "engine": "vm",
            "error": {"message": self.to_string()},
        });
        if let VmRunError::Run { program, error } = self {
            v["program"] = serde_json::json!(program);
            v["error"]["insn"] = serde_json::json!(error.index);
            v["error"]["text"] = serde_json::json!(error.text);
            v["error"]["location"] = serde_json::json!(error.location);
        }
        v.to_string()
    }
}

debug_as_display!(VmRunError);

/// Run one program of `obj` in the VM as the kernel path runs it ([`crate::load::run`] on
/// Linux): the program `req.program` or the object's first loadable one; every queue and
/// stack map made empty from its definition and `req.push` pushed into it first (as user
/// space does, `BPF_ANY`); the program run `req.repeat` times (at least once) on the data
/// (64 zero bytes by default; a socket filter sees it after its Ethernet header, as its
/// kernel test run does); then every queue and stack map drained, in the object's order.
/// `duration_ns` is the measured mean; `log` is `None` (nothing is verified).
pub fn run(obj: &Object, req: &RunRequest) -> Result<RunReport, VmRunError> {
    run_with(obj, req, |_| {})
}

/// [`run`], with the VM set up by `configure` first (its budget, a seed, or
/// [`Vm::zero_extend_map_errors`] to run as the JIT of Linux before 6.4 did).
///
/// ```
/// use bpfsmith::run::RunRequest;
/// let src = concat!(
///     ".license \"GPL\"\n",
///     ".map q, type=queue, value_size=4, max_entries=1\n",
///     ".section socket\np:\n",
///     "\tr1 = q ll\n\tr2 = r10\n\tr2 += -4\n",
///     "\tcall bpf_map_pop_elem\n", // the queue is empty: r0 = -ENOENT
///     "\tr0 >>= 32\n",               // its upper half
///     "\texit\n",
/// );
/// let obj = bpfsmith::text::assemble("p.s", src).unwrap();
/// let req = RunRequest { repeat: 1, ..Default::default() };
/// assert_eq!(bpfsmith::vm::run(&obj, &req).unwrap().retval, 0xffff_ffff);
/// let old = bpfsmith::vm::run_with(&obj, &req, |vm| vm.zero_extend_map_errors = true);
/// assert_eq!(old.unwrap().retval, 0); // zero-extended before 6.4 with the JIT
/// ```
pub fn run_with(
    obj: &Object,
    req: &RunRequest,
    configure: impl FnOnce(&mut Vm),
) -> Result<RunReport, VmRunError> {
    let available = crate::input::loadable_programs(obj);
    let name = match &req.program {
        Some(n) if available.contains(n) => n.clone(),
        Some(n) => {
            return Err(VmRunError::NoProgram {
                name: n.clone(),
                available,
            })
        }
        None => available
            .first()
            .cloned()
            .ok_or_else(|| VmRunError::NoProgram {
                name: "(any)".into(),
                available: Vec::new(),
            })?,
    };
    let mut vm = Vm::from_object(obj, &name)?;
    configure(&mut vm);
    // The kernel creates every map of the object; the VM only those the program references.
    // The others can still be pushed into and are reported (empty or as pushed).
    let queues: Vec<&crate::object::Map> = obj
        .maps
        .iter()
        .filter(|m| m.def.map_type.is_queue_or_stack())
        .collect();
    for m in &queues {
        if vm.map(&m.name).is_none() {
            let map = VmMap::new(&m.name, &m.def).map_err(|source| SetupError::Map {
                map: m.name.clone(),
                source,
            })?;
            vm.add_map(map);
        }
    }
    for (map_name, values) in &req.push {
        let Some(map) = vm
            .map_mut(map_name)
            .filter(|m| m.def().map_type.is_queue_or_stack())
        else {
            return Err(VmRunError::NoQueue {
                map: map_name.clone(),
                queues: queues.iter().map(|m| m.name.clone()).collect(),
            });
        };
        let capacity = map.def().max_entries;
        for (i, v) in values.iter().enumerate() {
            map.push(v, 0).map_err(|error| match error {
                MapError::Full(_) => VmRunError::Full(crate::run::PushFull {
                    map: map_name.clone(),
                    capacity,
                    index: i + 1,
                    value: hex(v),
                }),
                error => VmRunError::Push {
                    map: map_name.clone(),
                    index: i + 1,
                    value: hex(v),
                    error,
                },
            })?;
        }
    }
    let data = req.data.clone().unwrap_or_else(|| vec![0; 64]);
    let prog_type = obj
        .programs
        .iter()
        .find(|p| p.name == name)
        .and_then(|p| p.section.kind())
        .map(|k| k.prog_type);
    if data.len() < ETH_HLEN && prog_type.is_some_and(crate::run::needs_ethernet_header) {
        return Err(VmRunError::DataTooShort {
            program: name,
            prog_type: prog_type.map(|t| t.to_string()).unwrap_or_default(),
            len: data.len(),
        });
    }
    let socket = prog_type == Some(ProgType::SocketFilter);
    let skip = if socket { ETH_HLEN } else { 0 };
    let runs = req.repeat.max(1);
    let mut data_out = data.clone();
    let mut r0 = 0;
    let started = std::time::Instant::now();
    for _ in 0..runs {
        // Each run starts from the same input, as each of the kernel's repeats does.
        data_out.copy_from_slice(&data);
        r0 = vm
            .run(&mut data_out[skip..])
            .map_err(|error| VmRunError::Run {
                program: name.clone(),
                error: Box::new(error),
            })?
            .r0;
    }
    let mean = started.elapsed().as_nanos() / u128::from(runs);
    let mut maps = Vec::new();
    for m in &queues {
        let values = match vm.map_mut(&m.name) {
            Some(map) => std::iter::from_fn(|| map.pop().ok())
                .map(|v| MapValueOut::from_bytes(&v))
                .collect(),
            None => Vec::new(),
        };
        maps.push((m.name.clone(), values));
    }
    Ok(RunReport {
        program: name,
        // The kernel reports the low 32 bits of r0.
        retval: r0 as u32,
        duration_ns: u32::try_from(mean).unwrap_or(u32::MAX),
        data_out,
        maps,
        log: None,
        trace_note: (vm.trace_dropped() > 0).then(|| {
            format!(
                "{} more bpf_trace_printk messages not kept (the VM keeps {})",
                vm.trace_dropped(),
                super::TRACE_KEPT
            )
        }),
        trace: vm.take_trace(),
    })
}
