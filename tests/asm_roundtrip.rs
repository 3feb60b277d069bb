//! Round trip: the listing of a program (LLVM style, symbolic or not, and kernel style)
//! assembles back to the same bytes.
//!
//! Programs are generated from every instruction form (`common::arb::any_insn`) with branch
//! targets that land on instructions of the program: the assembler refuses jumps that leave
//! the program or land inside an `ld_imm64` (the verifier would), so a generated offset is
//! turned into a valid target first. What a printed form cannot say is left out of the
//! corresponding style, because the text alone cannot give the bytes back:
//!
//! * LLVM style (objdump's text): `call N` is the same text for a helper call and a local
//!   call (and a kfunc call), so only helper calls are generated; `r0 = *(u16 *)skb[r3]`
//!   drops `ld_ind`'s immediate, so it is 0; `ld_pseudo` prints only the low 32 bits, so the
//!   high ones are 0.
//! * Kernel style: every `ld_imm64` prints as `rN = 0x...` whatever its pseudo source, so the
//!   source is 0; `callx` prints as `call bpf_unspec#0` without its register, so there is none;
//!   a kfunc call prints no BTF object index, so it is 0.

mod common;

use bpfsmith::insn::{Callee, Insn, Pseudo};
use bpfsmith::program::{Program, Section};
use bpfsmith::text::{assemble, listing, ListingOptions, Style};
use common::arb;
use proptest::prelude::*;

/// Make `insn` printable in `style` (see the module documentation).
fn printable(insn: Insn, style: Style) -> Insn {
    match (style, insn) {
        (Style::Llvm, Insn::Call(Callee::Local(i) | Callee::Kfunc { btf_id: i, .. })) => {
            Insn::Call(Callee::Helper(i))
        }
        (Style::Llvm, Insn::LdInd { size, src, .. }) => Insn::LdInd { size, src, imm: 0 },
        (Style::Llvm, Insn::LdImm64 { dst, pseudo, imm }) if pseudo != Pseudo::Imm => {
            Insn::LdImm64 {
                dst,
                pseudo,
                imm: imm as u32 as i64,
            }
        }
        (Style::Kernel, Insn::LdImm64 { dst, imm, .. }) => Insn::LdImm64 {
            dst,
            pseudo: Pseudo::Imm,
            imm,
        },
        (Style::Kernel, Insn::CallX { .. }) => Insn::Exit,
        (Style::Kernel, Insn::Call(Callee::Kfunc { btf_id, .. })) => {
            Insn::Call(Callee::Kfunc { btf_id, off: 0 })
        }
        _ => insn,
    }
}

/// A program: a main body and a function, each ending in `exit`; every branch gets a target
/// inside the program (local calls: the function or the entry).
fn program(style: Style) -> impl Strategy<Value = Program> {
    let part = || prop::collection::vec((arb::any_insn(), any::<u16>()), 0..24);
    (part(), part()).prop_map(move |(main, func)| {
        let mut insns: Vec<(Insn, u16)> = main;
        insns.push((Insn::Exit, 0));
        let func_start = insns.len();
        if !func.is_empty() {
            insns.extend(func);
            insns.push((Insn::Exit, 0));
        }
        let mut insns: Vec<(Insn, u16)> = insns
            .into_iter()
            .map(|(i, s)| (printable(i, style), s))
            .collect();
        let mut slots = vec![0usize];
        for (i, _) in &insns {
            slots.push(slots.last().unwrap() + i.slots());
        }
        let n = insns.len();
        for k in 0..n {
            let (insn, seed) = &mut insns[k];
            let target = match insn {
                Insn::Call(Callee::Local(_)) => {
                    if func_start < n && *seed % 2 == 0 {
                        func_start
                    } else {
                        0
                    }
                }
                _ => *seed as usize % n,
            };
            let off = slots[target] as i64 - (slots[k] as i64 + 1);
            match insn {
                Insn::Jump { off: o, .. } | Insn::Ja { off: o } | Insn::MayGoto { off: o } => {
                    *o = off as i16
                }
                Insn::JaLong { imm } | Insn::Call(Callee::Local(imm)) => *imm = off as i32,
                _ => {}
            }
        }
        Program::from_insns(
            "prog",
            Section::SOCKET,
            insns.into_iter().map(|(i, _)| i).collect(),
        )
    })
}

fn round_trip(prog: &Program, opts: &ListingOptions) -> Result<(), TestCaseError> {
    let text = listing(prog, opts);
    match assemble("listing.s", &text) {
        Ok(obj) => {
            prop_assert_eq!(obj.programs.len(), 1);
            let back = &obj.programs[0];
            prop_assert_eq!(
                back.bytes(),
                prog.bytes(),
                "{:?}\n{}\n{:?}",
                opts,
                text,
                back.insns
            );
            if opts.style == Style::Llvm {
                // objdump's header names the program.
                prop_assert_eq!(&back.name, &prog.name);
            }
            Ok(())
        }
        Err(e) => Err(TestCaseError::fail(format!("{opts:?}\n{text}\n{e}"))),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn llvm_listings_assemble_back(prog in program(Style::Llvm)) {
        for (symbolic, abi) in [(false, false), (true, false), (true, true)] {
            let opts = ListingOptions { style: Style::Llvm, source: false, symbolic, abi };
            round_trip(&prog, &opts)?;
        }
    }

    #[test]
    fn kernel_listings_assemble_back(prog in program(Style::Kernel)) {
        for symbolic in [false, true] {
            let opts = ListingOptions { style: Style::Kernel, source: false, symbolic, abi: false };
            round_trip(&prog, &opts)?;
        }
    }
}

/// The demo object (maps, relocations, source lines): every listing style of each program,
/// with `.map` lines for its maps, assembles back to the same bytes and relocations.
#[test]
fn demo_listings_assemble_back() {
    let obj = bpfsmith::seed::object();
    let maps: String = obj
        .maps
        .iter()
        .map(|m| {
            format!(
                ".map {}, type={}, value_size={}, max_entries={}\n",
                m.name, m.def.map_type, m.def.value_size, m.def.max_entries
            )
        })
        .collect();
    for prog in &obj.programs {
        for (style, symbolic, source, abi) in [
            (Style::Llvm, true, false, false),
            (Style::Llvm, true, true, true),
            (Style::Llvm, false, false, false),
            (Style::Llvm, false, true, false),
            (Style::Kernel, true, true, false),
            (Style::Kernel, false, false, false),
        ] {
            let opts = ListingOptions {
                style,
                source,
                symbolic,
                abi,
            };
            let text = format!("{maps}{}", listing(prog, &opts));
            let back =
                assemble("demo.s", &text).unwrap_or_else(|e| panic!("{opts:?}\n{text}\n{e}"));
            let p = &back.programs[0];
            assert_eq!(p.bytes(), prog.bytes(), "{opts:?}");
            if style == Style::Llvm {
                assert_eq!(p.relocs, prog.relocs, "{opts:?}");
                assert_eq!(p.labels, prog.labels, "{opts:?}");
                assert_eq!(p.name, prog.name);
            }
        }
    }
}
