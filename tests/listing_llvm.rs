//! Interop: the LLVM-style printer against `llvm-objdump-22`, and our encoder against
//! `llvm-mc-22`.
//!
//! A corpus with every instruction form and edge values is encoded, written into a minimal
//! relocatable ELF (one `.text` section, one global function symbol at 0), and disassembled by
//! `llvm-objdump-22 -d --no-show-raw-insn`; every line must equal `write_llvm` plus the branch
//! annotation from `write_llvm_target_annotation`. Skipped with a notice when the tools are
//! missing, unless `BPFSMITH_REQUIRE_INTEROP=1`.

#[path = "common/tools.rs"]
mod tools;

use std::process::Command;

use bpfsmith::insn::{
    encode, AluOp, AtomicOp, Callee, Cond, Endian, Insn, Operand, Pseudo, Reg, Size, Width,
};
use bpfsmith::text::{write_llvm, write_llvm_target_annotation};
use object::write::{Object, StandardSection, Symbol, SymbolSection};
use object::{Architecture, BinaryFormat, Endianness, SymbolFlags, SymbolKind, SymbolScope};

const FUNC: &str = "prog";

const IMM32: [i32; 10] = [
    0,
    1,
    -1,
    i32::MIN,
    i32::MAX,
    i16::MIN as i32,
    i16::MAX as i32,
    0x1234,
    -0x1234_5678,
    0x8000,
];
const OFF16: [i16; 7] = [0, 1, -1, i16::MIN, i16::MAX, 13, -4];
const REG_PAIRS: [(Reg, Reg); 5] = [
    (Reg::R0, Reg::R1),
    (Reg::R1, Reg::R10),
    (Reg::R10, Reg::R0),
    (Reg::R5, Reg::R9),
    (Reg::R9, Reg::R5),
];
const WIDTHS: [Width; 2] = [Width::W32, Width::W64];
const LEGACY_SIZES: [Size; 3] = [Size::U8, Size::U16, Size::U32];

/// Every instruction form with several registers and edge values.
fn corpus() -> Vec<Insn> {
    let mut v = Vec::new();
    for width in WIDTHS {
        for op in AluOp::ALL {
            for (i, imm) in IMM32.into_iter().enumerate() {
                let dst = Reg::ALL[i % 11];
                v.push(Insn::Alu {
                    width,
                    op,
                    dst,
                    src: Operand::Imm(imm),
                });
            }
            for (dst, src) in REG_PAIRS {
                v.push(Insn::Alu {
                    width,
                    op,
                    dst,
                    src: Operand::Reg(src),
                });
            }
        }
        for dst in Reg::ALL {
            v.push(Insn::Neg { width, dst });
        }
        let bits: &[u8] = match width {
            Width::W32 => &[8, 16],
            Width::W64 => &[8, 16, 32],
        };
        for &b in bits {
            for (dst, src) in REG_PAIRS {
                v.push(Insn::MovSx {
                    width,
                    bits: b,
                    dst,
                    src,
                });
            }
        }
    }
    for (dst_as, src_as) in [(0, 1), (1, 0), (0, 0), (u16::MAX, u16::MAX), (0x1234, 7)] {
        v.push(Insn::AddrSpaceCast {
            dst: Reg::R1,
            src: Reg::R2,
            dst_as,
            src_as,
        });
    }
    for kind in [Endian::ToLe, Endian::ToBe, Endian::Swap] {
        for (i, bits) in [16, 32, 64].into_iter().enumerate() {
            v.push(Insn::Endian {
                kind,
                bits,
                dst: Reg::ALL[i * 4],
            });
        }
    }
    for size in Size::ALL {
        for sign in [false, true] {
            if sign && size == Size::U64 {
                continue;
            }
            for (i, off) in OFF16.into_iter().enumerate() {
                let (dst, src) = REG_PAIRS[i % REG_PAIRS.len()];
                v.push(Insn::Load {
                    size,
                    sign,
                    dst,
                    src,
                    off,
                });
            }
        }
        for (i, off) in OFF16.into_iter().enumerate() {
            let (dst, src) = REG_PAIRS[i % REG_PAIRS.len()];
            v.push(Insn::Store {
                size,
                dst,
                off,
                src,
            });
            v.push(Insn::StoreImm {
                size,
                dst,
                off,
                imm: IMM32[i],
            });
        }
        for op in AtomicOp::ALL {
            if !op.allows(size) {
                continue;
            }
            for (i, off) in [0, 8, -8, i16::MIN, i16::MAX].into_iter().enumerate() {
                let (dst, src) = REG_PAIRS[i];
                v.push(Insn::Atomic {
                    size,
                    op,
                    dst,
                    src,
                    off,
                });
            }
        }
    }
    let imm64 = [
        0,
        1,
        -1,
        i64::MIN,
        i64::MAX,
        0x8000_0000,
        0xffff_ffff,
        0x1_0000_0000,
        i32::MIN as i64,
        0x1234_5678_9abc_def0,
    ];
    for (i, imm) in imm64.into_iter().enumerate() {
        v.push(Insn::LdImm64 {
            dst: Reg::ALL[i % 11],
            pseudo: Pseudo::Imm,
            imm,
        });
    }
    // objdump prints the other pseudo sources deterministically as `ld_pseudo`.
    for pseudo in Pseudo::ALL.into_iter().skip(1) {
        for imm in [5, -1, 0x7_0000_0003, i64::MIN] {
            v.push(Insn::LdImm64 {
                dst: Reg::R2,
                pseudo,
                imm,
            });
        }
    }
    for size in LEGACY_SIZES {
        for imm in IMM32 {
            v.push(Insn::LdAbs { size, imm });
        }
        for (i, imm) in [0, 4, -1, i32::MAX].into_iter().enumerate() {
            v.push(Insn::LdInd {
                size,
                src: Reg::ALL[i * 3],
                imm,
            });
        }
    }
    for width in WIDTHS {
        for cond in Cond::ALL {
            for (i, imm) in IMM32.into_iter().enumerate() {
                v.push(Insn::Jump {
                    width,
                    cond,
                    dst: Reg::ALL[i],
                    src: Operand::Imm(imm),
                    off: OFF16[i % OFF16.len()],
                });
            }
            for (i, (dst, src)) in REG_PAIRS.into_iter().enumerate() {
                v.push(Insn::Jump {
                    width,
                    cond,
                    dst,
                    src: Operand::Reg(src),
                    off: OFF16[(i + 3) % OFF16.len()],
                });
            }
        }
    }
    for off in OFF16 {
        v.push(Insn::Ja { off });
        v.push(Insn::MayGoto { off });
    }
    for imm in IMM32 {
        v.push(Insn::JaLong { imm });
    }
    // Calls print their raw immediate whatever the kind (no target annotation).
    for imm in IMM32 {
        v.push(Insn::Call(Callee::Helper(imm)));
        v.push(Insn::Call(Callee::Local(imm)));
    }
    for (btf_id, off) in [(100, 0), (65472, 1), (-1, -1), (i32::MAX, i16::MAX)] {
        v.push(Insn::Call(Callee::Kfunc { btf_id, off }));
    }
    for dst in Reg::ALL {
        v.push(Insn::CallX { dst });
    }
    v.push(Insn::Exit);
    v
}

/// A relocatable ELF with one executable `.text` holding `code` and a global function symbol
/// [`FUNC`] at offset 0.
fn elf_with_text(code: &[u8]) -> Vec<u8> {
    let mut obj = Object::new(BinaryFormat::Elf, Architecture::Bpf, Endianness::Little);
    let text = obj.section_id(StandardSection::Text);
    obj.append_section_data(text, code, 8);
    obj.add_symbol(Symbol {
        name: FUNC.as_bytes().to_vec(),
        value: 0,
        size: code.len() as u64,
        kind: SymbolKind::Text,
        scope: SymbolScope::Linkage,
        weak: false,
        section: SymbolSection::Section(text),
        flags: SymbolFlags::None,
    });
    obj.write().expect("write ELF")
}

/// A relocatable ELF with `.text` holding `code` and local labels at `(slot, name)`.
fn elf_with_labels(code: &[u8], labels: &[(usize, &str)]) -> Vec<u8> {
    let mut obj = Object::new(BinaryFormat::Elf, Architecture::Bpf, Endianness::Little);
    let text = obj.section_id(StandardSection::Text);
    obj.append_section_data(text, code, 8);
    for &(slot, name) in labels {
        obj.add_symbol(Symbol {
            name: name.as_bytes().to_vec(),
            value: slot as u64 * 8,
            size: 0,
            kind: SymbolKind::Label,
            scope: SymbolScope::Compilation,
            weak: false,
            section: SymbolSection::Section(text),
            flags: SymbolFlags::None,
        });
    }
    obj.write().expect("write ELF")
}

/// The `(slot, text)` of every instruction line `llvm-objdump` printed: the part after `N:\t`.
fn objdump_lines(out: &str) -> Vec<(usize, String)> {
    out.lines()
        .filter_map(|line| {
            let (num, rest) = line.split_once(":\t")?;
            let slot = num.trim().parse().ok()?;
            Some((slot, rest.to_string()))
        })
        .collect()
}

/// What `llvm-objdump` should print for each instruction of `insns`, by slot.
fn expected_lines(insns: &[Insn], symbols: &[(usize, &str)]) -> Vec<(usize, String)> {
    let mut slot = 0;
    let mut v = Vec::with_capacity(insns.len());
    for insn in insns {
        let mut s = String::new();
        write_llvm(&mut s, insn);
        let annotated = matches!(
            insn,
            Insn::Jump { .. } | Insn::Ja { .. } | Insn::JaLong { .. } | Insn::MayGoto { .. }
        );
        if annotated {
            let off = insn.branch_offset().expect("a branch") as i64;
            write_llvm_target_annotation(&mut s, slot as i64 + 1 + off, symbols);
        }
        v.push((slot, s));
        slot += insn.slots();
    }
    v
}

fn compare(expected: &[(usize, String)], got: &[(usize, String)]) {
    let mut bad = Vec::new();
    for (e, g) in expected.iter().zip(got) {
        if e != g {
            bad.push(format!(
                "  slot {}: objdump {:?}\n  {}ours    {:?}",
                g.0,
                g.1,
                if e.0 == g.0 {
                    String::new()
                } else {
                    format!("(slot {}) ", e.0)
                },
                e.1
            ));
        }
    }
    assert!(
        bad.is_empty() && expected.len() == got.len(),
        "{} of {} lines differ ({} expected, {} printed by objdump):\n{}",
        bad.len(),
        expected.len().min(got.len()),
        expected.len(),
        got.len(),
        bad.iter().take(40).cloned().collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn llvm_printer_matches_llvm_objdump() {
    let Some(objdump) = tools::require_tool("llvm-objdump-22") else {
        return;
    };
    let insns = corpus();
    let code = encode(&insns);
    let dir = tools::TempDir::new("listing-llvm");
    let path = dir.path().join("corpus.o");
    std::fs::write(&path, elf_with_text(&code)).unwrap();
    let out = tools::run(
        Command::new(objdump)
            .args(["-d", "--no-show-raw-insn"])
            .arg(&path),
    );
    let got = objdump_lines(&out);
    let expected = expected_lines(&insns, &[(0, FUNC)]);
    compare(&expected, &got);
    tools::notice(&format!(
        "compared {} lines with llvm-objdump-22 ({} instructions, {} slots)",
        got.len(),
        insns.len(),
        code.len() / 8
    ));
}

/// `insn` as its LLVM text says it: objdump's text drops some fields, so assembling it gives
/// this instruction, or `None` when llvm-mc cannot assemble the text at all.
fn as_text_says(insn: &Insn) -> Option<Insn> {
    Some(match *insn {
        // `ld_pseudo` shows only the low 32 bits of the immediate, unsigned.
        Insn::LdImm64 { dst, pseudo, imm } if pseudo != Pseudo::Imm => Insn::LdImm64 {
            dst,
            pseudo,
            imm: imm as u32 as i64,
        },
        // `skb[r3]` has no immediate.
        Insn::LdInd { size, src, .. } => Insn::LdInd { size, src, imm: 0 },
        // `call N` reads back as a helper call.
        Insn::Call(Callee::Local(imm)) | Insn::Call(Callee::Kfunc { btf_id: imm, .. }) => {
            Insn::Call(Callee::Helper(imm))
        }
        // llvm-mc 22 only parses 16-bit `gotol` offsets ("operand is not an identifier or
        // 16-bit signed integer"), though the encoding and objdump take 32 bits.
        Insn::JaLong { imm } if i16::try_from(imm).is_err() => return None,
        other => other,
    })
}

/// The bytes of the `.text` section of an ELF object.
fn text_section(elf: &[u8]) -> Vec<u8> {
    let parsed = goblin::elf::Elf::parse(elf).expect("parse ELF");
    let sh = parsed
        .section_headers
        .iter()
        .find(|sh| parsed.shdr_strtab.get_at(sh.sh_name) == Some(".text"))
        .expect(".text section");
    elf[sh.sh_offset as usize..][..sh.sh_size as usize].to_vec()
}

#[test]
fn llvm_mc_assembles_the_printed_text_to_our_encoding() {
    let Some(mc) = tools::require_tool("llvm-mc-22") else {
        return;
    };
    let mut source = String::from("\t.text\n");
    let mut expected = Vec::new();
    let mut skipped = 0;
    for insn in corpus() {
        let Some(said) = as_text_says(&insn) else {
            skipped += 1;
            continue;
        };
        source.push('\t');
        write_llvm(&mut source, &insn);
        source.push('\n');
        expected.push(said);
    }
    let dir = tools::TempDir::new("listing-mc");
    let (src, obj) = (dir.path().join("corpus.s"), dir.path().join("corpus.o"));
    std::fs::write(&src, &source).unwrap();
    tools::run(
        Command::new(mc)
            .args(["-triple", "bpfel", "-mcpu=v4", "-filetype=obj", "-o"])
            .arg(&obj)
            .arg(&src),
    );
    let got = text_section(&std::fs::read(&obj).unwrap());
    let ours = encode(&expected);
    assert_eq!(got.len(), ours.len(), "llvm-mc produced a different length");
    let mut at = 0;
    let mut bad = Vec::new();
    for (insn, line) in expected.iter().zip(source.lines().skip(1)) {
        let n = insn.slots() * 8;
        if got[at..at + n] != ours[at..at + n] {
            bad.push(format!(
                "  {line:?}: llvm-mc {:02x?}, ours {:02x?}",
                &got[at..at + n],
                &ours[at..at + n]
            ));
        }
        at += n;
    }
    assert!(
        bad.is_empty(),
        "{} instructions encode differently:\n{}",
        bad.len(),
        bad.join("\n")
    );
    tools::notice(&format!(
        "llvm-mc-22 assembled {} printed lines to our bytes ({skipped} long gotol skipped)",
        expected.len()
    ));
}

#[test]
fn target_annotation_matches_llvm_objdump_with_many_symbols() {
    let Some(objdump) = tools::require_tool("llvm-objdump-22") else {
        return;
    };
    // Branches from every slot to targets before the section, on and between labels, and past
    // the end; a `ld_imm64` in the middle makes slots and instruction indexes differ.
    let mut insns = Vec::new();
    for (i, off) in [-3i16, -1, 0, 1, 2, 5, 9, 30, -40, i16::MIN, i16::MAX]
        .into_iter()
        .enumerate()
    {
        insns.push(Insn::Ja { off });
        insns.push(Insn::Jump {
            width: Width::W32,
            cond: Cond::ALL[i],
            dst: Reg::R1,
            src: Operand::Imm(off as i32),
            off,
        });
        if i == 4 {
            insns.push(Insn::LdImm64 {
                dst: Reg::R1,
                pseudo: Pseudo::Imm,
                imm: 7,
            });
        }
        insns.push(Insn::MayGoto {
            off: off.wrapping_neg(),
        });
        insns.push(Insn::JaLong {
            imm: off as i32 * 3,
        });
    }
    insns.push(Insn::Exit);
    let code = encode(&insns);
    let last = code.len() / 8 - 1;
    // No label at 0, two at slot 3 (objdump picks the greater name), one at the last slot.
    let labels = [
        (3, "zeta"),
        (3, "alpha"),
        (10, "mid"),
        (11, "Mid"),
        (last, "end"),
    ];
    let dir = tools::TempDir::new("listing-labels");
    let path = dir.path().join("labels.o");
    std::fs::write(&path, elf_with_labels(&code, &labels)).unwrap();
    let out = tools::run(
        Command::new(objdump)
            .args(["-d", "--no-show-raw-insn"])
            .arg(&path),
    );
    let got = objdump_lines(&out);
    // objdump names the section start after the section when no symbol is there.
    let mut symbols = vec![(0, ".text")];
    symbols.extend_from_slice(&labels);
    let expected = expected_lines(&insns, &symbols);
    compare(&expected, &got);
    tools::notice(&format!(
        "compared {} annotated lines with llvm-objdump-22",
        got.len()
    ));
}

/// A slot that does not decode (data in code: at the start, in the middle, twice in a row,
/// at the end) is listed as llvm-objdump-22 lists it, `<unknown>`, with its bytes; the other
/// instructions around it as before. Loading such an object is still refused.
#[test]
fn undecodable_slots_are_listed_as_unknown() {
    let Some(mc) = tools::require_tool("llvm-mc-22") else {
        return;
    };
    let Some(objdump) = tools::require_tool("llvm-objdump-22") else {
        return;
    };
    let dir = tools::TempDir::new("listing-unknown");
    let src = "\t.text\n\t.quad 0x00000000000000ff\n\tr0 = 0\n\t.quad 0x00000000000000fd\n\
               \tr1 += 1\n\t.quad 0x00000000000000ef\n\t.quad 0x00000000000000fe\n\tif r1 > 2 goto +1\n\
               \texit\n\t.quad 0x00000000000000ff\n";
    let s = dir.path().join("unknown.s");
    let o = dir.path().join("unknown.o");
    std::fs::write(&s, src).unwrap();
    let st = Command::new(&mc)
        .args(["-triple", "bpfel", "-mcpu=v4", "-filetype=obj", "-o"])
        .arg(&o)
        .arg(&s)
        .status()
        .unwrap();
    assert!(st.success());
    let bytes = std::fs::read(&o).unwrap();
    let view = bpfsmith::object::ObjectView::parse(&bytes).unwrap_or_else(|e| panic!("{e}"));
    let ours = bpfsmith::text::view_listing(&view, bpfsmith::text::Style::Llvm);
    let body = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.starts_with("  ") && l.contains(":\t"))
            .map(|l| l.to_owned())
            .collect()
    };
    // Without raw bytes: the same lines, ours with the bytes after `<unknown> #`.
    let plain = tools::run(
        Command::new(&objdump)
            .args(["-d", "--no-show-raw-insn"])
            .arg(&o),
    );
    let ours_lines = body(&ours);
    let unknown_bytes: Vec<String> = ours_lines
        .iter()
        .filter_map(|l| l.split_once("<unknown> # ").map(|(_, b)| b.to_owned()))
        .collect();
    let stripped: Vec<String> = ours_lines
        .iter()
        .map(|l| l.split(" # ").next().unwrap_or("").to_owned())
        .collect();
    assert_eq!(
        stripped,
        body(&plain),
        "ours:\n{ours}\nllvm-objdump:\n{plain}"
    );
    assert_eq!(unknown_bytes.len(), 5, "{ours}");
    // With raw bytes: llvm-objdump's bytes of each `<unknown>` are ours.
    let raw = tools::run(Command::new(&objdump).arg("-d").arg(&o));
    let theirs_bytes: Vec<String> = raw
        .lines()
        .filter(|l| l.ends_with("<unknown>"))
        .filter_map(|l| l.split('\t').nth(1).map(|b| b.trim().to_owned()))
        .collect();
    assert_eq!(unknown_bytes, theirs_bytes, "{raw}");
    // The object header in the listing starts at the first slot.
    assert!(ours.contains("0000000000000000 <.text>:"), "{ours}");
    // Loading needs every slot decoded: the first bad slot is the error.
    let Err(e) = bpfsmith::object::ElfObject::parse(&bytes) else {
        panic!("an object with undecodable slots is refused for loading");
    };
    assert!(e.to_string().contains("slot 0"), "{e}");
}
