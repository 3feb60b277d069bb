//! A VM for a program of an [`Object`]: its map references (relocations against the
//! object's maps) resolved to VM maps made from the object's definitions.

use super::maps::{MapError, VmMap};
use super::Vm;
use crate::insn::{Insn, Pseudo};
use crate::object::Object;
use crate::program::RelocKind;

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
    /// A call to a function of another section: the VM runs a program whose calls stay inside
    /// it (link the object first).
    #[error("program `{program}`, instruction {insn}: `{symbol}` is a function of another section, which the VM does not link")]
    NotLinked {
        /// The program.
        program: String,
        /// The instruction index.
        insn: usize,
        /// The function.
        symbol: String,
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
    /// A VM for program `name` of `obj`: every map the program references is made empty from
    /// its definition, and each `ld_imm64` against it refers to it (as
    /// [`Pseudo::MapIdx`], or [`Pseudo::MapIdxValue`] keeping the value offset).
    pub fn from_object(obj: &Object, name: &str) -> Result<Vm, SetupError> {
        let prog = obj
            .program(name)
            .ok_or_else(|| SetupError::NoProgram(name.to_string()))?;
        let mut insns = prog.insns.clone();
        let mut maps: Vec<VmMap> = Vec::new();
        for r in &prog.relocs {
            if r.kind == RelocKind::Function {
                return Err(SetupError::NotLinked {
                    program: name.to_string(),
                    insn: r.insn,
                    symbol: r.symbol.clone(),
                });
            }
            let index = match maps.iter().position(|m| m.name == r.symbol) {
                Some(i) => i,
                None => {
                    let def = obj
                        .maps
                        .iter()
                        .find(|m| m.name == r.symbol)
                        .ok_or_else(|| SetupError::UnknownMap {
                            program: name.to_string(),
                            insn: r.insn,
                            symbol: r.symbol.clone(),
                        })?;
                    let map =
                        VmMap::new(&def.name, &def.def).map_err(|source| SetupError::Map {
                            map: def.name.clone(),
                            source,
                        })?;
                    maps.push(map);
                    maps.len() - 1
                }
            };
            match insns.get_mut(r.insn) {
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
                        insn: r.insn,
                    })
                }
            }
        }
        let mut vm = Vm::new(&insns);
        for m in maps {
            vm.add_map(m);
        }
        Ok(vm)
    }
}
