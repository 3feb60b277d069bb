//! The VM's maps, with the kernel's semantics: queue and stack (`kernel/bpf/queue_stack_maps.c`),
//! array (`arraymap.c`) and hash (`hashtab.c`).
//!
//! Queue and stack keep their elements oldest first: a queue pops and peeks the oldest, a
//! stack the newest, and a push with `BPF_EXIST` on a full map drops the oldest for both. An
//! array holds `max_entries` zeroed values from the start, keyed by a `u32` index; a hash holds
//! up to `max_entries` values by key. A program's pointer to an array or hash value reaches the
//! map's own copy (what user space reads afterwards); a pointer to a deleted hash element
//! reaches nothing (the kernel may still show stale bytes there: the VM refuses the access).

use std::collections::{HashMap, VecDeque};

use super::error::VmErrorKind;
use super::{Vm, HANDLE_BASE};
use crate::helpers::Helper;
use crate::maps::{MapDef, MapType};

/// `BPF_NOEXIST`: update only an element that does not exist.
const BPF_NOEXIST: u64 = 1;
/// `BPF_EXIST`: update only an element that exists; for push, overwrite the oldest when full.
const BPF_EXIST: u64 = 2;
/// `BPF_F_LOCK`: update under the value's spin lock (the VM models no spin locks).
const BPF_F_LOCK: u64 = 4;

const ENOENT: i32 = 2;
const E2BIG: i32 = 7;
const EEXIST: i32 = 17;
const EINVAL: i32 = 22;
const ENOTSUPP: i32 = 524;

/// A map operation refused, as the kernel refuses it (the errno is the same).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MapError {
    /// `E2BIG`: push on a full queue or stack without `BPF_EXIST`, an array index past the
    /// end, or a new key in a full hash.
    #[error("map `{0}` is full or the index is past its end (E2BIG)")]
    Full(String),
    /// `ENOENT`: pop or peek on an empty map, or a key that is not there.
    #[error("map `{0}`: no such element, or empty (ENOENT)")]
    Empty(String),
    /// `EEXIST`: `BPF_NOEXIST` for a key that is there (every index of an array is).
    #[error("map `{0}`: the element exists and BPF_NOEXIST was given (EEXIST)")]
    Exists(String),
    /// `ENOTSUPP` (524, a kernel-internal errno): an operation the map type does not have,
    /// where the kernel says so rather than EINVAL (lookup-and-delete on an array).
    #[error("map `{0}`: the operation is not supported for this map type (ENOTSUPP)")]
    NotSupported(String),
    /// `EINVAL`: flags the operation does not take, a key or value of the wrong size, an
    /// operation the map type does not have, or a definition the kernel refuses to create.
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
            MapError::Exists(_) => EEXIST,
            MapError::NotSupported(_) => ENOTSUPP,
            MapError::Invalid { .. } => EINVAL,
        }
    }
}

/// What a map holds.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Data {
    /// Queue or stack elements, oldest first.
    Fifo(VecDeque<Vec<u8>>),
    /// Every array value, by index.
    Array(Vec<Vec<u8>>),
    /// Hash elements by slot (a deleted one leaves `None`: slots are never reused, so an old
    /// pointer never reaches a new element), and each key's slot.
    Hash {
        slots: Vec<Option<(Vec<u8>, Vec<u8>)>>,
        index: HashMap<Vec<u8>, usize>,
    },
}

/// A map of the VM: its definition and its contents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmMap {
    /// The map's name (as in the object).
    pub name: String,
    /// Its definition (read-only: the contents are sized by it).
    def: MapDef,
    data: Data,
}

impl VmMap {
    /// A map as `BPF_MAP_CREATE` makes it, refused where the kernel refuses (EINVAL). The VM
    /// models queue, stack, array and hash maps.
    pub fn new(name: &str, def: &MapDef) -> Result<VmMap, MapError> {
        let invalid = |why: &str| MapError::Invalid {
            map: name.to_string(),
            why: why.to_string(),
        };
        if def.max_entries == 0 || def.value_size == 0 {
            return Err(invalid("max_entries and value_size must not be 0"));
        }
        let access = crate::maps::flags::NUMA_NODE | crate::maps::flags::ACCESS_MASK;
        let data = match def.map_type {
            MapType::Queue | MapType::Stack => {
                if def.key_size != 0 {
                    return Err(invalid("a queue or stack has key_size 0"));
                }
                if def.map_flags & !access != 0 {
                    return Err(invalid("flags beyond BPF_F_NUMA_NODE and the access flags"));
                }
                Data::Fifo(VecDeque::new())
            }
            MapType::Array => {
                if def.key_size != 4 {
                    return Err(invalid("an array has key_size 4"));
                }
                let size = def.value_size as usize;
                Data::Array(vec![vec![0; size]; def.max_entries as usize])
            }
            MapType::Hash => {
                if def.key_size == 0 {
                    return Err(invalid("a hash needs key_size > 0"));
                }
                Data::Hash {
                    slots: Vec::new(),
                    index: HashMap::new(),
                }
            }
            _ => return Err(invalid("the VM models queue, stack, array and hash maps")),
        };
        Ok(VmMap {
            name: name.to_string(),
            def: def.clone(),
            data,
        })
    }

    /// The map's definition.
    pub fn def(&self) -> &MapDef {
        &self.def
    }

    fn invalid(&self, why: String) -> MapError {
        MapError::Invalid {
            map: self.name.clone(),
            why,
        }
    }

    fn check_size(&self, what: &str, got: usize, want: u32) -> Result<(), MapError> {
        if got == want as usize {
            return Ok(());
        }
        Err(self.invalid(format!("a {what} of {got} bytes, the map's are {want}")))
    }

    /// Push `value` (`bpf_map_push_elem`, or `BPF_MAP_UPDATE_ELEM` on a queue or stack).
    pub fn push(&mut self, value: &[u8], flags: u64) -> Result<(), MapError> {
        if flags > BPF_EXIST || flags == BPF_NOEXIST {
            return Err(self.invalid(format!(
                "push flags {flags}: only BPF_ANY (0) and BPF_EXIST (2)"
            )));
        }
        self.check_size("value", value.len(), self.def.value_size)?;
        let (max, name) = (self.def.max_entries as usize, self.name.clone());
        let Data::Fifo(items) = &mut self.data else {
            return Err(self.invalid("push on a map that is not a queue or stack".into()));
        };
        if items.len() >= max {
            if flags != BPF_EXIST {
                return Err(MapError::Full(name));
            }
            items.pop_front();
        }
        items.push_back(value.to_vec());
        Ok(())
    }

    /// The position pop and peek take: a queue's oldest, a stack's newest.
    fn next_index(&self) -> Option<usize> {
        match &self.data {
            Data::Fifo(items) if items.is_empty() => None,
            Data::Fifo(items) if self.def.map_type == MapType::Stack => Some(items.len() - 1),
            Data::Fifo(_) => Some(0),
            _ => None,
        }
    }

    /// Remove and return the next element (`bpf_map_pop_elem`, `BPF_MAP_LOOKUP_AND_DELETE_ELEM`).
    pub fn pop(&mut self) -> Result<Vec<u8>, MapError> {
        let i = self.next_index();
        match (&mut self.data, i) {
            (Data::Fifo(items), Some(i)) => items.remove(i),
            _ => None,
        }
        .ok_or_else(|| MapError::Empty(self.name.clone()))
    }

    /// The next element, left in place (`bpf_map_peek_elem`, `BPF_MAP_LOOKUP_ELEM`).
    pub fn peek(&self) -> Result<Vec<u8>, MapError> {
        match (&self.data, self.next_index()) {
            (Data::Fifo(items), Some(i)) => items.get(i).cloned(),
            _ => None,
        }
        .ok_or_else(|| MapError::Empty(self.name.clone()))
    }

    /// Every element: a queue's or stack's in the order pops would give them, an array's by
    /// index, a hash's values in the order they were first added.
    pub fn contents(&self) -> Vec<Vec<u8>> {
        match &self.data {
            Data::Fifo(items) if self.def.map_type == MapType::Stack => {
                items.iter().rev().cloned().collect()
            }
            Data::Fifo(items) => items.iter().cloned().collect(),
            Data::Array(values) => values.clone(),
            Data::Hash { slots, .. } => slots.iter().flatten().map(|(_, v)| v.clone()).collect(),
        }
    }

    /// The element (its number for [`VmMap::value`]) a key names in an array or hash, if any.
    fn element(&self, key: &[u8]) -> Option<usize> {
        match &self.data {
            Data::Array(values) => {
                let k: [u8; 4] = key.try_into().ok()?;
                let i = u32::from_le_bytes(k) as usize;
                (i < values.len()).then_some(i)
            }
            Data::Hash { index, .. } => index.get(key).copied(),
            Data::Fifo(_) => None,
        }
    }

    /// The value of element `elem` (array index or hash slot), while it exists.
    pub(crate) fn value(&self, elem: usize) -> Option<&[u8]> {
        match &self.data {
            Data::Array(values) => values.get(elem).map(Vec::as_slice),
            Data::Hash { slots, .. } => slots.get(elem)?.as_ref().map(|(_, v)| v.as_slice()),
            Data::Fifo(_) => None,
        }
    }

    /// [`VmMap::value`], to change.
    pub(crate) fn value_mut(&mut self, elem: usize) -> Option<&mut [u8]> {
        match &mut self.data {
            Data::Array(values) => values.get_mut(elem).map(Vec::as_mut_slice),
            Data::Hash { slots, .. } => {
                slots.get_mut(elem)?.as_mut().map(|(_, v)| v.as_mut_slice())
            }
            Data::Fifo(_) => None,
        }
    }

    /// The value of `key` in an array or hash, the next element of a queue or stack (peek):
    /// `BPF_MAP_LOOKUP_ELEM`.
    pub fn lookup(&self, key: &[u8]) -> Result<Vec<u8>, MapError> {
        self.check_size("key", key.len(), self.def.key_size)?;
        if let Data::Fifo(_) = self.data {
            return self.peek();
        }
        self.element(key)
            .and_then(|e| self.value(e))
            .map(<[u8]>::to_vec)
            .ok_or_else(|| MapError::Empty(self.name.clone()))
    }

    /// Set the value of `key` in an array or hash (`bpf_map_update_elem`,
    /// `BPF_MAP_UPDATE_ELEM`), with `BPF_ANY` (0), `BPF_NOEXIST` (1) or `BPF_EXIST` (2).
    pub fn update(&mut self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        if flags & !BPF_F_LOCK > BPF_EXIST {
            return Err(self.invalid(format!("update flags {flags:#x}")));
        }
        if flags & BPF_F_LOCK != 0 {
            return Err(self.invalid("BPF_F_LOCK on a value without a spin lock".into()));
        }
        self.check_size("key", key.len(), self.def.key_size)?;
        self.check_size("value", value.len(), self.def.value_size)?;
        let name = self.name.clone();
        let existing = self.element(key);
        let max = self.def.max_entries as usize;
        match &mut self.data {
            Data::Array(values) => {
                let i = existing.ok_or(MapError::Full(name.clone()))?;
                if flags == BPF_NOEXIST {
                    return Err(MapError::Exists(name));
                }
                values[i].copy_from_slice(value);
            }
            Data::Hash { slots, index } => match existing {
                Some(_) if flags == BPF_NOEXIST => return Err(MapError::Exists(name)),
                Some(e) => {
                    if let Some((_, v)) = slots.get_mut(e).and_then(Option::as_mut) {
                        v.copy_from_slice(value);
                    }
                }
                None if flags == BPF_EXIST => return Err(MapError::Empty(name)),
                None if index.len() >= max => return Err(MapError::Full(name)),
                None => {
                    index.insert(key.to_vec(), slots.len());
                    slots.push(Some((key.to_vec(), value.to_vec())));
                }
            },
            Data::Fifo(_) => return self.push(value, flags),
        }
        Ok(())
    }

    /// `BPF_MAP_LOOKUP_AND_DELETE_ELEM` (flags 0): pop a queue or stack, or remove `key` from
    /// a hash and give its value; an array has no such operation (`ENOTSUPP`, 524, as the
    /// kernel answers).
    pub fn lookup_and_delete(&mut self, key: &[u8], flags: u64) -> Result<Vec<u8>, MapError> {
        self.check_size("key", key.len(), self.def.key_size)?;
        // The syscall checks the flags first, for every map type.
        if flags & !BPF_F_LOCK != 0 {
            return Err(self.invalid(format!("lookup-and-delete flags {flags:#x}")));
        }
        if flags & BPF_F_LOCK != 0 {
            return Err(self.invalid("BPF_F_LOCK on a value without a spin lock".into()));
        }
        match &self.data {
            Data::Fifo(_) => self.pop(),
            Data::Hash { .. } => {
                let value = self.lookup(key)?;
                self.delete(key)?;
                Ok(value)
            }
            Data::Array(_) => Err(MapError::NotSupported(self.name.clone())),
        }
    }

    /// Remove `key` from a hash (`bpf_map_delete_elem`, `BPF_MAP_DELETE_ELEM`); an array's
    /// elements cannot be deleted (EINVAL).
    pub fn delete(&mut self, key: &[u8]) -> Result<(), MapError> {
        self.check_size("key", key.len(), self.def.key_size)?;
        let name = self.name.clone();
        match &mut self.data {
            Data::Hash { slots, index } => {
                let e = index.remove(key).ok_or(MapError::Empty(name))?;
                if let Some(s) = slots.get_mut(e) {
                    *s = None;
                }
                Ok(())
            }
            _ => Err(self.invalid("delete on a map that is not a hash".into())),
        }
    }
}

impl Vm {
    /// Add a map; `ld_imm64` references by index ([`crate::insn::Pseudo::MapIdx`]) use the
    /// index returned.
    pub fn add_map(&mut self, map: VmMap) -> usize {
        self.mem.maps.push(map);
        self.mem.maps.len() - 1
    }

    /// Make `ld_imm64 rN, map_fd(fd)` ([`crate::insn::Pseudo::MapFd`]) refer to map `index`.
    pub fn bind_fd(&mut self, fd: i32, index: usize) {
        self.fds.insert(fd, index);
    }

    /// The map named `name`.
    pub fn map(&self, name: &str) -> Option<&VmMap> {
        self.mem.maps.iter().find(|m| m.name == name)
    }

    /// The map named `name`, to change (user-space pushes and pops between runs).
    pub fn map_mut(&mut self, name: &str) -> Option<&mut VmMap> {
        self.mem.maps.iter_mut().find(|m| m.name == name)
    }

    /// Every map, in the order they were added.
    pub fn maps(&self) -> &[VmMap] {
        &self.mem.maps
    }

    /// The map a helper's map argument names, if its type is one of `types`.
    fn map_arg(&self, r1: u64, helper: Helper, types: &[MapType]) -> Result<usize, VmErrorKind> {
        let n = (r1 >> 32).wrapping_sub(HANDLE_BASE);
        let m = usize::try_from(n)
            .ok()
            .filter(|&i| i < self.mem.maps.len() && r1 & 0xffff_ffff == 0)
            .ok_or_else(|| {
                VmErrorKind::BadMap(format!(
                    "r1 = {r1:#x} is not a map of the VM, passed to {}",
                    helper.name()
                ))
            })?;
        let map = &self.mem.maps[m];
        if !types.contains(&map.def.map_type) {
            // The verifier's words: "cannot pass map_type 22 into func bpf_map_lookup_elem#1".
            return Err(VmErrorKind::BadMap(format!(
                "cannot pass map_type {} (map `{}`) into func {}#{}",
                map.def.map_type as u32,
                map.name,
                helper.name(),
                helper.id()
            )));
        }
        Ok(m)
    }

    /// Helpers 1-3 and 87-89: `r0` is a pointer, 0, or the negative errno, sign-extended.
    pub(super) fn map_helper(&mut self, h: Helper, args: [u64; 5]) -> Result<u64, VmErrorKind> {
        let keyed = [MapType::Array, MapType::Hash];
        let fifo = [MapType::Queue, MapType::Stack];
        let m = self.map_arg(
            args[0],
            h,
            match h {
                Helper::MapLookupElem | Helper::MapUpdateElem | Helper::MapDeleteElem => &keyed,
                _ => &fifo,
            },
        )?;
        let key_size = self.mem.maps[m].def.key_size as usize;
        let size = self.mem.maps[m].def.value_size as usize;
        let result = match h {
            Helper::MapLookupElem => {
                let key = self.mem.get(args[1], key_size)?.to_vec();
                return Ok(match self.mem.maps[m].element(&key) {
                    Some(e) => self.mem.value_address(m, e),
                    None => 0,
                });
            }
            Helper::MapUpdateElem => {
                let key = self.mem.get(args[1], key_size)?.to_vec();
                let value = self.mem.get(args[2], size)?.to_vec();
                self.mem.maps[m].update(&key, &value, args[3])
            }
            Helper::MapDeleteElem => {
                let key = self.mem.get(args[1], key_size)?.to_vec();
                self.mem.maps[m].delete(&key)
            }
            Helper::MapPushElem => {
                let value = self.mem.get(args[1], size)?.to_vec();
                self.mem.maps[m].push(&value, args[2])
            }
            _ => {
                // Check the buffer first: the kernel's verifier guarantees it.
                self.mem.get_mut(args[1], size)?;
                let got = if h == Helper::MapPopElem {
                    self.mem.maps[m].pop()
                } else {
                    self.mem.maps[m].peek()
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
            Err(e) if self.zero_extend_map_errors => u64::from(e.errno().wrapping_neg() as u32),
            Err(e) => i64::from(-e.errno()) as u64,
        })
    }
}
