//! Differential test: the assembler against `llvm-mc-22 -triple bpfel -mcpu=v4`.
//!
//! Instruction lines of every form LLVM's BPF assembler accepts (each operation, register
//! combinations, boundary immediates and offsets, both register views where LLVM takes both,
//! decimal/hex/octal/binary numbers, label and numeric targets, local calls, spacing and case
//! variants) are assembled by llvm-mc into an object and by bpfsmith; the `.text` bytes (read
//! with goblin) must be equal, slot by slot, and so must the relocations of map references.
//! Skipped with a notice when llvm-mc-22 is missing, unless `BPFSMITH_REQUIRE_INTEROP=1`.

#[path = "common/tools.rs"]
mod tools;

use std::path::Path;
use std::process::Command;

use bpfsmith::program::Program;
use goblin::elf::Elf;

const R: [&str; 11] = [
    "r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10",
];
const W: [&str; 11] = [
    "w0", "w1", "w2", "w3", "w4", "w5", "w6", "w7", "w8", "w9", "w10",
];

/// 32-bit immediates LLVM accepts without a warning, in every notation.
const IMM32: [&str; 16] = [
    "0",
    "1",
    "-1",
    "2147483647",
    "-2147483648",
    "4294967295",
    "0xffffffff",
    "0x7fffffff",
    "-0x80000000",
    "0x10",
    "0X1F",
    "017",
    "0b101",
    "65535",
    "-32768",
    "2147483648",
];

/// Memory offsets: `+ N` / `- N` up to the 16-bit bounds.
const OFFS: [&str; 7] = ["+ 0", "+ 1", "- 1", "+ 32767", "- 32768", "+ 0x10", "- 0x8"];

/// Jump offsets.
const JOFFS: [&str; 6] = ["+0", "+1", "-1", "+32767", "-32768", "+0x10"];

const ALU_OPS: [&str; 14] = [
    "+=", "-=", "*=", "/=", "%=", "|=", "&=", "^=", "<<=", ">>=", "s>>=", "s/=", "s%=", "=",
];
const CONDS: [&str; 11] = [
    "==", "!=", ">", ">=", "<", "<=", "&", "s>", "s>=", "s<", "s<=",
];

/// Lines that fit one program with numeric jumps: no `ld_imm64` (a jump could land in its
/// second slot), padded so that offsets of ±32768 stay inside the program.
fn jump_safe_forms() -> Vec<String> {
    let mut v = Vec::new();
    // ALU, register and immediate, 64 and 32 bits.
    for op in ALU_OPS {
        for regs in [&R, &W] {
            for d in regs {
                for s in regs {
                    v.push(format!("{d} {op} {s}"));
                }
            }
            for imm in IMM32 {
                for d in regs {
                    v.push(format!("{d} {op} {imm}"));
                }
            }
        }
    }
    for regs in [&R, &W] {
        for d in regs {
            v.push(format!("{d} = -{d}"));
        }
    }
    for d in R {
        for e in [
            "be16", "be32", "be64", "le16", "le32", "le64", "bswap16", "bswap32", "bswap64",
        ] {
            v.push(format!("{d} = {e} {d}"));
        }
    }
    for d in 0..11 {
        for s in 0..11 {
            for b in ["s8", "s16", "s32"] {
                v.push(format!("{} = ({b}){}", R[d], R[s]));
            }
            for b in ["s8", "s16"] {
                v.push(format!("{} = ({b}){}", W[d], W[s]));
            }
            for (a, b) in [("0", "1"), ("1", "0"), ("65535", "0"), ("0x3", "0x4")] {
                v.push(format!("{} = addr_space_cast({}, {a}, {b})", R[d], R[s]));
            }
        }
    }
    // Loads: unsigned into r or w below 64 bits, sign-extending into r.
    let loads: [(&str, &[&str; 11]); 10] = [
        ("u8", &R),
        ("u16", &R),
        ("u32", &R),
        ("u64", &R),
        ("u8", &W),
        ("u16", &W),
        ("u32", &W),
        ("s8", &R),
        ("s16", &R),
        ("s32", &R),
    ];
    for (ty, regs) in loads {
        for dst in regs {
            for base in R {
                for off in OFFS {
                    v.push(format!("{dst} = *({ty} *)({base} {off})"));
                }
            }
        }
    }
    // Stores of registers and immediates.
    let stores: [(&str, &[&str; 11]); 7] = [
        ("u8", &R),
        ("u16", &R),
        ("u32", &R),
        ("u64", &R),
        ("u8", &W),
        ("u16", &W),
        ("u32", &W),
    ];
    for (ty, regs) in stores {
        for base in R {
            for src in regs {
                for off in OFFS {
                    v.push(format!("*({ty} *)({base} {off}) = {src}"));
                }
            }
        }
    }
    for ty in ["u8", "u16", "u32", "u64"] {
        for (b, base) in R.iter().enumerate() {
            for (i, imm) in IMM32.iter().enumerate() {
                let off = OFFS[(b + i) % OFFS.len()];
                v.push(format!("*({ty} *)({base} {off}) = {imm}"));
            }
        }
    }
    // Atomics.
    for (ty, regs) in [("u32", &W), ("u32", &R), ("u64", &R)] {
        for (b, base) in R.iter().enumerate() {
            for (s, src) in regs.iter().enumerate() {
                let off = OFFS[(b + s) % OFFS.len()];
                for op in ["+=", "|=", "&=", "^="] {
                    // LLVM takes `rN` for a 32-bit `+=` only.
                    if ty == "u32" && regs[0] == "r0" && op != "+=" {
                        continue;
                    }
                    v.push(format!("lock *({ty} *)({base} {off}) {op} {src}"));
                }
            }
        }
    }
    for (ty, regs) in [("u32", &W), ("u64", &R)] {
        for (b, base) in R.iter().enumerate() {
            for (s, src) in regs.iter().enumerate() {
                let off = OFFS[(b * 5 + s) % OFFS.len()];
                for op in ["add", "and", "or", "xor"] {
                    v.push(format!(
                        "{src} = atomic_fetch_{op}(({ty} *)({base} {off}), {src})"
                    ));
                }
            }
        }
    }
    for (b, base) in R.iter().enumerate() {
        for s in 0..11 {
            let off = OFFS[(b + s) % OFFS.len()];
            v.push(format!("{} = xchg_64({base} {off}, {})", R[s], R[s]));
            v.push(format!("{} = xchg32_32({base} {off}, {})", W[s], W[s]));
            v.push(format!("r0 = cmpxchg_64({base} {off}, r0, {})", R[s]));
            v.push(format!("w0 = cmpxchg32_32({base} {off}, w0, {})", W[s]));
            for (ty, regs) in [("u8", &W), ("u16", &W), ("u32", &W), ("u64", &R)] {
                v.push(format!(
                    "{} = load_acquire(({ty} *)({base} {off}))",
                    regs[s]
                ));
                v.push(format!(
                    "store_release(({ty} *)({base} {off}), {})",
                    regs[s]
                ));
            }
        }
    }
    // Legacy packet loads.
    for ty in ["u8", "u16", "u32"] {
        for imm in ["0", "4", "-1", "2147483647", "0x10"] {
            v.push(format!("r0 = *({ty} *)skb[{imm}]"));
        }
        for s in R {
            v.push(format!("r0 = *({ty} *)skb[{s}]"));
        }
    }
    // Conditional jumps, register and immediate, 64 and 32 bits.
    for c in CONDS {
        for regs in [&R, &W] {
            for (d, dst) in regs.iter().enumerate() {
                for src in regs {
                    for off in JOFFS {
                        v.push(format!("if {dst} {c} {src} goto {off}"));
                    }
                }
                for (i, imm) in IMM32.iter().enumerate() {
                    let off = JOFFS[(d + i) % JOFFS.len()];
                    v.push(format!("if {dst} {c} {imm} goto {off}"));
                }
            }
        }
    }
    for off in JOFFS {
        v.push(format!("goto {off}"));
        v.push(format!("may_goto {off}"));
    }
    for off in ["+0", "+1", "-1", "+100", "-100", "+32767", "-32768"] {
        v.push(format!("gotol {off}"));
    }
    v.push("goto 3".into());
    v.push("if r1 > r2 goto 3".into());
    // Calls.
    for imm in [
        "0",
        "1",
        "87",
        "88",
        "89",
        "211",
        "-1",
        "0x57",
        "4294967295",
    ] {
        v.push(format!("call {imm}"));
    }
    for r in R {
        v.push(format!("callx {r}"));
    }
    v.push("exit".into());
    // Spelling variants llvm-mc accepts.
    for s in [
        "r1=r2",
        "r1+=5",
        "W1 += 5",
        "R1 = r2",
        "EXIT",
        "If r1 > r2 goto +1",
        "if r1>r2 goto+3",
        "if r1 s > r2 goto +1",
        "r1 s >>= 1",
        "*(u32*)(r1+0)=r2",
        "r1=*(u32*)(r1-4)",
        "lock *(u64*)(r1+8)+=r2",
        "r1 = 5 # a comment",
        "r1 = 5 // a comment",
        "r1 = 5 /* trailing */",
        "r1 = 5 ; r2 = 6",
        "r1 = (s8) r2",
        "\tr1 =\tr2",
    ] {
        v.push(s.into());
    }
    v
}

/// Label targets and local calls: each block defines its labels after its jumps.
fn label_forms() -> Vec<String> {
    let mut v = Vec::new();
    for (i, c) in CONDS.iter().enumerate() {
        v.push(format!("if r{} {c} r{} goto La{i}", i % 11, (i + 3) % 11));
        v.push(format!("if w{} {c} {} goto La{i}", i % 11, i * 7));
        v.push(format!("goto La{i}"));
        v.push(format!("gotol La{i}"));
        v.push(format!("may_goto La{i}"));
        v.push(format!("La{i}:"));
        v.push(format!("if r1 {c} 0 goto La{i}"));
    }
    for i in 0..20 {
        v.push(format!("call Lf{i}"));
        v.push("exit".into());
        v.push(format!("Lf{i}:"));
        v.push(format!("r0 = {i}"));
    }
    v.push("exit".into());
    v
}

/// `ld_imm64` forms (kept out of the program with numeric jumps).
fn ld_imm64_forms() -> Vec<String> {
    let mut v = Vec::new();
    let imms = [
        "0",
        "0x0",
        "1",
        "-1",
        "0xffffffffffffffff",
        "18446744073709551615",
        "-9223372036854775808",
        "9223372036854775807",
        "0x123456789abcdef0",
        "4294967296",
        "0x80000000",
        "017",
    ];
    for r in R {
        for imm in imms {
            v.push(format!("{r} = {imm} ll"));
        }
        for p in 0..7 {
            for imm in ["0", "5", "0xffffffff", "-1"] {
                v.push(format!("ld_pseudo {r}, {p}, {imm}"));
            }
        }
    }
    v.push("r1 = 5ll".into());
    v
}

fn map_ref_forms() -> Vec<String> {
    let mut v = Vec::new();
    for (i, r) in R.iter().enumerate() {
        let m = ["queue", "stack", "arr"][i % 3];
        v.push(format!("{r} = {m} ll"));
        v.push(format!("{r} += 1"));
    }
    v.push("exit".into());
    v
}

struct LlvmObject {
    text: Vec<u8>,
    /// (byte offset, relocation type, symbol name)
    relocs: Vec<(u64, u32, String)>,
}

fn llvm_mc(mc: &Path, dir: &Path, name: &str, src: &str) -> LlvmObject {
    let s = dir.join(format!("{name}.s"));
    let o = dir.join(format!("{name}.o"));
    std::fs::write(&s, src).unwrap();
    let out = Command::new(mc)
        .args(["-triple", "bpfel", "-mcpu=v4", "-filetype=obj", "-o"])
        .arg(&o)
        .arg(&s)
        .output()
        .expect("run llvm-mc");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "llvm-mc-22 did not take {name}.s silently:\n{}",
        stderr.lines().take(40).collect::<Vec<_>>().join("\n")
    );
    let bytes = std::fs::read(&o).unwrap();
    let elf = Elf::parse(&bytes).expect("parse llvm-mc's object");
    let (text_idx, text) = elf
        .section_headers
        .iter()
        .enumerate()
        .find(|(_, sh)| elf.shdr_strtab.get_at(sh.sh_name) == Some(".text"))
        .expect("a .text section");
    let range = text.file_range().unwrap_or(0..0);
    let mut relocs = Vec::new();
    for (idx, rs) in &elf.shdr_relocs {
        if elf.section_headers[*idx].sh_info as usize != text_idx {
            continue;
        }
        for r in rs.iter() {
            let sym = elf.syms.get(r.r_sym).expect("reloc symbol");
            let name = elf.strtab.get_at(sym.st_name).unwrap_or("").to_owned();
            relocs.push((r.r_offset, r.r_type, name));
        }
    }
    LlvmObject {
        text: bytes[range].to_vec(),
        relocs,
    }
}

/// Compare our program's bytes with llvm-mc's, slot by slot, naming the source line of the
/// first differences.
fn compare(name: &str, src: &str, prog: &Program, llvm: &[u8]) {
    let ours = prog.bytes();
    let lines: Vec<&str> = src.lines().collect();
    let slots = prog.slot_offsets();
    let mut diffs = Vec::new();
    for (i, insn) in prog.insns.iter().enumerate() {
        let (a, b) = (slots[i] * 8, slots[i + 1] * 8);
        let theirs = llvm.get(a..b);
        if theirs != Some(&ours[a..b]) {
            let line = prog.locs[i].map_or(0, |l| l.line as usize);
            diffs.push(format!(
                "{name}.s:{line}: `{}`: ours {:02x?} ({insn:?}), llvm-mc {:02x?}",
                lines.get(line.wrapping_sub(1)).unwrap_or(&""),
                &ours[a..b],
                theirs
            ));
            if diffs.len() >= 20 {
                break;
            }
        }
    }
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
    assert_eq!(ours.len(), llvm.len(), "{name}: section sizes differ");
}

#[test]
fn bytes_and_relocations_match_llvm_mc() {
    let Some(mc) = tools::require_tool("llvm-mc-22") else {
        return;
    };
    let dir = tools::TempDir::new("asm-llvm-mc");
    let mut forms_compared = 0usize;

    // 1. Every non-ld_imm64 form, in one program padded for ±32768-slot jumps.
    let body = jump_safe_forms();
    let labels = label_forms();
    forms_compared += body.len() + labels.iter().filter(|l| !l.ends_with(':')).count();
    let pad = 32769;
    let mut src = String::with_capacity((body.len() + 2 * pad) * 24);
    src.push_str("\t.text\n");
    for _ in 0..pad {
        src.push_str("\tr0 = 0\n");
    }
    for l in body.iter().chain(&labels) {
        if l.ends_with(':') {
            src.push_str(l);
        } else {
            src.push('\t');
            src.push_str(l);
        }
        src.push('\n');
    }
    for _ in 0..pad {
        src.push_str("\texit\n");
    }
    let llvm = llvm_mc(&mc, dir.path(), "forms", &src);
    let obj = bpfsmith::text::assemble("forms.s", &src).unwrap_or_else(|e| {
        panic!(
            "{}",
            e.to_string()
                .lines()
                .take(60)
                .collect::<Vec<_>>()
                .join("\n")
        )
    });
    assert_eq!(obj.programs.len(), 1);
    compare("forms", &src, &obj.programs[0], &llvm.text);
    assert!(
        llvm.relocs.is_empty(),
        "{:?}",
        &llvm.relocs[..3.min(llvm.relocs.len())]
    );
    // The local calls became functions.
    assert_eq!(obj.programs[0].functions.len(), 21);

    // 2. ld_imm64 and ld_pseudo.
    let lds = ld_imm64_forms();
    forms_compared += lds.len();
    let mut src = String::from("\t.text\n");
    for l in &lds {
        src.push('\t');
        src.push_str(l);
        src.push('\n');
    }
    src.push_str("\texit\n");
    let llvm = llvm_mc(&mc, dir.path(), "ld_imm64", &src);
    let obj = bpfsmith::text::assemble("ld_imm64.s", &src).unwrap_or_else(|e| panic!("{e}"));
    compare("ld_imm64", &src, &obj.programs[0], &llvm.text);

    // 3. Map references: the same bytes and an R_BPF_64_64 relocation at each.
    let maps = map_ref_forms();
    forms_compared += maps.len();
    let body: String = maps.iter().map(|l| format!("\t{l}\n")).collect();
    let llvm = llvm_mc(&mc, dir.path(), "maps", &format!("\t.text\n{body}"));
    let ours_src = format!(
        ".map queue, type=queue, value_size=4, max_entries=4\n\
         .map stack, type=stack, value_size=8, max_entries=4\n\
         .map arr, type=array, key_size=4, value_size=8, max_entries=1\n\
         \t.text\n{body}"
    );
    let obj = bpfsmith::text::assemble("maps.s", &ours_src).unwrap_or_else(|e| panic!("{e}"));
    let prog = &obj.programs[0];
    compare("maps", &ours_src, prog, &llvm.text);
    let slots = prog.slot_offsets();
    let ours: Vec<(u64, u32, String)> = prog
        .relocs
        .iter()
        .map(|r| ((slots[r.insn] * 8) as u64, 1, r.symbol.clone()))
        .collect();
    assert_eq!(ours, llvm.relocs, "relocations differ");
    assert_eq!(ours.len(), 11);

    // 4. llvm-objdump-22's own output (raw bytes, relocation lines, `<sym+0x..>`) of those
    //    objects assembles back to the same bytes and relocations.
    if let Some(objdump) = tools::require_tool("llvm-objdump-22") {
        for name in ["forms_plain", "ld_imm64", "maps"] {
            let o = dir.path().join(format!("{name}.o"));
            if name == "forms_plain" {
                let body = jump_safe_forms();
                let mut src = String::from("\t.text\n");
                src.push_str(&"\tr0 = 0\n".repeat(pad));
                for l in &body {
                    src.push('\t');
                    src.push_str(l);
                    src.push('\n');
                }
                src.push_str(&"\texit\n".repeat(pad));
                llvm_mc(&mc, dir.path(), name, &src);
            }
            let text = tools::run(Command::new(&objdump).arg("-dr").arg(&o));
            let maps = ".map queue, type=queue, value_size=4, max_entries=4\n\
                        .map stack, type=stack, value_size=8, max_entries=4\n\
                        .map arr, type=array, key_size=4, value_size=8, max_entries=1\n";
            let src = format!("{maps}{text}");
            let obj = bpfsmith::text::assemble("objdump.s", &src).unwrap_or_else(|e| {
                panic!(
                    "{}",
                    e.to_string()
                        .lines()
                        .take(40)
                        .collect::<Vec<_>>()
                        .join("\n")
                )
            });
            let llvm = std::fs::read(&o).unwrap();
            let elf = Elf::parse(&llvm).unwrap();
            let text_sh = elf
                .section_headers
                .iter()
                .find(|sh| elf.shdr_strtab.get_at(sh.sh_name) == Some(".text"))
                .unwrap();
            let prog = &obj.programs[0];
            compare(name, &src, prog, &llvm[text_sh.file_range().unwrap()]);
            if name == "maps" {
                assert_eq!(prog.relocs.len(), 11);
            }
        }
    }

    println!("llvm-mc-22: {forms_compared} instruction forms compared, all byte-identical");
    tools::notice(&format!(
        "asm_llvm_mc: {forms_compared} instruction forms compared with llvm-mc-22, all byte-identical"
    ));
    assert!(forms_compared > 30_000, "{forms_compared}");
}

/// A small deterministic generator (splitmix64), so that the corpus is the same in every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[self.below(v.len() as u64) as usize]
    }

    /// A jump offset: mostly near (landing anywhere, the second half of an ld_imm64 and
    /// past either end included), sometimes anywhere in 16 bits.
    fn offset(&mut self) -> i64 {
        if self.below(8) == 0 {
            self.below(65536) as i64 - 32768
        } else {
            self.below(81) as i64 - 40
        }
    }
}

/// One random line: ALU, ld_imm64, loads, calls, `exit`, and jumps to unrestricted targets.
fn random_line(r: &mut Rng) -> String {
    let (a, b) = (r.below(10) as usize, r.below(11) as usize);
    match r.below(100) {
        0..=24 => format!("{} {} {}", R[a], r.pick(&ALU_OPS), R[b]),
        25..=39 => format!("{} {} {}", W[a], r.pick(&ALU_OPS), r.next() as u32 as i32),
        40..=49 => format!("{} = {} ll", R[a], r.next() as i64),
        50..=64 => format!(
            "if {} {} {} goto {:+}",
            R[a],
            r.pick(&CONDS),
            R[b],
            r.offset()
        ),
        65..=74 => format!(
            "if {} {} {} goto {:+}",
            W[a],
            r.pick(&CONDS),
            r.next() as u32 as i32,
            r.offset()
        ),
        75..=82 => format!("goto {:+}", r.offset()),
        83..=89 => format!("{} = *(u32 *)({} {})", R[a], R[b], r.pick(&OFFS)),
        90..=95 => "exit".to_owned(),
        _ => format!("call {}", 1 + r.below(211)),
    }
}

/// Random programs whose jumps land anywhere (outside the program, into the second half of
/// an `ld_imm64`), which end anyhow: what llvm-mc-22 assembles, bpfsmith assembles to the
/// same `.text` bytes (with warnings), and lists as llvm-objdump does.
#[test]
fn random_programs_with_any_jump_target_match_llvm_mc() {
    let Some(mc) = tools::require_tool("llvm-mc-22") else {
        return;
    };
    let dir = tools::TempDir::new("asm-llvm-mc-random");
    let mut r = Rng(13);
    let (files, lines) = (40, 500);
    let mut warned = 0;
    for f in 0..files {
        let name = format!("random{f}");
        let mut src = String::from("\t.text\n");
        for _ in 0..lines {
            src.push('\t');
            src.push_str(&random_line(&mut r));
            src.push('\n');
        }
        let llvm = llvm_mc(&mc, dir.path(), &name, &src);
        let a = bpfsmith::text::assemble_with_warnings(&name, &src, &Default::default())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.object.programs.len(), 1);
        let prog = &a.object.programs[0];
        assert_eq!(prog.section.name(), ".text");
        compare(&name, &src, prog, &llvm.text);
        warned += a.warnings.len();
        // Our object of it, and llvm-mc's, read and list without error.
        let elf = a.object.to_elf().unwrap();
        bpfsmith::object::ObjectView::parse(&elf).unwrap();
        let theirs = std::fs::read(dir.path().join(format!("{name}.o"))).unwrap();
        let view = bpfsmith::object::ObjectView::parse(&theirs).unwrap();
        let mut out = Vec::new();
        bpfsmith::text::write_view_listing(&mut out, &view, bpfsmith::text::Style::Llvm).unwrap();
    }
    assert!(warned > files, "only {warned} warnings");
    tools::notice(&format!(
        "asm_llvm_mc: {} random lines with unrestricted jump targets ({files} files), \
         byte-identical to llvm-mc-22; {warned} warnings",
        files * lines
    ));
}

/// `rN = NAME ll` of a name the file does not declare (llvm-mc's `test/MC/BPF` writes
/// `r9 = dummy_map ll`): the same bytes, sections, relocations and undefined GLOBAL NOTYPE
/// symbol as llvm-mc-22, a warning, and read back (from either object) as an extern map.
#[test]
fn undefined_map_symbol_matches_llvm_mc() {
    let Some(mc) = tools::require_tool("llvm-mc-22") else {
        return;
    };
    let dir = tools::TempDir::new("asm-llvm-mc-extern");
    let src =
        "\t.text\n\tr9 = dummy_map ll\n\tr1 = other ll\n\tr2 = dummy_map ll\n\tr0 = 0\n\texit\n";
    let llvm = llvm_mc(&mc, dir.path(), "extern", src);
    let a = bpfsmith::text::assemble_with_warnings("extern.s", src, &Default::default())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a.warnings.len(), 3, "{:?}", a.warnings);
    assert_eq!(a.object.extern_maps(), vec!["dummy_map", "other"]);
    let elf = a.object.to_elf().unwrap();
    let ours = Elf::parse(&elf).unwrap();
    let theirs = std::fs::read(dir.path().join("extern.o")).unwrap();
    let theirs = Elf::parse(&theirs).unwrap();

    // Sections holding code, with their bytes; relocations (offset, type, symbol).
    let code = |e: &Elf, bytes: &[u8]| -> Vec<(String, Vec<u8>)> {
        e.section_headers
            .iter()
            .filter(|sh| sh.is_executable())
            .map(|sh| {
                let r = sh.file_range().unwrap_or(0..0);
                let name = e.shdr_strtab.get_at(sh.sh_name).unwrap_or("").to_owned();
                (name, bytes[r].to_vec())
            })
            .collect()
    };
    let relocs = |e: &Elf| -> Vec<(u64, u32, String, u8, u8, usize)> {
        let mut v = Vec::new();
        for (_, rs) in &e.shdr_relocs {
            for r in rs.iter() {
                let s = e.syms.get(r.r_sym).unwrap();
                let name = e.strtab.get_at(s.st_name).unwrap_or("").to_owned();
                v.push((
                    r.r_offset,
                    r.r_type,
                    name,
                    s.st_bind(),
                    s.st_type(),
                    s.st_shndx,
                ));
            }
        }
        v
    };
    let theirs_bytes = std::fs::read(dir.path().join("extern.o")).unwrap();
    assert_eq!(code(&ours, &elf), code(&theirs, &theirs_bytes));
    assert_eq!(code(&ours, &elf)[0].1, llvm.text);
    assert_eq!(relocs(&ours), relocs(&theirs));
    assert_eq!(
        relocs(&ours)
            .iter()
            .map(|r| (r.0, r.2.as_str(), r.3, r.4, r.5))
            .collect::<Vec<_>>(),
        vec![
            (0, "dummy_map", 1, 0, 0), // GLOBAL NOTYPE UND
            (16, "other", 1, 0, 0),
            (32, "dummy_map", 1, 0, 0),
        ]
    );

    // Read back, ours and llvm-mc's alike: map relocations against the extern maps.
    for bytes in [&elf[..], &theirs_bytes[..]] {
        let back = bpfsmith::object::Object::from_elf(bytes).unwrap();
        assert!(back.maps.is_empty());
        assert_eq!(back.extern_maps(), vec!["dummy_map", "other"]);
        let r: Vec<(usize, &str)> = back.programs[0]
            .relocs
            .iter()
            .map(|r| (r.insn, r.symbol.as_str()))
            .collect();
        assert_eq!(r, vec![(0, "dummy_map"), (1, "other"), (2, "dummy_map")]);
    }
}

/// The same 32-bit immediate ranges in both dialects: every immediate of [`IMM32`] (decimal
/// above 2^31 included) written in the mnemonic dialect assembles to the bytes llvm-mc-22
/// writes for the same instruction in its own dialect.
#[test]
fn mnemonic_immediates_match_llvm_mc_ranges() {
    let Some(mc) = tools::require_tool("llvm-mc-22") else {
        return;
    };
    let dir = tools::TempDir::new("asm-llvm-mc-imm");
    // (mnemonic form, LLVM form); `V` is the immediate.
    let forms = [
        ("mov %r1, V", "r1 = V"),
        ("add %r2, V", "r2 += V"),
        ("and %r3, V", "r3 &= V"),
        ("mov32 %r1, V", "w1 = V"),
        ("add32 %r4, V", "w4 += V"),
        ("jgt %r1, V, +0", "if r1 > V goto +0"),
        ("jsle %r5, V, +0", "if r5 s<= V goto +0"),
        ("stw [%r1+0], V", "*(u32 *)(r1 + 0) = V"),
        ("stdw [%r1-8], V", "*(u64 *)(r1 - 8) = V"),
    ];
    let (mut ours, mut theirs) = (String::new(), String::from("\t.text\n"));
    let mut n = 0;
    // `017` is octal in LLVM's dialect and decimal in the mnemonic one; `0b` is LLVM's alone.
    for v in IMM32
        .iter()
        .filter(|v| !v.starts_with("0b") && *v != &"017")
    {
        for (m, l) in forms {
            ours.push_str(&format!("\t{}\n", m.replace('V', v)));
            theirs.push_str(&format!("\t{}\n", l.replace('V', v)));
            n += 1;
        }
    }
    ours.push_str("\texit\n");
    theirs.push_str("\texit\n");
    assert!(n >= 100, "{n}");
    let llvm = llvm_mc(&mc, dir.path(), "imm", &theirs);
    let obj = bpfsmith::text::assemble("imm.s", &ours).unwrap_or_else(|e| panic!("{e}"));
    compare("imm", &ours, &obj.programs[0], &llvm.text);
}

/// The executable sections that hold code (name, bytes) and the relocations of an ELF file
/// (section, offset, type, symbol name or the section a section symbol stands for, binding,
/// type). llvm-mc always writes an empty `.text`; empty sections are left out, and sections
/// are compared by name.
#[allow(clippy::type_complexity)]
fn code_and_relocs(
    bytes: &[u8],
) -> (
    Vec<(String, Vec<u8>)>,
    Vec<(String, u64, u32, String, u8, u8)>,
) {
    let e = Elf::parse(bytes).expect("parse an object");
    let name = |i: usize| {
        e.section_headers
            .get(i)
            .and_then(|sh| e.shdr_strtab.get_at(sh.sh_name))
            .unwrap_or("")
            .to_owned()
    };
    let mut code: Vec<(String, Vec<u8>)> = e
        .section_headers
        .iter()
        .filter(|sh| sh.is_executable() && sh.sh_size > 0)
        .map(|sh| {
            let r = sh.file_range().unwrap_or(0..0);
            let n = e.shdr_strtab.get_at(sh.sh_name).unwrap_or("").to_owned();
            (n, bytes[r].to_vec())
        })
        .collect();
    // By name: the order of sections in the file is not a loader's concern.
    code.sort();
    let mut relocs = Vec::new();
    for (idx, rs) in &e.shdr_relocs {
        let target = name(e.section_headers[*idx].sh_info as usize);
        for r in rs.iter() {
            let s = e.syms.get(r.r_sym).expect("reloc symbol");
            let sym = if s.st_type() == goblin::elf::sym::STT_SECTION {
                name(s.st_shndx)
            } else {
                e.strtab.get_at(s.st_name).unwrap_or("").to_owned()
            };
            relocs.push((
                target.clone(),
                r.r_offset,
                r.r_type,
                sym,
                s.st_bind(),
                s.st_type(),
            ));
        }
    }
    relocs.sort();
    (code, relocs)
}

/// The object `bpfsmith asm` writes for `src` (functions in place) and llvm-mc-22's.
fn ours_and_llvm_mc(mc: &Path, dir: &Path, name: &str, src: &str) -> (Vec<u8>, Vec<u8>) {
    llvm_mc(mc, dir, name, src);
    let theirs = std::fs::read(dir.join(format!("{name}.o"))).unwrap();
    let obj = bpfsmith::text::assemble(&format!("{name}.s"), src).unwrap_or_else(|e| panic!("{e}"));
    let in_place = bpfsmith::object::ElfOptions::default().functions_in_place(true);
    (obj.to_elf_with(&in_place).unwrap(), theirs)
}

/// Local calls stay where the file put them: functions of a program section (`socket`,
/// `xdp`, `classifier`, several programs in one section, calls between functions, function
/// addresses) are written by `bpfsmith asm` with the same code sections, bytes and
/// relocations as llvm-mc-22 (calls pc-relative in place, `src_reg` 1, no relocation).
#[test]
fn local_calls_in_program_sections_match_llvm_mc() {
    let Some(mc) = tools::require_tool("llvm-mc-22") else {
        return;
    };
    let dir = tools::TempDir::new("asm-llvm-mc-local-calls");
    let files: &[(&str, &str)] = &[
        (
            "socket_call",
            "\t.section socket,\"ax\",@progbits\n\t.globl prog\nprog:\n\tr1 = 1\n\tcall f\n\
             \texit\nf:\n\tr0 = r1\n\texit\n",
        ),
        (
            "xdp_nested",
            "\t.section xdp,\"ax\",@progbits\n\t.globl prog\nprog:\n\tr1 = 2\n\tcall g\n\
             \tif r0 > 3 goto out\n\tcall f\nout:\n\texit\nf:\n\tr0 = 1\n\texit\n\
             g:\n\tr6 = r1\n\tcall f\n\tr0 += r6\n\texit\n",
        ),
        (
            "address",
            "\t.section xdp,\"ax\",@progbits\n\t.globl prog\nprog:\n\tr1 = f ll\n\tcall g\n\
             \texit\nf:\n\tr0 = 1\n\texit\ng:\n\tcall f\n\texit\n",
        ),
        (
            "two_programs",
            "\t.section socket,\"ax\",@progbits\n\t.globl a\na:\n\tcall fa\n\texit\n\
             fa:\n\tr0 = 1\n\texit\n\t.globl b\nb:\n\tcall fb\n\tcall fb\n\texit\n\
             fb:\n\tr0 = 2\n\texit\n",
        ),
        (
            "two_sections",
            "\t.section classifier,\"ax\",@progbits\n\t.globl tc\ntc:\n\tcall h\n\texit\n\
             h:\n\tr0 = 0\n\texit\n\t.section xdp,\"ax\",@progbits\n\t.globl x\nx:\n\
             \tcall h2\n\texit\nh2:\n\tr0 = 2\n\texit\n",
        ),
        (
            "text_and_socket",
            "\t.text\n\tcall t1\n\texit\nt1:\n\tr0 = 0\n\texit\n\
             \t.section socket,\"ax\",@progbits\n\t.globl s\ns:\n\tcall s1\n\texit\n\
             s1:\n\tr0 = 5\n\texit\n",
        ),
    ];
    for (name, src) in files {
        let (ours, theirs) = ours_and_llvm_mc(&mc, dir.path(), name, src);
        let (oc, or) = code_and_relocs(&ours);
        let (tc, tr) = code_and_relocs(&theirs);
        assert_eq!(oc, tc, "{name}: code sections differ");
        assert_eq!(or, tr, "{name}: relocations differ");
        // Read back, ours and llvm-mc's alike: each function a subprogram of its program.
        for (who, bytes) in [("ours", &ours), ("llvm-mc", &theirs)] {
            let back = bpfsmith::object::Object::from_elf(bytes)
                .unwrap_or_else(|e| panic!("{name} ({who}): {e}"));
            for p in &back.programs {
                let calls = p
                    .insns
                    .iter()
                    .filter(|i| {
                        matches!(
                            i,
                            bpfsmith::insn::Insn::Call(bpfsmith::insn::Callee::Local(_))
                        )
                    })
                    .count();
                if calls > 0 {
                    assert!(p.functions.len() > 1, "{name} ({who}): {:?}", p.functions);
                }
            }
        }
    }
    tools::notice(&format!(
        "asm_llvm_mc: {} files with local calls in program sections, code sections and \
         relocations identical to llvm-mc-22",
        files.len()
    ));
}

/// llvm-mc-22 on the file at `s`, writing nothing: its exit status and messages.
fn mc_check(mc: &Path, s: &Path) -> std::process::Output {
    Command::new(mc)
        .args([
            "-triple",
            "bpfel",
            "-mcpu=v4",
            "-filetype=obj",
            "-o",
            "/dev/null",
        ])
        .arg(s)
        .output()
        .expect("run llvm-mc")
}

/// One random expression over small numbers and the constants `A` .. `D`, in llvm-mc's
/// forms (it starts with a number or a constant), kept inside 32 bits: multiplications,
/// divisions and shifts take a small literal; a parenthesised part only adds, subtracts and
/// combines bits. `small` keeps to `+` and `-` of small atoms (jump offsets).
fn random_expr(r: &mut Rng, small: bool) -> String {
    let atom = |r: &mut Rng| -> String {
        match r.below(3) {
            0 => ["A", "B", "C", "D"][r.below(4) as usize].to_owned(),
            1 => format!("{}", r.below(100)),
            _ => format!("{:#x}", r.below(64)),
        }
    };
    let mut s = atom(r);
    for _ in 0..r.below(4) {
        let ops: &[&str] = if small {
            &["+", "-"]
        } else {
            &["+", "-", "*", "&", "|", "^", "<<", ">>", "/", "%"]
        };
        let op = ops[r.below(ops.len() as u64) as usize];
        let rhs = match op {
            "*" | "/" | "%" => format!("{}", 1 + r.below(9)),
            "<<" | ">>" => format!("{}", r.below(4)),
            _ if !small && r.below(4) == 0 => {
                let mut p = atom(r);
                for _ in 0..1 + r.below(2) {
                    let o = ["+", "-", "&", "|", "^"][r.below(5) as usize];
                    p = format!("{p} {o} {}", atom(r));
                }
                format!("({p})")
            }
            _ => atom(r),
        };
        let sp = if r.below(2) == 0 { " " } else { "" };
        s = format!("{s}{sp}{op}{sp}{rhs}");
    }
    s
}

/// `.equ` / `.set` constants and expressions in operands, where llvm-mc-22 takes them
/// (immediates of ALU, moves, compares and stores, `ld_imm64`, helper numbers, jump offsets):
/// the same bytes; where it refuses them (a constant as a memory offset, `label + N` as a jump
/// target, a leading `-` or `~` before a constant), bpfsmith refuses them too, with
/// file:line:column.
#[test]
fn constants_and_expressions_match_llvm_mc() {
    let Some(mc) = tools::require_tool("llvm-mc-22") else {
        return;
    };
    let dir = tools::TempDir::new("asm-llvm-mc-equ");
    let mut r = Rng(16);
    // `E` names `F` before `F` is defined, as llvm-mc allows.
    let head = ".equ A, 5\n.set B, A * 3 + 1\n.equ C, 0x10\n.set D, B - C\n\
                .equ E, F * 2 + A\n.equ F, 7\n\t.text\n";
    let mut src = String::from(head);
    let lines = 3000;
    for k in 0..lines {
        let e = random_expr(&mut r, k % 9 == 8);
        let (a, b) = (R[r.below(10) as usize], W[r.below(10) as usize]);
        let line = match k % 9 {
            0 => format!("{a} = {e}"),
            1 => format!("{b} = {e}"),
            2 => format!("{a} += {e}"),
            3 => format!("{b} ^= {e}"),
            4 => format!("if {a} > {e} goto +0"),
            5 => format!("if {b} s< {e} goto {}", r.below(3)),
            6 => format!("*(u32 *)(r10 - 8) = {e}"),
            7 => format!("{a} = {e} ll"),
            _ => format!("goto {e}"),
        };
        src.push('\t');
        src.push_str(&line);
        src.push('\n');
        // Redefinition takes effect from the next line, as in llvm-mc.
        if k % 500 == 499 {
            src.push_str(&format!(".set A, {}\n", k / 100));
        }
    }
    src.push_str("\tcall A + 1\n\tcall B\n\tr1 = E\n\tr2 += E + F\n\tcall E\n");
    src.push_str(&"\texit\n".repeat(4200));
    // Lines whose value llvm-mc only warns about and truncates (a negative number shifted
    // right, logically, is out of 32 bits) are refused by bpfsmith: checked, then left out.
    let s = dir.path().join("equ_first.s");
    std::fs::write(&s, &src).unwrap();
    let out = mc_check(&mc, &s);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut truncated = Vec::new();
    for l in stderr.lines() {
        if let Some(rest) = l.strip_prefix(&format!("{}:", s.display())) {
            if l.contains("warning: immediate out of range") {
                let n: usize = rest.split(':').next().unwrap().parse().unwrap();
                truncated.push(n);
            }
        }
    }
    let kept: Vec<&str> = src
        .lines()
        .enumerate()
        .filter(|(i, _)| !truncated.contains(&(i + 1)))
        .map(|(_, l)| l)
        .collect();
    for &n in &truncated {
        let line = src.lines().nth(n - 1).unwrap();
        let one = format!("{head}\t{}\n\texit\n", line.trim_start());
        let e = bpfsmith::text::assemble("t.s", &one).expect_err(line);
        assert!(
            e.to_string().contains("does not fit in 32 bits"),
            "{line}: {e}"
        );
    }
    let src = kept.join("\n") + "\n";
    let llvm = llvm_mc(&mc, dir.path(), "equ", &src);
    let obj = bpfsmith::text::assemble("equ.s", &src).unwrap_or_else(|e| {
        panic!(
            "{}",
            e.to_string()
                .lines()
                .take(40)
                .collect::<Vec<_>>()
                .join("\n")
        )
    });
    compare("equ", &src, &obj.programs[0], &llvm.text);

    // What llvm-mc refuses, bpfsmith refuses, pointing at the line.
    let refused = [
        "*(u32 *)(r10 - A) = 1",
        "r0 = *(u32 *)(r10 + A)",
        "lock *(u64 *)(r1 + A) += r2",
        "if r1 > r2 goto L + 2",
        "goto L + 2",
        "r1 = -A",
        "r1 += -A",
        "goto -A",
        "goto +A",
        "r1 = ~A",
        "w1 = A ll",
        "r1 = A / 0",
    ];
    for (k, l) in refused.iter().enumerate() {
        let src = format!(".equ A, 5\n\t.text\nL:\n\t{l}\n\texit\n");
        let s = dir.path().join(format!("refused{k}.s"));
        std::fs::write(&s, &src).unwrap();
        let out = mc_check(&mc, &s);
        assert!(!out.status.success(), "llvm-mc-22 took `{l}`");
        let e = bpfsmith::text::assemble("r.s", &src).expect_err(l);
        let first = e.to_string();
        assert!(first.starts_with("r.s:4:"), "`{l}`: {first}");
    }
    tools::notice(&format!(
        "asm_llvm_mc: {} lines of constants and expressions byte-identical to llvm-mc-22 \
         ({} that llvm-mc truncates with a warning refused); {} forms llvm-mc refuses, refused",
        lines - truncated.len(),
        truncated.len(),
        refused.len()
    ));
}

/// Random files of programs with bpf-to-bpf functions inside program sections (several
/// programs per section, several sections, calls between the functions of a program, jumps
/// to anywhere): `bpfsmith asm`'s object has the same code sections, bytes and relocations as
/// llvm-mc-22's, and both read back.
#[test]
fn random_programs_with_functions_in_sections_match_llvm_mc() {
    let Some(mc) = tools::require_tool("llvm-mc-22") else {
        return;
    };
    let dir = tools::TempDir::new("asm-llvm-mc-random-fns");
    let in_place = bpfsmith::object::ElfOptions::default().functions_in_place(true);
    let mut r = Rng(17);
    let files = 30;
    let mut calls = 0;
    let mut lines = 0;
    for f in 0..files {
        let name = format!("fns{f}");
        let mut src = String::new();
        for s in 0..1 + r.below(3) {
            let section = ["socket", "xdp", "classifier"][s as usize];
            src.push_str(&format!("\t.section {section},\"ax\",@progbits\n"));
            for p in 0..1 + r.below(2) {
                let prog = format!("p{f}_{s}_{p}");
                let nf = 1 + r.below(3);
                src.push_str(&format!("\t.globl {prog}\n{prog}:\n"));
                for k in 0..=nf {
                    if k > 0 {
                        src.push_str(&format!("{prog}_f{k}:\n"));
                    }
                    for _ in 0..2 + r.below(12) {
                        let line = if r.below(6) == 0 {
                            calls += 1;
                            format!("call {prog}_f{}", 1 + r.below(nf))
                        } else {
                            random_line(&mut r)
                        };
                        src.push('\t');
                        src.push_str(&line);
                        src.push('\n');
                        lines += 1;
                    }
                    src.push_str("\texit\n");
                }
            }
        }
        llvm_mc(&mc, dir.path(), &name, &src);
        let theirs = std::fs::read(dir.path().join(format!("{name}.o"))).unwrap();
        let obj =
            bpfsmith::text::assemble(&format!("{name}.s"), &src).unwrap_or_else(|e| panic!("{e}"));
        let ours = obj.to_elf_with(&in_place).unwrap();
        let (oc, or) = code_and_relocs(&ours);
        let (tc, tr) = code_and_relocs(&theirs);
        assert_eq!(oc, tc, "{name}: code sections differ\n{src}");
        assert_eq!(or, tr, "{name}: relocations differ");
        for bytes in [&ours, &theirs] {
            bpfsmith::object::ObjectView::parse(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
            bpfsmith::object::Object::from_elf(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
    tools::notice(&format!(
        "asm_llvm_mc: {files} random files with functions in program sections ({lines} lines, \
         {calls} local calls): code sections and relocations identical to llvm-mc-22"
    ));
}

/// Calls across sections, as clang writes them: a program section calls (and takes the
/// address of) functions of `.text`, global (`.globl f`, with clang's `.type f,@function`)
/// or local (a label inside `.text`, or at its start). `bpfsmith asm` writes the same code
/// sections, bytes and relocations as llvm-mc-22: `85 10 00 00 ff ff ff ff` with
/// `R_BPF_64_32` against a global function's symbol; against the `.text` section symbol with
/// the callee's slot minus one in the immediate for a local one (an address: `R_BPF_64_64`,
/// 0 or the byte offset); a global function of `.text` calling another, as the first.
#[test]
fn calls_into_text_match_llvm_mc() {
    let Some(mc) = tools::require_tool("llvm-mc-22") else {
        return;
    };
    let dir = tools::TempDir::new("asm-llvm-mc-text-calls");
    let sock = "\t.section socket,\"ax\",@progbits\n\t.globl prog\nprog:\n";
    let files: Vec<(&str, String)> = vec![
        (
            "global",
            format!(
                "{sock}\tr1 = 20\n\tcall f\n\texit\n\t.text\n\t.globl f\n\t.type f,@function\n\
                 f:\n\tr0 = r1\n\tr0 += 22\n\texit\n"
            ),
        ),
        (
            "global_second",
            format!(
                "{sock}\tcall g\n\tr2 = g ll\n\tcall f\n\texit\n\t.text\n\t.globl f\n\
                 \t.type f,@function\nf:\n\tr0 = 1\n\texit\n\t.globl g\n\t.type g,@function\n\
                 g:\n\tcall f\n\texit\n"
            ),
        ),
        (
            "local",
            format!(
                "{sock}\tr1 = 5\n\tcall h\n\tr2 = cb ll\n\tcall cb\n\texit\n\t.text\n\t.globl f\n\
                 \t.type f,@function\nf:\n\tr0 = 0\n\texit\nh:\n\tr0 = r1\n\tcall cb\n\texit\n\
                 cb:\n\tr0 = 0\n\texit\n"
            ),
        ),
        (
            "two_sections",
            format!(
                "{sock}\tcall f\n\texit\n\t.section xdp,\"ax\",@progbits\n\t.globl x\nx:\n\
                 \tcall f\n\tcall l\n\texit\n\t.text\n\t.globl f\n\t.type f,@function\nf:\n\
                 \tr0 = 2\n\texit\nl:\n\tr0 = 3\n\texit\n"
            ),
        ),
        (
            "local_first",
            format!("{sock}\tcall f\n\texit\n\t.text\nf:\n\tr0 = 7\n\texit\n"),
        ),
    ];
    let mut identical = 0;
    for (name, src) in &files {
        let (ours, theirs) = ours_and_llvm_mc(&mc, dir.path(), name, src);
        let (oc, or) = code_and_relocs(&ours);
        let (tc, tr) = code_and_relocs(&theirs);
        assert_eq!(oc, tc, "{name}: code sections differ");
        assert_eq!(or, tr, "{name}: relocations differ");
        assert!(
            tr.iter().any(|r| r.2 == 10),
            "{name}: no R_BPF_64_32 in llvm-mc's object: {tr:?}"
        );
        identical += 1;
        // Read back, ours and llvm-mc's alike: the callees appended to each caller.
        for (who, bytes) in [("ours", &ours), ("llvm-mc", &theirs)] {
            let back = bpfsmith::object::Object::from_elf(bytes)
                .unwrap_or_else(|e| panic!("{name} ({who}): {e}"));
            for p in back.programs.iter().filter(|p| p.section.name() != ".text") {
                assert!(p.functions.len() > 1, "{name} ({who}): {:?}", p.functions);
                assert!(p
                    .relocs
                    .iter()
                    .all(|r| r.kind != bpfsmith::program::RelocKind::Function));
            }
        }
    }
    tools::notice(&format!(
        "asm_llvm_mc: {identical} of {} files with calls into `.text` identical to \
         llvm-mc-22 (code sections, relocations)",
        files.len()
    ));
}
