//! A VM for a program of an [`Object`]: its map references (relocations against the
//! object's maps) resolved to VM maps made from the object's definitions.

use super::maps::{MapError, VmMap};
use super::Vm;
use crate::insn::{Insn, Pseudo};
use crate::object::link as linker;
use crate::object::Object;
use crate::program::{RelocKind, SlotMap};

/// Why a program of an object cannot be set up in the VM.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SetupError {
    /// The object has no program of that name.
    #[error("the object has no program `{0}`")]
    NoProgram(String),
    /// A relocation names a map the object does not define.
    #[error("program `{program}`, instruction {insn}: no map `{symbol}` in the object")]
    UnknownMap {
        /// The program.
        program: String,
        /// The instruction index.
        insn: usize,
        /// The map name.
        symbol: String,
    },
    /// A map relocation on an instruction that is not an `ld_imm64`.
    #[error("program `{program}`, instruction {insn}: a map relocation on an instruction that is not an ld_imm64")]
    NotLdImm64 {
        /// The program.
        program: String,
        /// The instruction index.
        insn: usize,
    },
    /// A function relocation that cannot be linked: no function of that name in the object,
    /// on an instruction that is neither a call nor an `ld_imm64`, or a linker error.
    #[error("program `{program}`: cannot link `{symbol}`: {why}")]
    Link {
        /// The program.
        program: String,
        /// The function named (empty for a linker error).
        symbol: String,
        /// Why.
        why: String,
    },
    /// A map the VM cannot make (a type it does not model, or a definition the kernel refuses).
    #[error("map `{map}`: {source}")]
    Map {
        /// The map.
        map: String,
        /// Why.
        source: MapError,
    },
}

impl Vm {
    /// A VM for program `name` of `obj`, linked as the loader links it (the program first,
    /// then every function its function relocations reach, in the object's order, by the
    /// crate's linker): every map the program references is made empty from its definition,
    /// and each `ld_imm64` against it refers to it (as [`Pseudo::MapIdx`], or
    /// [`Pseudo::MapIdxValue`] keeping the value offset).
    pub fn from_object(obj: &Object, name: &str) -> Result<Vm, SetupError> {
        let entry = obj
            .programs
            .iter()
            .position(|p| p.name == name)
            .ok_or_else(|| SetupError::NoProgram(name.to_string()))?;
        let link_err = |symbol: &str, why: String| SetupError::Link {
            program: name.to_string(),
            symbol: symbol.to_string(),
            why,
        };
        let mut problem: Option<SetupError> = None;
        let refs = |u: usize| -> Vec<linker::Ref> {
            let Some(p) = obj.programs.get(u) else {
                return Vec::new();
            };
            let slots = SlotMap::new(&p.insns);
            let mut out = Vec::new();
            for r in p.relocs.iter().filter(|r| r.kind == RelocKind::Function) {
                let kind = match p.insns.get(r.insn) {
                    Some(Insn::Call(_)) => linker::RefKind::Call,
                    Some(Insn::LdImm64 { .. }) => linker::RefKind::FuncAddr,
                    _ => {
                        let why = format!("instruction {} is not a call or ld_imm64", r.insn);
                        problem.get_or_insert(link_err(&r.symbol, why));
                        continue;
                    }
                };
                let target = obj.programs.iter().enumerate().find_map(|(k, q)| {
                    let f = q.functions.iter().find(|f| f.name == r.symbol)?;
                    (f.insn < q.insns.len()).then(|| (k, SlotMap::new(&q.insns).slot(f.insn)))
                });
                match target {
                    Some((to, to_slot)) => out.push(linker::Ref {
                        slot: slots.slot(r.insn),
                        kind,
                        to,
                        to_slot,
                    }),
                    None => {
                        let why = "no function of that name in the object".to_string();
                        problem.get_or_insert(link_err(&r.symbol, why));
                    }
                }
            }
            out
        };
        let size = |u: usize| {
            obj.programs.get(u).map(|p| linker::Size {
                insns: p.insns.len(),
                slots: p.slot_count(),
            })
        };
        let linked = linker::link(entry, refs, size);
        if let Some(e) = problem {
            return Err(e);
        }
        let linked = linked.map_err(|e| link_err("", e.to_string()))?;
        let mut insns = Vec::with_capacity(linked.insns);
        let mut locations = Vec::with_capacity(linked.insns);
        let mut maps: Vec<VmMap> = Vec::new();
        for pl in &linked.placed {
            let p = &obj.programs[pl.unit];
            insns.extend_from_slice(&p.insns);
            locations.extend((0..p.insns.len()).map(|i| p.source(i).map(|s| s.to_string())));
            for r in p.relocs.iter().filter(|r| r.kind == RelocKind::Map) {
                if r.insn >= p.insns.len() {
                    // Past its own program: it would patch another unit's instruction.
                    return Err(SetupError::NotLdImm64 {
                        program: name.to_string(),
                        insn: pl.insn + r.insn,
                    });
                }
                let index = map_index(obj, &mut maps, &r.symbol).map_err(|e| match e {
                    MapProblem::Unknown => SetupError::UnknownMap {
                        program: name.to_string(),
                        insn: pl.insn + r.insn,
                        symbol: r.symbol.clone(),
                    },
                    MapProblem::Make(map, source) => SetupError::Map { map, source },
                })?;
                match insns.get_mut(pl.insn + r.insn) {
                    Some(Insn::LdImm64 { pseudo, imm, .. }) => {
                        if matches!(*pseudo, Pseudo::MapValue | Pseudo::MapIdxValue) {
                            *pseudo = Pseudo::MapIdxValue;
                            *imm = (*imm & !0xffff_ffff) | index as i64;
                        } else {
                            *pseudo = Pseudo::MapIdx;
                            *imm = index as i64;
                        }
                    }
                    _ => {
                        return Err(SetupError::NotLdImm64 {
                            program: name.to_string(),
                            insn: pl.insn + r.insn,
                        })
                    }
                }
            }
        }
        for f in linked.fixups().map_err(|e| link_err("", e.to_string()))? {
            let pl = linked.placed[f.placed];
            let p = &obj.programs[pl.unit];
            if let Some(i) = SlotMap::new(&p.insns).index(f.slot) {
                if let Some(insn) = insns.get_mut(pl.insn + i) {
                    f.imm.apply(insn);
                }
            }
        }
        let mut vm = Vm::new(&insns);
        vm.locations = locations;
        for m in maps {
            vm.add_map(m);
        }
        Ok(vm)
    }
}

enum MapProblem {
    Unknown,
    Make(String, MapError),
}

/// The VM map for the object's map `symbol`: made on first reference.
fn map_index(obj: &Object, maps: &mut Vec<VmMap>, symbol: &str) -> Result<usize, MapProblem> {
    if let Some(i) = maps.iter().position(|m| m.name == symbol) {
        return Ok(i);
    }
    let def = obj
        .maps
        .iter()
        .find(|m| m.name == symbol)
        .ok_or(MapProblem::Unknown)?;
    let map = VmMap::new(&def.name, &def.def).map_err(|e| MapProblem::Make(def.name.clone(), e))?;
    maps.push(map);
    Ok(maps.len() - 1)
}
