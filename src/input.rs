//! A program file named on the command line: an ELF object (ours or clang's), or an assembly
//! file (`.s`), assembled in memory.

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
#[derive(Debug, thiserror::Error)]
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
    /// An ELF file that could not be read.
    #[error("{path}: {source}")]
    Elf {
        /// The file.
        path: String,
        /// What is wrong.
        source: Box<ElfError>,
    },
}

/// Read `path`: assembled when its name ends in `.s`, read as ELF otherwise.
pub fn open(path: &Path) -> Result<Input, InputError> {
    if path.extension().is_some_and(|e| e == "s" || e == "S") {
        let object = crate::text::assemble_file(path).map_err(InputError::Asm)?;
        return Ok(Input { object, btf: None });
    }
    let e = ElfObject::read(path).map_err(|source| elf_error(path, source))?;
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
        match std::fs::read(path) {
            Ok(bytes) => Ok(FileBytes {
                path: path.to_owned(),
                bytes,
            }),
            Err(source) => Err(elf_error(
                path,
                ElfError::Io {
                    path: path.to_owned(),
                    source,
                },
            )),
        }
    }

    /// The bytes as an ELF object.
    pub fn view(&self) -> Result<ObjectView<'_>, InputError> {
        ObjectView::parse(&self.bytes).map_err(|source| elf_error(&self.path, source))
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

#[cfg(target_os = "linux")]
impl Input {
    /// The BTF choice for loading: the file's own BTF when it had one, else the object's.
    pub fn btf_source(&self) -> crate::load::BtfSource {
        match &self.btf {
            Some(b) => crate::load::BtfSource::Given(b.clone()),
            None => crate::load::BtfSource::FromObject,
        }
    }
}
