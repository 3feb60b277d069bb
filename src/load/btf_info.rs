//! BTF for the loader: a raw `.BTF` blob plus the per-program records of `.BTF.ext`.
//!
//! The loader does not parse or build BTF; it passes the blob to `BPF_BTF_LOAD` and the
//! records to `BPF_PROG_LOAD`. Whoever encodes BTF (the ELF reader, the BTF encoder) fills a
//! [`BtfInfo`].

/// A `bpf_func_info` record: the function starting at slot `insn_off` has BTF type `type_id`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FuncInfo {
    /// Slot index (not byte offset) of the function's first instruction, within its program.
    pub insn_off: u32,
    /// BTF id of the function's `FUNC` type.
    pub type_id: u32,
}

/// A `bpf_line_info` record: the instruction at slot `insn_off` comes from this source line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct LineInfo {
    /// Slot index (not byte offset) of the instruction, within its program. Never the second
    /// slot of an `ld_imm64`.
    pub insn_off: u32,
    /// Offset of the file name in the BTF string section.
    pub file_name_off: u32,
    /// Offset of the line's text in the BTF string section (the verifier prints it).
    pub line_off: u32,
    /// `line << 10 | column`.
    pub line_col: u32,
}

impl LineInfo {
    /// A record for `line` and `column` (the column is clamped to its 10 bits).
    pub fn new(insn_off: u32, file_name_off: u32, line_off: u32, line: u32, column: u32) -> Self {
        LineInfo {
            insn_off,
            file_name_off,
            line_off,
            line_col: (line << 10) | column.min(0x3ff),
        }
    }

    /// The line number.
    pub fn line(&self) -> u32 {
        self.line_col >> 10
    }

    /// The column.
    pub fn column(&self) -> u32 {
        self.line_col & 0x3ff
    }
}

/// The `.BTF.ext` records of one program (by its name, [`crate::program::Program::name`]).
///
/// Offsets count slots from the program's first instruction. When the loader appends a
/// callee container (a `.text` program) to a program, it shifts that container's records by
/// where it lands, as libbpf does.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProgramBtf {
    /// The program's name.
    pub program: String,
    /// One record per function, ascending; the first at slot 0.
    pub func_info: Vec<FuncInfo>,
    /// Line records, ascending; the first at slot 0.
    pub line_info: Vec<LineInfo>,
}

/// BTF type ids of a map's key and value, passed to `BPF_MAP_CREATE`.
///
/// Ignored for queue and stack maps, as libbpf does: they have no key, and with a zero key
/// type id the kernel insists on a map-type BTF check these maps do not implement (`EINVAL`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MapBtf {
    /// The map's name.
    pub map: String,
    /// BTF id of the key type (0: none).
    pub key_type_id: u32,
    /// BTF id of the value type.
    pub value_type_id: u32,
}

/// BTF to load along with an object: the raw blob and the per-program and per-map ids.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BtfInfo {
    /// The raw `.BTF` section: header, type section, string section.
    pub btf: Vec<u8>,
    /// Records per program.
    pub programs: Vec<ProgramBtf>,
    /// Type ids per map.
    pub maps: Vec<MapBtf>,
}

impl BtfInfo {
    /// The records of program `name`, if any.
    pub fn program(&self, name: &str) -> Option<&ProgramBtf> {
        self.programs.iter().find(|p| p.program == name)
    }

    /// The type ids of map `name`, if any.
    pub fn map(&self, name: &str) -> Option<&MapBtf> {
        self.maps.iter().find(|m| m.map == name)
    }
}
