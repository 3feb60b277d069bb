//! Properties of `bpfsmith::insn`: encode/decode round trips, and total, strict decoding.
//!
//! - `decode(encode(v)) == v` for generated instruction vectors (every variant, every valid
//!   field range, see `common::arb`).
//! - `decode` never panics; what it accepts re-encodes to the same bytes; what it rejects is
//!   an error naming a slot inside the input, whose message starts with `slot N:`.
//! - The set of opcode bytes that ever decode is exactly the set the ISA defines, written out
//!   below from RFC 9669 and the kernel's later additions, not from `src/insn.rs`.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use bpfsmith::insn::{decode, decode_at, encode, DecodeError, DecodeReason, Insn, SLOT_SIZE};
use common::arb::{self, any_insn};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

// ---------------------------------------------------------------------------------------------
// The opcode bytes the ISA defines, by class. Opcode = operation | source/size | mode | class,
// classes LD 0, LDX 1, ST 2, STX 3, ALU 4, JMP 5, JMP32 6, ALU64 7 (RFC 9669 section 3).
// Written as literal bytes from the spec tables on purpose: this is the independent truth the
// decoder is checked against.
// ---------------------------------------------------------------------------------------------

/// ALU (32-bit), RFC 9669 section 4.1: each binary operation with K (0x_4) and X (0x_c).
/// NEG is K only; END is 0xd4 (TO_LE) and 0xdc (TO_BE).
const SPEC_ALU: &[u8] = &[
    0x04, 0x0c, // ADD
    0x14, 0x1c, // SUB
    0x24, 0x2c, // MUL
    0x34, 0x3c, // DIV / SDIV (off 1)
    0x44, 0x4c, // OR
    0x54, 0x5c, // AND
    0x64, 0x6c, // LSH
    0x74, 0x7c, // RSH
    0x84, // NEG (K only)
    0x94, 0x9c, // MOD / SMOD (off 1)
    0xa4, 0xac, // XOR
    0xb4, 0xbc, // MOV (X: also MOVSX, off 8/16)
    0xc4, 0xcc, // ARSH
    0xd4, 0xdc, // END: le, be
];

/// ALU64, RFC 9669 section 4.1: as ALU, but END exists only as 0xd7 (bswap, "BPF_ALU64 with
/// BPF_TO_LE"); 0xdf is reserved.
const SPEC_ALU64: &[u8] = &[
    0x07, 0x0f, // ADD
    0x17, 0x1f, // SUB
    0x27, 0x2f, // MUL
    0x37, 0x3f, // DIV / SDIV
    0x47, 0x4f, // OR
    0x57, 0x5f, // AND
    0x67, 0x6f, // LSH
    0x77, 0x7f, // RSH
    0x87, // NEG (K only)
    0x97, 0x9f, // MOD / SMOD
    0xa7, 0xaf, // XOR
    0xb7, 0xbf, // MOV (X: also MOVSX off 8/16/32, and addr_space_cast off 1 (kernel 6.9))
    0xc7, 0xcf, // ARSH
    0xd7, // bswap
];

/// JMP, RFC 9669 section 4.3: 11 conditions with K and X; JA, CALL, EXIT with K only.
/// Beyond the RFC: 0x8d `callx` (BPF_CALL | BPF_X, freed for indirect calls in kernel commit
/// 71189fa9b092, what LLVM emits for `callx`) and 0xe5 `may_goto` (BPF_JCOND, kernel 6.9).
const SPEC_JMP: &[u8] = &[
    0x05, // JA
    0x15, 0x1d, // JEQ
    0x25, 0x2d, // JGT
    0x35, 0x3d, // JGE
    0x45, 0x4d, // JSET
    0x55, 0x5d, // JNE
    0x65, 0x6d, // JSGT
    0x75, 0x7d, // JSGE
    0x85, // CALL (helper, local, kfunc by src)
    0x8d, // callx
    0x95, // EXIT
    0xa5, 0xad, // JLT
    0xb5, 0xbd, // JLE
    0xc5, 0xcd, // JSLT
    0xd5, 0xdd, // JSLE
    0xe5, // may_goto
];

/// JMP32, RFC 9669 section 4.3: the 11 conditions with K and X, and JA (gotol, imm offset).
/// CALL and EXIT are "BPF_JMP only".
const SPEC_JMP32: &[u8] = &[
    0x06, // JA (gotol)
    0x16, 0x1e, // JEQ
    0x26, 0x2e, // JGT
    0x36, 0x3e, // JGE
    0x46, 0x4e, // JSET
    0x56, 0x5e, // JNE
    0x66, 0x6e, // JSGT
    0x76, 0x7e, // JSGE
    0xa6, 0xae, // JLT
    0xb6, 0xbe, // JLE
    0xc6, 0xce, // JSLT
    0xd6, 0xde, // JSLE
];

/// LDX, RFC 9669 sections 5.1-5.2: MEM at every size, MEMSX at B, H, W.
const SPEC_LDX: &[u8] = &[
    0x61, 0x69, 0x71, 0x79, // MEM W, H, B, DW
    0x81, 0x89, 0x91, // MEMSX W, H, B
];

/// ST, RFC 9669 section 5.1: MEM at every size.
const SPEC_ST: &[u8] = &[0x62, 0x6a, 0x72, 0x7a];

/// STX, RFC 9669 sections 5.1 and 5.3: MEM at every size, ATOMIC at W and DW. Beyond the RFC:
/// ATOMIC at B and H, valid only as load_acquire / store_release (kernel 6.15).
const SPEC_STX: &[u8] = &[
    0x63, 0x6b, 0x73, 0x7b, // MEM W, H, B, DW
    0xc3, 0xdb, // ATOMIC W, DW
    0xcb, 0xd3, // ATOMIC H, B (load_acquire / store_release only)
];

/// LD, RFC 9669 sections 5.4-5.5: IMM only at DW (the wide ld_imm64), legacy ABS and IND at
/// W, H, B.
const SPEC_LD: &[u8] = &[
    0x18, // IMM DW
    0x20, 0x28, 0x30, // ABS W, H, B
    0x40, 0x48, 0x50, // IND W, H, B
];

fn spec_opcodes() -> BTreeSet<u8> {
    let classes: [(&[u8], u8); 8] = [
        (SPEC_LD, 0),
        (SPEC_LDX, 1),
        (SPEC_ST, 2),
        (SPEC_STX, 3),
        (SPEC_ALU, 4),
        (SPEC_JMP, 5),
        (SPEC_JMP32, 6),
        (SPEC_ALU64, 7),
    ];
    let mut set = BTreeSet::new();
    for (list, class) in classes {
        for &op in list {
            assert_eq!(
                op & 0x07,
                class,
                "opcode {op:#04x} listed under the wrong class"
            );
            assert!(set.insert(op), "opcode {op:#04x} listed twice");
        }
    }
    set
}

/// The number of opcode bytes the ISA defines.
const SPEC_OPCODE_COUNT: usize = 129;

#[test]
fn spec_list_has_the_expected_size() {
    let per_class = [
        SPEC_LD.len(),
        SPEC_LDX.len(),
        SPEC_ST.len(),
        SPEC_STX.len(),
        SPEC_ALU.len(),
        SPEC_JMP.len(),
        SPEC_JMP32.len(),
        SPEC_ALU64.len(),
    ];
    assert_eq!(per_class, [7, 7, 4, 8, 27, 27, 23, 26]);
    assert_eq!(spec_opcodes().len(), SPEC_OPCODE_COUNT);
}

// ---------------------------------------------------------------------------------------------
// Checks shared by the properties.
// ---------------------------------------------------------------------------------------------

/// Decode `bytes` and check everything a total, strict decoder promises:
/// - no panic (a panic fails the test);
/// - `Ok(v)`: `encode(v) == bytes`, and `decode_at` at each instruction's slot agrees;
/// - `Err(e)`: `e.slot` lies inside the input, the message starts with `slot N: `, the slots
///   before it decode and re-encode on their own, and `decode_at(bytes, e.slot)` gives the same
///   error.
///
/// Returns whether the bytes decoded.
fn check_decode(bytes: &[u8]) -> bool {
    match decode(bytes) {
        Ok(v) => {
            assert_eq!(
                encode(&v),
                bytes,
                "accepted bytes must re-encode identically: {v:?}"
            );
            let mut slot = 0;
            for insn in &v {
                assert_eq!(
                    decode_at(bytes, slot).as_ref(),
                    Ok(insn),
                    "decode_at({slot})"
                );
                slot += insn.slots();
            }
            assert_eq!(slot * SLOT_SIZE, bytes.len());
            true
        }
        Err(e) => {
            check_error(bytes, &e);
            check_prefix(bytes, e.slot);
            assert_eq!(
                decode_at(bytes, e.slot),
                Err(e.clone()),
                "decode_at disagrees"
            );
            false
        }
    }
}

fn check_error(bytes: &[u8], e: &DecodeError) {
    assert!(
        e.slot * SLOT_SIZE < bytes.len(),
        "error slot {} outside an input of {} bytes: {e:?}",
        e.slot,
        bytes.len()
    );
    let msg = e.to_string();
    assert!(
        msg.starts_with(&format!("slot {}: ", e.slot)),
        "message {msg:?} does not name slot {}",
        e.slot
    );
}

/// The instructions before a failing slot decode on their own and re-encode to their bytes.
fn check_prefix(bytes: &[u8], slot: usize) {
    let prefix = &bytes[..slot * SLOT_SIZE];
    let v = decode(prefix).unwrap_or_else(|e| panic!("prefix before slot {slot} fails: {e}"));
    assert_eq!(encode(&v), prefix);
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        // Failure persistence files would land in the source tree; the seeds are printed on
        // failure anyway.
        failure_persistence: None,
        ..ProptestConfig::with_cases(cases)
    }
}

// ---------------------------------------------------------------------------------------------
// The generator itself.
// ---------------------------------------------------------------------------------------------

/// `any_insn` reaches every variant and exactly the opcode bytes the ISA defines: nothing
/// invalid (which would make the round trip vacuous or wrong), nothing missing.
#[test]
fn generator_covers_every_variant_and_exactly_the_spec_opcodes() {
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    );
    let strategy = any_insn();
    let mut variants = BTreeMap::new();
    let mut opcodes = BTreeSet::new();
    for _ in 0..20_000 {
        let insn = strategy.new_tree(&mut runner).unwrap().current();
        *variants.entry(arb::variant_name(&insn)).or_insert(0u32) += 1;
        opcodes.insert(insn.to_bytes()[0]);
    }
    for v in arb::VARIANTS {
        assert!(
            variants.contains_key(v),
            "variant {v} never generated: {variants:?}"
        );
    }
    let spec = spec_opcodes();
    let extra: Vec<String> = opcodes
        .difference(&spec)
        .map(|o| format!("{o:#04x}"))
        .collect();
    let missing: Vec<String> = spec
        .difference(&opcodes)
        .map(|o| format!("{o:#04x}"))
        .collect();
    assert!(
        extra.is_empty() && missing.is_empty(),
        "generated but not in the spec: {extra:?}; in the spec but never generated: {missing:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Round trips.
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(10_000))]

    /// One instruction: `decode(encode(i)) == [i]`, slot count and `fields` agree with the
    /// bytes.
    #[test]
    fn roundtrip_one(insn in any_insn()) {
        let bytes = insn.to_bytes();
        prop_assert_eq!(bytes.len(), insn.slots() * SLOT_SIZE);
        let (code, dst, src, off, imm) = insn.fields();
        prop_assert_eq!(bytes[0], code);
        prop_assert_eq!(bytes[1], src << 4 | dst);
        prop_assert_eq!(&bytes[2..4], &off.to_le_bytes()[..]);
        prop_assert_eq!(&bytes[4..8], &imm.to_le_bytes()[..]);
        prop_assert_eq!(decode(&bytes), Ok(vec![insn]));
        prop_assert_eq!(decode_at(&bytes, 0), Ok(insn));
    }
}

proptest! {
    #![proptest_config(config(3_000))]

    /// Vectors: `decode(encode(v)) == v`, and `decode_at` finds each instruction at its slot.
    #[test]
    fn roundtrip_vec(v in prop::collection::vec(any_insn(), 0..48)) {
        let bytes = encode(&v);
        prop_assert_eq!(bytes.len(), v.iter().map(Insn::slots).sum::<usize>() * SLOT_SIZE);
        prop_assert_eq!(decode(&bytes), Ok(v.clone()));
        prop_assert!(check_decode(&bytes));
    }
}

// ---------------------------------------------------------------------------------------------
// Totality and strictness on arbitrary bytes.
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(5_000))]

    /// Random bytes of random length, including lengths that are not a multiple of 8.
    #[test]
    fn decode_is_total_on_random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        check_decode(&bytes);
    }

    /// Valid programs with a few bytes overwritten and possibly cut short: the error, if
    /// any, can be deep in the input, and everything before it must still decode.
    #[test]
    fn decode_is_total_on_damaged_programs(
        v in prop::collection::vec(any_insn(), 1..40),
        damage in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        cut in any::<prop::sample::Index>(),
        do_cut in any::<bool>(),
    ) {
        let mut bytes = encode(&v);
        for (at, b) in damage {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        if do_cut {
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        check_decode(&bytes);
    }
}

/// Interesting values of the 32-bit immediate: zero, ±1, the END widths, the atomic
/// load-acquire / store-release selectors, the extremes.
const GRID_IMM: [i32; 11] = [
    0,
    1,
    -1,
    8,
    16,
    32,
    64,
    0x100,
    0x110,
    i16::MIN as i32,
    i32::MAX,
];

/// A slot whose opcode byte is any of the 256 values and whose other fields are random or
/// interesting, followed by an optional second slot (so `ld_imm64` gets exercised too).
fn one_slot() -> impl Strategy<Value = Vec<u8>> {
    // Each field is often zero or a value that selects something, so that the many opcodes
    // whose other fields must be zero, or must hold one of a few values, decode often enough
    // for a lenient check to be caught.
    let regs = prop_oneof![
        1 => Just(0u8),
        2 => (0u8..11).prop_map(|d| d),
        1 => (0u8..11).prop_map(|s| s << 4),
        2 => (0u8..11, 0u8..11).prop_map(|(d, s)| s << 4 | d),
        1 => any::<u8>(),
    ];
    let grid = prop::sample::select(GRID_IMM.to_vec());
    let off = prop_oneof![
        2 => Just(0i16),
        2 => grid.clone().prop_map(|i| i as i16),
        1 => any::<i16>(),
    ];
    let imm = prop_oneof![2 => Just(0i32), 2 => grid, 1 => any::<i32>()];
    let tail = prop_oneof![
        Just(Vec::new()),
        imm.clone()
            .prop_map(|i| [0, 0, 0, 0].into_iter().chain(i.to_le_bytes()).collect()),
        prop::collection::vec(any::<u8>(), 8),
        prop::collection::vec(any::<u8>(), 1..8),
    ];
    (any::<u8>(), regs, off, imm, tail).prop_map(|(code, regs, off, imm, tail)| {
        let mut b = vec![code, regs];
        b.extend(off.to_le_bytes());
        b.extend(imm.to_le_bytes());
        b.extend(tail);
        b
    })
}

proptest! {
    #![proptest_config(config(20_000))]

    /// Every opcode byte, with random or interesting fields.
    #[test]
    fn decode_is_total_on_every_opcode(bytes in one_slot()) {
        check_decode(&bytes);
        // The first instruction alone, whatever follows.
        match decode_at(&bytes, 0) {
            Ok(insn) => prop_assert_eq!(&insn.to_bytes()[..], &bytes[..insn.slots() * SLOT_SIZE]),
            Err(e) => {
                prop_assert_eq!(e.slot, 0);
                check_error(&bytes, &e);
            }
        }
    }
}

/// Exhaustive over the opcode byte and the register byte, with the interesting `off` and `imm`
/// values: nothing panics, everything accepted re-encodes to the same bytes, and the opcode
/// bytes that ever decode are exactly the ones the ISA defines.
#[test]
fn exhaustive_opcode_grid_decodes_exactly_the_spec_opcodes() {
    let offs: BTreeSet<i16> = GRID_IMM.iter().map(|&i| i as i16).collect();
    let mut accepted: BTreeMap<u8, u64> = BTreeMap::new();
    let mut decoded = 0u64;
    let mut total = 0u64;
    // A second slot that is a valid ld_imm64 tail, so 0x18 can decode.
    let mut buf = [0u8; 16];
    for code in 0..=255u8 {
        for regs in 0..=255u8 {
            for &off in &offs {
                for &imm in &GRID_IMM {
                    buf[0] = code;
                    buf[1] = regs;
                    buf[2..4].copy_from_slice(&off.to_le_bytes());
                    buf[4..8].copy_from_slice(&imm.to_le_bytes());
                    buf[12..16].copy_from_slice(&imm.to_le_bytes());
                    total += 1;
                    match decode_at(&buf, 0) {
                        Ok(insn) => {
                            let n = insn.slots() * SLOT_SIZE;
                            assert_eq!(
                                insn.to_bytes(),
                                &buf[..n],
                                "{insn:?} does not re-encode to its bytes"
                            );
                            if insn.slots() == 2 {
                                // And not with one slot only.
                                assert_eq!(
                                    decode(&buf[..8]).unwrap_err().reason,
                                    DecodeReason::TruncatedLdImm64
                                );
                            } else {
                                assert_eq!(decode(&buf[..8]), Ok(vec![insn]));
                            }
                            *accepted.entry(code).or_insert(0) += 1;
                            decoded += 1;
                        }
                        Err(e) => {
                            assert_eq!(e.slot, 0);
                            assert_eq!(decode(&buf[..8]).unwrap_err().slot, 0);
                        }
                    }
                }
            }
        }
    }
    let got: BTreeSet<u8> = accepted.keys().copied().collect();
    let spec = spec_opcodes();
    let extra: Vec<String> = got.difference(&spec).map(|o| format!("{o:#04x}")).collect();
    let missing: Vec<String> = spec.difference(&got).map(|o| format!("{o:#04x}")).collect();
    eprintln!(
        "exhaustive grid: {total} slots, {decoded} decode, {} opcode bytes decode (spec: {})",
        got.len(),
        spec.len()
    );
    assert!(
        extra.is_empty() && missing.is_empty(),
        "decode accepts opcodes the ISA does not define: {extra:?}; rejects defined ones: {missing:?}"
    );
    assert_eq!(got.len(), SPEC_OPCODE_COUNT);
}

/// `decode_at` is total in its slot argument too: a slot at or past the end of the input is an
/// error naming that slot, never a panic, even where `slot * 8` overflows.
#[test]
fn decode_at_is_total_for_any_slot() {
    let bytes = encode(&[Insn::Exit, Insn::Exit]);
    let huge = [
        2,
        3,
        usize::MAX / SLOT_SIZE - 1,
        usize::MAX / SLOT_SIZE,
        usize::MAX / SLOT_SIZE + 1,
        usize::MAX / 2,
        usize::MAX - 1,
        usize::MAX,
    ];
    for slot in huge {
        for input in [&bytes[..], &bytes[..12], &[][..]] {
            let e = decode_at(input, slot).unwrap_err();
            assert_eq!(e.slot, slot);
            assert!(e.to_string().starts_with(&format!("slot {slot}: ")));
        }
    }
    assert_eq!(decode_at(&bytes, 1), Ok(Insn::Exit));
}

proptest! {
    #![proptest_config(config(2_000))]

    /// `decode_at` at any slot of any bytes: no panic, and an `Ok` re-encodes to the bytes at
    /// that slot.
    #[test]
    fn decode_at_is_total_on_random_input(
        bytes in prop::collection::vec(any::<u8>(), 0..64),
        slot in prop_oneof![0usize..10, any::<usize>()],
    ) {
        match decode_at(&bytes, slot) {
            Ok(insn) => {
                let start = slot * SLOT_SIZE;
                prop_assert_eq!(&insn.to_bytes()[..], &bytes[start..start + insn.slots() * SLOT_SIZE]);
            }
            Err(e) => prop_assert_eq!(e.slot, slot),
        }
    }
}
