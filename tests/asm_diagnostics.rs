//! Assembler diagnostics: each kind of mistake gives its error at the right line and column,
//! with the caret under the offending token; every error of a file comes out in one run; and
//! no input, however malformed, makes the assembler panic or point outside the input.

use bpfsmith::text::{
    assemble, assemble_with_warnings, AsmError, AsmErrorKind as K, AsmErrors, Severity,
};
use proptest::prelude::*;

fn errors(src: &str) -> AsmErrors {
    match assemble("t.s", src) {
        Ok(obj) => panic!(
            "expected errors, got {} programs for:\n{src}",
            obj.programs.len()
        ),
        Err(e) => {
            check_positions(src, &e);
            e
        }
    }
}

/// The one error of `src`: its kind, line, column, caret width and a piece of its message.
#[track_caller]
fn one(src: &str, kind: K, line: u32, column: u32, width: u32, text: &str) -> AsmError {
    let e = errors(src);
    assert_eq!(e.len(), 1, "{e}");
    let err = e.0[0].clone();
    assert_eq!(err.kind, kind, "{e}");
    assert_eq!(
        (err.line, err.column, err.width),
        (line, column, width),
        "{e}"
    );
    assert!(err.message.contains(text), "`{text}` not in: {e}");
    err
}

/// The warnings of `src`, which must assemble.
fn warnings(src: &str) -> Vec<AsmError> {
    match assemble_with_warnings("t.s", src, &Default::default()) {
        Ok(a) => {
            for w in &a.warnings {
                assert_eq!(w.severity, Severity::Warning, "{w}");
                assert!(w.to_string().starts_with("t.s:"), "{w}");
            }
            a.warnings
        }
        Err(e) => panic!("expected warnings, got errors for:\n{src}\n{e}"),
    }
}

/// The one warning of `src`: its kind, line, column, caret width and a piece of its message.
#[track_caller]
fn one_warning(src: &str, kind: K, line: u32, column: u32, width: u32, text: &str) -> AsmError {
    let w = warnings(src);
    let shown: Vec<String> = w.iter().map(|w| w.to_string()).collect();
    assert_eq!(w.len(), 1, "{shown:#?}");
    let w = w[0].clone();
    assert_eq!(w.kind, kind, "{w}");
    assert_eq!((w.line, w.column, w.width), (line, column, width), "{w}");
    assert!(w.message.contains(text), "`{text}` not in: {w}");
    w
}

/// Every error points at a line of the input, at a column inside it (or just past its end),
/// and shows that line's text.
fn check_positions(src: &str, errs: &AsmErrors) {
    let lines: Vec<&str> = src.split('\n').collect();
    assert!(!errs.is_empty());
    for e in errs {
        assert!(
            e.line >= 1 && (e.line as usize) <= lines.len(),
            "line {} of {}: {e}",
            e.line,
            lines.len()
        );
        let text = lines[e.line as usize - 1].trim_end_matches('\r');
        assert_eq!(e.line_text, text, "{e}");
        let len = text.chars().count() as u32;
        assert!(
            e.column >= 1 && e.column <= len + 1,
            "column {} of a {len}-char line: {e}",
            e.column
        );
        assert!(e.width >= 1);
        // Rendering never panics and shows the caret.
        assert!(e.to_string().contains('^'));
    }
}

#[test]
fn rendering() {
    let e = errors("\tr0 = 0\n\tr11 = 5\n\texit\n");
    assert_eq!(
        e.to_string(),
        "t.s:2:2: error: unknown register `r11`\n  |\n2 |     r11 = 5\n  |     ^^^\n  |\n  = help: registers are r0 to r10 (w0 to w10 for their 32-bit halves)\n\nerror: aborting due to 1 error"
    );
}

#[test]
fn unknown_register() {
    one(
        "r11 = 1\nexit\n",
        K::UnknownRegister,
        1,
        1,
        3,
        "unknown register `r11`",
    );
    one(
        "r1 = r12\nexit\n",
        K::UnknownRegister,
        1,
        6,
        3,
        "unknown register `r12`",
    );
    one(
        "mov %r0, %r11\nexit\n",
        K::UnknownRegister,
        1,
        10,
        4,
        "unknown register `%r11`",
    );
    one("w1 += r2\nexit\n", K::WrongRegister, 1, 7, 2, "same width");
}

#[test]
fn immediate_out_of_range() {
    one(
        "r1 = 4294967296\nexit\n",
        K::ImmediateRange,
        1,
        6,
        10,
        "does not fit in 32 bits",
    );
    one(
        "r1 += -2147483649\nexit\n",
        K::ImmediateRange,
        1,
        7,
        11,
        "does not fit in 32 bits",
    );
    one(
        "r1 = 18446744073709551616 ll\nexit\n",
        K::ImmediateRange,
        1,
        6,
        20,
        "does not fit in 64 bits",
    );
    // The mnemonic dialect takes the LLVM dialect's range: -2^31 ..= 2^32-1, decimal or hex.
    one(
        "add32 %r0, 4294967296\nexit\n",
        K::ImmediateRange,
        1,
        12,
        10,
        "-2147483648 to 4294967295",
    );
    one(
        "add32 %r0, -2147483649\nexit\n",
        K::ImmediateRange,
        1,
        12,
        11,
        "does not fit in 32 bits",
    );
    one(
        "r0 = *(u32 *)(r1 + 32768)\nexit\n",
        K::OffsetRange,
        1,
        18,
        7,
        "16 bits",
    );
    one(
        "r1 = addr_space_cast(r2, 65536, 0)\nexit\n",
        K::ImmediateRange,
        1,
        26,
        5,
        "16 bits",
    );
}

#[test]
fn labels() {
    one(
        "goto nowhere\nexit\n",
        K::UndefinedLabel,
        1,
        6,
        7,
        "undefined label `nowhere`",
    );
    let e = one("goto ot\nout:\nexit\n", K::UndefinedLabel, 1, 6, 2, "`ot`");
    assert_eq!(e.notes, vec!["help: did you mean `out`?"]);
    let e = one(
        "a:\nr0 = 0\na:\nexit\n",
        K::DuplicateLabel,
        3,
        1,
        1,
        "label `a` is defined twice",
    );
    assert_eq!(e.notes, vec!["note: first defined on line 1"]);
    // A label after the last instruction: the jump leaves the program; encoded, and warned.
    let w = warnings("goto end\nexit\nend:\n");
    assert_eq!(w.len(), 2, "{w:?}");
    assert_eq!(
        (w[0].kind, w[0].line, w[0].column, w[0].width),
        (K::JumpRange, 1, 6, 3)
    );
    assert!(w[0].message.contains("outside the program"), "{}", w[0]);
    assert!(
        w[0].notes[0].contains("jump out of range from insn 0 to 2"),
        "{}",
        w[0]
    );
    assert_eq!((w[1].kind, w[1].line), (K::Unreachable, 2));
    // A label of another program is out of reach.
    let e = one(
        ".globl a\n.globl b\na:\ngoto there\nexit\nb:\nthere:\nexit\n",
        K::UndefinedLabel,
        4,
        6,
        5,
        "undefined label `there` in program `a`",
    );
    assert!(e.notes[0].contains("program `b`"), "{:?}", e.notes);
    // Conformance style: `exit` is the first exit when no label has that name.
    assert!(assemble("t.s", "jne %r1, 0, exit\nmov %r0, 1\nexit\n").is_ok());
}

#[test]
fn jumps_out_of_range() {
    let mut src = String::from("goto far\n");
    src.push_str(&"r0 = 0\n".repeat(40_000));
    src.push_str("far:\nexit\n");
    let e = one(
        &src,
        K::JumpRange,
        1,
        6,
        3,
        "needs offset 40000, which does not fit in 16 bits",
    );
    assert_eq!(
        e.notes,
        vec!["help: use `gotol` (`jump_long` in the DSL), whose offset has 32 bits (cpu v4)"]
    );
    assert!(assemble("t.s", &src.replacen("goto far", "gotol far", 1)).is_ok());
    let src = src.replacen("goto far", "if r1 > 0 goto far", 1);
    let e = one(&src, K::JumpRange, 1, 16, 3, "16 bits");
    assert!(e.notes[0].contains("invert the condition"));
    // Encodable jumps the verifier refuses are warnings, and the object is written.
    let w = one_warning("goto +5\n", K::JumpRange, 1, 6, 2, "outside the program");
    assert_eq!(
        w.notes,
        vec![
            "note: the verifier refuses it: `jump out of range from insn 0 to 6`",
            "help: a jump must land on an instruction of its own program"
        ]
    );
    // (`exit` is unreachable too.)
    let w = warnings("goto -2\nexit\n");
    assert_eq!((w[0].kind, w[0].line, w[0].column), (K::JumpRange, 1, 6));
    assert!(w[0].message.contains("outside the program"), "{}", w[0]);
    let w = one_warning(
        "if r1 > 0 goto +1\nr1 = 1 ll\nexit\n",
        K::JumpRange,
        1,
        16,
        2,
        "second half of an ld_imm64",
    );
    assert!(
        w.notes[0].contains("jump into the middle of ldimm64 insn 1"),
        "{w}"
    );
    let obj = assemble("t.s", "if r1 > 0 goto +1\nr1 = 1 ll\nexit\n").unwrap();
    assert_eq!(obj.programs[0].insns.len(), 3);
    // A jump into another function: the program stays in one piece, as written (the call
    // pc-relative, as llvm-mc encodes it), and the verifier's refusal is a warning.
    let src = "call f\ngoto +1\nexit\nf:\nr0 = 0\nexit\n";
    let w = warnings(src);
    assert_eq!(
        (w[0].kind, w[0].line, w[0].column),
        (K::JumpRange, 2, 6),
        "{w:?}"
    );
    assert!(
        w[0].message.contains("in another function (`f`)"),
        "{}",
        w[0]
    );
    let obj = assemble("t.s", src).unwrap();
    assert_eq!(obj.programs[0].functions.len(), 1);
    let elf = obj.to_elf().unwrap();
    let back = bpfsmith::object::Object::from_elf(&elf).unwrap();
    assert_eq!(back.programs[0].bytes(), obj.programs[0].bytes());
    one(
        "if r1 > 2 goto +40000\nexit\n",
        K::JumpRange,
        1,
        16,
        6,
        "16 bits",
    );
}

#[test]
fn maps_and_helpers() {
    // An undeclared map is an extern map (an undefined symbol, as llvm-mc writes it): a
    // warning with the nearest declared map, not an error.
    let e = one_warning(
        ".map queue, type=queue, value_size=4, max_entries=4\nr1 = qeue ll\nexit\n",
        K::UnknownMap,
        2,
        6,
        4,
        "`qeue` is not a map of this file: written as an undefined symbol",
    );
    assert_eq!(e.notes, vec!["help: did you mean `queue`?"]);
    let e = one_warning(
        "r9 = dummy_map ll\nexit\n",
        K::UnknownMap,
        1,
        6,
        9,
        "an extern map the loader must supply",
    );
    assert_eq!(
        e.notes,
        vec!["help: to define it here: `.map dummy_map, type=queue, value_size=4, max_entries=16`"]
    );
    let e = one(
        "call bpf_map_pushelem\nexit\n",
        K::UnknownHelper,
        1,
        6,
        16,
        "neither a helper nor a function",
    );
    assert_eq!(e.notes, vec!["help: did you mean `bpf_map_push_elem`?"]);
    one(
        "call bpf_map_push_elem#88\nexit\n",
        K::UnknownHelper,
        1,
        6,
        20,
        "is number 87, not 88",
    );
    // A function of the file wins over a helper of the same name.
    let obj = assemble("t.s", "call map_push_elem\nexit\nmap_push_elem:\nexit\n").unwrap();
    assert_eq!(obj.programs[0].functions.len(), 2);
    // Helpers by name, with or without `bpf_`.
    let obj = assemble("t.s", "call bpf_map_pop_elem\ncall map_peek_elem\nexit\n").unwrap();
    assert_eq!(obj.programs[0].bytes()[4], 88);
    assert_eq!(obj.programs[0].bytes()[12], 89);
}

/// Every `.map` rule, with the caret under the offending `key=value`.
#[test]
fn bad_map_directives() {
    let map = |args: &str| format!(".map m, {args}\nexit\n");
    let cases: &[(&str, u32, u32, &str)] = &[
        (
            "type=queue, key_size=4, value_size=4, max_entries=4",
            21,
            10,
            "no key: key_size must be 0",
        ),
        ("type=queue, max_entries=4", 6, 1, "value_size > 0"),
        (
            "type=stack, value_size=4, max_entries=0",
            35,
            13,
            "max_entries > 0",
        ),
        (
            "type=queue, value_size=4, max_entries=4, flags=BPF_F_NO_PREALLOC",
            50,
            23,
            "BPF_F_NO_PREALLOC",
        ),
        (
            "type=queue, value_size=4, max_entries=4, flags=BPF_F_MMAPABLE",
            50,
            20,
            "0x400 is refused",
        ),
        (
            "type=queue, value_size=4, max_entries=4, flags=RDONLY_PROG|WRONLY_PROG",
            50,
            29,
            "exclude each other",
        ),
        (
            "type=stack, value_size=4, max_entries=4, flags=0x8|0x10",
            50,
            14,
            "BPF_F_RDONLY and BPF_F_WRONLY",
        ),
        (
            "type=array, key_size=8, value_size=4, max_entries=4",
            21,
            10,
            "key_size must be 4",
        ),
        (
            "type=hash, value_size=4, max_entries=4",
            6,
            1,
            "key_size > 0",
        ),
        (
            "type=unspec, value_size=4, max_entries=4",
            9,
            11,
            "cannot be created",
        ),
        ("type=queu, value_size=4", 14, 4, "unknown map type `queu`"),
        (
            "type=queue, value_sise=4",
            21,
            10,
            "unknown map key `value_sise`",
        ),
        ("type=queue, type=stack", 21, 10, "`type` is given twice"),
        ("value_size=4, max_entries=4", 1, 35, "needs a type"),
        (
            "type=queue, value_size=4, max_entries=4, flags=BPF_F_NOPE",
            56,
            10,
            "unknown map flag",
        ),
        ("type=queue, value_size=four", 32, 4, "takes a number"),
        (
            "type=queue, value_size=4, max_entries=4294967296",
            47,
            10,
            "takes a number",
        ),
    ];
    for &(args, col, width, text) in cases {
        let src = map(args);
        one(&src, K::BadMap, 1, col, width, text);
    }
    one(
        ".map 9m, type=queue\nexit\n",
        K::BadMap,
        1,
        6,
        1,
        "expected the map's name",
    );
    one(
        ".map r1, type=queue, value_size=4, max_entries=1\nexit\n",
        K::BadMap,
        1,
        6,
        2,
        "not a valid map name",
    );
    let e = one(
        ".map q, type=queue, value_size=4, max_entries=1\n.map q, type=stack, value_size=4, max_entries=1\nexit\n",
        K::BadMap,
        2,
        6,
        1,
        "declared twice",
    );
    assert_eq!(e.notes, vec!["note: first declared on line 1"]);
    // A map with an error is not reported again where it is used.
    let e = errors(".map q, type=queue, max_entries=1\nr1 = q ll\nexit\n");
    assert_eq!(e.len(), 1);
}

#[test]
fn falling_off_the_end() {
    let w = warnings("r0 = 0\nexit\nr0 = 1\n");
    let shown: Vec<(K, u32, u32, u32)> = w
        .iter()
        .map(|w| (w.kind, w.line, w.column, w.width))
        .collect();
    assert_eq!(
        shown,
        vec![(K::FallsOffEnd, 3, 1, 6), (K::Unreachable, 3, 1, 6)],
        "{w:?}"
    );
    assert!(w[0].message.contains("falls off the end"), "{}", w[0]);
    assert!(w[0].notes[0].contains("last insn is not an exit or jmp"));
    one_warning(
        "r0 = 0\nif r0 > 1 goto -2\n",
        K::FallsOffEnd,
        2,
        1,
        17,
        "falls off the end",
    );
    one_warning(
        "call f\nr0 = 0\nf:\nexit\n",
        K::FallsOffEnd,
        2,
        1,
        6,
        "falls through from `main` into function `f`",
    );
    // `goto` back is a fine last instruction.
    assert!(warnings("L: r0 = 0\ngoto L\n").is_empty());
}

/// Unreachable code: after `exit` or `goto`, with no jump to it.
#[test]
fn unreachable_code() {
    let w = one_warning(
        "r0 = 0\ngoto out\nr0 = 1 # skipped\nr0 = 2\nout:\nexit\n",
        K::Unreachable,
        3,
        1,
        6,
        "2 unreachable instructions",
    );
    assert!(w.notes[0].contains("`unreachable insn 2`"), "{w}");
    // A function reached only through a call is reachable.
    assert!(warnings("call f\nexit\nf:\nr0 = 0\nexit\n").is_empty());
    // Every function of `.text` is an entry (another program may call it, and loaders link
    // `.text` function by function); code after a `.text` function's exit is still unreachable.
    let text = "\t.section socket\n\t.globl prog\nprog:\n\tcall f\n\texit\n\t.text\n\
                unused:\n\tr0 = 99\n\texit\nf:\n\tcall g\n\tr0 += 40\n\texit\ng:\n\tr0 = 2\n\texit\n";
    let w = warnings(text);
    assert!(w.iter().all(|w| w.kind != K::Unreachable), "{w:#?}");
    let w = warnings(&text.replace("g:\n\tr0 = 2\n", "g:\n\tr0 = 2\n\texit\n\tr0 = 3\n"));
    assert!(w.iter().any(|w| w.kind == K::Unreachable), "{w:#?}");
}

#[test]
fn programs_and_directives() {
    one("", K::Program, 1, 1, 1, "no instructions");
    one(
        ".section .maps\nr0 = 0\n",
        K::Program,
        2,
        1,
        6,
        "code in data section `.maps`",
    );
    one(
        ".globl f\n.section xdp\nf:\n.section tc\nexit\n",
        K::Program,
        3,
        1,
        1,
        "program `f` has no instructions",
    );
    one(
        ".frobnicate\nexit\n",
        K::BadDirective,
        1,
        1,
        11,
        "unknown directive",
    );
    one(
        ".zero 8\nexit\n",
        K::BadDirective,
        1,
        1,
        5,
        "data directive",
    );
    one(
        ".license GPL\nexit\n",
        K::BadDirective,
        1,
        10,
        3,
        "as a string",
    );
    one("exit /* open\n", K::Syntax, 1, 6, 2, "never ends");
    let obj = assemble(
        "t.s",
        ".license \"Dual BSD/GPL\"\n.section tracepoint/syscalls/sys_enter_write,\"ax\",@progbits\n.globl tp\n.type tp,@function\ntp:\nr0 = 0\nexit\n.size tp, .-tp\n",
    )
    .unwrap();
    assert_eq!(obj.license, "Dual BSD/GPL");
    assert_eq!(
        obj.programs[0].section.name(),
        "tracepoint/syscalls/sys_enter_write"
    );
}

/// Lines of a verifier log assemble: the slot and opcode columns are read, the register
/// state after `;` and the `; source` lines are skipped, and the opcode settles what the
/// kernel's text leaves open.
#[test]
fn verifier_log_lines() {
    let log = "\
func#0 @0
0: R1=ctx() R10=fp0
; int x = 0; @ prog.c:3
0: (18) r1 = 0xffff88810478bc00       ; R1=map_ptr(ks=4,vs=4)
2: (bf) r2 = r10                      ; R2=fp0 R10=fp0
3: (07) r2 += -4                      ; R2=fp-4
4: (85) call bpf_map_pop_elem#88
5: (b7) r0 = 0                        ; R0=0
6: (95) exit
";
    // Log lines that are not instructions are errors of their own: keep the instructions.
    let insns: String = log
        .lines()
        .filter(|l| l.starts_with(';') || l.contains(": ("))
        .map(|l| format!("{l}\n"))
        .collect();
    let obj = assemble("log.s", &insns).unwrap_or_else(|e| panic!("{e}"));
    let p = &obj.programs[0];
    assert_eq!(p.insns.len(), 6);
    assert_eq!(
        p.insns[0],
        bpfsmith::insn::Insn::LdImm64 {
            dst: bpfsmith::insn::Reg::R1,
            pseudo: bpfsmith::insn::Pseudo::Imm,
            imm: 0xffff88810478bc00u64 as i64
        }
    );
    one(
        "0: (07) r1 = r2\n1: (95) exit\n",
        K::Syntax,
        1,
        9,
        7,
        "encodes as opcode (bf), but the line's opcode column says (07)",
    );
    one(
        "0: (8d) call bpf_unspec#0\n1: (95) exit\n",
        K::Syntax,
        1,
        14,
        10,
        "callx",
    );
}

/// All errors of a file in one run, in line order.
#[test]
fn every_error_in_one_run() {
    let src = "\
.map q, type=queue, value_size=4, max_entries=0
\tr11 = 1
\tw1 += r2
\tgoto nowhere
\tr1 = q ll
\tcall bpf_nope
\tldxq %r0, [%r1]
\tr0 = 1
";
    let e = errors(src);
    let kinds: Vec<(u32, K)> = e.iter().map(|e| (e.line, e.kind)).collect();
    assert_eq!(
        kinds,
        vec![
            (1, K::BadMap),
            (2, K::UnknownRegister),
            (3, K::WrongRegister),
            (4, K::UndefinedLabel),
            (6, K::UnknownHelper),
            (7, K::UnknownMnemonic),
        ]
    );
    assert!(e.to_string().ends_with("error: aborting due to 6 errors"));
}

/// Valid programs to mutate: every example of `asm/` and a corpus of both dialects.
fn corpus() -> Vec<String> {
    let mut v = vec![
        "\
.map queue, type=queue, value_size=4, max_entries=10
.license \"GPL\"
.section socket
.globl prog
prog:
\t*(u32 *)(r10 - 4) = 42 # store
\tr1 = queue ll
\tr2 = r10; r2 += -4
\tr3 = 0
\tcall bpf_map_push_elem
\tif r0 != 0 goto fail
\tr0 = atomic_fetch_add((u64 *)(r10 - 16), r0)
\tcall f
\texit
fail:
\tw0 = -1
\texit
f:\tr0 = 0x10 ll
\texit
"
        .to_owned(),
        "\
# mnemonic dialect\n\
mov32 %r0, 0\n\
ldxdw %r1, [%r1+8]\n\
lock fetch add [%r10-8], %r1\n\
jne %r0, 0x10, exit\n\
call local func1\n\
exit\n\
func1:\n\
mov %r0, 1\n\
exit\n"
            .to_owned(),
        "0: (b7) r0 = 0\n1: (18) r1 = 0x5 ; queue\n3: (85) call bpf_map_push_elem#87\n4: (95) exit\n"
            .to_owned(),
        "0000000000000000 <p>:\n       0:\tb7 00 00 00 2a 00 00 00\tr0 = 0x2a\n       1:\tif r1 == 0x0 goto +0x0 <d>\n\n0000000000000010 <d>:\n       2:\texit\n".to_owned(),
    ];
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/asm");
    if let Ok(rd) = std::fs::read_dir(dir) {
        let mut files: Vec<_> = rd.flatten().map(|e| e.path()).collect();
        files.sort();
        for p in files {
            if p.extension().is_some_and(|e| e == "s") {
                v.push(std::fs::read_to_string(p).unwrap());
            }
        }
    }
    v
}

fn no_panic(src: &str) {
    match std::panic::catch_unwind(|| assemble("fuzz.s", src)) {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => check_positions(src, &e),
        Err(_) => panic!("the assembler panicked on:\n{src:?}"),
    }
}

#[test]
fn corpus_assembles() {
    for src in corpus() {
        if let Err(e) = assemble("corpus.s", &src) {
            panic!("{e}\n{src}");
        }
    }
}

#[derive(Clone, Debug)]
enum Edit {
    Insert(usize, char),
    Delete(usize),
    Replace(usize, char),
}

fn edit_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => proptest::sample::select(
            " \t\n;:#/*()[]+-=<>&|^%!,.\"@$0123456789abcdefghlrsuwxX_".chars().collect::<Vec<_>>()
        ),
        1 => any::<char>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_text_never_panics(src in "\\PC{0,200}") {
        no_panic(&src);
    }

    #[test]
    fn random_asm_like_text_never_panics(
        src in proptest::collection::vec(edit_char(), 0..300).prop_map(|v| v.into_iter().collect::<String>())
    ) {
        no_panic(&src);
    }

    #[test]
    fn mutated_programs_never_panic(
        which in any::<prop::sample::Index>(),
        edits in proptest::collection::vec(
            prop_oneof![
                (any::<prop::sample::Index>(), edit_char()).prop_map(|(i, c)| (0u8, i, c)),
                any::<prop::sample::Index>().prop_map(|i| (1u8, i, ' ')),
                (any::<prop::sample::Index>(), edit_char()).prop_map(|(i, c)| (2u8, i, c)),
            ],
            1..8,
        )
    ) {
        let corpus = corpus();
        let mut chars: Vec<char> = which.get(&corpus).chars().collect();
        for (kind, at, c) in edits {
            let edit = match kind {
                0 => Edit::Insert(at.index(chars.len() + 1), c),
                1 if !chars.is_empty() => Edit::Delete(at.index(chars.len())),
                2 if !chars.is_empty() => Edit::Replace(at.index(chars.len()), c),
                _ => continue,
            };
            match edit {
                Edit::Insert(i, c) => chars.insert(i, c),
                Edit::Delete(i) => { chars.remove(i); }
                Edit::Replace(i, c) => chars[i] = c,
            }
        }
        let src: String = chars.into_iter().collect();
        no_panic(&src);
    }
}

/// A small file with one non-portable compare of a helper's result, in each dialect.
const WARNED: &str = "\
.map queue, type=queue, value_size=4, max_entries=2
\tr1 = queue ll
\tr2 = r10
\tr2 += -4
\tr3 = 0
\tcall bpf_map_push_elem
\tr6 = 1
\tif r0 != -7 goto out           # 64-bit: not portable
\tif w0 != -7 goto out           # 32-bit: portable
\tlddw %r1, queue
\tmov %r2, %r10
\tadd %r2, -4
\tcall bpf_map_pop_elem
\tjslt %r0, 0, out
out:
\texit
";

/// The warning of the assembler: rustc's form with `warning:`, the caret under `r0`, the
/// call's line in a note and the portable spelling in the help; the object is complete.
#[test]
fn warnings_render_like_errors_and_keep_the_object() {
    let a = assemble_with_warnings("w.s", WARNED, &Default::default()).unwrap();
    assert_eq!(a.object.programs[0].insns.len(), 14);
    assert_eq!(a.warnings.len(), 2, "{:?}", a.warnings);
    let w = &a.warnings[0];
    assert_eq!(w.severity, Severity::Warning);
    assert_eq!(w.kind, K::HelperResultWidth);
    assert_eq!((w.line, w.column, w.width), (8, 5, 2));
    assert_eq!(
        w.to_string(),
        "w.s:8:5: warning: 64-bit compare of r0, `bpf_map_push_elem`'s int result (helper 87), \
         with -7: not portable to kernels before Linux 6.4\n  |\n8 |     if r0 != -7 goto out           \
         # 64-bit: not portable\n  |        ^^\n  |\n  = note: r0 holds the result of the call on line 6\n  \
         = help: before Linux 6.4 the JIT zero-extends this helper's int error into r0 \
         (0x00000000fffffff9 for -7); compare the low 32 bits: `if w0 != -7 goto ...`"
    );
    // The mnemonic dialect: the caret covers `%r0`.
    let m = &a.warnings[1];
    assert_eq!((m.line, m.column, m.width), (14, 7, 3));
    assert!(m
        .message
        .starts_with("signed 64-bit compare (`s<`) of r0, `bpf_map_pop_elem`"));
    assert!(m.to_string().contains("\n   |          ^^^\n"), "{m}");
    // The plain entry points give the same object.
    assert_eq!(assemble("w.s", WARNED).unwrap(), a.object);
    let rendered: Vec<String> = a.warnings.iter().map(|w| w.to_string()).collect();
    insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!("asm_warning_helper_result", rendered.join("\n\n"));
    });
}

/// No warning for the portable forms, after a lookup (a pointer), or once r0 is overwritten.
#[test]
fn no_warnings_for_portable_code() {
    let quiet = "\
.map queue, type=queue, value_size=4, max_entries=2
.map h, type=hash, key_size=4, value_size=4, max_entries=2
\tr1 = queue ll
\tr2 = r10
\tr2 += -4
\tcall bpf_map_pop_elem
\tif w0 s< 0 goto out
\tif r0 != 0 goto out
\tr1 = h ll
\tr2 = r10
\tr2 += -4
\tcall bpf_map_lookup_elem
\tif r0 != -7 goto out
\tr1 = queue ll
\tr2 = r10
\tr2 += -4
\tcall bpf_map_peek_elem
\tr0 = *(u32 *)(r10 - 4)
\tif r0 s< 0 goto out
out:
\texit
";
    let a = assemble_with_warnings("q.s", quiet, &Default::default()).unwrap();
    assert_eq!(a.warnings, vec![]);
}

#[test]
fn constants() {
    // Undefined where an instruction needs it (a `.equ` may name a constant defined further
    // down, as in llvm-mc), or defined through itself.
    let e = one(
        ".equ N, M + 1\nr1 = N\nexit\n",
        K::Syntax,
        2,
        6,
        1,
        "found `N`",
    );
    assert!(
        e.notes.iter().any(|n| n.contains("undefined constant `M`")),
        "{e}"
    );
    let obj = assemble("t.s", ".equ N, M + 1\n.equ M, 3\nr1 = N\nexit\n").unwrap();
    assert!(format!("{:?}", obj.programs[0].insns[0]).contains("Imm(4)"));
    one(
        ".equ N, M + 1\n.equ M, N * 2\nexit\n",
        K::UndefinedLabel,
        1,
        9,
        1,
        "constant `N` is defined through itself",
    );
    one(".equ N, 5\nr1 = M\nexit\n", K::Syntax, 2, 6, 1, "found `M`");
    // Duplicate: `.equiv` does not redefine; a constant is no label or map.
    let e = one(
        ".equiv N, 5\n.equiv N, 6\nexit\n",
        K::DuplicateLabel,
        2,
        8,
        1,
        "constant `N` is defined twice",
    );
    assert!(e.notes[0].contains("first defined on line 1"), "{e}");
    one(
        ".equ L, 1\nL: exit\n",
        K::DuplicateLabel,
        2,
        1,
        1,
        "`L` is defined twice",
    );
    one(
        "L: r0 = 0\n.equ L, 1\nexit\n",
        K::DuplicateLabel,
        2,
        6,
        1,
        "`L` is defined twice",
    );
    one(
        ".map q, type=queue, value_size=4, max_entries=1\n.set q, 1\nexit\n",
        K::DuplicateLabel,
        2,
        6,
        1,
        "`q` is defined twice",
    );
    // Where llvm-mc takes no constant: a memory offset.
    one(
        ".equ OFF, 8\n*(u32 *)(r10 - OFF) = 1\nexit\n",
        K::OffsetRange,
        2,
        16,
        3,
        "`OFF` is a constant",
    );
    one(
        ".equ N, 5\nr1 = N / 0\nexit\n",
        K::ImmediateRange,
        2,
        6,
        5,
        "division by zero",
    );
    // Used before its definition.
    let e = one(
        ".text\nr1 = N\nexit\n.equ N, 9\n",
        K::Syntax,
        2,
        6,
        1,
        "found `N`",
    );
    assert!(
        e.notes
            .iter()
            .any(|n| n.contains("defined on line 4, after this line")),
        "{e}"
    );
    // A symbol with an offset, which llvm-mc writes as a relocation addend.
    one(
        ".map m, type=array, key_size=4, value_size=8, max_entries=1\nr1 = m + 8 ll\nexit\n",
        K::Syntax,
        2,
        6,
        5,
        "`m + 8` is a symbol with an offset",
    );
    // `.set` changes the value from the next line on.
    let obj = assemble("t.s", ".set N, 1\nr1 = N\n.set N, N + 1\nr2 = N\nexit\n").unwrap();
    let imms: Vec<String> = obj.programs[0].insns[..2]
        .iter()
        .map(|i| format!("{i:?}"))
        .collect();
    assert!(
        imms[0].contains("Imm(1)") && imms[1].contains("Imm(2)"),
        "{imms:?}"
    );
}

/// What the file leaves to defaults is said as a note (not a warning: `--deny-warnings` does
/// not count it): the license, and the name of code before any global label.
#[test]
fn notes_for_defaults() {
    let a = assemble_with_warnings("t.s", "L:\n\tr0 = 0\n\texit\n", &Default::default()).unwrap();
    assert!(a.warnings.is_empty());
    let notes: Vec<String> = a.notes.iter().map(|n| n.to_string()).collect();
    assert_eq!(notes.len(), 2, "{notes:#?}");
    assert!(
        notes[0].starts_with("t.s:2:2: note: no global label starts this code: it is program `main` (section `socket`)"),
        "{}",
        notes[0]
    );
    assert!(
        notes[0].contains("add `.globl L` before `L:`"),
        "{}",
        notes[0]
    );
    assert!(
        notes[1]
            .starts_with("t.s:1:1: note: no `.license` directive: the object's license is \"GPL\""),
        "{}",
        notes[1]
    );
    assert!(notes[1].contains("`.license \"GPL\"`"), "{}", notes[1]);
    // The note points at the file's first character, not at blank lines or indentation.
    let a = assemble_with_warnings("t.s", "\n  \n\tr0 = 0\n\texit\n", &Default::default()).unwrap();
    let license = a
        .notes
        .iter()
        .map(|n| n.to_string())
        .find(|n| n.contains(".license"));
    assert!(
        license
            .as_deref()
            .is_some_and(|n| n.starts_with("t.s:3:2: note: no `.license`")),
        "{license:?}"
    );
    // Said explicitly: no notes.
    let a = assemble_with_warnings(
        "t.s",
        ".license \"Dual BSD/GPL\"\n.globl L\nL:\n\tr0 = 0\n\texit\n",
        &Default::default(),
    )
    .unwrap();
    assert!(a.notes.is_empty(), "{:?}", a.notes);
    assert_eq!(a.object.license, "Dual BSD/GPL");
}

/// A map helper on a map type it does not take, as the DSL checks it: a warning at the call,
/// with the map's real type, the verifier's words and what to use instead.
#[test]
fn map_helper_on_the_wrong_map_type() {
    let w = one_warning(
        ".map counts, type=hash, key_size=4, value_size=4, max_entries=8\n\
         r1 = counts ll\nr2 = r10\nr2 += -4\ncall bpf_map_pop_elem\nexit\n",
        K::BadMap,
        5,
        6,
        16,
        "bpf_map_pop_elem#88 works on queue and stack maps, but `counts` is a hash map",
    );
    let s = w.to_string();
    assert!(
        s.contains("cannot pass map_type 1 into func bpf_map_pop_elem#88"),
        "{s}"
    );
    assert!(s.contains("r1 holds map `counts`, loaded on line 2"), "{s}");
    assert!(s.contains("use bpf_map_lookup_elem (1)"), "{s}");
    let w = one_warning(
        ".map q, type=queue, value_size=4, max_entries=8\n\
         r1 = q ll\nr2 = r10\nr2 += -4\ncall 1\nexit\n",
        K::BadMap,
        5,
        6,
        1,
        "but `q` is a queue map",
    );
    assert!(w.to_string().contains("bpf_map_peek_elem (89)"), "{w}");
    // Not when r1 may hold something else: after a jump target, or overwritten.
    assert!(warnings(
        ".map q, type=queue, value_size=4, max_entries=8\n\
         .map h, type=hash, key_size=4, value_size=4, max_entries=8\n\
         r1 = q ll\nif r2 == 0 goto L\nr1 = h ll\nL:\ncall 1\nexit\n"
    )
    .is_empty());
    assert!(warnings(
        ".map q, type=queue, value_size=4, max_entries=8\n\
         r1 = q ll\nr1 = r6\ncall 1\nexit\n"
    )
    .is_empty());
    // The right pairs: no warning.
    assert!(warnings(
        ".map q, type=queue, value_size=4, max_entries=8\n\
         r1 = q ll\nr2 = r10\nr2 += -4\ncall bpf_map_pop_elem\nexit\n"
    )
    .is_empty());
}

/// Every diagnostic of the assembler names file, line and column (`f.s:L:C: error:`,
/// `warning:` or `note:`), and a file that assembles always writes as `bpfsmith asm` writes it
/// (the writer has no located diagnostics, so it must have none at all): the corpus with each
/// line dropped, doubled, or given a call, jump or constant that lands anywhere.
#[test]
fn every_diagnostic_has_a_file_line_and_column() {
    let in_place = bpfsmith::object::ElfOptions::default().functions_in_place(true);
    let extra = [
        "call pc+1",
        "call pc-2",
        "goto -1",
        "r1 = 7 ll",
        ".equ K, 3",
        "r1 = K + 1",
        "call K",
        ".set K, K * 2",
        "f2: exit",
        "call f2",
    ];
    let located = |s: &str| {
        let rest = s.strip_prefix("f.s:")?;
        let mut parts = rest.splitn(3, ':');
        parts.next()?.parse::<u32>().ok()?;
        parts.next()?.parse::<u32>().ok()?;
        let tail = parts.next()?;
        [" error: ", " warning: ", " note: "]
            .iter()
            .any(|p| tail.starts_with(p))
            .then_some(())
    };
    let mut checked = 0;
    for src in corpus() {
        let lines: Vec<&str> = src.lines().collect();
        for k in 0..lines.len() {
            let mut variants = vec![
                lines
                    .iter()
                    .enumerate()
                    .filter(|&(i, _)| i != k)
                    .map(|(_, l)| *l)
                    .collect::<Vec<_>>(),
                {
                    let mut v = lines.clone();
                    v.insert(k, lines[k]);
                    v
                },
            ];
            let mut v = lines.clone();
            v.insert(k, extra[k % extra.len()]);
            variants.push(v);
            for v in variants {
                let text = v.join("\n") + "\n";
                checked += 1;
                match assemble_with_warnings("f.s", &text, &Default::default()) {
                    Ok(a) => {
                        for w in &a.warnings {
                            let s = w.to_string();
                            assert!(located(&s).is_some(), "{s}\n--- in:\n{text}");
                        }
                        for n in &a.notes {
                            let s = n.to_string();
                            assert!(located(&s).is_some(), "{s}\n--- in:\n{text}");
                        }
                        if let Err(e) = a.object.to_elf_with(&in_place) {
                            panic!("assembled but not written: {e}\n--- in:\n{text}");
                        }
                    }
                    Err(errs) => {
                        for e in errs.iter() {
                            let s = e.to_string();
                            assert!(located(&s).is_some(), "{s}\n--- in:\n{text}");
                        }
                    }
                }
            }
        }
    }
    assert!(checked > 1000, "{checked}");
}

#[test]
fn map_pinning_takes_libbpf_values_only() {
    let head = ".map q, type=queue, value_size=4, max_entries=4, ";
    let e = one(
        &format!("{head}pinning=bogus\nr0 = 0\nexit\n"),
        K::BadMap,
        1,
        58,
        5,
        "unknown pinning `bogus`",
    );
    assert!(e.notes[0].contains("pinning=by_name"), "{e}");
    one(
        &format!("{head}pinning=none, pinning=1\nr0 = 0\nexit\n"),
        K::BadMap,
        1,
        64,
        9,
        "`pinning` is given twice",
    );
    for (value, pinned) in [
        ("by_name", true),
        ("LIBBPF_PIN_BY_NAME", true),
        ("1", true),
        ("none", false),
        ("0", false),
    ] {
        let obj = assemble("t.s", &format!("{head}pinning={value}\nr0 = 0\nexit\n")).unwrap();
        assert_eq!(
            obj.maps[0].pinning == bpfsmith::object::Pinning::ByName,
            pinned,
            "{value}"
        );
    }
}
