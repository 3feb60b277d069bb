//! The `.data` files of the eBPF conformance suite (github.com/Alan-Jowett/bpf_conformance):
//! a program in the mnemonic dialect or as raw words, the memory it runs on, and the result
//! or error it must give.
//!
//! A file is a list of sections, each starting with a `-- NAME` line: `-- asm` (the program),
//! `-- raw` (the program as one little-endian 64-bit word per line, `0x...`, or as 8 hex bytes
//! per line), `-- mem` (hex bytes), `-- result` (the expected 64-bit `r0`), `-- error` (the
//! expected error text). Other sections (`-- c`, `-- no register offset` ...) are notes. In
//! the data sections, `#` starts a comment.
//!
//! ```
//! use bpfsmith::text::conformance::ConformanceTest;
//! let t = ConformanceTest::parse("-- asm\nmov32 %r0, 3\nexit\n-- result\n0x3\n").unwrap();
//! assert_eq!(t.result, Some(3));
//! let prog = t.program("add.data", &Default::default()).unwrap();
//! assert_eq!(prog.insns.len(), 2);
//! ```

use std::fmt;

use super::asm::{assemble_with, AsmOptions};
use super::diag::AsmErrors;
use crate::insn::{decode, DecodeError};
use crate::program::Program;

/// One conformance test.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConformanceTest {
    /// The program text of the `-- asm` section.
    pub asm: Option<String>,
    /// The 1-based line of the file where the `-- asm` text starts (for messages).
    pub asm_line: usize,
    /// The program of the `-- raw` section, one 64-bit word per slot.
    pub raw: Option<Vec<u64>>,
    /// The memory the program gets (r1 = its address, r2 = its length); empty when none.
    pub mem: Vec<u8>,
    /// The expected value of r0.
    pub result: Option<u64>,
    /// The 1-based line of the file that holds the expected value (0 when there is none).
    pub result_line: usize,
    /// The expected error text (possibly empty: "some error").
    pub error: Option<String>,
}

/// A malformed `.data` file: its 1-based line and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConformanceError {
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConformanceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ConformanceError {}

/// Why a test's program could not be built.
#[derive(Debug)]
pub enum ProgramError {
    /// The file has neither `-- asm` nor `-- raw`.
    NoProgram,
    /// The `-- asm` text does not assemble.
    Asm(AsmErrors),
    /// The `-- raw` words do not decode.
    Raw(DecodeError),
    /// The `-- asm` text assembles to more than one program.
    SeveralPrograms(usize),
}

impl fmt::Display for ProgramError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProgramError::NoProgram => f.write_str("the file has no `-- asm` or `-- raw` section"),
            ProgramError::Asm(e) => e.fmt(f),
            ProgramError::Raw(e) => write!(f, "the raw program does not decode: {e}"),
            ProgramError::SeveralPrograms(n) => {
                write!(f, "the assembly holds {n} programs, a test has one")
            }
        }
    }
}

impl std::error::Error for ProgramError {}

fn strip_comment(line: &str) -> &str {
    line.split('#').next().unwrap_or("").trim()
}

fn parse_u64(s: &str) -> Option<u64> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => match s.strip_prefix('-') {
            Some(d) => d.parse::<u64>().ok().map(u64::wrapping_neg),
            None => s.parse().ok(),
        },
    }
}

impl ConformanceTest {
    /// Parse the text of a `.data` file.
    pub fn parse(text: &str) -> Result<ConformanceTest, ConformanceError> {
        let mut t = ConformanceTest::default();
        let mut section: Option<&str> = None;
        let mut asm = String::new();
        let mut raw: Vec<u64> = Vec::new();
        // Each value of the result section, with its line.
        let mut result: Vec<(usize, &str)> = Vec::new();
        let mut error = String::new();
        for (i, line) in text.lines().enumerate() {
            let n = i + 1;
            let err = |message: String| ConformanceError { line: n, message };
            if let Some(name) = line.strip_prefix("-- ") {
                let name = name.trim();
                section = Some(name);
                match name {
                    "asm" => {
                        if t.asm.is_some() {
                            return Err(err("a second `-- asm` section".into()));
                        }
                        t.asm = Some(String::new());
                        t.asm_line = n + 1;
                    }
                    "raw" => t.raw = Some(Vec::new()),
                    "error" => t.error = Some(String::new()),
                    _ => {}
                }
                continue;
            }
            match section {
                Some("asm") => {
                    asm.push_str(line);
                    asm.push('\n');
                }
                Some("raw") => {
                    let body = strip_comment(line);
                    if body.is_empty() {
                        continue;
                    }
                    let parts: Vec<&str> = body.split_whitespace().collect();
                    let word = if parts.len() == 1 {
                        parse_u64(parts[0])
                    } else if parts.len() == 8 {
                        let mut b = [0u8; 8];
                        let mut ok = true;
                        for (d, p) in b.iter_mut().zip(&parts) {
                            match u8::from_str_radix(p, 16) {
                                Ok(v) => *d = v,
                                Err(_) => ok = false,
                            }
                        }
                        ok.then(|| u64::from_le_bytes(b))
                    } else {
                        None
                    };
                    raw.push(word.ok_or_else(|| {
                        err(format!(
                            "`{body}` is not a 64-bit word (0x...) or 8 hex bytes"
                        ))
                    })?);
                }
                Some("mem") => {
                    for p in strip_comment(line).split_whitespace() {
                        t.mem.push(
                            u8::from_str_radix(p, 16)
                                .map_err(|_| err(format!("`{p}` is not a hex byte")))?,
                        );
                    }
                }
                Some("result") => {
                    let body = strip_comment(line);
                    if !body.is_empty() {
                        result.push((n, body));
                    }
                }
                Some("error") => {
                    let body = line.trim();
                    if !body.is_empty() {
                        if !error.is_empty() {
                            error.push('\n');
                        }
                        error.push_str(body);
                    }
                }
                _ => {}
            }
        }
        if t.asm.is_some() {
            t.asm = Some(asm);
        }
        if t.raw.is_some() {
            t.raw = Some(raw);
        }
        if t.error.is_some() {
            t.error = Some(error);
        }
        match result.as_slice() {
            [] => {}
            &[(line, v)] => {
                t.result = Some(parse_u64(v).ok_or_else(|| ConformanceError {
                    line,
                    message: format!("result `{v}` is not a number"),
                })?);
                t.result_line = line;
            }
            [_, (line, v), ..] => {
                return Err(ConformanceError {
                    line: *line,
                    message: format!(
                        "the result section holds more than one value (`{v}` is a second one)"
                    ),
                })
            }
        }
        Ok(t)
    }

    /// The `-- asm` text placed at its lines of the `.data` file (the lines before it left
    /// empty), so that assembler messages name the file's own line numbers.
    pub fn asm_source(&self) -> Option<String> {
        let asm = self.asm.as_ref()?;
        let mut s = "\n".repeat(self.asm_line.saturating_sub(1));
        s.push_str(asm);
        Some(s)
    }

    /// The test's program: the `-- asm` section assembled (messages name `path` and its
    /// lines), or else the `-- raw` words decoded. The program is named and placed by `opts`
    /// (the suite runs programs as XDP: `default_section: Section::XDP`).
    pub fn program(&self, path: &str, opts: &AsmOptions) -> Result<Program, ProgramError> {
        if let Some(src) = self.asm_source() {
            // The suite's own rule for decimal immediates (its negative tests check it).
            let opts = AsmOptions {
                signed_decimal_imm32: true,
                ..opts.clone()
            };
            let mut obj = assemble_with(path, &src, &opts).map_err(ProgramError::Asm)?;
            if obj.programs.len() != 1 {
                return Err(ProgramError::SeveralPrograms(obj.programs.len()));
            }
            return Ok(obj.programs.remove(0));
        }
        let raw = self.raw.as_ref().ok_or(ProgramError::NoProgram)?;
        let bytes: Vec<u8> = raw.iter().flat_map(|w| w.to_le_bytes()).collect();
        let insns = decode(&bytes).map_err(ProgramError::Raw)?;
        Ok(Program::from_insns(
            opts.default_name.clone(),
            opts.default_section.clone(),
            insns,
        ))
    }

    /// The raw words as little-endian bytes, when the file has a `-- raw` section.
    pub fn raw_bytes(&self) -> Option<Vec<u8>> {
        self.raw
            .as_ref()
            .map(|r| r.iter().flat_map(|w| w.to_le_bytes()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_words_and_bytes() {
        let t = ConformanceTest::parse(
            "# c\n-- raw\n0x0000000000000095\n95 00 00 00 00 00 00 00\n-- error\n",
        )
        .unwrap();
        assert_eq!(t.raw, Some(vec![0x95, 0x95]));
        assert_eq!(t.error.as_deref(), Some(""));
        assert!(t.asm.is_none());
    }

    #[test]
    fn messages_name_the_file_lines() {
        let t = ConformanceTest::parse("# header\n-- asm\nmov32 %r0, 1\nmov32 %r11, 1\nexit\n")
            .unwrap();
        let e = t.program("x.data", &AsmOptions::default()).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("x.data:4:7: error: unknown register `%r11`"),
            "{e}"
        );
    }
}
