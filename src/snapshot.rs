//! Snapshot-testing emitted bytecode with [`insta`].
//!
//! A snapshot must change when the bytecode changes and only then, so the listing used here
//! has no file paths, no source lines and no addresses: the maps, then each program in LLVM
//! syntax with slot numbers, labels and map names.
//!
//! In your own tests, one line does it:
//!
//! ```no_run
//! # let prog = bpfsmith::seed::object().programs.remove(0);
//! bpfsmith::assert_bytecode_snapshot!(prog);
//! ```
//!
//! and `cargo insta review` (or `INSTA_UPDATE=always cargo test`) accepts new snapshots.

use std::fmt::Write;

use crate::object::Object;
use crate::program::Program;
use crate::text::{write_listing, ListingOptions};

#[doc(hidden)]
pub use insta as __insta;

/// The stable listing of one program: `section NAME`, then the LLVM-style listing with labels
/// and map names.
///
/// ```
/// let obj = bpfsmith::seed::object();
/// let text = bpfsmith::snapshot::program_listing(&obj.programs[0]);
/// assert!(text.starts_with("section socket\n0000000000000000 <queue_prog>:\n"));
/// assert!(text.contains("r1 = queue ll"));
/// ```
pub fn program_listing(prog: &Program) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "section {}", prog.section);
    write_listing(&mut out, prog, &ListingOptions::default());
    out
}

/// The stable listing of an object: license, each map's definition, then each program.
pub fn object_listing(obj: &Object) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "license {:?}", obj.license);
    for m in &obj.maps {
        let d = &m.def;
        let _ = writeln!(
            out,
            "map {}: type={} key_size={} value_size={} max_entries={} flags={:#x}",
            m.name, d.map_type, d.key_size, d.value_size, d.max_entries, d.map_flags
        );
    }
    for p in &obj.programs {
        out.push('\n');
        out.push_str(&program_listing(p));
    }
    out
}

/// Assert that a [`Program`](crate::program::Program)'s bytecode matches its insta snapshot
/// (the listing of [`program_listing`]). Takes the program, or a snapshot name and the program.
#[macro_export]
macro_rules! assert_bytecode_snapshot {
    ($prog:expr) => {{
        let listing = $crate::snapshot::program_listing(&$prog);
        $crate::snapshot::__insta::assert_snapshot!(listing)
    }};
    ($name:expr, $prog:expr) => {{
        let listing = $crate::snapshot::program_listing(&$prog);
        $crate::snapshot::__insta::assert_snapshot!($name, listing)
    }};
}

/// Assert that an [`Object`](crate::object::Object) (maps and programs) matches its insta
/// snapshot (the listing of [`object_listing`]).
#[macro_export]
macro_rules! assert_object_snapshot {
    ($obj:expr) => {{
        let listing = $crate::snapshot::object_listing(&$obj);
        $crate::snapshot::__insta::assert_snapshot!(listing)
    }};
    ($name:expr, $obj:expr) => {{
        let listing = $crate::snapshot::object_listing(&$obj);
        $crate::snapshot::__insta::assert_snapshot!($name, listing)
    }};
}
