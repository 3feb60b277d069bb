//! bpfsmith: build eBPF programs by hand, without a C compiler.
//!
//! The pipeline, one module per box: [`program`] (the builder DSL) produces a
//! [`program::Program`] of [`insn::Insn`]s; an [`object::Object`] gathers programs, [`maps`] and
//! a license; [`text`] prints listings in LLVM's and the kernel's syntax; [`snapshot`] turns
//! them into insta snapshots.
#![forbid(unsafe_op_in_unsafe_fn)]
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod conformance;
pub mod demo;
pub mod explain;
pub mod helpers;
pub mod input;
pub mod insn;
pub mod maps;
pub mod object;
pub mod program;
pub mod snapshot;
pub mod text;
pub mod verifier;

#[cfg(target_os = "linux")]
pub mod load;
#[cfg(target_os = "linux")]
pub mod sys;

/// Everything a DSL user needs in one import: `use bpfsmith::prelude::*;`.
pub mod prelude {
    pub use crate::helpers::Helper;
    pub use crate::insn::{
        AluOp, AtomicOp, Cond, Insn, Reg, Size, WReg, Width, R0, R1, R10, R2, R3, R4, R5, R6, R7,
        R8, R9, W0, W1, W10, W2, W3, W4, W5, W6, W7, W8, W9,
    };
    pub use crate::maps::{MapDef, MapType};
    pub use crate::object::Object;
    pub use crate::program::{
        Label, MapRef, Program, ProgramBuilder, PushFlags, Section, StackSlot,
    };
}
