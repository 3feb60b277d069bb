//! The object: programs, maps and a license, the unit that is written to ELF and loaded.
//!
//! [`Object::to_elf`] writes it as a relocatable eBPF ELF file ([`mod@write`] describes the
//! layout), [`Object::from_elf`] / [`ElfObject::parse`] read one back, ours or clang's
//! ([`read`] describes what is read), [`ObjectView::parse`] reads one the same way but decodes
//! its programs from the file's bytes only as they are walked ([`view`], what `bpfsmith dis`
//! lists), and [`btf`] encodes and parses the BTF that goes with it.

pub mod btf;
mod code;
mod describe;
mod error;
mod layout;
pub(crate) mod link;
pub mod read;
pub mod view;
pub mod write;

pub use error::{ElfError, ElfErrorKind, LayoutError};
pub use read::ElfObject;
pub use view::{ObjectView, ProgramView};
pub use write::{ElfOptions, LABELS_SECTION};

use crate::maps::{MapDef, MapDefError};
use crate::program::{MapRef, Program, RelocKind, Section};

/// A map of an object: its name (the symbol in `.maps`) and definition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Map {
    /// The name.
    pub name: String,
    /// The definition.
    pub def: MapDef,
    /// Whether a loader shares it through bpffs (clang's `__uint(pinning, ...)`).
    pub pinning: Pinning,
}

impl Map {
    /// The members of the map's BTF definition struct, in `.maps` order: the definition's
    /// ([`MapDef::btf_members`]) and `pinning` when the map is pinned, as clang writes
    /// `__uint(pinning, LIBBPF_PIN_BY_NAME)` (the writer keeps what the reader read).
    pub fn btf_members(&self) -> Vec<(&'static str, crate::maps::BtfMember<'_>)> {
        let mut m = self.def.btf_members();
        if self.pinning == Pinning::ByName {
            m.push(("pinning", crate::maps::BtfMember::Uint(1)));
        }
        m
    }
}

/// How a loader shares a map through a bpffs mount: libbpf's `pinning` attribute of a BTF map
/// definition (`__uint(pinning, LIBBPF_PIN_BY_NAME)`). The assembler's `.map` takes it as
/// `pinning=by_name` (or `none`); the printers show it that way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Pinning {
    /// Not pinned (`LIBBPF_PIN_NONE`, 0): each load creates the map.
    #[default]
    None,
    /// Pinned by name (`LIBBPF_PIN_BY_NAME`, 1): a load reuses the map pinned at
    /// `<root>/<map name>` (the root is `/sys/fs/bpf` unless
    /// [`crate::load::LoadOptions::pin_root`] says otherwise), after checking that it has the
    /// same definition, or creates the map and pins it there.
    ByName,
}

impl Pinning {
    /// `none` or `by_name`, as `.map` writes it.
    pub fn name(self) -> &'static str {
        match self {
            Pinning::None => "none",
            Pinning::ByName => "by_name",
        }
    }

    /// The pinning `.map` names: `none`/`by_name`, libbpf's `LIBBPF_PIN_NONE`/
    /// `LIBBPF_PIN_BY_NAME`, or its numbers 0/1.
    pub fn from_name(name: &str) -> Option<Pinning> {
        match name {
            "none" | "LIBBPF_PIN_NONE" | "0" => Some(Pinning::None),
            "by_name" | "LIBBPF_PIN_BY_NAME" | "1" => Some(Pinning::ByName),
            _ => None,
        }
    }
}

/// Programs, maps and a license: what an ELF object holds.
///
/// ```
/// use bpfsmith::prelude::*;
///
/// let mut obj = Object::new("GPL");
/// let q = obj.map("events", MapDef::queue::<u64>(64)).unwrap();
/// assert_eq!(q.name(), "events");
/// // A second map of the same name would clash in the symbol table.
/// assert!(obj.map("events", MapDef::stack::<u64>(8)).is_err());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Object {
    /// The license string (`GPL` lets programs call GPL-only helpers).
    pub license: String,
    /// The maps, in `.maps` order.
    pub maps: Vec<Map>,
    /// The programs.
    pub programs: Vec<Program>,
}

/// Why a map or program cannot be added to an object.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ObjectError {
    /// The map definition breaks a kernel rule.
    #[error("map `{map}`: {source}")]
    BadMap {
        /// The map.
        map: String,
        /// The rule.
        source: MapDefError,
    },
    /// Two maps or two programs share a name.
    #[error(
        "the name `{0}` is used twice: map and program names are ELF symbols and must be unique"
    )]
    DuplicateName(String),
    /// A name that cannot be an ELF symbol or BTF name.
    #[error(
        "`{0}` is not a valid name: use letters, digits, `_` and `.`, not starting with a digit"
    )]
    BadName(String),
    /// A program references a map the object does not have.
    #[error("program `{program}` references map `{map}`, which the object does not define")]
    UnknownMap {
        /// The program.
        program: String,
        /// The missing map.
        map: String,
    },
}

/// The names an [`Object`] takes for its maps and functions, and the assembler for its
/// symbols: `[A-Za-z_][A-Za-z0-9_.]*`, a C identifier that may hold `.` after its first
/// character (as ELF symbols and BTF names may). The one rule; the BTF encoder's
/// `valid_identifier` (the kernel's rule) also takes a leading `.`.
pub(crate) fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

impl Object {
    /// An empty object with this license.
    pub fn new(license: &str) -> Object {
        Object {
            license: license.to_owned(),
            maps: Vec::new(),
            programs: Vec::new(),
        }
    }

    fn name_taken(&self, name: &str) -> bool {
        self.maps.iter().any(|m| m.name == name)
            || self
                .programs
                .iter()
                .any(|p| p.functions.iter().any(|f| f.name == name))
    }

    /// Add a map; the definition must pass the kernel's creation rules ([`MapDef::check`]).
    /// Returns the handle programs use to reference it.
    pub fn map(&mut self, name: &str, def: MapDef) -> Result<MapRef, ObjectError> {
        // An invalid name is never taken: `map_named_uniquely` refuses it.
        if self.name_taken(name) {
            return Err(ObjectError::DuplicateName(name.to_owned()));
        }
        self.map_named_uniquely(name, def)
    }

    /// [`Object::map`] for a caller that has made sure no map or function of the object has
    /// this name yet (the assembler, which checks as it reads): no scan of the names, so that
    /// adding n maps stays linear.
    pub(crate) fn map_named_uniquely(
        &mut self,
        name: &str,
        def: MapDef,
    ) -> Result<MapRef, ObjectError> {
        if !valid_name(name) {
            return Err(ObjectError::BadName(name.to_owned()));
        }
        def.check().map_err(|source| ObjectError::BadMap {
            map: name.to_owned(),
            source,
        })?;
        self.maps.push(Map {
            name: name.to_owned(),
            def: def.clone(),
            pinning: Pinning::None,
        });
        Ok(MapRef::new(name, def))
    }

    /// The handle of the map called `name`.
    pub fn map_ref(&self, name: &str) -> Option<MapRef> {
        self.maps
            .iter()
            .find(|m| m.name == name)
            .map(|m| MapRef::new(&m.name, m.def.clone()))
    }

    /// Add a finished program. Every map it references must be in the object already.
    pub fn add_program(&mut self, program: Program) -> Result<(), ObjectError> {
        for f in &program.functions {
            if !valid_name(&f.name) {
                return Err(ObjectError::BadName(f.name.clone()));
            }
            if self.name_taken(&f.name) {
                return Err(ObjectError::DuplicateName(f.name.clone()));
            }
        }
        for r in &program.relocs {
            if r.kind == RelocKind::Map && !self.maps.iter().any(|m| m.name == r.symbol) {
                return Err(ObjectError::UnknownMap {
                    program: program.name.clone(),
                    map: r.symbol.clone(),
                });
            }
        }
        self.programs.push(program);
        Ok(())
    }

    /// Add a finished program whose map relocations may name maps the object does not
    /// define: those are written as undefined symbols (`R_BPF_64_64` against a GLOBAL NOTYPE
    /// symbol of no section, as llvm-mc writes `r1 = name ll` for an undeclared `name`), extern
    /// maps that a loader must supply ([`Object::extern_maps`]). Everything else is checked
    /// as by [`Object::add_program`].
    ///
    /// ```
    /// let obj = bpfsmith::text::assemble("t.s", ".text\nr9 = dummy_map ll\nr0 = 0\nexit\n").unwrap();
    /// assert_eq!(obj.extern_maps(), vec!["dummy_map"]);
    /// ```
    pub fn add_program_with_extern_maps(&mut self, program: Program) -> Result<(), ObjectError> {
        let relocs = program.relocs.clone();
        let mut checked = program;
        checked
            .relocs
            .retain(|r| r.kind != RelocKind::Map || self.maps.iter().any(|m| m.name == r.symbol));
        self.add_program(checked)?;
        if let Some(p) = self.programs.last_mut() {
            p.relocs = relocs;
        }
        Ok(())
    }

    /// The maps that programs reference and the object does not define (extern maps), each
    /// once, in order of first reference.
    pub fn extern_maps(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for p in &self.programs {
            for r in &p.relocs {
                if r.kind == RelocKind::Map
                    && !self.maps.iter().any(|m| m.name == r.symbol)
                    && !out.contains(&r.symbol.as_str())
                {
                    out.push(&r.symbol);
                }
            }
        }
        out
    }

    /// For an object whose code is only in `.text` (llvm-mc's object of a file that says
    /// `.text`, or a function in `.text` with a global label): its `.text` programs become
    /// socket filters, so that they can be loaded and run. Nothing changes when some program
    /// is in a section that names a program type (then `.text` holds functions for it to
    /// call). Returns the names of the programs moved, for a notice.
    ///
    /// ```
    /// let mut obj = bpfsmith::text::assemble("t.s", ".text\nr0 = 7\nexit\n").unwrap();
    /// assert_eq!(obj.programs[0].section.name(), ".text");
    /// assert_eq!(obj.text_as_socket_filters(), vec!["main".to_owned()]);
    /// assert_eq!(obj.programs[0].section.name(), "socket");
    /// ```
    pub fn text_as_socket_filters(&mut self) -> Vec<String> {
        if self.programs.iter().any(|p| p.section != Section::TEXT) {
            return Vec::new();
        }
        let mut moved = Vec::new();
        for p in &mut self.programs {
            p.section = Section::SOCKET;
            moved.push(p.name.clone());
        }
        moved
    }

    /// The program called `name`.
    pub fn program(&self, name: &str) -> Option<&Program> {
        self.programs.iter().find(|p| p.name == name)
    }
}
