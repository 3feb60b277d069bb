//! A program file: an ELF object (ours or clang's), or an assembly file (`.s`), assembled in
//! memory; read bounded, its text checked as UTF-8, the wrong kind of file named as such.
//! `bpfsmith check`, the kernel matrix ([`crate::guest`]) and the command read files through
//! it.

use std::path::Path;

use crate::object::{ElfError, ElfObject, Object, ObjectView};

/// An object read from a file, with the BTF a loader should use.
#[derive(Clone, Debug)]
pub struct Input {
    /// The object.
    pub object: Object,
    /// The BTF the file carried (clang's, with its line info), if any.
    pub btf: Option<crate::object::btf::ObjectBtf>,
}

/// Why a file could not be read as a program.
#[derive(thiserror::Error)]
pub enum InputError {
    /// `--prog` named a program the file does not have.
    #[error("no program `{name}` (the file has: {have})")]
    NoProgram {
        /// The name asked for.
        name: String,
        /// The programs there are.
        have: String,
    },
    /// An assembly file that does not assemble (every error of the file).
    #[error("{0}")]
    Asm(crate::text::AsmFileError),
    /// A file of another kind than the command reads (an ELF object given to `asm` or
    /// `log`): what it is, and the command that reads it.
    #[error("{path}: {what}: {hint}")]
    WrongKind {
        /// The file.
        path: String,
        /// What the file is.
        what: &'static str,
        /// What to do with it instead.
        hint: &'static str,
    },
    /// A file that could not be read (or is not a regular file and gave more than the limit).
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What went wrong.
        source: std::io::Error,
    },
    /// A text file that is not UTF-8: where the first bad byte is.
    #[error("{path}:{line}:{column}: not UTF-8 (byte {byte:#04x} at offset {offset})")]
    NotUtf8 {
        /// The file.
        path: String,
        /// The line of the first invalid byte (1-based).
        line: usize,
        /// Its column, in characters (1-based).
        column: usize,
        /// Its byte offset in the file.
        offset: usize,
        /// The byte.
        byte: u8,
    },
    /// An ELF file that could not be read.
    #[error("{path}: {source}")]
    Elf {
        /// The file.
        path: String,
        /// What is wrong.
        source: Box<ElfError>,
    },
}

/// The most a file that is not a regular file (a pipe, a character device such as
/// `/dev/zero`, a socket) may give before reading stops with an error: 256 MiB. A regular
/// file is read whole, its size known up front.
pub const NON_REGULAR_LIMIT: u64 = 256 << 20;

/// Read a file whole, bounded: a regular file as it is; anything else (a pipe, `/dev/zero`,
/// `/dev/stdin`) up to `limit` bytes, and an error that says so beyond. The error names the
/// path once.
pub fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, InputError> {
    use std::io::Read;
    let io = |source: std::io::Error| InputError::Io {
        path: path.display().to_string(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if meta.is_dir() {
        return Err(io(std::io::Error::other("is a directory")));
    }
    let mut bytes = Vec::new();
    if meta.is_file() {
        bytes.reserve(meta.len() as usize);
        (&file).read_to_end(&mut bytes).map_err(io)?;
        return Ok(bytes);
    }
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(io(std::io::Error::other(format!(
            "not a regular file, and it gave more than {} bytes: save it to a file first",
            limit
        ))));
    }
    Ok(bytes)
}

/// Bytes as UTF-8 text: a leading byte-order mark (`EF BB BF`) is dropped; invalid UTF-8 is an
/// error with the line and column (in characters) of the first bad byte.
pub fn utf8_text(path: &Path, bytes: Vec<u8>) -> Result<String, InputError> {
    let mut bytes = bytes;
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        bytes.drain(..3);
    }
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let before = &bytes[..offset];
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        // The prefix is valid UTF-8: count characters, not bytes.
        let column =
            std::str::from_utf8(&before[line_start..]).map_or(0, |s| s.chars().count()) + 1;
        InputError::NotUtf8 {
            path: path.display().to_string(),
            line: before.iter().filter(|&&b| b == b'\n').count() + 1,
            column,
            offset,
            byte: bytes[offset],
        }
    })
}

/// Read a text file ([`read_bounded`] with [`NON_REGULAR_LIMIT`], then [`utf8_text`]).
pub fn read_text(path: &Path) -> Result<String, InputError> {
    utf8_text(path, read_bounded(path, NON_REGULAR_LIMIT)?)
}

/// Whether `path` names an assembly file (`.s` or `.S`).
pub fn is_assembly(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "s" || e == "S")
}

/// Whether `path` starts with the ELF magic (`\x7fELF`); `false` when it cannot be read.
pub fn is_elf(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && magic == *b"\x7fELF"
}

/// Read and assemble an assembly file (bounded, BOM accepted, UTF-8 errors located). An ELF
/// object is refused as such, with the commands that read one.
pub fn assemble(path: &Path) -> Result<Object, InputError> {
    if is_elf(path) {
        return Err(InputError::WrongKind {
            path: path.display().to_string(),
            what: "an ELF object, not assembly",
            hint: "`bpfsmith dis` lists it; `bpfsmith load` and `bpfsmith run` take it as it is",
        });
    }
    let text = read_text(path)?;
    let shown = path.display().to_string();
    crate::text::assemble_with(&shown, &text, &crate::text::AsmOptions::default())
        .map_err(|e| InputError::Asm(crate::text::AsmFileError::Asm(e)))
}

/// What `bpfsmith asm` reads: the assembly file at `path` (an ELF object or a file that is
/// not UTF-8 text is refused with what it is, as [`assemble`] does), assembled with the
/// default [`AsmOptions`](crate::text::AsmOptions), with its warnings and notes.
pub fn assemble_input(path: &Path) -> Result<crate::text::Assembled, InputError> {
    if is_elf(path) {
        // The same refusal, worded once.
        assemble(path)?;
    }
    let text = read_text(path)?;
    let shown = path.display().to_string();
    crate::text::assemble_with_warnings(&shown, &text, &crate::text::AsmOptions::default())
        .map_err(|e| InputError::Asm(crate::text::AsmFileError::Asm(e)))
}

/// Read `path`: assembled when its name ends in `.s`, read as ELF otherwise.
pub fn open(path: &Path) -> Result<Input, InputError> {
    if is_assembly(path) {
        let object = assemble(path)?;
        return Ok(Input { object, btf: None });
    }
    let bytes = read_bounded(path, NON_REGULAR_LIMIT)?;
    let e = ElfObject::parse(&bytes).map_err(|source| elf_error(path, source))?;
    Ok(Input {
        object: e.object,
        btf: e.btf,
    })
}

fn elf_error(path: &Path, source: ElfError) -> InputError {
    InputError::Elf {
        path: path.display().to_string(),
        source: Box::new(source),
    }
}

/// A file's bytes, read whole, for an [`ObjectView`] to borrow: to walk an object once (list
/// it) without decoding its programs into memory. The errors are those of [`open`].
#[derive(Clone, Debug)]
pub struct FileBytes {
    path: std::path::PathBuf,
    bytes: Vec<u8>,
}

impl FileBytes {
    /// Read `path`.
    pub fn read(path: &Path) -> Result<FileBytes, InputError> {
        Ok(FileBytes {
            path: path.to_owned(),
            bytes: read_bounded(path, NON_REGULAR_LIMIT)?,
        })
    }

    /// The bytes as an ELF object.
    pub fn view(&self) -> Result<ObjectView<'_>, InputError> {
        ObjectView::parse(&self.bytes).map_err(|source| elf_error(&self.path, source))
    }
}

/// The programs of `obj` a load puts in the kernel: all but the `.text` functions (which
/// other programs call).
pub fn loadable_programs(obj: &Object) -> Vec<String> {
    obj.programs
        .iter()
        .filter(|p| p.section != crate::program::Section::TEXT)
        .map(|p| p.name.clone())
        .collect()
}

/// What to say of a file with no program to load ([`loadable_programs`] empty).
pub fn no_program_message(path: &Path, obj: &Object) -> String {
    let text: Vec<&str> = obj
        .programs
        .iter()
        .filter(|p| p.section == crate::program::Section::TEXT)
        .map(|p| p.name.as_str())
        .collect();
    if text.is_empty() {
        format!(
            "{}: no program to load (the file has no code)",
            path.display()
        )
    } else {
        format!(
            "{}: no program to load: its code is only in `.text` ({}), which holds functions \
             for programs to call; put a program in a section that names its type (socket, \
             xdp, tc, ...)",
            path.display(),
            text.join(", ")
        )
    }
}

impl Input {
    /// Keep only the program `name` (and the `.text` functions it may call).
    pub fn keep_program(&mut self, name: &str) -> Result<(), InputError> {
        let have = |o: &Object| {
            o.programs
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let Some(index) = self.object.programs.iter().position(|p| p.name == name) else {
            return Err(InputError::NoProgram {
                name: name.to_owned(),
                have: have(&self.object),
            });
        };
        let keep: Vec<bool> = self
            .object
            .programs
            .iter()
            .enumerate()
            .map(|(i, p)| i == index || p.section == crate::program::Section::TEXT)
            .collect();
        let mut i = 0;
        self.object.programs.retain(|_| {
            i += 1;
            keep[i - 1]
        });
        if let Some(btf) = &mut self.btf {
            let mut i = 0;
            btf.programs.retain(|_| {
                i += 1;
                keep.get(i - 1).copied().unwrap_or(false)
            });
        }
        Ok(())
    }
}

#[cfg(bpfsmith_kernel)]
impl Input {
    /// The BTF choice for loading: the file's own BTF when it had one, else the object's.
    pub fn btf_source(&self) -> crate::load::BtfSource {
        match &self.btf {
            Some(b) => crate::load::BtfSource::Given(b.clone()),
            None => crate::load::BtfSource::FromObject,
        }
    }
}

debug_as_display!(InputError);
