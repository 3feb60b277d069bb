//! Map definitions and the kernel's creation rules.
//!
//! A [`MapDef`] is what `BPF_MAP_CREATE` takes (type, key and value size, capacity, flags) plus
//! the BTF shape of the key and value, which the ELF writer puts in `.BTF`. [`MapDef::check`]
//! applies the kernel's own creation rules, so a map the kernel would refuse with `EINVAL` is
//! an error here first, with the rule named.
//!
//! ```
//! use bpfsmith::maps::{MapDef, MapType, flags};
//!
//! // BPF_MAP_TYPE_QUEUE: FIFO, no key, 4-byte values, 10 slots.
//! let q = MapDef::queue::<u32>(10);
//! assert_eq!((q.map_type, q.key_size, q.value_size, q.max_entries), (MapType::Queue, 0, 4, 10));
//! assert!(q.check().is_ok());
//!
//! // Queue and stack maps are always preallocated: BPF_F_NO_PREALLOC is EINVAL.
//! let bad = MapDef::stack::<u64>(8).with_flags(flags::NO_PREALLOC);
//! assert!(bad.check().unwrap_err().to_string().contains("BPF_F_NO_PREALLOC"));
//! ```

pub use crate::abi::MapType;

/// Map flags of `BPF_MAP_CREATE` (`map_flags`), from the kernel's uapi header.
pub mod flags {
    /// Do not preallocate elements (hash maps only).
    pub const NO_PREALLOC: u32 = 1 << 0;
    /// Per-CPU LRU lists instead of a common one.
    pub const NO_COMMON_LRU: u32 = 1 << 1;
    /// `numa_node` is valid.
    pub const NUMA_NODE: u32 = 1 << 2;
    /// User space may only read.
    pub const RDONLY: u32 = 1 << 3;
    /// User space may only write.
    pub const WRONLY: u32 = 1 << 4;
    /// Stack traces store build ids.
    pub const STACK_BUILD_ID: u32 = 1 << 5;
    /// Zero the hash seed (tests only).
    pub const ZERO_SEED: u32 = 1 << 6;
    /// Programs may only read.
    pub const RDONLY_PROG: u32 = 1 << 7;
    /// Programs may only write.
    pub const WRONLY_PROG: u32 = 1 << 8;
    /// Clone the map on sk_storage clone.
    pub const CLONE: u32 = 1 << 9;
    /// The map may be mmap()ed.
    pub const MMAPABLE: u32 = 1 << 10;
    /// Map is preserved across exec.
    pub const PRESERVE_ELEMS: u32 = 1 << 11;
    /// Inner map may be of a different size.
    pub const INNER_MAP: u32 = 1 << 12;
    /// The access flags, which every map type accepts.
    pub const ACCESS_MASK: u32 = RDONLY | RDONLY_PROG | WRONLY | WRONLY_PROG;
}

/// The BTF shape of a map's key or value, written to `.BTF` by the ELF writer.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TypeDesc {
    /// An integer type (`unsigned int`, `long long` ...).
    Int {
        /// The C name, used for the BTF INT type.
        name: &'static str,
        /// Size in bytes: 1, 2, 4, 8 or 16.
        size: u32,
        /// Signedness.
        signed: bool,
    },
    /// An array of `len` bytes (`unsigned char[len]`), for values of any other shape.
    Bytes(u32),
}

impl TypeDesc {
    /// The unsigned integer of `size` bytes (1, 2, 4 or 8), or a byte array of that size, or
    /// nothing for 0: the type a definition given by sizes alone gets. An array map's key must
    /// be a 32-bit integer in BTF (the kernel's `array_map_check_btf`), so a 4-byte key is
    /// `unsigned int`, never `unsigned char[4]`.
    pub fn of_size(size: u32) -> Option<TypeDesc> {
        let name = match size {
            0 => return None,
            1 => "unsigned char",
            2 => "unsigned short",
            4 => "unsigned int",
            8 => "unsigned long long",
            n => return Some(TypeDesc::Bytes(n)),
        };
        Some(TypeDesc::Int {
            name,
            size,
            signed: false,
        })
    }

    /// Size in bytes.
    pub fn size(&self) -> u32 {
        match self {
            TypeDesc::Int { size, .. } => *size,
            TypeDesc::Bytes(n) => *n,
        }
    }
}

/// A plain-data value type that can live in a map: it knows its BTF shape.
///
/// Implemented for the integer types and byte arrays.
pub trait MapValue: Copy + 'static {
    /// The BTF shape.
    fn type_desc() -> TypeDesc;
    /// Little-endian bytes of the value, `type_desc().size()` long.
    fn to_bytes(&self) -> Vec<u8>;
    /// The value from little-endian bytes (`None` when the length does not match).
    fn from_bytes(b: &[u8]) -> Option<Self>;
    /// Call `f` with the value's bytes, without allocating where the type allows it (the
    /// user-space map handles use this on their hot path).
    fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        f(&self.to_bytes())
    }
}

macro_rules! int_value {
    ($($t:ty, $name:literal, $signed:literal;)*) => {$(
        impl MapValue for $t {
            fn type_desc() -> TypeDesc {
                TypeDesc::Int { name: $name, size: std::mem::size_of::<$t>() as u32, signed: $signed }
            }
            fn to_bytes(&self) -> Vec<u8> {
                self.to_le_bytes().to_vec()
            }
            fn from_bytes(b: &[u8]) -> Option<Self> {
                Some(<$t>::from_le_bytes(b.try_into().ok()?))
            }
            fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
                f(&self.to_le_bytes())
            }
        }
    )*};
}

int_value! {
    u8, "unsigned char", false;
    i8, "signed char", true;
    u16, "unsigned short", false;
    i16, "short", true;
    u32, "unsigned int", false;
    i32, "int", true;
    u64, "unsigned long long", false;
    i64, "long long", true;
}

impl<const N: usize> MapValue for [u8; N] {
    fn type_desc() -> TypeDesc {
        TypeDesc::Bytes(N as u32)
    }
    fn to_bytes(&self) -> Vec<u8> {
        self.to_vec()
    }
    fn from_bytes(b: &[u8]) -> Option<Self> {
        b.try_into().ok()
    }
    fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        f(self)
    }
}

/// A map definition: the attributes of `BPF_MAP_CREATE` and the BTF shape of key and value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MapDef {
    /// The map type.
    pub map_type: MapType,
    /// Key size in bytes (0 for queue and stack).
    pub key_size: u32,
    /// Value size in bytes.
    pub value_size: u32,
    /// Capacity.
    pub max_entries: u32,
    /// `map_flags` (see [`flags`]).
    pub map_flags: u32,
    /// BTF shape of the key, if the map has one.
    pub key_type: Option<TypeDesc>,
    /// BTF shape of the value.
    pub value_type: Option<TypeDesc>,
}

impl MapDef {
    /// A map of any type with sizes only (the BTF shapes are byte arrays).
    pub fn new(map_type: MapType, key_size: u32, value_size: u32, max_entries: u32) -> MapDef {
        MapDef {
            map_type,
            key_size,
            value_size,
            max_entries,
            map_flags: 0,
            key_type: TypeDesc::of_size(key_size),
            value_type: (value_size > 0).then_some(TypeDesc::Bytes(value_size)),
        }
    }

    fn keyless<V: MapValue>(map_type: MapType, max_entries: u32) -> MapDef {
        let v = V::type_desc();
        MapDef {
            map_type,
            key_size: 0,
            value_size: v.size(),
            max_entries,
            map_flags: 0,
            key_type: None,
            value_type: Some(v),
        }
    }

    fn keyed<K: MapValue, V: MapValue>(map_type: MapType, max_entries: u32) -> MapDef {
        let k = K::type_desc();
        let v = V::type_desc();
        MapDef {
            map_type,
            key_size: k.size(),
            value_size: v.size(),
            max_entries,
            map_flags: 0,
            key_type: Some(k),
            value_type: Some(v),
        }
    }

    /// `BPF_MAP_TYPE_QUEUE` of `V` values: FIFO, pop and peek give the oldest element.
    pub fn queue<V: MapValue>(max_entries: u32) -> MapDef {
        Self::keyless::<V>(MapType::Queue, max_entries)
    }

    /// `BPF_MAP_TYPE_STACK` of `V` values: LIFO, pop and peek give the newest element.
    pub fn stack<V: MapValue>(max_entries: u32) -> MapDef {
        Self::keyless::<V>(MapType::Stack, max_entries)
    }

    /// `BPF_MAP_TYPE_ARRAY` of `V` values (the key is the `u32` index).
    pub fn array<V: MapValue>(max_entries: u32) -> MapDef {
        Self::keyed::<u32, V>(MapType::Array, max_entries)
    }

    /// `BPF_MAP_TYPE_HASH` from `K` to `V`.
    pub fn hash<K: MapValue, V: MapValue>(max_entries: u32) -> MapDef {
        Self::keyed::<K, V>(MapType::Hash, max_entries)
    }

    /// The same definition with these `map_flags`.
    pub fn with_flags(mut self, map_flags: u32) -> MapDef {
        self.map_flags = map_flags;
        self
    }

    /// Check the kernel's creation rules for this map type (`map_alloc_check` of the type and
    /// the generic checks of `map_create`), and that the kernel accepts the definition's BTF
    /// (numbers it carries as array lengths stay under [`MAX_BTF_UINT`]). A definition that
    /// passes may still be refused for reasons only the running kernel knows (memory limits,
    /// privileges).
    pub fn check(&self) -> Result<(), MapDefError> {
        self.check_create()?;
        self.check_btf()
    }

    /// The members of the map's libbpf-style BTF definition struct, in libbpf's order: type,
    /// key, value, max_entries, map_flags (only when non-zero). A key or value without a BTF
    /// shape is given by its size (`key_size` / `value_size`); queue and stack maps have no
    /// key. The ELF writer encodes exactly these.
    pub fn btf_members(&self) -> Vec<(&'static str, BtfMember<'_>)> {
        let mut f = vec![("type", BtfMember::Uint(self.map_type as u32))];
        match &self.key_type {
            Some(t) => f.push(("key", BtfMember::Type(t))),
            None if self.key_size > 0 => f.push(("key_size", BtfMember::Uint(self.key_size))),
            None => {}
        }
        match &self.value_type {
            Some(t) => f.push(("value", BtfMember::Type(t))),
            None if self.value_size > 0 => f.push(("value_size", BtfMember::Uint(self.value_size))),
            None => {}
        }
        f.push(("max_entries", BtfMember::Uint(self.max_entries)));
        if self.map_flags != 0 {
            f.push(("map_flags", BtfMember::Uint(self.map_flags)));
        }
        f
    }

    /// The kernel resolves every BTF array and refuses one whose size overflows 32 bits
    /// (`btf_array_resolve`: `elem_size > U32_MAX / nelems`), so `int (*max_entries)[N]` loads
    /// only for N up to [`MAX_BTF_UINT`]: without this check the refusal comes at load time, as
    /// a BTF dump.
    fn check_btf(&self) -> Result<(), MapDefError> {
        for (field, member) in self.btf_members() {
            match member {
                BtfMember::Uint(value) if value > MAX_BTF_UINT => {
                    return Err(MapDefError::BtfArrayTooLarge { field, value })
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn check_create(&self) -> Result<(), MapDefError> {
        use MapDefError as E;
        let f = self.map_flags;
        if f & flags::RDONLY_PROG != 0 && f & flags::WRONLY_PROG != 0 {
            return Err(E::ProgAccessFlags);
        }
        if f & flags::RDONLY != 0 && f & flags::WRONLY != 0 {
            return Err(E::UserAccessFlags);
        }
        if self.map_type == MapType::Unspec {
            return Err(E::UnspecType);
        }
        if self.map_type.is_queue_or_stack() {
            // queue_stack_map_alloc_check
            let kind = self.map_type;
            if self.key_size != 0 {
                return Err(E::QueueStackKey {
                    kind,
                    key_size: self.key_size,
                });
            }
            if self.value_size == 0 {
                return Err(E::ZeroValueSize { kind });
            }
            if self.max_entries == 0 {
                return Err(E::ZeroMaxEntries { kind });
            }
            if f & flags::NO_PREALLOC != 0 {
                return Err(E::QueueStackNoPrealloc { kind });
            }
            let allowed = flags::NUMA_NODE | flags::ACCESS_MASK;
            if f & !allowed != 0 {
                return Err(E::UnsupportedFlags {
                    kind,
                    flags: f & !allowed,
                });
            }
            return Ok(());
        }
        match self.map_type {
            MapType::Array | MapType::PercpuArray => {
                // array_map_alloc_check
                if self.key_size != 4 {
                    return Err(E::ArrayKey {
                        key_size: self.key_size,
                    });
                }
                if self.value_size == 0 {
                    return Err(E::ZeroValueSize {
                        kind: self.map_type,
                    });
                }
                if self.max_entries == 0 {
                    return Err(E::ZeroMaxEntries {
                        kind: self.map_type,
                    });
                }
            }
            MapType::Hash | MapType::PercpuHash | MapType::LruHash | MapType::LruPercpuHash => {
                // htab_map_alloc_check
                if self.key_size == 0 {
                    return Err(E::ZeroKeySize {
                        kind: self.map_type,
                    });
                }
                if self.value_size == 0 {
                    return Err(E::ZeroValueSize {
                        kind: self.map_type,
                    });
                }
                if self.max_entries == 0 {
                    return Err(E::ZeroMaxEntries {
                        kind: self.map_type,
                    });
                }
            }
            // Ring buffers, arenas, storages and the rest have their own rules; the kernel
            // checks them.
            _ => {}
        }
        Ok(())
    }
}

/// A member of a map's BTF definition struct ([`MapDef::btf_members`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BtfMember<'a> {
    /// `__uint(name, N)`: a pointer to an array of N ints.
    Uint(u32),
    /// `__type(name, T)`: a pointer to `T`.
    Type(&'a TypeDesc),
}

/// The largest number a map's BTF definition can carry as an array length: `int (*name)[N]` is
/// an array of N 4-byte ints, which the kernel refuses past 4 GiB (`U32_MAX / 4`, 2^30 - 1).
pub const MAX_BTF_UINT: u32 = u32::MAX / 4;

/// A map definition the kernel would refuse, with the rule it breaks.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MapDefError {
    /// Queue and stack maps have no key.
    #[error("{kind} maps have no key: key_size must be 0, not {key_size} (queue_stack_map_alloc_check: EINVAL)")]
    QueueStackKey {
        /// Queue or stack.
        kind: MapType,
        /// The key size given.
        key_size: u32,
    },
    /// Queue and stack maps are always preallocated.
    #[error("{kind} maps are always preallocated: BPF_F_NO_PREALLOC is refused (queue_stack_map_alloc_check: EINVAL)")]
    QueueStackNoPrealloc {
        /// Queue or stack.
        kind: MapType,
    },
    /// Flags the map type does not accept.
    #[error("{kind} maps accept only BPF_F_NUMA_NODE and the access flags; {flags:#x} is refused (EINVAL)")]
    UnsupportedFlags {
        /// The map type.
        kind: MapType,
        /// The refused bits.
        flags: u32,
    },
    /// Zero value size.
    #[error("{kind} maps need value_size > 0 (EINVAL)")]
    ZeroValueSize {
        /// The map type.
        kind: MapType,
    },
    /// Zero key size where a key is required.
    #[error("{kind} maps need key_size > 0 (EINVAL)")]
    ZeroKeySize {
        /// The map type.
        kind: MapType,
    },
    /// Zero capacity.
    #[error("{kind} maps need max_entries > 0 (EINVAL)")]
    ZeroMaxEntries {
        /// The map type.
        kind: MapType,
    },
    /// Array keys are `u32` indexes.
    #[error("array maps are indexed by a u32: key_size must be 4, not {key_size} (array_map_alloc_check: EINVAL)")]
    ArrayKey {
        /// The key size given.
        key_size: u32,
    },
    /// Both program-side access restrictions.
    #[error("BPF_F_RDONLY_PROG and BPF_F_WRONLY_PROG exclude each other (EINVAL)")]
    ProgAccessFlags,
    /// Both user-side access restrictions.
    #[error("BPF_F_RDONLY and BPF_F_WRONLY exclude each other (EINVAL)")]
    UserAccessFlags,
    /// Type 0.
    #[error("map type 0 (unspec) cannot be created (EINVAL)")]
    UnspecType,
    /// A number too large for the map's BTF definition.
    #[error(
        "{field} = {value} cannot be described in BTF: the definition carries it as the length \
         of an array of 4-byte ints (`int (*{field})[{value}]`), and the kernel refuses an array \
         over 4 GiB (btf_array_resolve: \"Array size overflows U32_MAX\", EINVAL); the largest \
         {field} is {max}",
        max = MAX_BTF_UINT
    )]
    BtfArrayTooLarge {
        /// The definition's member: `max_entries`, `key_size`, `value_size`, `map_flags`.
        field: &'static str,
        /// The value given.
        value: u32,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_stack_rules_follow_the_kernel() {
        let ok = MapDef::queue::<u32>(32);
        assert_eq!(ok.check(), Ok(()));
        let mut k = ok.clone();
        k.key_size = 4;
        assert!(matches!(
            k.check(),
            Err(MapDefError::QueueStackKey { key_size: 4, .. })
        ));
        let mut v = ok.clone();
        v.value_size = 0;
        assert!(matches!(v.check(), Err(MapDefError::ZeroValueSize { .. })));
        let mut m = ok.clone();
        m.max_entries = 0;
        assert!(matches!(m.check(), Err(MapDefError::ZeroMaxEntries { .. })));
        assert!(ok
            .clone()
            .with_flags(flags::NUMA_NODE | flags::RDONLY_PROG)
            .check()
            .is_ok());
        assert_eq!(
            ok.clone()
                .with_flags(flags::RDONLY_PROG | flags::WRONLY_PROG)
                .check(),
            Err(MapDefError::ProgAccessFlags)
        );
        assert!(matches!(
            ok.with_flags(flags::MMAPABLE).check(),
            Err(MapDefError::UnsupportedFlags {
                flags: flags::MMAPABLE,
                ..
            })
        ));
    }

    /// The BTF limit: 2^30 - 1 is the last length of an `int` array the kernel resolves
    /// (`4 > U32_MAX / n` first holds at n = 2^30).
    #[test]
    fn btf_array_lengths_stop_at_u32_max_over_4() {
        assert_eq!(MAX_BTF_UINT, (1 << 30) - 1);
        assert_eq!(u32::MAX / MAX_BTF_UINT, 4);
        assert_eq!(u32::MAX / (MAX_BTF_UINT + 1), 3);
        assert_eq!(MapDef::queue::<u32>(MAX_BTF_UINT).check(), Ok(()));
        let e = MapDef::queue::<u32>(1 << 30).check().unwrap_err();
        assert_eq!(
            e,
            MapDefError::BtfArrayTooLarge {
                field: "max_entries",
                value: 1 << 30
            }
        );
        assert!(e
            .to_string()
            .contains("the largest max_entries is 1073741823"));
        // A size without a BTF shape is an array length too; one with a shape is not.
        let mut sized = MapDef::new(MapType::Hash, 4, 1 << 30, 1);
        assert_eq!(sized.check(), Ok(()));
        sized.value_type = None;
        assert!(matches!(
            sized.check(),
            Err(MapDefError::BtfArrayTooLarge {
                field: "value_size",
                ..
            })
        ));
    }

    #[test]
    fn names_round_trip() {
        for &t in MapType::ALL {
            assert_eq!(MapType::from_name(t.name()), Some(t));
            assert_eq!(MapType::from_u32(t as u32), Some(t));
        }
        assert_eq!(
            MapType::from_name("BPF_MAP_TYPE_QUEUE"),
            Some(MapType::Queue)
        );
        assert_eq!(MapType::Stack as u32, 23);
        assert_eq!(MapType::StackTrace as u32, 7);
    }
}
