//! BTF and BTF.ext: encode the type information of an object's maps and functions, and parse
//! what clang (or bpfsmith) wrote.
//!
//! `.BTF` is a header, a type section and a string section. Type ids start at 1 (0 is `void`);
//! a type refers to others by id. `.BTF.ext` holds, per ELF section, the function records
//! (`func_info`: where each function starts and its `FUNC` type) and the line records
//! (`line_info`: where a source line starts, with its file, text, line and column).
//!
//! Two forms of the same records exist, and [`ObjectBtf`] gives the second one:
//! - in the ELF (`.BTF.ext`) instruction offsets are **bytes** from the start of the section;
//! - for `BPF_PROG_LOAD` they are **slots** (8-byte instruction units) from the start of the
//!   loaded program, which is the entry function followed by the subprograms it calls.
//!
//! What the kernel requires of them (found against Linux 6.18 and its `check_btf_func` /
//! `check_btf_line`):
//! - `func_info[0]` is at offset 0 and there is exactly one record per function (the entry and
//!   every bpf-to-bpf callee), in order; each points at a `FUNC` whose type is a
//!   `FUNC_PROTO`. A `FUNC_PROTO` used by a `FUNC` needs a name for every parameter.
//! - every function's first instruction has a `line_info` record ("missing bpf_line_info for
//!   func#N" otherwise); offsets strictly increase, never point at the second slot of an
//!   `ld_imm64`, and `file_name_off`/`line_off` must be valid string offsets. The strings
//!   themselves may be empty: a record with file "", text "" and line 0 is accepted, which is
//!   what bpfsmith writes for a function start whose source is unknown.
//! - a `DATASEC` must have a non-zero size and variables sorted by offset inside it; clang
//!   leaves size 0 and offsets 0 for libbpf to fill in from the ELF symbols, so the reader
//!   does that too before it hands out loadable bytes ([`ObjectBtf::btf`]).

mod encode;
mod parse;

pub(crate) use encode::push_u32;
pub use encode::BtfBuilder;
pub use parse::{
    Btf, BtfExt, BtfType, ExtFunc, ExtLine, ExtRecord, ExtRecords, ExtSection, Member, Param,
    TypeData, VarSecinfo,
};

/// The `.BTF` and `.BTF.ext` magic number.
pub const BTF_MAGIC: u16 = 0xeb9f;

/// `linkage` of a `FUNC`: a static function.
pub const FUNC_STATIC: u16 = 0;
/// `linkage` of a `FUNC`: a global function (entry points).
pub const FUNC_GLOBAL: u16 = 1;
/// `linkage` of a `VAR`: a global, allocated variable (maps in `.maps`).
pub const VAR_GLOBAL_ALLOCATED: u32 = 1;

/// `encoding` bit of an `INT`: signed.
pub const INT_SIGNED: u32 = 1;
/// `encoding` bit of an `INT`: a character type.
pub const INT_CHAR: u32 = 2;
/// `encoding` bit of an `INT`: a boolean.
pub const INT_BOOL: u32 = 4;

/// The kinds of BTF types (`BTF_KIND_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Kind {
    /// An integer: size, bit offset, bit count, encoding.
    Int = 1,
    /// A pointer.
    Ptr = 2,
    /// An array: element type, index type, element count.
    Array = 3,
    /// A struct with members.
    Struct = 4,
    /// A union with members.
    Union = 5,
    /// An enumeration with 32-bit values.
    Enum = 6,
    /// A forward declaration.
    Fwd = 7,
    /// A typedef.
    Typedef = 8,
    /// `volatile`.
    Volatile = 9,
    /// `const`.
    Const = 10,
    /// `restrict`.
    Restrict = 11,
    /// A function: name, linkage and a `FUNC_PROTO`.
    Func = 12,
    /// A function prototype: return type and parameters.
    FuncProto = 13,
    /// A variable.
    Var = 14,
    /// A data section: variables with offsets and sizes.
    Datasec = 15,
    /// A floating point type.
    Float = 16,
    /// A declaration tag.
    DeclTag = 17,
    /// A type tag.
    TypeTag = 18,
    /// An enumeration with 64-bit values.
    Enum64 = 19,
}

impl Kind {
    /// The kind with this number.
    pub fn from_u8(n: u8) -> Option<Kind> {
        use Kind::*;
        Some(match n {
            1 => Int,
            2 => Ptr,
            3 => Array,
            4 => Struct,
            5 => Union,
            6 => Enum,
            7 => Fwd,
            8 => Typedef,
            9 => Volatile,
            10 => Const,
            11 => Restrict,
            12 => Func,
            13 => FuncProto,
            14 => Var,
            15 => Datasec,
            16 => Float,
            17 => DeclTag,
            18 => TypeTag,
            19 => Enum64,
            _ => return None,
        })
    }

    /// The name bpftool prints (`INT`, `FUNC_PROTO` ...).
    pub fn name(self) -> &'static str {
        use Kind::*;
        match self {
            Int => "INT",
            Ptr => "PTR",
            Array => "ARRAY",
            Struct => "STRUCT",
            Union => "UNION",
            Enum => "ENUM",
            Fwd => "FWD",
            Typedef => "TYPEDEF",
            Volatile => "VOLATILE",
            Const => "CONST",
            Restrict => "RESTRICT",
            Func => "FUNC",
            FuncProto => "FUNC_PROTO",
            Var => "VAR",
            Datasec => "DATASEC",
            Float => "FLOAT",
            DeclTag => "DECL_TAG",
            TypeTag => "TYPE_TAG",
            Enum64 => "ENUM64",
        }
    }
}

pub use crate::abi::{FuncInfo, LineInfo};

/// The BTF records of one program, in the form `BPF_PROG_LOAD` takes
/// (`func_info` / `line_info`, offsets in slots of the loaded program).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProgBtfInfo {
    /// One record per function: the entry at offset 0, then each subprogram.
    pub func_info: Vec<FuncInfo>,
    /// Line records, offsets strictly increasing; every function start has one.
    pub line_info: Vec<LineInfo>,
}

/// The BTF type ids of one map, for `BPF_MAP_CREATE` (`btf_key_type_id`, `btf_value_type_id`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MapBtf {
    /// The map's `VAR` in `.maps`.
    pub var_type_id: u32,
    /// The key type, if the map has one (0 otherwise).
    pub key_type_id: u32,
    /// The value type (0 if the definition names none).
    pub value_type_id: u32,
}

/// What a loader needs from an object's BTF: the bytes for `BPF_BTF_LOAD` and, per program,
/// the records for `BPF_PROG_LOAD`.
///
/// Built from an [`crate::object::Object`] by [`crate::object::Object::btf`] (the same bytes the
/// ELF writer puts in `.BTF`), or read from an ELF file by [`crate::object::ElfObject::parse`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectBtf {
    /// The raw `.BTF` bytes, ready for `BPF_BTF_LOAD`.
    pub btf: Vec<u8>,
    /// Per program, in the order of [`crate::object::Object::programs`].
    pub programs: Vec<ProgBtfInfo>,
    /// Per map, in the order of [`crate::object::Object::maps`].
    pub maps: Vec<MapBtf>,
}

/// A malformed `.BTF` or `.BTF.ext`: where (byte offset in the section) and what.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("offset {offset:#x}: {kind}")]
pub struct BtfError {
    /// Byte offset in the section where the problem is.
    pub offset: usize,
    /// What is wrong.
    pub kind: BtfErrorKind,
}

/// What is wrong with BTF data.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BtfErrorKind {
    /// The data ends before a header, a type or a record does.
    #[error("truncated: {what} needs {need} bytes, {have} are left")]
    Truncated {
        /// What was being read.
        what: &'static str,
        /// Bytes needed.
        need: usize,
        /// Bytes left.
        have: usize,
    },
    /// The magic number is not 0xeb9f (a big-endian BTF shows as 0x9feb).
    #[error("magic {0:#06x} is not 0xeb9f")]
    BadMagic(u16),
    /// A version other than 1.
    #[error("version {0} is not supported (only 1)")]
    BadVersion(u8),
    /// A header whose lengths or offsets do not fit the data.
    #[error("bad header: {0}")]
    BadHeader(&'static str),
    /// A `BTF_KIND_*` that does not exist.
    #[error("type [{id}] has unknown kind {kind}")]
    UnknownKind {
        /// The type id.
        id: u32,
        /// The kind number.
        kind: u8,
    },
    /// A type id that refers past the last type.
    #[error("type [{from}] refers to type [{id}], but the last type is [{last}]")]
    TypeIdOutOfRange {
        /// The referring type (0 for a reference from outside the type section).
        from: u32,
        /// The missing id.
        id: u32,
        /// The last valid id.
        last: u32,
    },
    /// Types that refer to each other in a loop (or a chain deeper than the kernel's 32).
    #[error("type [{0}] starts a reference loop (or a chain deeper than 32)")]
    Loop(u32),
    /// A string offset past the string section, or a string without its NUL.
    #[error("string offset {0} is outside the string section or unterminated")]
    BadString(u32),
    /// A string that is not UTF-8.
    #[error("string at offset {0} is not UTF-8")]
    NotUtf8(u32),
    /// A type of the wrong kind where a specific kind is needed.
    #[error("type [{id}] is {found}, expected {expected}")]
    WrongKind {
        /// The type id.
        id: u32,
        /// Its kind.
        found: &'static str,
        /// What was expected.
        expected: &'static str,
    },
    /// A type whose size cannot be computed (a function, a forward declaration, void) or
    /// overflows.
    #[error("type [{0}] has no size")]
    NoSize(u32),
    /// A `.BTF.ext` record size smaller than the record.
    #[error("{what} record size {size} is smaller than {min}")]
    RecordSize {
        /// func_info or line_info.
        what: &'static str,
        /// The size found.
        size: u32,
        /// The minimum.
        min: u32,
    },
    /// A `.BTF.ext` section entry with no records.
    #[error("{0} section with no records")]
    EmptyExtSection(&'static str),
}

impl BtfError {
    pub(crate) fn new(offset: usize, kind: BtfErrorKind) -> BtfError {
        BtfError { offset, kind }
    }
}
