//! `bpfsmith gen`: the same seed gives the same files; `--isa v3` gives no cpu v4 instruction;
//! across 1,000 programs every instruction form the ISA allows appears (forms listed here from
//! RFC 9669, classified from the assembled bytes, not from the generator); helpers 87-89 in
//! most programs; and the kernel accepts the programs and gives what their headers say,
//! as the VM does.

#[cfg(bpfsmith_kernel)]
#[macro_use]
#[path = "common/kernel.rs"]
mod kernel;

use std::collections::BTreeSet;

use bpfsmith::gen::{generate, write_corpus, write_range, GenError, GenOptions, Isa, MapKind};
use bpfsmith::text::asm::expect::Expectations;

fn opts(seed: u64, isa: Isa) -> GenOptions {
    GenOptions {
        seed,
        isa,
        ..GenOptions::default()
    }
}

/// The assembly after the header (the header names the seed, so it always differs).
fn body(text: &str) -> &str {
    text.find("\n.license").map_or(text, |i| &text[i..])
}

/// Every instruction of program `text`, as raw 8-byte slots `(opcode, src, off, imm)`, over
/// the main program and its functions.
fn slots(name: &str, text: &str) -> Vec<(u8, u8, i16, i32)> {
    let obj = bpfsmith::text::assemble(name, text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut out = Vec::new();
    for p in &obj.programs {
        let bytes = bpfsmith::insn::encode(&p.insns);
        let mut i = 0;
        while i + 8 <= bytes.len() {
            let b = &bytes[i..i + 8];
            let code = b[0];
            let src = b[1] >> 4;
            let off = i16::from_le_bytes([b[2], b[3]]);
            let imm = i32::from_le_bytes([b[4], b[5], b[6], b[7]]);
            out.push((code, src, off, imm));
            // ld_imm64 takes two slots.
            i += if code == 0x18 { 16 } else { 8 };
        }
    }
    out
}

/// The form of one instruction as RFC 9669 names it (class, operation, source or size) and
/// whether it is cpu v4.
fn form(code: u8, src: u8, off: i16, imm: i32) -> (String, bool) {
    let class = code & 0x07;
    let class_name = ["LD", "LDX", "ST", "STX", "ALU", "JMP", "JMP32", "ALU64"][class as usize];
    match class {
        0x04 | 0x07 => {
            let op = code & 0xf0;
            let x = code & 0x08 != 0;
            let source = if x { "X" } else { "K" };
            let (name, v4) = match (op, off) {
                (0x00, _) => ("ADD".to_owned(), false),
                (0x10, _) => ("SUB".into(), false),
                (0x20, _) => ("MUL".into(), false),
                (0x30, 0) => ("DIV".into(), false),
                (0x30, 1) => ("SDIV".into(), true),
                (0x40, _) => ("OR".into(), false),
                (0x50, _) => ("AND".into(), false),
                (0x60, _) => ("LSH".into(), false),
                (0x70, _) => ("RSH".into(), false),
                (0x80, _) => ("NEG".into(), false),
                (0x90, 0) => ("MOD".into(), false),
                (0x90, 1) => ("SMOD".into(), true),
                (0xa0, _) => ("XOR".into(), false),
                (0xb0, 0) => ("MOV".into(), false),
                (0xb0, bits) => (format!("MOVSX{bits}"), true),
                (0xc0, _) => ("ARSH".into(), false),
                // END: in ALU the source bit picks le (K) or be (X); in ALU64 it is bswap.
                (0xd0, _) if class == 0x07 => (format!("BSWAP{imm}"), true),
                (0xd0, _) => (format!("{}{imm}", if x { "BE" } else { "LE" }), false),
                _ => (format!("op{op:#x}"), false),
            };
            (format!("{class_name} {name} {source}"), v4)
        }
        0x05 | 0x06 => {
            let op = code & 0xf0;
            let source = if code & 0x08 != 0 { "X" } else { "K" };
            let name = match op {
                0x00 => "JA",
                0x10 => "JEQ",
                0x20 => "JGT",
                0x30 => "JGE",
                0x40 => "JSET",
                0x50 => "JNE",
                0x60 => "JSGT",
                0x70 => "JSGE",
                0x80 => "CALL",
                0x90 => "EXIT",
                0xa0 => "JLT",
                0xb0 => "JLE",
                0xc0 => "JSLT",
                0xd0 => "JSLE",
                _ => "?",
            };
            let name = match (op, src) {
                (0x80, 0) => "CALL helper".to_owned(),
                (0x80, 1) => "CALL local".to_owned(),
                _ => name.to_owned(),
            };
            // JMP32 | JA is gotol (cpu v4).
            let v4 = class == 0x06 && op == 0x00;
            (format!("{class_name} {name} {source}"), v4)
        }
        _ => {
            let mode = code & 0xe0;
            let size = ["W", "H", "B", "DW"][((code >> 3) & 0x03) as usize];
            match (class, mode) {
                // A map reference is this same form until the loader patches its fd in.
                (0x00, 0x00) => (format!("LD IMM {size}"), false),
                (0x01, 0x60) => (format!("LDX MEM {size}"), false),
                (0x01, 0x80) => (format!("LDX MEMSX {size}"), true),
                (0x02, 0x60) => (format!("ST MEM {size}"), false),
                (0x03, 0x60) => (format!("STX MEM {size}"), false),
                (0x03, 0xc0) => (format!("STX ATOMIC {size} {imm:#x}"), false),
                _ => (format!("{class_name} mode{mode:#x} {size}"), false),
            }
        }
    }
}

/// The forms RFC 9669 defines that a socket filter may use, and which of them are cpu v4.
/// Left out: the legacy packet loads (LD ABS/IND, not part of the base set), `callx` (no
/// verifier takes it); `ld_imm64` is one form, a constant or (before loading) a map.
fn rfc_forms() -> Vec<(String, bool)> {
    let mut forms = Vec::new();
    for class in ["ALU", "ALU64"] {
        for op in [
            "ADD", "SUB", "MUL", "DIV", "OR", "AND", "LSH", "RSH", "MOD", "XOR", "MOV", "ARSH",
        ] {
            for source in ["K", "X"] {
                forms.push((format!("{class} {op} {source}"), false));
            }
        }
        forms.push((format!("{class} NEG K"), false));
        for op in ["SDIV", "SMOD"] {
            for source in ["K", "X"] {
                forms.push((format!("{class} {op} {source}"), true));
            }
        }
        forms.push((format!("{class} MOVSX8 X"), true));
        forms.push((format!("{class} MOVSX16 X"), true));
    }
    forms.push(("ALU64 MOVSX32 X".into(), true));
    for bits in [16, 32, 64] {
        forms.push((format!("ALU LE{bits} K"), false));
        forms.push((format!("ALU BE{bits} X"), false));
        forms.push((format!("ALU64 BSWAP{bits} K"), true));
    }
    for class in ["JMP", "JMP32"] {
        for op in [
            "JEQ", "JGT", "JGE", "JSET", "JNE", "JSGT", "JSGE", "JLT", "JLE", "JSLT", "JSLE",
        ] {
            for source in ["K", "X"] {
                forms.push((format!("{class} {op} {source}"), false));
            }
        }
    }
    forms.push(("JMP JA K".into(), false));
    forms.push(("JMP32 JA K".into(), true));
    forms.push(("JMP CALL helper K".into(), false));
    forms.push(("JMP CALL local K".into(), false));
    forms.push(("JMP EXIT K".into(), false));
    forms.push(("LD IMM DW".into(), false));
    for size in ["B", "H", "W", "DW"] {
        forms.push((format!("LDX MEM {size}"), false));
        forms.push((format!("ST MEM {size}"), false));
        forms.push((format!("STX MEM {size}"), false));
    }
    for size in ["B", "H", "W"] {
        forms.push((format!("LDX MEMSX {size}"), true));
    }
    for size in ["W", "DW"] {
        // add, or, and, xor, each with and without BPF_FETCH; xchg; cmpxchg.
        for imm in [0x00, 0x01, 0x40, 0x41, 0x50, 0x51, 0xa0, 0xa1, 0xe1, 0xf1] {
            forms.push((format!("STX ATOMIC {size} {imm:#x}"), false));
        }
    }
    forms
}

/// The forms used by programs `0..n` of `o`, each with how many programs use it.
fn forms_used(o: &GenOptions, n: u64) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut all = BTreeSet::new();
    let mut v4 = BTreeSet::new();
    for i in 0..n {
        let p = generate(o, i).unwrap_or_else(|e| panic!("{e}"));
        for (code, src, off, imm) in slots(&p.file_name, &p.text) {
            let (f, is_v4) = form(code, src, off, imm);
            if is_v4 {
                v4.insert(format!("{f} in {}", p.file_name));
            }
            all.insert(f);
        }
    }
    (all, v4)
}

#[test]
fn the_same_seed_gives_the_same_files_and_another_seed_other_programs() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        dir.path().join("a"),
        dir.path().join("b"),
        dir.path().join("c"),
    );
    let sa = write_corpus(&opts(11, Isa::V4), 40, &a).unwrap();
    write_corpus(&opts(11, Isa::V4), 40, &b).unwrap();
    write_corpus(&opts(12, Isa::V4), 40, &c).unwrap();
    assert_eq!(sa.files.len(), 40);
    let mut differ = 0;
    for f in &sa.files {
        let name = f.file_name().unwrap();
        let x = std::fs::read(f).unwrap();
        assert_eq!(x, std::fs::read(b.join(name)).unwrap(), "{name:?}");
        let other = c.join(name.to_str().unwrap().replace("gen-11-", "gen-12-"));
        let y = std::fs::read_to_string(other).unwrap();
        if body(&y) != body(std::str::from_utf8(&x).unwrap()) {
            differ += 1;
        }
    }
    assert_eq!(differ, 40, "seed 12 repeated programs of seed 11");
    // Program k alone is program k of the corpus.
    let one = dir.path().join("one");
    let s = write_range(&opts(11, Isa::V4), 17, 1, &one).unwrap();
    assert_eq!(
        std::fs::read(&s.files[0]).unwrap(),
        std::fs::read(a.join("gen-11-00017.s")).unwrap()
    );
}

#[test]
fn nothing_is_overwritten_and_the_folder_is_made() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("new/nested");
    write_corpus(&opts(3, Isa::V4), 2, &out).unwrap();
    let second = out.join("gen-3-00001.s");
    std::fs::write(&second, "mine").unwrap();
    // Programs 0-2 into a folder that holds 1: refused before anything is written.
    std::fs::remove_file(out.join("gen-3-00000.s")).unwrap();
    match write_corpus(&opts(3, Isa::V4), 3, &out) {
        Err(e @ GenError::Exists { .. }) => {
            assert!(e.to_string().contains("gen-3-00001.s"), "{e}");
            assert!(e.to_string().contains("never overwrites"), "{e}");
        }
        other => panic!("expected Exists, got {other:?}"),
    }
    assert_eq!(std::fs::read_to_string(&second).unwrap(), "mine");
    assert!(!out.join("gen-3-00000.s").exists());
    assert!(!out.join("gen-3-00002.s").exists());
}

#[test]
fn bad_options_are_refused_saying_why() {
    let e = GenOptions::parse_size("90..40")
        .map(|size| GenOptions {
            size,
            ..GenOptions::default()
        })
        .unwrap()
        .validate()
        .unwrap_err();
    assert!(e.to_string().contains("MIN must not exceed MAX"), "{e}");
    assert!(GenOptions::parse_size("ten")
        .unwrap_err()
        .to_string()
        .contains("MIN..MAX"));
    let e = MapKind::parse_list("queue,ringbuf").unwrap_err();
    assert!(e.to_string().contains("`ringbuf` is not a map kind"), "{e}");
    assert!("v5".parse::<Isa>().is_err());
}

#[test]
fn headers_state_the_outcome_and_sizes_are_kept() {
    let o = GenOptions {
        size: (50, 90),
        ..opts(5, Isa::V4)
    };
    for i in 0..1000 {
        let p = generate(&o, i).unwrap();
        let e = Expectations::parse(&p.text).unwrap();
        assert!(e.load_ok && e.load_stated, "{}", p.file_name);
        assert_eq!(e.retval, Some(i64::from(p.retval)));
        let obj = bpfsmith::text::assemble(&p.file_name, &p.text).unwrap();
        // No warning: in particular every branch on a helper's result compares its low 32
        // bits, the check that reads the same on every kernel.
        let warnings = bpfsmith::text::asm_warnings(&obj);
        assert!(warnings.is_empty(), "{}: {warnings:?}", p.file_name);
        let n: usize = obj.programs.iter().map(|p| p.insns.len()).sum();
        assert_eq!(n, p.insns, "{}", p.file_name);
        assert!((50..=90).contains(&n), "{}: {n} instructions", p.file_name);
        // Every queue and stack map has its expect-map line.
        for m in obj
            .maps
            .iter()
            .filter(|m| m.def.map_type.is_queue_or_stack())
        {
            assert!(
                e.maps_after.iter().any(|(n, _)| *n == m.name),
                "{}: no expect-map for {}",
                p.file_name,
                m.name
            );
        }
        assert!(p.text.contains(&format!(
            "# regenerate: bpfsmith gen --seed 5 --isa v4 --maps queue,stack,array,hash --size 50..90 --index {i} --count 1"
        )));
    }
}

#[test]
fn v3_programs_hold_no_cpu_v4_instruction() {
    let (_, v4) = forms_used(&opts(21, Isa::V3), 500);
    assert!(v4.is_empty(), "cpu v4 instructions in v3 programs: {v4:?}");
}

#[test]
fn a_thousand_programs_use_every_form_the_isa_allows() {
    for isa in [Isa::V4, Isa::V3] {
        let (used, _) = forms_used(&opts(1, isa), 1000);
        let missing: Vec<String> = rfc_forms()
            .into_iter()
            .filter(|(f, v4)| (isa == Isa::V4 || !v4) && !used.contains(f))
            .map(|(f, _)| f)
            .collect();
        assert!(missing.is_empty(), "{isa}: never generated: {missing:?}");
        // And nothing outside the RFC's list.
        let known: BTreeSet<String> = rfc_forms().into_iter().map(|(f, _)| f).collect();
        let odd: Vec<&String> = used.iter().filter(|f| !known.contains(*f)).collect();
        assert!(
            odd.is_empty(),
            "{isa}: forms outside RFC 9669's list: {odd:?}"
        );
    }
}

#[test]
fn most_programs_call_the_queue_and_stack_helpers() {
    let o = opts(4, Isa::V4);
    let n = 300;
    let mut with = 0;
    let mut seen = BTreeSet::new();
    for i in 0..n {
        let p = generate(&o, i).unwrap();
        let helpers: Vec<i32> = slots(&p.file_name, &p.text)
            .into_iter()
            .filter(|&(code, src, _, _)| code == 0x85 && src == 0)
            .map(|(_, _, _, imm)| imm)
            .collect();
        seen.extend(helpers.iter().copied());
        if helpers.iter().any(|h| (87..=89).contains(h)) {
            with += 1;
        }
    }
    eprintln!("{with} of {n} programs call helper 87, 88 or 89");
    assert!(with * 10 >= n * 8, "only {with} of {n}");
    assert_eq!(seen, BTreeSet::from([1, 2, 3, 87, 88, 89]));
    // Without array and hash maps, no helper 1-3.
    let o = GenOptions {
        maps: vec![MapKind::Queue],
        ..o
    };
    for i in 0..50 {
        let p = generate(&o, i).unwrap();
        assert!(!p.text.contains("array0") && !p.text.contains("stack0"));
    }
}

/// 300 programs of each ISA through `check` on this kernel: accepted, and the header's
/// results. v4 needs Linux 6.6; on an older kernel only v3 runs.
#[cfg(bpfsmith_kernel)]
#[test]
fn the_kernel_accepts_the_programs_and_gives_the_headers_results() {
    use bpfsmith::check::{check_file, running_kernel, Privileges, Verdict};
    require_kernel!("the_kernel_accepts_the_programs_and_gives_the_headers_results");
    let kernel = running_kernel();
    for isa in [Isa::V4, Isa::V3] {
        if isa == Isa::V4 && kernel.version < (6, 6) {
            eprintln!(
                "notice: Linux {:?} has no cpu v4: v4 programs not loaded",
                kernel.version
            );
            continue;
        }
        let dir = tempfile::tempdir().unwrap();
        let s = write_corpus(&opts(1, isa), 300, dir.path()).unwrap();
        let (mut refused, mut failed) = (Vec::new(), Vec::new());
        for f in &s.files {
            let c = check_file(f, &kernel, Privileges::AsIs);
            match &c.verdict {
                Verdict::Passed(_) => {}
                Verdict::Failed(m) if m.starts_with("refused by the verifier") => {
                    refused.push(c.to_string())
                }
                _ => failed.push(c.to_string()),
            }
        }
        let n = s.files.len();
        eprintln!(
            "{isa}: the verifier accepted {} of {n} programs ({:.1}%); {} gave other results",
            n - refused.len(),
            100.0 * (n - refused.len()) as f64 / n as f64,
            failed.len()
        );
        assert!(refused.is_empty(), "{isa}: refused: {refused:#?}");
        assert!(failed.is_empty(), "{isa}: other results: {failed:#?}");
    }
}
