//! Load an object, fill its queue/stack maps, test-run one program, drain the maps: what
//! `bpfsmith run` does, as a library call.

use crate::load::{BtfSource, LoadError, LoadOptions, MapError, TestRun};
use crate::object::Object;
use crate::sys::SysError;

// The plain types build on every OS (the VM reports with them too): they live in crate::run.
use crate::run::hex;
pub use crate::run::{
    parse_value, value_bytes, values_text, MapValueOut, RunReport, RunRequest, ETH_HLEN,
};

/// A verifier refusal as the one JSON object `run --json` prints for it:
/// `{"program": NAME, "refused": {"errno": "EACCES", "message": FIRST ERROR LINE}}`.
pub fn refusal_json(program: &str, errno: i32, log: &str) -> String {
    let message = crate::verifier::VerifierLog::parse(log)
        .error()
        .map(|e| e.headline().to_owned())
        .unwrap_or_default();
    serde_json::json!({
        "program": program,
        "refused": {
            "errno": crate::sys::errno_name(errno).unwrap_or("?"),
            "message": message,
        },
    })
    .to_string()
}

/// A refused load ([`LoadError::refusal`]) as the one JSON object `run --json` prints: the
/// object of [`refusal_json`], and for a [`LoadError::MissingFeature`] also
/// `"missing": {"feature": "sdiv_smod", "name": "sdiv/smod", "cpu": 4, "since": "6.6",
/// "insn": 3, "text": "r1 s/= 0x3", "location": "x.s:6", "release": "6.1.0-57-cloud-amd64"}`
/// inside `"refused"`. `None` for errors that are not refusals.
pub fn load_refusal_json(e: &LoadError) -> Option<String> {
    let (program, errno, log) = e.refusal()?;
    let text = refusal_json(program, errno, log);
    let LoadError::MissingFeature(m) = e else {
        return Some(text);
    };
    let mut v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["refused"]["missing"] = serde_json::json!({
        "feature": m.feature.key(),
        "name": m.feature.name(),
        "cpu": m.feature.cpu_version(),
        "since": m.feature.since_text(),
        "insn": m.insn,
        "text": m.text,
        "location": m.location,
        "release": m.release,
    });
    Some(v.to_string())
}

/// Why a run did not happen.
#[derive(thiserror::Error)]
pub enum RunError {
    /// Loading failed (privileges, the verifier ...).
    #[error(transparent)]
    Load(#[from] LoadError),
    /// No program of that name, or none loadable.
    #[error("no program `{name}` to run (the object has: {})", available.join(", "))]
    NoProgram {
        /// The name asked for (`(any)` when none was).
        name: String,
        /// The loaded programs' names.
        available: Vec<String>,
    },
    /// `--push` named a map the object does not have.
    #[error("cannot push into `{map}`: the object has no map of that name (its queue and stack maps: {})", crate::run::none_or_list(queues))]
    NoQueue {
        /// The map asked for.
        map: String,
        /// The object's queue and stack maps.
        queues: Vec<String>,
    },
    /// `--push` named a map that is neither a queue nor a stack.
    #[error("cannot push into `{map}`: it is a {kind} map; pushes go into queue and stack maps (the object's: {})", crate::run::none_or_list(queues))]
    NotQueue {
        /// The map.
        map: String,
        /// Its type.
        kind: crate::maps::MapType,
        /// The queue and stack maps there are.
        queues: Vec<String>,
    },
    /// A push from user space found the map full.
    #[error(transparent)]
    Full(crate::run::PushFull),
    /// A pushed value does not have the map's value size.
    #[error("map `{map}` holds {value_size}-byte values; `{value}` does not fit")]
    BadValue {
        /// The map.
        map: String,
        /// Its value size.
        value_size: u32,
        /// The value as given.
        value: String,
    },
    /// Pushing or draining failed.
    #[error("map `{map}`: {error}")]
    Map {
        /// The map.
        map: String,
        /// The error (shown in the message, so not also the error's `source()`).
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
    /// `BPF_PROG_TEST_RUN` failed.
    #[error("running `{program}`: {error}")]
    TestRun {
        /// The program.
        program: String,
        /// The error (shown in the message, so not also the error's `source()`).
        error: SysError,
    },
}

/// Load `obj`, push the requested values, run one program, drain every queue/stack map.
pub fn run(obj: &Object, btf: BtfSource, req: &RunRequest) -> Result<RunReport, RunError> {
    let loaded = obj.load_with(&LoadOptions {
        log_level: req.log_level,
        btf,
        ..Default::default()
    })?;
    let queues = || {
        loaded
            .maps()
            .iter()
            .filter(|m| m.def().map_type.is_queue_or_stack())
            .map(|m| m.name().to_owned())
            .collect()
    };
    for (name, values) in &req.push {
        let map = loaded.map(name).map_err(|_| RunError::NoQueue {
            map: name.clone(),
            queues: queues(),
        })?;
        if !map.def().map_type.is_queue_or_stack() {
            return Err(RunError::NotQueue {
                map: name.clone(),
                kind: map.def().map_type,
                queues: queues(),
            });
        }
        for (i, v) in values.iter().enumerate() {
            map.update(&[], v, 0)
                .map_err(|source| match source.errno() {
                    Some(libc::E2BIG) => RunError::Full(crate::run::PushFull {
                        map: name.clone(),
                        capacity: map.def().max_entries,
                        index: i + 1,
                        value: hex(v),
                    }),
                    _ => RunError::Map {
                        map: name.clone(),
                        error: source,
                    },
                })?;
        }
    }
    let prog = match &req.program {
        Some(n) => loaded.program(n).map_err(|e| match e {
            LoadError::NoSuchProgram { name, available } => RunError::NoProgram { name, available },
            other => RunError::Load(other),
        })?,
        None => loaded.programs().first().ok_or(RunError::NoProgram {
            name: "(any)".into(),
            available: Vec::new(),
        })?,
    };
    let data = req.data.clone().unwrap_or_else(|| vec![0; 64]);
    // The kernel's packet test runs refuse less than an Ethernet header with a bare EINVAL.
    if data.len() < ETH_HLEN && crate::run::needs_ethernet_header(prog.prog_type()) {
        return Err(RunError::DataTooShort {
            program: prog.name().to_owned(),
            prog_type: prog.prog_type().to_string(),
            len: data.len(),
        });
    }
    // Only a program that can print gets a trace instance (a few milliseconds to make).
    // The program as loaded, its functions linked in.
    let prints = prog.insns().iter().any(|i| {
        matches!(i, crate::insn::Insn::Call(crate::insn::Callee::Helper(id))
            if *id == crate::helpers::Helper::TracePrintk as i32)
    });
    let capture = prints.then(super::trace::TraceCapture::start);
    let out = prog
        .test_run(&TestRun {
            data: &data,
            data_out_size: data.len().max(4096),
            repeat: req.repeat,
            ..Default::default()
        })
        .map_err(|error| RunError::TestRun {
            program: prog.name().to_owned(),
            error,
        })?;
    let (trace, trace_note) =
        match capture.map(|c| c.and_then(|c| Ok((c.messages()?, c.overwritten())))) {
            None => (Vec::new(), None),
            Some(Ok((t, 0))) => (t, None),
            Some(Ok((t, lost))) => (
                t,
                Some(format!(
                    "{lost} older bpf_trace_printk messages were overwritten in the trace buffer \
                 (the newest are kept)"
                )),
            ),
            Some(Err(why)) => (
                Vec::new(),
                Some(format!("bpf_trace_printk's messages not read: {why}")),
            ),
        };
    let mut maps = Vec::new();
    for m in loaded.maps() {
        if !m.def().map_type.is_queue_or_stack() {
            continue;
        }
        let mut values = Vec::new();
        loop {
            match m.lookup_and_delete(&[], 0) {
                Ok(v) => values.push(MapValueOut::from_bytes(&v)),
                Err(e) if e.errno() == Some(libc::ENOENT) => break,
                Err(error) => {
                    return Err(RunError::Map {
                        map: m.name().to_owned(),
                        error,
                    })
                }
            }
        }
        maps.push((m.name().to_owned(), values));
    }
    Ok(RunReport {
        program: prog.name().to_owned(),
        retval: out.retval,
        duration_ns: out.duration_ns,
        data_out: out.data_out,
        maps,
        log: prog.log().map(str::to_owned),
        trace,
        trace_note,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_from_the_command_line() {
        assert_eq!(value_bytes("258", 2), Some(vec![2, 1]));
        assert_eq!(value_bytes("0x10", 4), Some(vec![0x10, 0, 0, 0]));
        assert_eq!(value_bytes("-1", 4), Some(vec![0xff; 4]));
        assert_eq!(value_bytes("256", 1), None);
        assert_eq!(value_bytes("0x0102ab", 3), Some(vec![1, 2, 0xab]));
        assert_eq!(value_bytes("12", 3), None);
    }

    /// Issue 11: `-4294967295` pushed 1 into a 4-byte map, `-2147483649` became 2147483647,
    /// and `-0` was refused.
    #[test]
    fn values_are_range_checked_signed_and_unsigned() {
        assert!(parse_value("-4294967295", 4).is_err());
        assert!(parse_value("-2147483649", 4).is_err());
        assert_eq!(value_bytes("-2147483648", 4), Some(vec![0, 0, 0, 0x80]));
        assert_eq!(value_bytes("4294967295", 4), Some(vec![0xff; 4]));
        assert!(parse_value("4294967296", 4).is_err());
        assert_eq!(value_bytes("-0", 4), Some(vec![0; 4]));
        assert_eq!(value_bytes("-0", 1), Some(vec![0]));
        assert_eq!(value_bytes("-128", 1), Some(vec![0x80]));
        assert!(parse_value("-129", 1).is_err());
        assert_eq!(value_bytes("255", 1), Some(vec![0xff]));
        assert_eq!(value_bytes("18446744073709551615", 8), Some(vec![0xff; 8]));
        assert_eq!(
            value_bytes("-9223372036854775808", 8),
            Some(vec![0, 0, 0, 0, 0, 0, 0, 0x80])
        );
        assert!(parse_value("-9223372036854775809", 8).is_err());
        assert!(parse_value("99999999999999999999999999999999999999999999", 8).is_err());
        assert_eq!(value_bytes("-0x10", 2), Some(vec![0xf0, 0xff]));
        for bad in ["", "-", "+5", "-+5", "0x", "1e3", "é", "5 5", "--1"] {
            assert!(parse_value(bad, 4).is_err(), "{bad:?}");
        }
        assert!(parse_value("0x01é", 2).is_err());
        assert!(parse_value("0xé1", 1).is_err());
    }

    #[test]
    fn a_missing_feature_is_a_refusal_that_names_it() {
        let e = LoadError::MissingFeature(Box::new(crate::load::MissingFeature {
            program: "signed".into(),
            release: "6.1.0-57-cloud-amd64".into(),
            feature: crate::load::isa::Feature::SdivSmod,
            insn: 3,
            text: "r1 s/= 0x3".into(),
            location: Some("x.s:6".into()),
            errno: libc::EINVAL,
            log: "3: (37) r1 /= 3\nBPF_ALU uses reserved fields\nprocessed 3 insns (limit \
                  1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n"
                .into(),
        }));
        let v: serde_json::Value = serde_json::from_str(&load_refusal_json(&e).unwrap()).unwrap();
        assert_eq!(v["program"], "signed");
        assert_eq!(v["refused"]["errno"], "EINVAL");
        assert_eq!(v["refused"]["message"], "BPF_ALU uses reserved fields");
        assert_eq!(v["refused"]["missing"]["feature"], "sdiv_smod");
        assert_eq!(v["refused"]["missing"]["since"], "6.6");
        assert_eq!(v["refused"]["missing"]["location"], "x.s:6");
        let plain = LoadError::Verifier {
            program: "p".into(),
            errno: libc::EACCES,
            log: "R2 !read_ok\n".into(),
            built: None,
        };
        assert_eq!(
            load_refusal_json(&plain),
            Some(refusal_json("p", libc::EACCES, "R2 !read_ok\n"))
        );
        assert_eq!(load_refusal_json(&LoadError::BadLicense("x".into())), None);
    }

    #[test]
    fn json_shape() {
        let r = RunReport {
            program: "p".into(),
            retval: 7,
            duration_ns: 12,
            data_out: vec![0xab],
            maps: vec![(
                "q".into(),
                vec![MapValueOut::Uint(3), MapValueOut::Bytes(vec![1, 2, 3])],
            )],
            log: None,
            trace: vec!["hi\n".into()],
            trace_note: None,
        };
        let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(v["program"], "p");
        assert_eq!(v["retval"], 7);
        assert_eq!(v["data_out"], "ab");
        assert_eq!(v["trace"], serde_json::json!(["hi\n"]));
        assert_eq!(v["maps"]["q"], serde_json::json!([3, "010203"]));
    }
}

debug_as_display!(RunError);
