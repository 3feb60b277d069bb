//! The verifier log for people: what refused the program, in plain words, at which source line,
//! with the values the failing instruction used and where each came from.
//!
//! [`render_report`] is the terminal report of a load: for a refused program
//!
//! 1. the verifier's message and, under it, what it means, its usual cause and the fix
//!    ([`crate::explain::match_messages`]);
//! 2. the failing instruction with its source `file:line` and line text, and the listing
//!    around it (kernel style, with slot numbers, the failing one marked);
//! 3. the registers and stack slots that instruction uses ([`uses`], on [`crate::insn::Insn::uses`]), each with its value in
//!    plain words and the instruction (slot, text, source line) that gave it that value on
//!    this path ([`operands`]);
//! 4. the path that led there, compressed ([`path_summary`]);
//! 5. the verifier's statistics.
//!
//! The default report fits on one screen; [`ReportOptions::full`] adds every known register
//! and slot and the whole log with source lines. An accepted program's level-2 log is shown
//! instruction by instruction by [`render_accepted`] (which [`render_report`] calls when the
//! log holds no error).
//!
//! The parts, each in its own file: the def-use analysis (what an instruction uses, where each
//! value came from: `defuse`), values and paths in words (`words`), and the terminal renderer
//! (`ansi`); the HTML page is [`super::html`].
//!
//! The source lines come from a [`SourceMap`](super::SourceMap): of the program that was loaded, or of the log
//! alone for a log saved elsewhere ([`render_log_text`]).
//!
//! ```
//! use bpfsmith::verifier::{render_log_text, ReportOptions};
//!
//! let log = "\
//! 0: R1=ctx() R10=fp0
//! ; r1 = 0 @ prog.s:5
//! 1: (b7) r1 = 0                        ; R1=0
//! ; call 87 @ prog.s:9
//! 5: (85) call bpf_map_push_elem#87
//! R1 type=scalar expected=map_ptr
//! processed 6 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0
//! ";
//! let report = render_log_text(log, None, &ReportOptions::default());
//! assert!(report.contains("error: R1 type=scalar expected=map_ptr"));
//! assert!(report.contains("--> prog.s:9"));
//! assert!(report.contains("set at 1: (b7) r1 = 0"));
//! ```

mod ansi;
mod defuse;
mod words;

pub use ansi::{render_accepted, render_log_text, render_report};
pub use defuse::{
    failing_insn, operands, uses, Jump, MemUse, OperandReport, OriginKind, OriginLine, Uses,
};
pub use words::{describe_slot, describe_value, path_summary, stack_pointer_text, stats_line};

/// How to render a report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReportOptions {
    /// ANSI colours (decide with `std::io::IsTerminal`).
    pub color: bool,
    /// Everything: every known register and slot at the failing instruction, the whole path,
    /// and the whole log with source lines. Otherwise the report fits on one screen.
    pub full: bool,
}
