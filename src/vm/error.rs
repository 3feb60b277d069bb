//! What stops a run: a typed error naming the instruction (index, slot, LLVM text) and why.

/// Why the VM stopped a run.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VmErrorKind {
    /// A load, store, atomic or helper touched memory outside every region (or across a
    /// region's end): the verifier would have refused the program, the VM refuses the access.
    #[error("{access} of {size} bytes at {addr:#x} is outside {region}")]
    OutOfBounds {
        /// "read" or "write".
        access: &'static str,
        /// The address (region in the high 32 bits, offset in the low 32).
        addr: u64,
        /// Bytes accessed.
        size: u64,
        /// The region the address falls in, described ("the stack of frame 0 (512 bytes)"),
        /// or "every region" when it falls in none.
        region: String,
    },
    /// A jump or call whose target is not the start of an instruction of the program.
    #[error(
        "the jump target, slot {target}, is not an instruction of the program ({slots} slots)"
    )]
    JumpOutside {
        /// The target slot (may be negative or past the end).
        target: i64,
        /// The program's slot count.
        slots: usize,
    },
    /// Execution reached the end of the program without `exit`.
    #[error("execution ran past the last instruction without `exit`")]
    FellOffEnd,
    /// More instructions ran than the budget allows (an endless loop, or a long one).
    #[error("the instruction budget of {limit} was used up")]
    Budget {
        /// The budget.
        limit: u64,
    },
    /// Division or modulo by an immediate zero: the verifier refuses it ("div by zero"), so
    /// the VM does too. (By a register holding zero is defined: `dst = 0` for div, `dst`
    /// unchanged for mod.)
    #[error("division by the immediate 0, which the verifier refuses")]
    DivisionByZeroImm,
    /// A bpf-to-bpf call deeper than the kernel's 8 frames.
    #[error("call depth over {max} frames")]
    CallDepth {
        /// The kernel's limit, `MAX_CALL_FRAMES`.
        max: usize,
    },
    /// A helper the VM does not implement (nor one registered with [`super::Vm::helper`]).
    #[error("helper {id}{} is not implemented in the VM", name.map(|n| format!(" ({n})")).unwrap_or_default())]
    UnknownHelper {
        /// The helper number.
        id: i64,
        /// Its kernel name, when the number is a known helper.
        name: Option<&'static str>,
    },
    /// A map argument or `ld_imm64` map reference that names no map of the VM, or a map of a
    /// kind the helper does not take.
    #[error("{0}")]
    BadMap(String),
    /// An instruction the VM does not model (kfunc calls, arena address casts, ld_imm64 of
    /// BTF ids ...).
    #[error("{0} is not supported by the VM")]
    Unsupported(&'static str),
}

/// A run stopped by the VM: the instruction (index, slot, text in LLVM's syntax) and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("instruction {index} (slot {slot}, `{text}`{}): {kind}", location.as_ref().map(|l| format!(", {l}")).unwrap_or_default())]
pub struct VmError {
    /// Index of the instruction in the program (`insns.len()` when execution ran past the end).
    pub index: usize,
    /// Its slot (jump offsets count slots).
    pub slot: usize,
    /// The instruction in LLVM's syntax (`crate::text::Llvm`), or "end of program".
    pub text: String,
    /// Where the instruction was written (`file:line`), when the program carries source
    /// locations ([`super::Vm::from_object`] keeps them).
    pub location: Option<String>,
    /// Why the run stopped.
    pub kind: VmErrorKind,
}
