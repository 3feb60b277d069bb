//! The conformance suite's programs (`../shared/bpf_conformance`, read at test time, never
//! copied): every `tests/*.data` program assembles (and matches its `-- raw` words where it
//! has them), and every malformed `negative/*.data` program is refused with a clear message.

#[path = "common/tools.rs"]
mod tools;

use std::path::{Path, PathBuf};

use bpfsmith::program::Section;
use bpfsmith::text::conformance::{ConformanceTest, ProgramError};
use bpfsmith::text::{AsmErrorKind, AsmOptions};

fn suite() -> Option<PathBuf> {
    tools::conformance_suite("its programs are not assembled")
}

fn data_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read suite dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "data"))
        .collect();
    v.sort();
    v
}

fn xdp() -> AsmOptions {
    AsmOptions {
        default_section: Section::XDP,
        ..AsmOptions::default()
    }
}

#[test]
fn every_test_program_assembles() {
    let Some(dir) = suite() else { return };
    let files = data_files(&dir.join("tests"));
    let mut assembled = 0;
    let mut raw_compared = 0;
    let mut failures = Vec::new();
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(f).unwrap();
        let t = match ConformanceTest::parse(&text) {
            Ok(t) => t,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        match t.program(&name, &xdp()) {
            Ok(prog) => {
                assembled += 1;
                assert_eq!(prog.section, Section::XDP);
                if let (Some(raw), Some(_)) = (t.raw_bytes(), &t.asm) {
                    raw_compared += 1;
                    if prog.bytes() != raw {
                        failures.push(format!("{name}: bytes differ from its -- raw section"));
                    }
                }
            }
            Err(e) => failures.push(format!("{name}:\n{e}")),
        }
    }
    println!(
        "conformance: {assembled} of {} test programs assembled, {raw_compared} compared with their raw words",
        files.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert_eq!(files.len(), 313, "the suite has 313 test programs");
    assert_eq!(assembled, 313);
}

/// Negative files whose program is valid: what makes them negative happens later.
const ACCEPTED: &[(&str, &str)] = &[
    (
        "error.data",
        "`or %r0, %r10` is valid assembly; the error is the runner's: r0 is read before it is \
         written (the Linux verifier says `R0 !read_ok`)",
    ),
    (
        "unused-mov64_reg-offset.data",
        "`bf 00 01 00 ..` (mov64 with offset 1) is not an unused-field error since cpu v4: it \
         is `r0 = addr_space_cast(r0, 0, 0)`, which LLVM 22 and the kernel decode; the Linux \
         verifier refuses it at load time (a cast must convert between address spaces 0 and 1)",
    ),
    (
        "incorrect_return_value_high_bits.data",
        "a valid program whose `-- result` is deliberately wrong in its high 32 bits: it checks \
         that the runner compares all 64 bits of r0",
    ),
];

#[test]
fn every_malformed_negative_program_is_refused() {
    let Some(dir) = suite() else { return };
    let files = data_files(&dir.join("negative"));
    let mut refused = Vec::new();
    let mut accepted = Vec::new();
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(f).unwrap();
        let t = ConformanceTest::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let outcome = t.program(&name, &xdp());
        let expect_ok = ACCEPTED.iter().any(|(n, _)| *n == name);
        match (outcome, expect_ok) {
            (Ok(_), true) => accepted.push(name),
            (Ok(p), false) => panic!("{name} should be refused but assembles to {:?}", p.insns),
            (Err(e), true) => panic!("{name} should assemble:\n{e}"),
            (Err(e), false) => {
                let msg = e.to_string();
                // A clear message: assembler errors name the file, line and column and carry
                // a caret; raw decode errors name the slot and the field.
                match &e {
                    ProgramError::Asm(errs) => {
                        for err in errs {
                            assert!(err.line >= 1 && err.column >= 1, "{name}: {msg}");
                        }
                        assert!(msg.contains(&format!("{name}:")), "{name}: {msg}");
                        assert!(msg.contains('^'), "{name}: {msg}");
                    }
                    ProgramError::Raw(d) => {
                        assert!(msg.contains(&format!("slot {}", d.slot)), "{name}: {msg}");
                        assert!(
                            msg.contains("requires") || msg.contains("not valid"),
                            "{name}: {msg}"
                        );
                    }
                    ProgramError::NoProgram => {}
                    ProgramError::SeveralPrograms(_) => panic!("{name}: {msg}"),
                }
                refused.push((name, msg));
            }
        }
    }
    for (name, msg) in &refused {
        println!("== {name}\n{msg}\n");
    }
    println!(
        "negative: {} of {} refused, {} accepted on purpose ({})",
        refused.len(),
        files.len(),
        accepted.len(),
        accepted.join(", ")
    );
    assert_eq!(files.len(), 60);
    assert_eq!(accepted.len(), ACCEPTED.len());
    assert_eq!(refused.len(), 57);
}

/// Specific messages for the negative files the suite's own assembler refuses.
#[test]
fn negative_assembly_messages() {
    let Some(dir) = suite() else { return };
    let check = |file: &str, kind: AsmErrorKind, text: &str| {
        let src = std::fs::read_to_string(dir.join("negative").join(file)).unwrap();
        let t = ConformanceTest::parse(&src).unwrap();
        let Err(ProgramError::Asm(e)) = t.program(file, &xdp()) else {
            panic!("{file} should fail to assemble");
        };
        assert!(e.has(kind), "{file}: {e}");
        assert!(e.to_string().contains(text), "{file}: {e}");
    };
    check(
        "invalid_imm32_dec_range.data",
        AsmErrorKind::ImmediateRange,
        "does not fit in 32 bits",
    );
    check(
        "invalid_imm32_hex_range.data",
        AsmErrorKind::ImmediateRange,
        "does not fit in 32 bits",
    );
    check(
        "invalid_label.data",
        AsmErrorKind::UndefinedLabel,
        "undefined label `NOT_A_LABEL`",
    );
    check(
        "invalid_lock.data",
        AsmErrorKind::Syntax,
        "number of operands for lock",
    );
    check(
        "invalid_lock2.data",
        AsmErrorKind::Syntax,
        "number of operands for lock",
    );
    check(
        "invalid_mnemonic.data",
        AsmErrorKind::UnknownMnemonic,
        "unknown instruction `ldxq`",
    );
    check(
        "invalid_offset.data",
        AsmErrorKind::Syntax,
        "expected a memory operand",
    );
    check(
        "invalid_offset_range.data",
        AsmErrorKind::OffsetRange,
        "does not fit in 16 bits",
    );
    check(
        "invalid_operand_count.data",
        AsmErrorKind::Syntax,
        "expected `,`",
    );
    check(
        "invalid_register.data",
        AsmErrorKind::UnknownRegister,
        "unknown register `%r50`",
    );
    check(
        "invalid_unknown_directive.data",
        AsmErrorKind::Program,
        "no instructions",
    );
}

/// Messages about a suite file name the file's own lines (issue 11: "line 0" before): a bad
/// `-- result` value, a second value, an assembler error in the `-- asm` section. The expected
/// lines are found by scanning the file's text here, not taken from the parser.
#[test]
fn messages_name_the_lines_of_a_suite_file() {
    let Some(dir) = suite() else { return };
    let text = std::fs::read_to_string(dir.join("tests/add.data")).expect("read add.data");
    let lines: Vec<&str> = text.lines().collect();
    let result_header = lines
        .iter()
        .position(|l| l.trim() == "-- result")
        .expect("add.data has a result section");
    // 1-based line of the value under `-- result`.
    let value_line = result_header + 2;
    let value = lines[value_line - 1].trim();

    let good = ConformanceTest::parse(&text).expect("add.data parses");
    assert_eq!(good.result_line, value_line);

    let bad_value = text.replacen(&format!("\n{value}"), "\n0xnot-a-number", 1);
    let e = ConformanceTest::parse(&bad_value).unwrap_err();
    assert_eq!(e.line, value_line, "{e}");
    assert!(
        e.to_string()
            .starts_with(&format!("line {value_line}: result `0xnot-a-number`")),
        "{e}"
    );

    let two_values = text.replacen(&format!("\n{value}"), &format!("\n{value}\n0x4"), 1);
    let e = ConformanceTest::parse(&two_values).unwrap_err();
    assert_eq!(e.line, value_line + 1, "{e}");

    // An unknown register on the third instruction: the message names that line of the file.
    let asm_header = lines.iter().position(|l| l.trim() == "-- asm").unwrap();
    let third = asm_header + 4;
    let broken: String = lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            if i + 1 == third {
                "add32 %r0, %r13\n".to_owned()
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    let t = ConformanceTest::parse(&broken).unwrap();
    let e = t.program("add.data", &xdp()).unwrap_err();
    assert!(
        e.to_string().starts_with(&format!(
            "add.data:{third}:12: error: unknown register `%r13`"
        )),
        "{e}"
    );
}
