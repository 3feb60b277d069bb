//! bpfsmith: build eBPF programs by hand.
#![forbid(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod helpers;
pub mod insn;
pub mod text;
