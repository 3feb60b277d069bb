//! Errors of the ELF writer and reader.

use std::path::PathBuf;

use super::btf::BtfErrorKind;
use crate::insn::DecodeError;

/// Why an object cannot be written to ELF, or why bytes cannot be read as an eBPF object.
///
/// Read errors name the ELF section and the byte offset (in the section, or in the file for
/// the headers) where the input goes wrong.
#[derive(Debug, thiserror::Error)]
pub enum ElfError {
    /// Reading or writing the file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The bytes do not start with the ELF magic `\x7fELF`.
    #[error("not an ELF file: the first bytes are not \\x7fELF")]
    NotElf,
    /// An ELF32 file (or an unknown class).
    #[error("ELF header, offset 0x4: class {0} is not ELF64 (2); eBPF objects are ELF64")]
    Class(u8),
    /// A big-endian file (`clang -target bpfeb`), or an unknown data encoding.
    #[error("ELF header, offset 0x5: data encoding {0} is not little-endian (1); bpfsmith reads bpfel objects only")]
    Endian(u8),
    /// A machine other than EM_BPF.
    #[error("ELF header, offset 0x12: e_machine is {0}, not EM_BPF (247)")]
    Machine(u16),
    /// Not a relocatable object.
    #[error("ELF header, offset 0x10: e_type is {0}, not ET_REL (1); eBPF objects are relocatable files")]
    FileType(u16),
    /// Malformed or unsupported content, at a place in a section.
    #[error("{section}, offset {offset:#x}: {kind}")]
    At {
        /// The section (or `ELF header`, `section headers`).
        section: String,
        /// Byte offset in the section (in the file for the headers).
        offset: u64,
        /// What is wrong.
        kind: ElfErrorKind,
    },
    /// A program that cannot be laid out in ELF sections (writer).
    #[error("program `{program}`, instruction {insn}: {kind}")]
    Layout {
        /// The program.
        program: String,
        /// Index of the offending instruction.
        insn: usize,
        /// What is wrong.
        kind: LayoutError,
    },
    /// A map or function name the kernel refuses in BTF (writer).
    #[error(
        "`{name}` cannot be a BTF {what} name: the kernel accepts [A-Za-z_.][A-Za-z0-9_.]* only"
    )]
    BadBtfName {
        /// map or function.
        what: &'static str,
        /// The name.
        name: String,
    },
    /// A section name that cannot be written (empty, or with a NUL byte).
    #[error("section name {0:?} cannot be written: it must be non-empty and NUL-free")]
    BadSectionName(String),
    /// The `object` crate refused to write.
    #[error("ELF writer: {0}")]
    Write(String),
}

/// What is wrong at a place of an ELF file being read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ElfErrorKind {
    /// A header or table ends past the end of the file.
    #[error("{what} needs {need} bytes, the file has {have}")]
    Truncated {
        /// What was being read.
        what: &'static str,
        /// Bytes needed (offset + size).
        need: u64,
        /// File size.
        have: u64,
    },
    /// A section's data lies outside the file.
    #[error("section data {start:#x}..+{size:#x} is outside the file ({file_len} bytes)")]
    OutOfBounds {
        /// sh_offset.
        start: u64,
        /// sh_size.
        size: u64,
        /// File size.
        file_len: u64,
    },
    /// goblin could not parse a table.
    #[error("{0}")]
    Parse(String),
    /// A table with a wrong entry size.
    #[error("entry size {found} is not {expected}")]
    EntrySize {
        /// sh_entsize.
        found: u64,
        /// What ELF64 uses.
        expected: u64,
    },
    /// A name offset outside its string table, unterminated, or not UTF-8.
    #[error("name offset {0} is outside the string table, unterminated or not UTF-8")]
    BadString(u32),
    /// A section index that does not exist.
    #[error("section index {0} does not exist")]
    BadSectionIndex(u32),
    /// A relocation against a symbol index that does not exist.
    #[error("relocation against symbol index {index}, but the symbol table has {count} entries")]
    MissingSymbol {
        /// The index.
        index: u32,
        /// Symbols in the table.
        count: u32,
    },
    /// A function symbol that does not fit its section or is not instruction-aligned.
    #[error("function `{name}` at {value:#x} ({size} bytes) does not fit the {section_size}-byte section in whole 8-byte instructions")]
    BadFunctionSymbol {
        /// The symbol.
        name: String,
        /// st_value.
        value: u64,
        /// st_size.
        size: u64,
        /// The section's size.
        section_size: u64,
    },
    /// Two function symbols that overlap without being aliases.
    #[error("functions `{0}` and `{1}` overlap")]
    OverlappingFunctions(String, String),
    /// Instructions that do not decode.
    #[error("{0}")]
    Insn(DecodeError),
    /// Malformed BTF.
    #[error("{0}")]
    Btf(BtfErrorKind),
    /// `.maps` without `.BTF`.
    #[error("`.maps` needs `.BTF` to describe its maps (libbpf: \"BTF is required, but is missing or corrupted\")")]
    MissingBtf,
    /// A map symbol without a variable in the `.maps` DATASEC.
    #[error("map `{0}` has no VAR in the BTF DATASEC `.maps`")]
    MapNotInBtf(String),
    /// A map definition member that cannot be read.
    #[error("map `{map}`, field `{field}`: {reason}")]
    MapField {
        /// The map.
        map: String,
        /// The member.
        field: String,
        /// Why.
        reason: String,
    },
    /// A relocation type other than R_BPF_64_64 and R_BPF_64_32 in a program section.
    #[error("relocation type {0} is not supported in a program section (only R_BPF_64_64 = 1 and R_BPF_64_32 = 10)")]
    RelocType(u32),
    /// A relocation on something that is not an `ld_imm64` (R_BPF_64_64) or a `call` (R_BPF_64_32).
    #[error(
        "{reloc} relocation against `{symbol}` sits on opcode {opcode:#04x}, not on {expected}"
    )]
    RelocInsn {
        /// The relocation type name.
        reloc: &'static str,
        /// The symbol.
        symbol: String,
        /// The opcode found at the offset (0 when past the end).
        opcode: u8,
        /// What it must sit on.
        expected: &'static str,
    },
    /// A relocation at an offset that is not the start of an instruction of a function.
    #[error("relocation against `{0}` is not at the start of an instruction of a function")]
    RelocOffset(String),
    /// A relocation against a symbol that is neither a map nor a function.
    #[error("relocation against `{symbol}` in section `{section}`: {what} is not supported yet")]
    Unsupported {
        /// The symbol.
        symbol: String,
        /// Its section (`.rodata`, `.bss`, `UND` ...).
        section: String,
        /// What it is (global data, extern, ...).
        what: &'static str,
    },
    /// A call or function address whose target is not the start of a function.
    #[error("the call targets byte {target:#x} of `{section}`, where no function starts")]
    CallTarget {
        /// The target section.
        section: String,
        /// The target byte offset.
        target: i64,
    },
    /// A `.BTF.ext` record that does not point at an instruction start.
    #[error(
        "{what} record at byte {insn_off:#x} of `{section}` is not the start of an instruction"
    )]
    ExtOffset {
        /// func_info or line_info.
        what: &'static str,
        /// The section the record is for.
        section: String,
        /// The offset.
        insn_off: u32,
    },
}

/// Why a program cannot be laid out in ELF sections.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    /// `functions` must start with the entry at instruction 0 and be in increasing order.
    #[error("functions must start at instruction 0 and be sorted by start, each non-empty")]
    Functions,
    /// A jump out of the function it is in (functions are placed in different sections).
    #[error("the jump targets slot offset {target}, outside its function (slots {start}..{end})")]
    JumpAcrossFunctions {
        /// Target slot.
        target: i64,
        /// The function's first slot.
        start: usize,
        /// The slot after the function.
        end: usize,
    },
    /// A local call (or function address) whose target is not the start of a function.
    #[error("the call targets slot {target}, where no function of the program starts (declare it with ProgramBuilder::function)")]
    CallTarget {
        /// Target slot.
        target: i64,
    },
    /// A relocation on an instruction of the wrong kind.
    #[error("a {kind} relocation against `{symbol}` must be on {expected}")]
    RelocInsn {
        /// Map or function.
        kind: &'static str,
        /// The symbol.
        symbol: String,
        /// What it must be on.
        expected: &'static str,
    },
    /// A relocation against a name the object does not define.
    #[error("relocation against `{0}`, which the object does not define")]
    UnknownSymbol(String),
    /// A relocation on an instruction index past the end.
    #[error("relocation against `{0}` is past the last instruction")]
    RelocPastEnd(String),
}
