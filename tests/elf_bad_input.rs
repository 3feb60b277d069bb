//! Bad input is an error that names the section and the offset, never a panic: one test per
//! kind of damage, then a fuzz-style proptest that mutates valid objects (flips, truncations,
//! splices). Its case count comes from `BPFSMITH_FUZZ_CASES` (default 20000). Each mutated
//! object is read both ways, whole ([`ElfObject::parse`]) and as a view ([`ObjectView`], what
//! `bpfsmith dis` lists), which must agree: the same error, or the same programs and listing.

#[path = "common/interop.rs"]
mod interop;

use bpfsmith::insn::DecodeReason;
use bpfsmith::object::btf::{Btf, BtfErrorKind, Kind};
use bpfsmith::object::{ElfError, ElfErrorKind as K, ElfObject, ObjectView};
use bpfsmith::prelude::*;
use bpfsmith::text::{object_listing, view_listing, Style};
use goblin::elf::Elf;
use proptest::prelude::*;

fn seed() -> Vec<u8> {
    interop::seed_object().to_elf().unwrap()
}

/// (file offset, size) of the section called `name`, and the offset of its header.
fn section(bytes: &[u8], name: &str) -> (usize, usize, usize) {
    let elf = Elf::parse(bytes).unwrap();
    let (i, sh) = elf
        .section_headers
        .iter()
        .enumerate()
        .find(|(_, sh)| elf.shdr_strtab.get_at(sh.sh_name) == Some(name))
        .unwrap_or_else(|| panic!("no section {name}"));
    (
        sh.sh_offset as usize,
        sh.sh_size as usize,
        elf.header.e_shoff as usize + i * 64,
    )
}

fn put_u16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}
fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}
fn put_u64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

/// Parse, expect an error, check its message names `section`, and give it.
fn err_at(bytes: &[u8], section: &str) -> (u64, K) {
    let e = ElfObject::parse(bytes).expect_err("the damage must be found");
    let text = e.to_string();
    match e {
        ElfError::At {
            section: s,
            offset,
            kind,
        } => {
            assert_eq!(s, section, "{text}");
            assert!(
                text.starts_with(&format!("{section}, offset {offset:#x}: ")),
                "{text}"
            );
            (offset, kind)
        }
        other => panic!("expected an error in {section}, got: {other}"),
    }
}

#[test]
fn not_elf_and_truncated_headers() {
    let b = seed();
    assert!(matches!(ElfObject::parse(&[]), Err(ElfError::NotElf)));
    assert!(matches!(ElfObject::parse(&b[..3]), Err(ElfError::NotElf)));
    assert!(matches!(
        ElfObject::parse(b"MZ\x90\x00not an elf"),
        Err(ElfError::NotElf)
    ));
    let (off, kind) = err_at(&b[..40], "ELF header");
    assert_eq!(off, 0);
    assert!(
        matches!(
            kind,
            K::Truncated {
                need: 64,
                have: 40,
                ..
            }
        ),
        "{kind:?}"
    );
    // The section header table is at the end: cut it.
    let (off, kind) = err_at(&b[..b.len() - 10], "section headers");
    assert!(off > 0);
    assert!(matches!(kind, K::Truncated { .. }), "{kind:?}");
}

#[test]
fn wrong_class_endianness_machine_and_type() {
    let b = seed();
    let mut e = b.clone();
    e[4] = 1; // ELFCLASS32
    let err = ElfObject::parse(&e).unwrap_err();
    assert!(matches!(err, ElfError::Class(1)), "{err}");
    assert!(err.to_string().contains("offset 0x4"), "{err}");
    let mut e = b.clone();
    e[5] = 2; // ELFDATA2MSB
    assert!(matches!(ElfObject::parse(&e), Err(ElfError::Endian(2))));
    let mut e = b.clone();
    put_u16(&mut e, 0x12, 62); // EM_X86_64
    assert!(matches!(ElfObject::parse(&e), Err(ElfError::Machine(62))));
    let mut e = b.clone();
    put_u16(&mut e, 0x10, 2); // ET_EXEC
    assert!(matches!(ElfObject::parse(&e), Err(ElfError::FileType(2))));
}

#[test]
fn real_big_endian_and_foreign_objects_are_refused() {
    if !interop::have_tool("clang-22") {
        return;
    }
    let dir = interop::unique(None, "foreign");
    std::fs::create_dir_all(&dir).unwrap();
    let c = dir.join("p.c");
    std::fs::write(
        &c,
        "__attribute__((section(\"socket\"), used)) int p(void *c) { return 0; }\n",
    )
    .unwrap();
    let o = |target: &str| {
        let out = dir.join(format!("{target}.o"));
        interop::run_ok(
            "clang-22",
            &[
                "-O2",
                "-target",
                target,
                "-c",
                c.to_str().unwrap(),
                "-o",
                out.to_str().unwrap(),
            ],
        );
        std::fs::read(out).unwrap()
    };
    assert!(matches!(
        ElfObject::parse(&o("bpfeb")),
        Err(ElfError::Endian(2))
    ));
    assert!(matches!(
        ElfObject::parse(&o("x86_64-linux-gnu")),
        Err(ElfError::Machine(62))
    ));
    assert!(matches!(
        ElfObject::parse(&o("i386-linux-gnu")),
        Err(ElfError::Class(1))
    ));
    assert!(ElfObject::parse(&o("bpfel")).is_ok());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn section_out_of_bounds() {
    let mut b = seed();
    let (_, _, hdr) = section(&b, ".BTF");
    put_u64(&mut b, hdr + 0x18, 0xffff_0000); // sh_offset
    let (_, kind) = err_at(&b, ".BTF");
    assert!(
        matches!(
            kind,
            K::OutOfBounds {
                start: 0xffff_0000,
                ..
            }
        ),
        "{kind:?}"
    );
    // A size that overflows the offset.
    let mut b = seed();
    let (_, _, hdr) = section(&b, "socket");
    put_u64(&mut b, hdr + 0x20, u64::MAX); // sh_size
    let (_, kind) = err_at(&b, "socket");
    assert!(matches!(kind, K::OutOfBounds { .. }), "{kind:?}");
}

/// File offset of the first BTF type of `kind` (its 12-byte header).
fn btf_type(b: &[u8], kind: Kind) -> usize {
    let (off, size, _) = section(b, ".BTF");
    let btf = Btf::parse(&b[off..off + size]).unwrap();
    let (_, t) = btf.types().find(|(_, t)| t.kind == kind).unwrap();
    off + t.offset
}

#[test]
fn btf_with_out_of_range_or_looping_type_ids() {
    // A PTR to type 999.
    let mut b = seed();
    let ptr = btf_type(&b, Kind::Ptr);
    put_u32(&mut b, ptr + 8, 999);
    let (off, kind) = err_at(&b, ".BTF");
    let (btf_off, _, _) = section(&b, ".BTF");
    assert_eq!(off as usize, ptr - btf_off, "the offset is the bad type's");
    assert!(
        matches!(kind, K::Btf(BtfErrorKind::TypeIdOutOfRange { id: 999, .. })),
        "{kind:?}"
    );
    // An ARRAY whose element type is itself.
    let mut b = seed();
    let arr = btf_type(&b, Kind::Array);
    let (btf_off, size, _) = section(&b, ".BTF");
    let id = Btf::parse(&b[btf_off..btf_off + size])
        .unwrap()
        .types()
        .find(|(_, t)| t.kind == Kind::Array)
        .unwrap()
        .0;
    put_u32(&mut b, arr + 12, id);
    let (_, kind) = err_at(&b, ".BTF");
    assert!(
        matches!(kind, K::Btf(BtfErrorKind::Loop(i)) if i == id),
        "{kind:?}"
    );
    // Bad magic, and a string offset past the string section.
    let mut b = seed();
    put_u16(&mut b, btf_off, 0x9feb);
    let (off, kind) = err_at(&b, ".BTF");
    assert_eq!(off, 0);
    assert!(
        matches!(kind, K::Btf(BtfErrorKind::BadMagic(0x9feb))),
        "{kind:?}"
    );
    let mut b = seed();
    let var = btf_type(&b, Kind::Var);
    put_u32(&mut b, var, 0x00ff_ffff);
    let (_, kind) = err_at(&b, ".BTF");
    assert!(
        matches!(kind, K::Btf(BtfErrorKind::BadString(0x00ff_ffff))),
        "{kind:?}"
    );
}

#[test]
fn maps_without_btf() {
    let mut b = seed();
    // Rename `.BTF` (and so `.BTF.ext`, which shares its name) to something else.
    let (_, _, hdr) = section(&b, ".BTF");
    let name_off = u32::from_le_bytes(b[hdr..hdr + 4].try_into().unwrap()) as usize;
    let (shstr, _, _) = section(&b, ".shstrtab");
    b[shstr + name_off + 1] = b'X';
    let (off, kind) = err_at(&b, ".maps");
    assert_eq!(off, 0);
    assert_eq!(kind, K::MissingBtf);
    assert!(kind.to_string().contains("BTF is required"));
}

/// The file offset of relocation `k` of section `rel`.
fn reloc(b: &[u8], rel: &str, k: usize) -> usize {
    section(b, rel).0 + 16 * k
}

#[test]
fn relocation_against_a_missing_symbol() {
    let mut b = seed();
    let r = reloc(&b, ".relsocket", 1);
    put_u32(&mut b, r + 12, 999); // symbol index (high half of r_info)
    let (off, kind) = err_at(&b, ".relsocket");
    assert_eq!(off, 16);
    assert!(
        matches!(kind, K::MissingSymbol { index: 999, .. }),
        "{kind:?}"
    );
}

#[test]
fn relocation_not_on_an_ld_imm64_or_a_call() {
    // R_BPF_64_64 moved onto the first instruction, a store.
    let mut b = seed();
    let r = reloc(&b, ".relsocket", 0);
    put_u64(&mut b, r, 0);
    let (off, kind) = err_at(&b, "socket");
    assert_eq!(off, 0);
    assert!(
        matches!(&kind, K::RelocInsn { reloc: "R_BPF_64_64", opcode: 0x62, symbol, .. } if symbol == "queue"),
        "{kind:?}"
    );
    // Onto the second slot of an ld_imm64.
    let mut b = seed();
    let r = reloc(&b, ".relsocket", 0);
    let first = u64::from_le_bytes(b[r..r + 8].try_into().unwrap());
    put_u64(&mut b, r, first + 8);
    let (off, kind) = err_at(&b, "socket");
    assert_eq!(off, first + 8);
    assert_eq!(kind, K::RelocOffset("queue".into()));
    // R_BPF_64_32 on an ld_imm64.
    let mut b = seed();
    let r = reloc(&b, ".relsocket", 0);
    put_u32(&mut b, r + 8, 10);
    let (_, kind) = err_at(&b, "socket");
    assert!(
        matches!(
            kind,
            K::RelocInsn {
                reloc: "R_BPF_64_32",
                opcode: 0x18,
                ..
            }
        ),
        "{kind:?}"
    );
    // A relocation type that has no business in a program.
    let mut b = seed();
    let r = reloc(&b, ".relsocket", 0);
    put_u32(&mut b, r + 8, 2);
    let (off, kind) = err_at(&b, ".relsocket");
    assert_eq!(off, 0);
    assert_eq!(kind, K::RelocType(2));
}

#[test]
fn undecodable_instructions_and_calls_to_nowhere() {
    // An undefined opcode in the first program.
    let mut b = seed();
    let (sock, _, _) = section(&b, "socket");
    b[sock + 3 * 8] = 0xff;
    let (off, kind) = err_at(&b, "socket");
    assert_eq!(off, 24);
    assert!(
        matches!(&kind, K::Insn(e) if e.reason == DecodeReason::UnknownOpcode(0xff)),
        "{kind:?}"
    );
    // `if r0 != 0 goto +2` of push_pop (slot 12) sent out of its function: read as it is
    // (the verifier refuses it, the listing and the warnings say so).
    let mut b = seed();
    assert_eq!(b[sock + 12 * 8], 0x55);
    put_u16(&mut b, sock + 12 * 8 + 2, 100);
    let obj = bpfsmith::object::Object::from_elf(&b).expect("a jump out is read as it is");
    let prog = &obj.programs[0];
    let w = prog.warnings();
    assert!(
        w.iter().any(|w| matches!(
            w.kind.flow(),
            Some(bpfsmith::program::FlowIssue::JumpOutOfRange { target: 113, .. })
        )),
        "{w:?}"
    );
    // The call to pop_one (R_BPF_64_32, imm -1) aimed one instruction further.
    let mut b = seed();
    let (xdp, _, _) = section(&b, "xdp");
    assert_eq!(&b[xdp..xdp + 2], &[0x85, 0x10]);
    put_u32(&mut b, xdp + 4, 0);
    let (off, kind) = err_at(&b, "xdp");
    assert_eq!(off, 0);
    assert!(
        matches!(&kind, K::CallTarget { section, target: 8 } if section == ".text"),
        "{kind:?}"
    );
}

#[test]
fn function_symbols_outside_their_section() {
    let b = seed();
    let elf = Elf::parse(&b).unwrap();
    let (symtab, _, _) = section(&b, ".symtab");
    let k = elf
        .syms
        .iter()
        .position(|s| elf.strtab.get_at(s.st_name) == Some("push_pop"))
        .unwrap();
    let mut b = b.clone();
    put_u64(&mut b, symtab + k * 24 + 16, 1 << 40); // st_size
    let (_, kind) = err_at(&b, "socket");
    assert!(
        matches!(&kind, K::BadFunctionSymbol { name, .. } if name == "push_pop"),
        "{kind:?}"
    );
}

#[test]
fn line_info_inside_an_ld_imm64() {
    // The second line record of push_pop is at the ld_imm64 (byte 8): move it to its
    // second slot.
    let mut b = seed();
    let (ext, size, _) = section(&b, ".BTF.ext");
    let data = &b[ext..ext + size];
    let hdr = u32::from_le_bytes(data[4..8].try_into().unwrap()) as usize;
    let line_off = u32::from_le_bytes(data[16..20].try_into().unwrap()) as usize;
    // rec_size, then (sec_name_off, num_info), then records of 16 bytes.
    let rec1 = ext + hdr + line_off + 4 + 8 + 16;
    assert_eq!(u32::from_le_bytes(b[rec1..rec1 + 4].try_into().unwrap()), 8);
    put_u32(&mut b, rec1, 16);
    let (off, kind) = err_at(&b, "socket");
    assert_eq!(off, 16);
    assert!(
        matches!(
            kind,
            K::ExtOffset {
                what: "line_info",
                insn_off: 16,
                ..
            }
        ),
        "{kind:?}"
    );
}

// ---- fuzz ----

/// Valid objects to mutate: ours (maps, labels, subprograms, a callback) and, when clang-22
/// is installed, clang's (typedefs, section symbols, debug sections).
fn corpus() -> Vec<Vec<u8>> {
    let mut v = vec![seed()];
    let mut obj = Object::new("GPL");
    let q = obj.map("q", MapDef::queue::<u8>(1)).unwrap();
    let mut p = ProgramBuilder::new("cb", Section::XDP);
    let f = p.function("callback");
    let s = p.reserve::<u8>();
    p.call_fn(f);
    p.emit(bpfsmith::insn::Insn::LdImm64 {
        dst: R2,
        pseudo: bpfsmith::insn::Pseudo::Func,
        imm: 3,
    });
    p.mov(R0, 0).exit();
    p.bind(f).pop(&q, s).mov(R0, 0).exit();
    obj.add_program(p.finish().unwrap()).unwrap();
    v.push(obj.to_elf().unwrap());
    if std::process::Command::new("clang-22")
        .arg("--version")
        .output()
        .is_ok()
    {
        let dir = interop::unique(None, "fuzz-corpus");
        std::fs::create_dir_all(&dir).unwrap();
        let c = dir.join("c.c");
        std::fs::write(
            &c,
            r#"typedef unsigned int u32;
#define SEC(x) __attribute__((section(x), used))
struct { int (*type)[22]; const volatile u32 *value; int (*max_entries)[4]; } qq SEC(".maps");
static long (*push)(void *, const void *, unsigned long long) = (void *)87;
static __attribute__((noinline)) int sub(int x) { u32 v = x; return push(&qq, &v, 0); }
SEC("tc") int entry(void *ctx) { return sub(3) + 1; }
char _license[] SEC("license") = "GPL";
"#,
        )
        .unwrap();
        let o = dir.join("c.o");
        let ok = std::process::Command::new("clang-22")
            .args([
                "-O2",
                "-g",
                "-target",
                "bpf",
                "-c",
                c.to_str().unwrap(),
                "-o",
                o.to_str().unwrap(),
            ])
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            v.push(std::fs::read(&o).unwrap());
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    for b in &v {
        ElfObject::parse(b).expect("corpus objects are valid");
    }
    v
}

#[derive(Clone, Debug)]
enum Mutation {
    /// Set the byte at (position seed) to a value.
    Set(usize, u8),
    /// Add a small delta to a little-endian u32 at (position seed): offsets and counts.
    Bump(usize, i8),
    /// Cut the file at (length seed).
    Truncate(usize),
    /// Copy `len` bytes from one position to another.
    Splice(usize, usize, u8),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        6 => (any::<usize>(), any::<u8>()).prop_map(|(p, v)| Mutation::Set(p, v)),
        3 => (any::<usize>(), any::<i8>()).prop_map(|(p, d)| Mutation::Bump(p, d)),
        1 => any::<usize>().prop_map(Mutation::Truncate),
        2 => (any::<usize>(), any::<usize>(), 1u8..64).prop_map(|(a, b, n)| Mutation::Splice(a, b, n)),
    ]
}

/// Positions favour the headers and tables, where one byte changes the most.
fn position(seed: usize, hot: &[(usize, usize)], len: usize) -> usize {
    if len == 0 {
        return 0;
    }
    if seed % 2 == 0 && !hot.is_empty() {
        let (start, size) = hot[(seed / 2) % hot.len()];
        (start + (seed / 2 / hot.len()) % size.max(1)).min(len - 1)
    } else {
        (seed / 2) % len
    }
}

fn hot_ranges(b: &[u8]) -> Vec<(usize, usize)> {
    let elf = Elf::parse(b).unwrap();
    let mut v = vec![
        (0, 64),
        (elf.header.e_shoff as usize, elf.section_headers.len() * 64),
    ];
    for sh in &elf.section_headers {
        let name = elf.shdr_strtab.get_at(sh.sh_name).unwrap_or("");
        if sh.sh_size > 0 && !name.starts_with(".debug") {
            v.push((sh.sh_offset as usize, sh.sh_size as usize));
        }
    }
    v
}

fn mutate(base: &[u8], hot: &[(usize, usize)], muts: &[Mutation]) -> Vec<u8> {
    let mut b = base.to_vec();
    for m in muts {
        let len = b.len();
        match *m {
            Mutation::Set(p, v) if len > 0 => {
                let at = position(p, hot, len);
                b[at] = v;
            }
            Mutation::Bump(p, d) if len >= 4 => {
                let at = position(p, hot, len - 3) & !3;
                let x = u32::from_le_bytes(b[at..at + 4].try_into().unwrap());
                b[at..at + 4].copy_from_slice(&x.wrapping_add(d as i32 as u32).to_le_bytes());
            }
            Mutation::Truncate(l) => b.truncate(l % (len + 1)),
            Mutation::Splice(from, to, n) if len > 0 => {
                let (from, to) = (position(from, hot, len), position(to, hot, len));
                let n = (n as usize).min(len - from).min(len - to);
                let chunk = b[from..from + n].to_vec();
                b[to..to + n].copy_from_slice(&chunk);
            }
            _ => {}
        }
    }
    b
}

fn fuzz_cases() -> u32 {
    std::env::var("BPFSMITH_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000)
}

/// The view of `bytes` says what `parse` said: the same error, or the same programs (decoded
/// from the bytes as they are walked) and the same listing in both styles.
fn same_as_view(bytes: &[u8], parsed: &Result<ElfObject, ElfError>) {
    match (ObjectView::parse(bytes), parsed) {
        (Err(v), Err(p)) => assert_eq!(v.to_string(), p.to_string()),
        (Ok(view), Ok(e)) => {
            assert_eq!(view.license(), e.object.license);
            assert_eq!(view.maps(), e.object.maps);
            assert_eq!(view.programs().len(), e.object.programs.len());
            for (v, p) in view.programs().zip(&e.object.programs) {
                assert_eq!(v.unknown_slots().count(), 0);
                assert_eq!(v.insns().collect::<Vec<_>>(), p.insns);
                assert_eq!(v.locs().collect::<Vec<_>>(), p.locs);
                assert_eq!(v.insn_count(), p.insns.len());
                assert_eq!(v.slot_count(), p.slot_count());
                assert_eq!(
                    v.insn_slots().collect::<Vec<_>>(),
                    p.slot_offsets()[..p.insns.len()]
                );
                assert_eq!(&v.to_program(), p);
            }
            for style in [Style::Llvm, Style::Kernel] {
                assert_eq!(view_listing(&view, style), object_listing(&e.object, style));
            }
        }
        // A slot that does not decode: the view lists it (`<unknown>`), loading refuses it.
        (Ok(view), Err(p)) if view.programs().any(|v| v.unknown_slots().next().is_some()) => {
            assert!(
                matches!(
                    p,
                    ElfError::At {
                        kind: K::Insn(_),
                        ..
                    }
                ),
                "{p}"
            );
            for style in [Style::Llvm, Style::Kernel] {
                assert!(view_listing(&view, style).contains("<unknown> #"));
            }
        }
        (v, p) => panic!(
            "the view and the parse disagree: {:?} / {:?}",
            v.err().map(|e| e.to_string()),
            p.as_ref().err().map(|e| e.to_string())
        ),
    }
}

#[test]
fn mutated_objects_never_panic() {
    let corpus = corpus();
    let hot: Vec<Vec<(usize, usize)>> = corpus.iter().map(|b| hot_ranges(b)).collect();
    let cases = fuzz_cases();
    let start = std::time::Instant::now();
    let errors = std::sync::atomic::AtomicU32::new(0);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let strategy = (any::<usize>(), prop::collection::vec(mutation(), 1..6));
    runner
        .run(&strategy, |(which, muts)| {
            let k = which % corpus.len();
            let bytes = mutate(&corpus[k], &hot[k], &muts);
            // Any result is fine; a panic fails the test (proptest catches and shrinks it).
            let parsed = ElfObject::parse(&bytes);
            same_as_view(&bytes, &parsed);
            if let Ok(e) = parsed {
                // What was read can be encoded again without panicking either.
                let _ = e.object.btf();
                let _ = e.object.to_elf();
            } else {
                errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            Ok(())
        })
        .unwrap();
    eprintln!(
        "fuzz: {cases} mutated objects in {:.2?} ({} refused with an error, the rest read)",
        start.elapsed(),
        errors.into_inner()
    );
}
