//! The VM's maps, with the kernel's semantics (`kernel/bpf/queue_stack_maps.c`).
//!
//! Queue and stack keep their elements oldest first: a queue pops and peeks the oldest, a
//! stack the newest, and a push with `BPF_EXIST` on a full map drops the oldest for both.

use std::collections::VecDeque;

use super::error::VmErrorKind;
use super::{Vm, HANDLE_BASE};
use crate::helpers::Helper;
use crate::maps::{MapDef, MapType};

/// `BPF_EXIST`: the push flag that overwrites the oldest element of a full map.
const BPF_EXIST: u64 = 2;

const ENOENT: i32 = 2;
const E2BIG: i32 = 7;
const EINVAL: i32 = 22;

/// A map operation refused, as the kernel refuses it (the errno is the same).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MapError {
    /// `E2BIG`: push on a full map without `BPF_EXIST`.
    #[error("map `{0}` is full (E2BIG); push with BPF_EXIST to drop the oldest element")]
    Full(String),
    /// `ENOENT`: pop or peek on an empty map.
    #[error("map `{0}` is empty (ENOENT)")]
    Empty(String),
    /// `EINVAL`: flags other than `BPF_ANY` or `BPF_EXIST`, a value of the wrong size, or a
    /// definition the kernel refuses to create.
    #[error("map `{map}`: {why} (EINVAL)")]
    Invalid {
        /// The map.
        map: String,
        /// What is wrong.
        why: String,
    },
}

impl MapError {
    /// The kernel's errno for this error (positive: `E2BIG` is 7).
    pub fn errno(&self) -> i32 {
        match self {
            MapError::Full(_) => E2BIG,
            MapError::Empty(_) => ENOENT,
            MapError::Invalid { .. } => EINVAL,
        }
    }
}

/// A map of the VM: its definition and its contents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmMap {
    /// The map's name (as in the object).
    pub name: String,
    /// Its definition.
    pub def: MapDef,
    /// Queue and stack elements, oldest first.
    items: VecDeque<Vec<u8>>,
}

impl VmMap {
    /// A map as `BPF_MAP_CREATE` makes it, refused where the kernel refuses (EINVAL). The VM
    /// models queue and stack maps.
    pub fn new(name: &str, def: &MapDef) -> Result<VmMap, MapError> {
        let invalid = |why: &str| MapError::Invalid {
            map: name.to_string(),
            why: why.to_string(),
        };
        match def.map_type {
            MapType::Queue | MapType::Stack => {
                if def.max_entries == 0 || def.key_size != 0 || def.value_size == 0 {
                    return Err(invalid(
                        "a queue or stack needs max_entries > 0, key_size 0 and value_size > 0",
                    ));
                }
                let allowed = crate::maps::flags::NUMA_NODE | crate::maps::flags::ACCESS_MASK;
                if def.map_flags & !allowed != 0 {
                    return Err(invalid("flags beyond BPF_F_NUMA_NODE and the access flags"));
                }
            }
            _ => return Err(invalid("the VM models queue and stack maps only")),
        }
        Ok(VmMap {
            name: name.to_string(),
            def: def.clone(),
            items: VecDeque::new(),
        })
    }

    fn is_stack(&self) -> bool {
        self.def.map_type == MapType::Stack
    }

    /// Push `value` (`bpf_map_push_elem`, or `BPF_MAP_UPDATE_ELEM` from user space).
    pub fn push(&mut self, value: &[u8], flags: u64) -> Result<(), MapError> {
        if flags > BPF_EXIST || flags == 1 {
            return Err(MapError::Invalid {
                map: self.name.clone(),
                why: format!("push flags {flags}: only BPF_ANY (0) and BPF_EXIST (2)"),
            });
        }
        if value.len() != self.def.value_size as usize {
            return Err(MapError::Invalid {
                map: self.name.clone(),
                why: format!(
                    "a value of {} bytes, the map's are {}",
                    value.len(),
                    self.def.value_size
                ),
            });
        }
        if self.items.len() >= self.def.max_entries as usize {
            if flags != BPF_EXIST {
                return Err(MapError::Full(self.name.clone()));
            }
            self.items.pop_front();
        }
        self.items.push_back(value.to_vec());
        Ok(())
    }

    /// The element pop and peek give: a queue's oldest, a stack's newest.
    fn next_index(&self) -> Option<usize> {
        match self.items.len() {
            0 => None,
            n if self.is_stack() => Some(n - 1),
            _ => Some(0),
        }
    }

    /// Remove and return the next element (`bpf_map_pop_elem`, `BPF_MAP_LOOKUP_AND_DELETE_ELEM`).
    pub fn pop(&mut self) -> Result<Vec<u8>, MapError> {
        let i = self
            .next_index()
            .ok_or_else(|| MapError::Empty(self.name.clone()))?;
        self.items
            .remove(i)
            .ok_or_else(|| MapError::Empty(self.name.clone()))
    }

    /// The next element, left in place (`bpf_map_peek_elem`, `BPF_MAP_LOOKUP_ELEM`).
    pub fn peek(&self) -> Result<Vec<u8>, MapError> {
        self.next_index()
            .and_then(|i| self.items.get(i))
            .cloned()
            .ok_or_else(|| MapError::Empty(self.name.clone()))
    }

    /// Every element in the order pops would give them, without removing any.
    pub fn contents(&self) -> Vec<Vec<u8>> {
        if self.is_stack() {
            self.items.iter().rev().cloned().collect()
        } else {
            self.items.iter().cloned().collect()
        }
    }

    /// The memory region of element `elem`'s value, for maps whose values live in memory.
    pub(crate) fn value_region(&self, _elem: usize) -> Option<usize> {
        None
    }
}

impl Vm {
    /// Add a map; `ld_imm64` references by index ([`crate::insn::Pseudo::MapIdx`]) use the
    /// index returned.
    pub fn add_map(&mut self, map: VmMap) -> usize {
        self.maps.push(map);
        self.maps.len() - 1
    }

    /// Make `ld_imm64 rN, map_fd(fd)` ([`crate::insn::Pseudo::MapFd`]) refer to map `index`.
    pub fn bind_fd(&mut self, fd: i32, index: usize) {
        self.fds.insert(fd, index);
    }

    /// The map named `name`.
    pub fn map(&self, name: &str) -> Option<&VmMap> {
        self.maps.iter().find(|m| m.name == name)
    }

    /// The map named `name`, to change (user-space pushes and pops between runs).
    pub fn map_mut(&mut self, name: &str) -> Option<&mut VmMap> {
        self.maps.iter_mut().find(|m| m.name == name)
    }

    /// Every map, in the order they were added.
    pub fn maps(&self) -> &[VmMap] {
        &self.maps
    }

    /// The map a helper's map argument names.
    fn map_arg(&self, r1: u64, helper: Helper) -> Result<usize, VmErrorKind> {
        let n = (r1 >> 32).wrapping_sub(HANDLE_BASE);
        usize::try_from(n)
            .ok()
            .filter(|&i| i < self.maps.len() && r1 & 0xffff_ffff == 0)
            .ok_or_else(|| {
                VmErrorKind::BadMap(format!(
                    "r1 = {r1:#x} is not a map of the VM, passed to {}",
                    helper.name()
                ))
            })
    }

    /// Helpers 87, 88 and 89: `r0` is 0 or the negative errno, sign-extended.
    pub(super) fn queue_helper(&mut self, h: Helper, args: [u64; 5]) -> Result<u64, VmErrorKind> {
        let m = self.map_arg(args[0], h)?;
        if !matches!(self.maps[m].def.map_type, MapType::Queue | MapType::Stack) {
            return Err(VmErrorKind::BadMap(format!(
                "map `{}` is not a queue or stack, passed to {}",
                self.maps[m].name,
                h.name()
            )));
        }
        let size = self.maps[m].def.value_size as usize;
        let result = match h {
            Helper::MapPushElem => {
                let value = self.mem.get(args[1], size)?.to_vec();
                self.maps[m].push(&value, args[2])
            }
            _ => {
                // Check the buffer first: the kernel's verifier guarantees it.
                self.mem.get_mut(args[1], size)?;
                let got = if h == Helper::MapPopElem {
                    self.maps[m].pop()
                } else {
                    self.maps[m].peek()
                };
                let buf = self.mem.get_mut(args[1], size)?;
                match got {
                    Ok(v) => {
                        buf.copy_from_slice(&v);
                        Ok(())
                    }
                    Err(e) => {
                        buf.fill(0);
                        Err(e)
                    }
                }
            }
        };
        Ok(match result {
            Ok(()) => 0,
            Err(e) => i64::from(-e.errno()) as u64,
        })
    }
}
