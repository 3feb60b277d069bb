//! The public eBPF conformance suite (bpf_conformance) on the real kernel.
//!
//! Each `.data` file holds a program (assembly or raw words), optional input memory and the
//! expected 64-bit `r0`. It runs the way the suite's Linux plugin does: as an XDP program
//! through `BPF_PROG_TEST_RUN`, with the memory as the packet (padded to 14 bytes), a prologue
//! that bounds-checks the packet and sets r1 = its start and r2 = its length, the test body
//! called as a bpf-to-bpf function, and the body's full 64-bit `r0` stored into a one-entry
//! array map and read back from user space (test_run's own return value has only 32 bits).

use std::path::{Path, PathBuf};

use crate::insn::Insn;

/// One test file: its program and what it expects.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DataFile {
    /// The `-- asm` section.
    pub asm: Option<String>,
    /// The `-- raw` section: one little-endian 64-bit word per slot.
    pub raw: Option<Vec<u64>>,
    /// The `-- mem` section's bytes (empty when absent).
    pub mem: Vec<u8>,
    /// Whether a `-- mem` section was present.
    pub has_mem: bool,
    /// The `-- result` section: the expected `r0`.
    pub result: Option<u64>,
    /// The `-- error` section: the expected error text.
    pub error: Option<String>,
}

/// A `.data` file that could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {what}")]
pub struct DataError {
    /// The file.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub what: String,
}

fn parse_u64(s: &str) -> Option<u64> {
    let s = s.trim();
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u64::from_str_radix(h, 16).ok()
    } else if let Some(d) = s.strip_prefix('-') {
        d.parse::<u64>().ok().map(|v| v.wrapping_neg())
    } else {
        s.parse().ok()
    }
}

impl DataFile {
    /// Parse the text of a `.data` file (`file` names it in errors).
    pub fn parse(file: &str, text: &str) -> Result<DataFile, DataError> {
        let mut out = DataFile::default();
        let mut section: Option<(String, usize, String)> = None;
        let err = |line, what: String| DataError {
            file: file.to_owned(),
            line,
            what,
        };
        let finish =
            |out: &mut DataFile, s: Option<(String, usize, String)>| -> Result<(), DataError> {
                let Some((name, line, body)) = s else {
                    return Ok(());
                };
                match name.as_str() {
                    "asm" => out.asm = Some(body),
                    "raw" => {
                        let mut words = Vec::new();
                        for (i, l) in body.lines().enumerate() {
                            let l = l.split('#').next().unwrap_or("").trim();
                            if l.is_empty() {
                                continue;
                            }
                            words.push(parse_u64(l).ok_or_else(|| {
                                err(line + 1 + i, format!("`{l}` is not a 64-bit word"))
                            })?);
                        }
                        out.raw = Some(words);
                    }
                    "mem" => {
                        out.has_mem = true;
                        for (i, l) in body.lines().enumerate() {
                            for tok in l.split('#').next().unwrap_or("").split_whitespace() {
                                let b = u8::from_str_radix(tok, 16).map_err(|_| {
                                    err(line + 1 + i, format!("`{tok}` is not a hex byte"))
                                })?;
                                out.mem.push(b);
                            }
                        }
                    }
                    "result" => {
                        let v = body
                            .lines()
                            .map(|l| l.split('#').next().unwrap_or("").trim())
                            .find(|l| !l.is_empty());
                        out.result =
                            Some(v.and_then(parse_u64).ok_or_else(|| {
                                err(line, "the result is not a number".to_owned())
                            })?);
                    }
                    "error" => out.error = Some(body.trim().to_owned()),
                    _ => {} // informational sections
                }
                Ok(())
            };
        for (i, line) in text.lines().enumerate() {
            if let Some(name) = line.strip_prefix("-- ") {
                let prev = section.take();
                finish(&mut out, prev)?;
                section = Some((name.trim().to_owned(), i + 1, String::new()));
            } else if let Some((_, _, body)) = &mut section {
                body.push_str(line);
                body.push('\n');
            }
        }
        let last = section.take();
        finish(&mut out, last)?;
        Ok(out)
    }

    /// Read and parse a `.data` file.
    pub fn read(path: &Path) -> Result<DataFile, DataError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| DataError {
            file: name.clone(),
            line: 0,
            what: e.to_string(),
        })?;
        DataFile::parse(&name, &text)
    }
}

/// Whether the suite's own Linux runs leave a file out (names with `imm-` or `intmin-`, and
/// the callx group).
pub fn excluded_on_linux(name: &str) -> bool {
    name.contains("imm-") || name.contains("intmin-") || name.starts_with("callx")
}

/// The `.data` files of a directory, sorted by name.
pub fn data_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "data"))
        .collect();
    v.sort();
    Ok(v)
}

/// The instructions of a `-- raw` section.
pub fn raw_insns(words: &[u64]) -> Result<Vec<Insn>, crate::insn::DecodeError> {
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    crate::insn::decode(&bytes)
}

#[cfg(target_os = "linux")]
pub use kernel::{run_body, RunError};

#[cfg(target_os = "linux")]
mod kernel {
    use crate::insn::{Cond, Insn, Reg, Size};
    use crate::load::{LoadError, TestRun};
    use crate::maps::MapDef;
    use crate::object::Object;
    use crate::program::{ProgramBuilder, Section};

    /// Why a test program did not produce a result.
    #[derive(Debug, thiserror::Error)]
    pub enum RunError {
        /// The wrapper could not be built (a body that is not a valid program).
        #[error("building the test program: {0}")]
        Build(String),
        /// The kernel refused to load it (the verifier log is in the error).
        #[error(transparent)]
        Load(#[from] LoadError),
        /// `BPF_PROG_TEST_RUN` failed.
        #[error("test_run: {0}")]
        Run(crate::sys::SysError),
        /// Reading the result map failed.
        #[error("reading the result: {0}")]
        Result(crate::load::MapError),
    }

    /// XDP_PASS: what the wrapper returns.
    const XDP_PASS: i32 = 2;
    /// test_run needs at least an Ethernet header of packet.
    const MIN_PACKET: usize = 14;

    /// Run `body` (a test program ending in `exit`) on the kernel with `mem` as its memory:
    /// r1 = start of `mem`, r2 = its length. Returns the body's 64-bit `r0`.
    pub fn run_body(body: &[Insn], mem: &[u8]) -> Result<u64, RunError> {
        let mut obj = Object::new("GPL");
        let result = obj
            .map("result", MapDef::array::<u64>(1))
            .map_err(|e| RunError::Build(e.to_string()))?;
        let len =
            i32::try_from(mem.len()).map_err(|_| RunError::Build("memory too large".into()))?;
        let mut p = ProgramBuilder::new("conformance", Section::XDP);
        let out = p.label("out");
        let test = p.function("test_body");
        // The packet pointers of xdp_md, checked against the memory's length so that the body
        // may access all of it.
        p.load(Size::U32, Reg::R6, Reg::R1, 0);
        p.load(Size::U32, Reg::R7, Reg::R1, 4);
        p.mov(Reg::R8, Reg::R6).add(Reg::R8, len);
        p.jump_if(Reg::R8, Cond::Gt, Reg::R7, out);
        p.mov(Reg::R1, Reg::R6).mov(Reg::R2, len);
        p.call_fn(test);
        p.mov(Reg::R6, Reg::R0);
        // result[0] = r0, all 64 bits.
        p.store(Size::U32, Reg::R10, -4, 0);
        p.ld_map(Reg::R1, &result);
        p.mov(Reg::R2, Reg::R10).add(Reg::R2, -4);
        p.call(crate::helpers::Helper::MapLookupElem);
        p.jump_if(Reg::R0, Cond::Eq, 0, out);
        p.store_reg(Size::U64, Reg::R0, 0, Reg::R6);
        p.bind(out).mov(Reg::R0, XDP_PASS).exit();
        p.bind(test);
        for insn in body {
            p.emit(*insn);
        }
        let prog = p.finish().map_err(|e| RunError::Build(e.to_string()))?;
        obj.add_program(prog)
            .map_err(|e| RunError::Build(e.to_string()))?;
        let loaded = obj.load()?;
        let mut packet = mem.to_vec();
        packet.resize(packet.len().max(MIN_PACKET), 0);
        let prog = loaded
            .program("conformance")
            .ok_or_else(|| RunError::Build("program vanished".into()))?;
        prog.test_run(&TestRun {
            data: &packet,
            ..Default::default()
        })
        .map_err(RunError::Run)?;
        let map = loaded
            .map("result")
            .ok_or_else(|| RunError::Build("result map vanished".into()))?;
        let v = map
            .lookup(&0u32.to_le_bytes(), 0)
            .map_err(RunError::Result)?;
        let bytes: [u8; 8] = v.get(..8).and_then(|b| b.try_into().ok()).unwrap_or([0; 8]);
        Ok(u64::from_le_bytes(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_section() {
        let text =
            "# c\n-- asm\nmov %r0, 1\nexit\n-- mem\n00 01\nff\n-- result\n0x10\n-- c\nanything\n";
        let d = DataFile::parse("t.data", text).unwrap();
        assert_eq!(d.asm.as_deref(), Some("mov %r0, 1\nexit\n"));
        assert_eq!(d.mem, vec![0, 1, 0xff]);
        assert_eq!(d.result, Some(16));
        let e = DataFile::parse("t.data", "-- mem\nzz\n").unwrap_err();
        assert_eq!(e.to_string(), "t.data:2: `zz` is not a hex byte");
        let raw =
            DataFile::parse("t.data", "-- raw\n0x00000000000000b7\n0x0000000000000095\n").unwrap();
        assert_eq!(raw_insns(&raw.raw.unwrap()).unwrap().len(), 2);
    }

    #[test]
    fn linux_exclusions() {
        assert!(excluded_on_linux("alu64-imm-foo.data"));
        assert!(excluded_on_linux("callx.data"));
        assert!(!excluded_on_linux("add.data"));
    }
}
