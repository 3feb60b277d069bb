//! `bpf_trace_printk` (helper 6) in the VM against the kernel: for each format and arguments,
//! the same return value and the same message in the run's `trace` (the kernel's read back
//! from a trace instance of the run's own). Formats the kernel refuses (`-EINVAL`) are here
//! too, and so are a message longer than the kernel's 1024-byte buffer and strings that share
//! its 512-byte argument buffer.
#![cfg(bpfsmith_kernel)]

#[macro_use]
#[path = "common/kernel.rs"]
mod kernel;

use std::fmt::Write;

use bpfsmith::load::BtfSource;
use bpfsmith::run::{RunReport, RunRequest};

/// An argument of the call: a number in the register, or a pointer to bytes on the stack.
#[derive(Clone)]
enum Arg {
    Val(i64),
    Bytes(Vec<u8>),
    /// The same pointer as argument k (which is `Bytes`).
    Same(usize),
}

use Arg::{Bytes, Same, Val};

fn s(text: &str) -> Arg {
    let mut b = text.as_bytes().to_vec();
    b.push(0);
    Bytes(b)
}

/// Where the format is written on the stack, and where the arguments' bytes.
const FMT_AT: i64 = -512;
const ARGS_AT: i64 = -256;

/// Store `bytes` at `r10 + at` eight at a time (zero-padded), as assembly lines.
fn store(out: &mut String, bytes: &[u8], at: i64) {
    for (k, chunk) in bytes.chunks(8).enumerate() {
        let mut w = [0u8; 8];
        w[..chunk.len()].copy_from_slice(chunk);
        let _ = writeln!(out, "\tr1 = {:#x} ll", u64::from_le_bytes(w));
        let _ = writeln!(out, "\t*(u64 *)(r10 {}) = r1", at + 8 * k as i64);
    }
}

/// A socket filter that calls `bpf_trace_printk(fmt, size, args...)` and returns its result.
fn program(fmt: &[u8], size: u32, args: &[Arg]) -> String {
    let mut src = String::from(".license \"GPL\"\n.section socket\n.globl p\np:\n");
    let mut padded = fmt.to_vec();
    padded.resize((size as usize).max(fmt.len()).div_ceil(8) * 8, 0);
    store(&mut src, &padded, FMT_AT);
    let mut at = ARGS_AT;
    let mut regs: Vec<String> = Vec::new();
    for a in args {
        match a {
            Val(v) => regs.push(format!("{v:#x} ll")),
            Bytes(b) => {
                store(&mut src, b, at);
                regs.push(format!("r10\n\tr{{R}} += {at}"));
                at += (b.len().div_ceil(8) * 8) as i64;
            }
            Same(k) => regs.push(regs[*k].clone()),
        }
    }
    assert!(at <= 0, "the arguments' bytes do not fit below the format");
    for (k, r) in regs.iter().enumerate() {
        let reg = k + 3;
        let r = r.replace("{R}", &reg.to_string());
        let _ = writeln!(src, "\tr{reg} = {r}");
    }
    let _ = writeln!(src, "\tr1 = r10\n\tr1 += {FMT_AT}\n\tr2 = {size}");
    src.push_str("\tcall bpf_trace_printk\n\texit\n");
    src
}

fn both(fmt: &[u8], size: u32, args: &[Arg]) -> (RunReport, RunReport) {
    let src = program(fmt, size, args);
    let obj = bpfsmith::text::assemble("printk.s", &src).unwrap_or_else(|e| panic!("{e}\n{src}"));
    let req = RunRequest::default();
    let vm = bpfsmith::vm::run(&obj, &req).unwrap_or_else(|e| panic!("VM: {e}\n{src}"));
    let kernel = bpfsmith::load::run::run(&obj, BtfSource::FromObject, &req)
        .unwrap_or_else(|e| panic!("kernel: {e}\n{src}"));
    (vm, kernel)
}

/// The cases: (what it shows, format with its NUL unless said, fmt_size, arguments).
fn cases() -> Vec<(&'static str, Vec<u8>, u32, Vec<Arg>)> {
    let c = |f: &str| {
        let mut b = f.as_bytes().to_vec();
        b.push(0);
        b
    };
    let size = |f: &str| f.len() as u32 + 1;
    let long = "x".repeat(250);
    let mut v = vec![
        ("int", c("n= %d\n"), size("n= %d\n"), vec![Val(-42)]),
        (
            "int sizes",
            c("%u %x %X\n"),
            size("%u %x %X\n"),
            vec![Val(-1), Val(255), Val(0xabcdef)],
        ),
        (
            "int of a 64-bit value",
            c("%d %u"),
            size("%d %u"),
            vec![Val(0x1_0000_0005), Val(-7)],
        ),
        (
            "long",
            c("%ld %lu %lx\n"),
            size("%ld %lu %lx\n"),
            vec![Val(-1), Val(-1), Val(0x1234_5678_9abc)],
        ),
        (
            "long long",
            c("%lld %llx %lli"),
            size("%lld %llx %lli"),
            vec![Val(i64::MIN), Val(-1), Val(7)],
        ),
        (
            "width",
            c("%5d|%-5d|%05d|"),
            size("%5d|%-5d|%05d|"),
            vec![Val(42), Val(42), Val(-42)],
        ),
        (
            "signs",
            c("%+d % d %+ld"),
            size("%+d % d %+ld"),
            vec![Val(5), Val(5), Val(-5)],
        ),
        (
            "chars",
            c("%c%c%c"),
            size("%c%c%c"),
            vec![Val(97), Val(0x162), Val(99)],
        ),
        (
            "strings",
            c("%s and %s."),
            size("%s and %s."),
            vec![s("hello"), s("")],
        ),
        (
            "string width",
            c("%-10s|%10s|"),
            size("%-10s|%10s|"),
            vec![s("ab"), s("cd")],
        ),
        (
            "percent",
            c("%%d 100%% %d"),
            size("%%d 100%% %d"),
            vec![Val(3)],
        ),
        (
            "ipv4",
            c("%pI4 %pi4"),
            size("%pI4 %pi4"),
            vec![Bytes(vec![10, 0, 0, 1]), Bytes(vec![192, 168, 1, 255])],
        ),
        (
            "ipv6",
            c("%pI6 %pi6"),
            size("%pI6 %pi6"),
            vec![
                Bytes((0..16).collect()),
                Bytes((0..16).map(|x| x * 17).collect()),
            ],
        ),
        (
            "a string at no address prints as empty",
            c("[%s]"),
            size("[%s]"),
            vec![Val(12345)],
        ),
        (
            "three strings share 512 bytes",
            c("%s%s%s"),
            size("%s%s%s"),
            vec![s(&long), Same(0), Same(0)],
        ),
        (
            "longer than the 1024-byte buffer",
            c("%1500d"),
            size("%1500d"),
            vec![Val(1)],
        ),
        (
            "a %c of 0 ends the message",
            c("ab%ccd"),
            size("ab%ccd"),
            vec![Val(0)],
        ),
        ("empty", c(""), 1, vec![]),
        ("tab and newline", c("a\tb\n"), size("a\tb\n"), vec![]),
        (
            "the NUL ends the format before fmt_size",
            b"%d\0%d%d%d%d\0".to_vec(),
            12,
            vec![Val(1)],
        ),
        ("no NUL within fmt_size", b"abcd".to_vec(), 4, vec![]),
        (
            "four conversions",
            c("%d%d%d%d"),
            size("%d%d%d%d"),
            vec![Val(1), Val(2), Val(3)],
        ),
        ("an unknown conversion", c("%q"), size("%q"), vec![Val(1)]),
        ("a precision", c("%.2d"), size("%.2d"), vec![Val(1)]),
        (
            "%s followed by a letter",
            c("%sx"),
            size("%sx"),
            vec![s("a")],
        ),
        ("%ls", c("%ls"), size("%ls"), vec![s("a")]),
        ("%5%", c("%5%"), size("%5%"), vec![]),
        (
            "%p with an unknown extension",
            c("%pz"),
            size("%pz"),
            vec![Val(1)],
        ),
        (
            "a byte that is not printable",
            c("a\x01b"),
            size("a\x01b"),
            vec![],
        ),
        ("UTF-8", vec![b'a', 0xc3, 0xa9, 0], 4, vec![]),
        ("0x80", vec![b'a', 0x80, 0], 3, vec![]),
        ("0xff", vec![b'a', 0xff, 0], 3, vec![]),
        ("0x9b", vec![0x9b, 0], 2, vec![]),
        ("0x7f", vec![0x7f, 0], 2, vec![]),
    ];
    // fmt_size may be larger than the string: the format ends at its NUL.
    v.push(("fmt_size past the NUL", c("%d!"), 16, vec![Val(9)]));
    // Arguments copied ready-made print without padding; %pus cannot read a BPF stack.
    let ready = [
        ("a width on %pI4", "[%20pI4]", vec![Bytes(vec![1, 2, 3, 4])]),
        (
            "a width on %pi6",
            "[%-40pi6]",
            vec![Bytes((0..16).collect())],
        ),
        ("%pks with a width", "[%10pks]", vec![s("ab")]),
        ("%pus of the stack", "[%pus]", vec![s("ab")]),
        (
            "a width past 2^31",
            "%2147483648d|%99999999999999999999999d|",
            vec![Val(1), Val(2)],
        ),
        ("a width past FIELD_WIDTH_MAX", "%9000000d", vec![Val(3)]),
    ];
    for (what, f, args) in ready {
        v.push((what, c(f), size(f), args));
    }
    v
}

#[test]
fn trace_printk_matches_the_kernel() {
    require_kernel!("trace_printk_matches_the_kernel");
    let mut failures = Vec::new();
    for (what, fmt, size, args) in cases() {
        let (vm, kernel) = both(&fmt, size, &args);
        assert_eq!(
            kernel.trace_note, None,
            "{what}: the kernel's trace was not read"
        );
        if (vm.retval, &vm.trace) != (kernel.retval, &kernel.trace) {
            failures.push(format!(
                "{what}: VM r0 = {:#x}, trace {:?}; kernel r0 = {:#x}, trace {:?}",
                vm.retval, vm.trace, kernel.retval, kernel.trace
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn an_ip_address_past_the_argument_buffer_does_not_stop_the_vm() {
    // 479 bytes of string (480 of the 512-byte buffer), then an IPv6 address (checked for 16
    // bytes of room, written as 40 of text), then another string: past the buffer. 6.18
    // prints a garbled message there; the VM must only go on (no panic) and return a length.
    // The whole stack is used: the format and "z" at r10-512, the string from r10-496, the
    // address at r10-16.
    let mut src = String::from(".license \"GPL\"\n.section socket\n.globl p\np:\n");
    store(&mut src, b"%s%pI6%s\0z\0\0\0\0\0\0", -512);
    let mut long = vec![b'y'; 479];
    long.push(0);
    store(&mut src, &long, -496);
    store(&mut src, &[0; 16], -16);
    src.push_str(
        "\tr1 = r10\n\tr1 += -512\n\tr2 = 9\n\tr3 = r10\n\tr3 += -496\n\tr4 = r10\n\t\
         r4 += -16\n\tr5 = r10\n\tr5 += -503\n\tcall bpf_trace_printk\n\texit\n",
    );
    let obj = bpfsmith::text::assemble("printk.s", &src).unwrap();
    let vm = bpfsmith::vm::run(&obj, &RunRequest::default()).unwrap();
    assert!(
        vm.retval > 479 || vm.retval == (-28i32) as u32,
        "{:#x}",
        vm.retval
    );
}

#[test]
fn refused_formats_print_nothing_and_return_einval() {
    require_kernel!("refused_formats_print_nothing_and_return_einval");
    // The kernel's word on which formats are refused: -EINVAL and no message.
    let (vm, kernel) = both(b"%q\0", 3, &[Val(1)]);
    assert_eq!(kernel.retval, (-22i32) as u32);
    assert!(kernel.trace.is_empty());
    assert_eq!(vm.retval, (-22i32) as u32);
    assert!(vm.trace.is_empty());
}
