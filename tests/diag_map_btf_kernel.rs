//! `max_entries` and the other numbers a map's BTF definition carries as array lengths
//! (`__uint(max_entries, N)` is `int (*max_entries)[N]`): the kernel refuses such an array
//! once N * 4 overflows 32 bits (`btf_array_resolve` in kernel/bpf/btf.c: "Array size
//! overflows U32_MAX"). The boundary is shown on the running kernel, and bpfsmith refuses the
//! first value past it itself, naming the map (and the line, from `asm`), instead of a BTF
//! dump at load time.
#![cfg(bpfsmith_kernel)]

#[macro_use]
#[path = "common/kernel.rs"]
mod kernel;

use bpfsmith::maps::{MapDef, MapDefError, MAX_BTF_UINT};
use bpfsmith::object::btf::BtfBuilder;
use bpfsmith::object::{Object, ObjectError};
use bpfsmith::sys::{btf_load, LogBuf};
use bpfsmith::text::{assemble, AsmErrorKind};

/// Load raw BTF: `Ok`, or the errno and the kernel's log.
fn load(btf: &[u8]) -> Result<(), (i32, String)> {
    let mut buf = vec![0u8; 64 * 1024];
    let r = btf_load(
        btf,
        Some(LogBuf {
            level: 1,
            buf: &mut buf,
        }),
    );
    match r.result {
        Ok(_fd) => Ok(()),
        Err(e) => {
            let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
            Err((e.errno, String::from_utf8_lossy(&buf[..end]).into_owned()))
        }
    }
}

/// A map definition's `max_entries` member as the writer encodes it, built by hand so that
/// any length can be tried: `int`, the index type, `int[n]`, a pointer to it.
fn max_entries_btf(n: u32) -> Vec<u8> {
    let mut b = BtfBuilder::new();
    let int = b.int("int", 4, true);
    let index = b.int("__ARRAY_SIZE_TYPE__", 4, false);
    let arr = b.array(int, index, n);
    let ptr = b.ptr(arr);
    b.structure("", 8, &[("max_entries", ptr, 0)]);
    b.finish()
}

#[test]
fn the_kernel_refuses_an_int_array_past_u32_max_over_4() {
    require_kernel!("the_kernel_refuses_an_int_array_past_u32_max_over_4");
    assert_eq!(MAX_BTF_UINT, (1 << 30) - 1);
    load(&max_entries_btf(MAX_BTF_UINT)).expect("2^30 - 1 ints: 4 GiB - 4 bytes resolve");
    let (errno, log) = load(&max_entries_btf(MAX_BTF_UINT + 1)).unwrap_err();
    assert_eq!(errno, libc::EINVAL, "{log}");
    assert!(log.contains("Array size overflows U32_MAX"), "{log}");
}

#[test]
fn the_largest_accepted_max_entries_loads_its_btf() {
    require_kernel!("the_largest_accepted_max_entries_loads_its_btf");
    let mut obj = Object::new("GPL");
    obj.map("big", MapDef::queue::<u32>(MAX_BTF_UINT))
        .expect("the largest max_entries is accepted");
    obj.map("wide", MapDef::hash::<u32, u64>(MAX_BTF_UINT))
        .expect("the largest max_entries is accepted");
    let btf = obj.btf().expect("encode the object's BTF");
    load(&btf.btf).unwrap_or_else(|(errno, log)| panic!("errno {errno}: {log}"));
}

#[test]
fn the_smallest_refused_max_entries_is_refused_before_the_kernel() {
    let mut obj = Object::new("GPL");
    let e = obj
        .map("big", MapDef::queue::<u32>(MAX_BTF_UINT + 1))
        .unwrap_err();
    assert_eq!(
        e,
        ObjectError::BadMap {
            map: "big".into(),
            source: MapDefError::BtfArrayTooLarge {
                field: "max_entries",
                value: 1 << 30
            }
        }
    );
    let shown = e.to_string();
    assert!(
        shown.starts_with("map `big`: max_entries = 1073741824"),
        "{shown}"
    );
    assert!(
        shown.contains("the largest max_entries is 1073741823"),
        "{shown}"
    );

    // From `asm`: the map, its line and column.
    let src = "\t.text\n\t.map big, type=queue, value_size=4, max_entries=1073741824\nprog:\n\tr0 = 0\n\texit\n";
    let errors = assemble("big.s", src).unwrap_err();
    let e = errors.iter().next().expect("one error");
    assert_eq!(e.kind, AsmErrorKind::BadMap);
    assert_eq!(e.line, 2);
    // The caret is under `max_entries=...`, where the number is written.
    let column = src
        .lines()
        .nth(1)
        .and_then(|l| l.find("max_entries"))
        .unwrap()
        + 1;
    assert!(
        e.to_string().starts_with(&format!("big.s:2:{column}:")),
        "{e}"
    );
    assert!(
        e.message.starts_with("map `big`: max_entries = 1073741824"),
        "{e}"
    );
    // One less assembles.
    let ok = src.replace("1073741824", "1073741823");
    assert!(assemble("big.s", &ok).is_ok());
}
