//! Programs built with the DSL, loaded and run in the kernel: push, pop and peek on queue and
//! stack maps, the verifier-log policy, bpf-to-bpf calls across sections, and BTF func/line
//! info. Needs root or CAP_BPF (see tests/common/kernel.rs).
#![cfg(bpfsmith_kernel)]

#[macro_use]
#[path = "common/kernel.rs"]
mod kernel;

use bpfsmith::insn::{Callee, Pseudo};
use bpfsmith::load::{
    log_level, BtfSource, LoadError, LoadOptions, LoadedObject, MapError, RelocationProblem,
    TestRun,
};
use bpfsmith::object::btf::{FuncInfo, LineInfo, MapBtf, ObjectBtf, ProgBtfInfo};
use bpfsmith::prelude::*;
use bpfsmith::program::{ProgType, Reloc, RelocKind};
use bpfsmith::sys::{self, MapCreate};

/// A packet long enough for socket filters and XDP (an Ethernet header is 14 bytes).
const PACKET: [u8; 64] = [0; 64];

fn run(loaded: &LoadedObject, program: &str) -> u32 {
    loaded
        .program(program)
        .unwrap_or_else(|e| panic!("{e}"))
        .test_run(&TestRun {
            data: &PACKET,
            ..Default::default()
        })
        .unwrap()
        .retval
}

fn errno_retval(errno: i32) -> u32 {
    (-errno) as u32
}

/// `*(u32 *)(r10 - 4) = value; r0 = bpf_map_push_elem(map, r10 - 4, flags); exit`
fn push_const(name: &str, section: Section, map: &MapRef, value: i32, flags: PushFlags) -> Program {
    let mut p = ProgramBuilder::new(name, section);
    let v = p.reserve::<u32>();
    p.store(Size::U32, R10, v.off, value);
    p.push(map, v, flags);
    p.exit();
    p.finish().unwrap()
}

/// Push 10, 20, 30; r0 = the last push's result.
fn push_three(name: &str, map: &MapRef) -> Program {
    let mut p = ProgramBuilder::new(name, Section::SOCKET);
    let v = p.reserve::<u32>();
    for value in [10, 20, 30] {
        p.store(Size::U32, R10, v.off, value);
        p.push(map, v, PushFlags::ANY);
    }
    p.exit();
    p.finish().unwrap()
}

/// Pop (or peek): r0 = the value, or the helper's negative errno.
fn take(name: &str, section: Section, map: &MapRef, pop: bool) -> Program {
    let mut p = ProgramBuilder::new(name, section);
    let v = p.reserve::<u32>();
    let failed = p.label("failed");
    if pop {
        p.pop(map, v);
    } else {
        p.peek(map, v);
    }
    p.jump_if(R0, Cond::Ne, 0, failed);
    p.load(Size::U32, R0, R10, v.off);
    p.exit();
    p.bind(failed).exit();
    p.finish().unwrap()
}

/// Fill the buffer with 0x5a5a5a5a, pop (or peek) an empty map, and return what the buffer
/// holds afterwards; 0xbad when the helper did not fail with -ENOENT.
fn take_into_filled_buffer(name: &str, map: &MapRef, pop: bool) -> Program {
    let mut p = ProgramBuilder::new(name, Section::SOCKET);
    let v = p.reserve::<u32>();
    let unexpected = p.label("unexpected");
    p.store(Size::U32, R10, v.off, 0x5a5a_5a5a);
    if pop {
        p.pop(map, v);
    } else {
        p.peek(map, v);
    }
    // The low 32 bits: before Linux 6.4 the JIT hands the error back zero-extended.
    p.jump_if(W0, Cond::Ne, -libc::ENOENT, unexpected);
    p.load(Size::U32, R0, R10, v.off);
    p.exit();
    p.bind(unexpected).mov(R0, 0xbad).exit();
    p.finish().unwrap()
}

/// An object with one 3-entry map of `map_type` called `values` and programs on it.
fn queue_stack_object(map_type: MapType) -> Object {
    let mut obj = Object::new("GPL");
    let def = match map_type {
        MapType::Queue => MapDef::queue::<u32>(3),
        _ => MapDef::stack::<u32>(3),
    };
    let m = obj.map("values", def).unwrap();
    for p in [
        push_three("push_three", &m),
        push_const("push40_exist", Section::SOCKET, &m, 40, PushFlags::EXIST),
        push_const("push50_any", Section::SOCKET, &m, 50, PushFlags::ANY),
        push_const("push99_xdp", Section::XDP, &m, 99, PushFlags::ANY),
        take("pop_one", Section::SOCKET, &m, true),
        take("peek_one", Section::SOCKET, &m, false),
        take("pop_xdp", Section::XDP, &m, true),
        take_into_filled_buffer("pop_zeroes", &m, true),
        take_into_filled_buffer("peek_zeroes", &m, false),
    ] {
        obj.add_program(p).unwrap();
    }
    obj
}

fn helpers_in_programs(map_type: MapType) {
    let obj = queue_stack_object(map_type);
    let loaded = obj.load().unwrap();
    let is_queue = map_type == MapType::Queue;
    assert_eq!(loaded.programs().len(), 9);
    assert!(loaded.programs().iter().all(|p| p.log().is_none()));

    // push 10, 20, 30 in the program; peek and pop in the program.
    assert_eq!(run(&loaded, "push_three"), 0);
    assert_eq!(run(&loaded, "peek_one"), if is_queue { 10 } else { 30 });
    assert_eq!(run(&loaded, "peek_one"), if is_queue { 10 } else { 30 });
    // Full: -E2BIG without BPF_EXIST, as r0 (the retval is r0's low 32 bits).
    assert_eq!(run(&loaded, "push50_any"), errno_retval(libc::E2BIG));
    assert_eq!(errno_retval(libc::E2BIG), (-7i32) as u32);
    // BPF_EXIST on a full map drops the oldest element: 10, for the queue and the stack.
    assert_eq!(run(&loaded, "push40_exist"), 0);
    let contents = if is_queue {
        loaded.queue::<u32>("values").unwrap().drain().unwrap()
    } else {
        loaded.stack::<u32>("values").unwrap().drain().unwrap()
    };
    assert_eq!(
        contents,
        if is_queue {
            vec![20, 30, 40]
        } else {
            vec![40, 30, 20]
        }
    );

    // Empty: -ENOENT, and the kernel zeroes the value buffer (queue_stack_maps.c memsets it
    // on the empty path; the helper's buffer is MEM_UNINIT, written on every path).
    assert_eq!(run(&loaded, "pop_one"), errno_retval(libc::ENOENT));
    assert_eq!(run(&loaded, "peek_one"), errno_retval(libc::ENOENT));
    assert_eq!(run(&loaded, "pop_zeroes"), 0);
    assert_eq!(run(&loaded, "peek_zeroes"), 0);

    // User space pushes, the programs pop (socket filter and XDP alike).
    let push = |v: u32| {
        if is_queue {
            loaded
                .queue::<u32>("values")
                .unwrap()
                .push(v, PushFlags::ANY)
        } else {
            loaded
                .stack::<u32>("values")
                .unwrap()
                .push(v, PushFlags::ANY)
        }
    };
    push(7).unwrap();
    push(8).unwrap();
    assert_eq!(run(&loaded, "pop_one"), if is_queue { 7 } else { 8 });
    assert_eq!(run(&loaded, "pop_xdp"), if is_queue { 8 } else { 7 });
    // The program pushes, user space pops and peeks.
    push(1).unwrap();
    assert_eq!(run(&loaded, "push99_xdp"), 0);
    let peek = || {
        if is_queue {
            loaded.queue::<u32>("values").unwrap().peek()
        } else {
            loaded.stack::<u32>("values").unwrap().peek()
        }
    };
    let pop = || {
        if is_queue {
            loaded.queue::<u32>("values").unwrap().pop()
        } else {
            loaded.stack::<u32>("values").unwrap().pop()
        }
    };
    assert_eq!(peek(), Ok(if is_queue { 1 } else { 99 }));
    assert_eq!(pop(), Ok(if is_queue { 1 } else { 99 }));
    assert_eq!(pop(), Ok(if is_queue { 99 } else { 1 }));
    assert_eq!(pop(), Err(MapError::Empty));
}

#[test]
fn queue_helpers_in_programs() {
    require_kernel!("queue_helpers_in_programs");
    helpers_in_programs(MapType::Queue);
}

#[test]
fn stack_helpers_in_programs() {
    require_kernel!("stack_helpers_in_programs");
    helpers_in_programs(MapType::Stack);
}

#[test]
fn the_design_example_pushes_and_pops_1234() {
    require_kernel!("the_design_example_pushes_and_pops_1234");
    let mut obj = Object::new("GPL");
    let queue = obj.map("queue", MapDef::queue::<u32>(10)).unwrap();
    let mut p = ProgramBuilder::new("push_pop", Section::SOCKET);
    let value = p.reserve::<u32>();
    p.store(Size::U32, R10, value.off, 1234);
    p.push(&queue, value, PushFlags::ANY);
    let empty = p.label("empty");
    p.pop(&queue, value);
    p.jump_if(R0, Cond::Ne, 0, empty);
    p.load(Size::U32, R0, R10, value.off);
    p.exit();
    p.bind(empty).mov(R0, 1).exit();
    obj.add_program(p.finish().unwrap()).unwrap();
    let loaded = obj.load().unwrap();
    let prog = loaded.program("push_pop").unwrap();
    // The loaded copy has the map fd patched in; the object's program is unchanged.
    let fd = loaded.map("queue").unwrap().fd();
    use std::os::fd::AsRawFd;
    assert!(prog.insns().iter().any(|i| matches!(
        i,
        Insn::LdImm64 { pseudo: Pseudo::MapFd, imm, .. } if *imm == i64::from(fd.as_raw_fd())
    )));
    assert!(obj.programs[0].insns.iter().all(|i| !matches!(
        i,
        Insn::LdImm64 {
            pseudo: Pseudo::MapFd,
            ..
        }
    )));
    let r = prog
        .test_run(&TestRun {
            data: &PACKET,
            data_out_size: 128,
            repeat: 3,
            ..Default::default()
        })
        .unwrap();
    // Three runs: each pushes then pops its own value.
    assert_eq!(r.retval, 1234);
    assert_eq!(r.data_out, PACKET.to_vec());
    assert!(loaded
        .queue::<u32>("queue")
        .unwrap()
        .drain()
        .unwrap()
        .is_empty());
    let info = prog.info().unwrap();
    assert_eq!(info.name, "push_pop");
    assert_eq!(info.prog_type, ProgType::SocketFilter as u32);
    assert_eq!(info.nr_map_ids, 1);
}

#[test]
fn test_run_reports_a_too_small_output_buffer() {
    require_kernel!("test_run_reports_a_too_small_output_buffer");
    let mut obj = Object::new("GPL");
    let mut p = ProgramBuilder::new("ret7", Section::SOCKET);
    p.mov(R0, 7).exit();
    obj.add_program(p.finish().unwrap()).unwrap();
    let loaded = obj.load().unwrap();
    let prog = loaded.program("ret7").unwrap();
    let e = prog
        .test_run(&TestRun {
            data: &PACKET,
            data_out_size: 10,
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(e.errno, libc::ENOSPC);
    assert_eq!(e.cmd, sys::Cmd::ProgTestRun);
    // Too short a packet for a socket filter.
    let e = prog
        .test_run(&TestRun {
            data: &PACKET[..13],
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(e.errno, libc::EINVAL);
}

// ---- the verifier-log policy ----

/// `r1 = 0; ... r1 = n-1; exit` with r0 never set: the verifier refuses "R0 !read_ok" after
/// walking every instruction.
fn r0_unset(n: i32) -> Object {
    let mut obj = Object::new("GPL");
    let mut p = ProgramBuilder::new("r0_unset", Section::SOCKET);
    for i in 0..n {
        p.mov(R1, i);
    }
    p.exit();
    obj.add_program(p.finish().unwrap()).unwrap();
    obj
}

#[test]
fn a_refused_program_carries_the_level_1_log() {
    require_kernel!("a_refused_program_carries_the_level_1_log");
    let err = r0_unset(3).load().unwrap_err();
    let LoadError::Verifier {
        program,
        errno,
        log,
        ..
    } = &err
    else {
        panic!("expected a verifier error, got {err}");
    };
    assert_eq!(program, "r0_unset");
    assert_eq!(*errno, libc::EACCES);
    assert!(log.contains("R0 !read_ok"), "{log}");
    assert!(log.contains("processed"), "{log}");
    let shown = err.to_string();
    assert!(
        shown.contains("the verifier refused program `r0_unset` (EACCES)"),
        "{shown}"
    );
    assert!(shown.contains("R0 !read_ok"), "{shown}");
    assert_eq!(err.log(), Some(log.as_str()));
}

#[test]
fn a_log_that_does_not_fit_grows_to_the_true_size() {
    require_kernel!("a_log_that_does_not_fit_grows_to_the_true_size");
    // A refused program with a long failing path and the smallest buffer the kernel takes.
    let err = r0_unset(200)
        .load_with(&LoadOptions {
            log_size: 128,
            ..Default::default()
        })
        .unwrap_err();
    let log = err.log().unwrap();
    assert!(log.len() > 128 * 10, "{} bytes", log.len());
    // Both ends are there: the log rotates to keep its tail, so a head proves the growth.
    assert!(log.contains("0: (b7) r1 = 0"), "{log}");
    assert!(log.contains("R0 !read_ok"), "{log}");
    assert_eq!(err.errno(), Some(libc::EACCES));
}

fn ret_42() -> Object {
    let mut obj = Object::new("GPL");
    let mut p = ProgramBuilder::new("ret42", Section::SOCKET);
    for _ in 0..50 {
        p.mov(R1, 1);
    }
    p.mov(R0, 42).exit();
    obj.add_program(p.finish().unwrap()).unwrap();
    obj
}

#[test]
fn level_2_keeps_the_log_of_an_accepted_program_even_when_it_must_grow() {
    require_kernel!("level_2_keeps_the_log_of_an_accepted_program_even_when_it_must_grow");
    // Level 1 alone: an accepted program keeps no log.
    let loaded = ret_42()
        .load_with(&LoadOptions {
            log_level: log_level::FAILING_PATH,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(loaded.program("ret42").unwrap().log(), None);
    // Level 2, with a buffer far too small: ENOSPC for a valid program, grown, retried.
    let loaded = ret_42()
        .load_with(&LoadOptions {
            log_level: log_level::EVERY_INSN,
            log_size: 128,
            ..Default::default()
        })
        .unwrap();
    let prog = loaded.program("ret42").unwrap();
    let log = prog.log().unwrap();
    assert!(log.contains("0: (b7) r1 = 1"), "{log}");
    assert!(log.contains("50: (b7) r0 = 42"), "{log}");
    assert!(log.contains("processed 52 insns"), "{log}");
    assert_eq!(run(&loaded, "ret42"), 42);
    assert_eq!(prog.info().unwrap().verified_insns, 52);
    // Stats only.
    let loaded = ret_42()
        .load_with(&LoadOptions {
            log_level: log_level::STATS,
            ..Default::default()
        })
        .unwrap();
    let log = loaded.program("ret42").unwrap().log().unwrap();
    assert!(log.contains("processed 52 insns"), "{log}");
    assert!(!log.contains("r0 = 42"), "{log}");
}

#[test]
fn program_and_section_errors() {
    require_kernel!("program_and_section_errors");
    let mut obj = Object::new("GPL");
    let mut p = ProgramBuilder::new("odd", Section::new("not_a_section"));
    p.mov(R0, 0).exit();
    obj.add_program(p.finish().unwrap()).unwrap();
    assert!(matches!(
        obj.load(),
        Err(LoadError::UnknownSection { program, section }) if program == "odd" && section == "not_a_section"
    ));
    // A program name longer than the kernel's 15 bytes is truncated, not refused.
    let mut obj = Object::new("GPL");
    let mut p = ProgramBuilder::new("a_very_long_program_name", Section::SOCKET);
    p.mov(R0, 0).exit();
    obj.add_program(p.finish().unwrap()).unwrap();
    let loaded = obj.load().unwrap();
    let prog = loaded.program("a_very_long_program_name").unwrap();
    assert_eq!(prog.info().unwrap().name, "a_very_long_pro");
}

// ---- bpf-to-bpf calls across sections ----

/// A `.text` program holding `twice(x) = x + x` and a socket program calling it through a
/// function relocation (as an ELF reader produces from `R_BPF_64_32`).
fn caller_and_text(callee_symbol: &str) -> Object {
    let mut obj = Object::new("GPL");
    let mut caller = ProgramBuilder::new("caller", Section::SOCKET);
    caller.mov(R1, 21);
    caller.emit(Insn::Call(Callee::Local(-1)));
    caller.exit();
    let mut caller = caller.finish().unwrap();
    caller.relocs.push(Reloc {
        insn: 1,
        symbol: callee_symbol.to_owned(),
        kind: RelocKind::Function,
    });
    let mut text = ProgramBuilder::new("twice", Section::TEXT);
    text.mov(R0, R1).add(R0, R1).exit();
    obj.add_program(caller).unwrap();
    obj.add_program(text.finish().unwrap()).unwrap();
    obj
}

#[test]
fn function_relocations_append_the_callee() {
    require_kernel!("function_relocations_append_the_callee");
    let loaded = caller_and_text("twice").load().unwrap();
    // `.text` is not a program of its own.
    assert_eq!(loaded.programs().len(), 1);
    let prog = loaded.program("caller").unwrap();
    assert_eq!(prog.insns().len(), 6);
    assert_eq!(prog.insns()[1], Insn::Call(Callee::Local(1)));
    assert_eq!(run(&loaded, "caller"), 42);

    // Without BTF the loader's own relocation check speaks (with BTF, the encoder refuses the
    // same relocation first).
    let err = caller_and_text("nowhere")
        .load_with(&LoadOptions {
            btf: BtfSource::Without,
            ..Default::default()
        })
        .unwrap_err();
    assert!(
        matches!(&err, LoadError::Relocation { program, insn: 1, reason: RelocationProblem::UnknownFunction(f) } if program == "caller" && f == "nowhere"),
        "{err}"
    );
}

// ---- BTF ----

/// A hand-made BTF blob: header, types, strings.
#[derive(Default)]
struct Btf {
    types: Vec<u8>,
    strings: Vec<u8>,
    next_id: u32,
}

const BTF_KIND_INT: u32 = 1;
const BTF_KIND_FUNC: u32 = 12;
const BTF_KIND_FUNC_PROTO: u32 = 13;

impl Btf {
    fn new() -> Btf {
        Btf {
            strings: vec![0],
            next_id: 1,
            ..Default::default()
        }
    }

    fn str(&mut self, s: &str) -> u32 {
        let off = self.strings.len() as u32;
        self.strings.extend_from_slice(s.as_bytes());
        self.strings.push(0);
        off
    }

    /// `struct btf_type`: name, info (kind << 24 | vlen), size or type; returns the new id.
    fn ty(&mut self, name: &str, kind: u32, vlen: u32, size_or_type: u32) -> u32 {
        let name_off = if name.is_empty() { 0 } else { self.str(name) };
        for w in [name_off, kind << 24 | vlen, size_or_type] {
            self.types.extend_from_slice(&w.to_ne_bytes());
        }
        self.next_id += 1;
        self.next_id - 1
    }

    /// A signed 32-bit `int`.
    fn int(&mut self) -> u32 {
        let id = self.ty("int", BTF_KIND_INT, 0, 4);
        // encoding SIGNED (1) << 24 | offset 0 << 16 | 32 bits
        self.types
            .extend_from_slice(&(1u32 << 24 | 32).to_ne_bytes());
        id
    }

    /// `int name(void)` with static linkage: a FUNC_PROTO and a FUNC; returns the FUNC's id.
    fn func(&mut self, name: &str, ret: u32) -> u32 {
        let proto = self.ty("", BTF_KIND_FUNC_PROTO, 0, ret);
        self.ty(name, BTF_KIND_FUNC, 0, proto)
    }

    fn blob(&self) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&0xeb9fu16.to_ne_bytes()); // magic
        b.push(1); // version
        b.push(0); // flags
        let words = [
            24,                        // hdr_len
            0,                         // type_off
            self.types.len() as u32,   // type_len
            self.types.len() as u32,   // str_off
            self.strings.len() as u32, // str_len
        ];
        for w in words {
            b.extend_from_slice(&u32::to_ne_bytes(w));
        }
        b.extend_from_slice(&self.types);
        b.extend_from_slice(&self.strings);
        b
    }
}

#[test]
fn btf_func_and_line_info_reach_the_kernel() {
    require_kernel!("btf_func_and_line_info_reach_the_kernel");
    let mut btf = Btf::new();
    let int = btf.int();
    let func = btf.func("answer", int);
    let file = btf.str("t.rs");
    let line1 = btf.str("let x = 42;");
    let line2 = btf.str("return x;");

    let mut obj = Object::new("GPL");
    let mut p = ProgramBuilder::new("answer", Section::SOCKET);
    p.mov(R0, 42).exit();
    obj.add_program(p.finish().unwrap()).unwrap();
    let info = ObjectBtf {
        btf: btf.blob(),
        programs: vec![ProgBtfInfo {
            func_info: vec![FuncInfo {
                insn_off: 0,
                type_id: func,
            }],
            line_info: vec![
                LineInfo {
                    insn_off: 0,
                    file_name_off: file,
                    line_off: line1,
                    line_col: LineInfo::pack(1, 5),
                },
                LineInfo {
                    insn_off: 1,
                    file_name_off: file,
                    line_off: line2,
                    line_col: LineInfo::pack(2, 5),
                },
            ],
        }],
        maps: vec![],
    };
    let loaded = obj
        .load_with(&LoadOptions {
            btf: BtfSource::Given(info),
            log_level: log_level::EVERY_INSN,
            ..Default::default()
        })
        .unwrap();
    assert!(loaded.btf_fd().is_some());
    let prog = loaded.program("answer").unwrap();
    let log = prog.log().unwrap();
    // The verifier prints the line text above the instructions it covers.
    assert!(log.contains("; let x = 42; @ t.rs:1"), "{log}");
    assert!(log.contains("; return x; @ t.rs:2"), "{log}");
    let pinfo = prog.info().unwrap();
    assert_ne!(pinfo.btf_id, 0);
    assert_eq!(pinfo.nr_func_info, 1);
    assert_eq!(pinfo.nr_line_info, 2);
    assert_eq!(run(&loaded, "answer"), 42);
}

#[test]
fn btf_records_of_appended_callees_are_shifted() {
    require_kernel!("btf_records_of_appended_callees_are_shifted");
    let mut btf = Btf::new();
    let int = btf.int();
    let caller = btf.func("caller", int);
    let twice = btf.func("twice", int);
    let file = btf.str("calls.rs");
    let text = btf.str("...");
    let rec = |insn_off, type_id| FuncInfo { insn_off, type_id };
    let info = ObjectBtf {
        btf: btf.blob(),
        programs: vec![
            ProgBtfInfo {
                func_info: vec![rec(0, caller)],
                line_info: vec![LineInfo {
                    insn_off: 0,
                    file_name_off: file,
                    line_off: text,
                    line_col: LineInfo::pack(10, 1),
                }],
            },
            ProgBtfInfo {
                func_info: vec![rec(0, twice)],
                line_info: vec![LineInfo {
                    insn_off: 0,
                    file_name_off: file,
                    line_off: text,
                    line_col: LineInfo::pack(20, 1),
                }],
            },
        ],
        maps: vec![],
    };
    // The kernel checks that func_info has one record per subprogram, at its first slot:
    // `twice` lands at slot 3.
    let loaded = caller_and_text("twice")
        .load_with(&LoadOptions {
            btf: BtfSource::Given(info),
            ..Default::default()
        })
        .unwrap();
    let prog = loaded.program("caller").unwrap();
    let pinfo = prog.info().unwrap();
    assert_eq!(pinfo.nr_func_info, 2);
    assert_eq!(pinfo.nr_line_info, 2);
    assert_eq!(run(&loaded, "caller"), 42);
}

#[test]
fn broken_btf_is_refused_with_its_log() {
    require_kernel!("broken_btf_is_refused_with_its_log");
    let mut blob = Btf::new().blob();
    blob[0] = 0; // magic
    let err = ret_42()
        .load_with(&LoadOptions {
            btf: BtfSource::Given(ObjectBtf {
                btf: blob,
                ..Default::default()
            }),
            ..Default::default()
        })
        .unwrap_err();
    let LoadError::Btf { errno, log } = &err else {
        panic!("expected a BTF error, got {err}");
    };
    assert_eq!(*errno, libc::EINVAL);
    assert!(log.to_lowercase().contains("magic"), "{log}");
}

#[test]
fn map_btf_ids_are_passed_except_for_queue_and_stack() {
    require_kernel!("map_btf_ids_are_passed_except_for_queue_and_stack");
    let mut btf = Btf::new();
    let int = btf.int();
    let blob = btf.blob();

    // The kernel refuses BTF ids on a queue: no key type, and no map-type BTF check.
    let fd = sys::btf_load(&blob, None).result.unwrap();
    use std::os::fd::AsFd;
    let err = sys::map_create(&MapCreate {
        map_type: MapType::Queue as u32,
        value_size: 4,
        max_entries: 4,
        name: "q_btf",
        btf: Some((fd.as_fd(), 0, int)),
        ..Default::default()
    })
    .unwrap_err();
    assert_eq!(err.errno, libc::EINVAL);

    // The loader passes them for an array and leaves them out for the queue.
    let mut obj = Object::new("GPL");
    obj.map("counts", MapDef::array::<i32>(4)).unwrap();
    obj.map("events", MapDef::queue::<i32>(4)).unwrap();
    let loaded = obj
        .load_with(&LoadOptions {
            btf: BtfSource::Given(ObjectBtf {
                btf: blob,
                programs: vec![],
                maps: vec![
                    MapBtf {
                        var_type_id: 0,
                        key_type_id: int,
                        value_type_id: int,
                    },
                    MapBtf {
                        var_type_id: 0,
                        key_type_id: 0,
                        value_type_id: int,
                    },
                ],
            }),
            ..Default::default()
        })
        .unwrap();
    assert_ne!(loaded.map("counts").unwrap().info().unwrap().btf_id, 0);
    assert_eq!(loaded.map("events").unwrap().info().unwrap().btf_id, 0);
}

#[test]
fn test_run_passes_the_context_in_and_out() {
    require_kernel!("test_run_passes_the_context_in_and_out");
    // r0 = skb->mark (struct __sk_buff: len, pkt_type, mark at offset 8 ...).
    let mut obj = Object::new("GPL");
    let mut p = ProgramBuilder::new("mark", Section::SOCKET);
    p.load(Size::U32, R0, R1, 8).exit();
    obj.add_program(p.finish().unwrap()).unwrap();
    let loaded = obj.load().unwrap();
    let mut ctx = [0u8; 24];
    ctx[8..12].copy_from_slice(&77u32.to_ne_bytes());
    let r = loaded
        .program("mark")
        .unwrap()
        .test_run(&TestRun {
            data: &PACKET,
            ctx: Some(&ctx),
            // The kernel copies its whole struct __sk_buff back (ENOSPC when it does not fit).
            ctx_out_size: 1024,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(r.retval, 77);
    // ctx_out is cut to the size the kernel reports.
    assert!(
        r.ctx_out.len() > 24 && r.ctx_out.len() < 1024,
        "{}",
        r.ctx_out.len()
    );
    assert_eq!(&r.ctx_out[8..12], &77u32.to_ne_bytes());
}
