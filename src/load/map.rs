//! Maps from user space: the raw [`Map`] handle and the typed [`Queue`] and [`Stack`].

use std::borrow::Borrow;
use std::marker::PhantomData;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use crate::maps::{MapDef, MapDefError, MapType, MapValue};
use crate::program::PushFlags;
use crate::sys::{self, MapCreate, MapFd, SysError};

/// Why a map operation failed.
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
pub enum MapError {
    /// Push on a full queue or stack without `BPF_EXIST` (`E2BIG`).
    #[error(
        "the map is full (E2BIG): push with PushFlags::EXIST to drop the oldest element instead"
    )]
    Full,
    /// Pop or peek on an empty queue or stack (`ENOENT`).
    #[error("the map is empty (ENOENT)")]
    Empty,
    /// The kernel refused the flags (`EINVAL`): push takes `BPF_ANY` (0) or `BPF_EXIST` (2),
    /// pop and peek take 0.
    #[error("the kernel refused flags {flags:#x} (EINVAL): push takes BPF_ANY (0) or BPF_EXIST (2), pop and peek take 0")]
    InvalidFlags {
        /// The flags given.
        flags: u64,
    },
    /// Any other failure of the system call.
    #[error(transparent)]
    Other(#[from] SysError),
    /// A key buffer of the wrong size.
    #[error("map `{map}` has {expected}-byte keys, not {got}")]
    KeySize {
        /// The map.
        map: String,
        /// Its key size.
        expected: usize,
        /// The size given.
        got: usize,
    },
    /// A value buffer of the wrong size.
    #[error("map `{map}` has {expected}-byte values, not {got}")]
    ValueSize {
        /// The map.
        map: String,
        /// Its value size (for per-CPU maps: one 8-byte-aligned value per possible CPU).
        expected: usize,
        /// The size given.
        got: usize,
    },
    /// A typed handle over a map of another type.
    #[error("map `{map}` is a {actual} map, not a {expected} map")]
    WrongType {
        /// The map.
        map: String,
        /// The type wanted.
        expected: MapType,
        /// The map's type.
        actual: MapType,
    },
    /// No map of this name.
    #[error("no map named `{map}`; {}", super::names_text("map", available))]
    NotFound {
        /// The name asked for.
        map: String,
        /// The maps there are, in the object's order.
        available: Vec<String>,
    },
    /// The definition breaks a kernel rule (checked before the kernel sees it).
    #[error("map `{map}`: {error}")]
    BadDef {
        /// The map.
        map: String,
        /// The rule (shown in the message, so not also the error's `source()`).
        error: MapDefError,
    },
    /// The kernel reports a map type this crate does not know.
    #[error("map `{map}` has map type {map_type}, unknown to bpfsmith")]
    UnknownType {
        /// The map.
        map: String,
        /// The type number.
        map_type: u32,
    },
}

impl MapError {
    /// The errno behind the error, when the kernel gave one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            MapError::Full => Some(libc::E2BIG),
            MapError::Empty => Some(libc::ENOENT),
            MapError::InvalidFlags { .. } => Some(libc::EINVAL),
            MapError::Other(e) => Some(e.errno),
            _ => None,
        }
    }

    /// The typed meaning of a queue/stack command's errno.
    fn queue_stack(e: SysError, flags: u64) -> MapError {
        match e.errno {
            libc::E2BIG => MapError::Full,
            libc::ENOENT => MapError::Empty,
            libc::EINVAL => MapError::InvalidFlags { flags },
            _ => MapError::Other(e),
        }
    }
}

/// A map in the kernel: an owned file descriptor, the map's name and its definition.
///
/// The element operations work on byte slices. A keyless map (queue, stack, ring buffer ...)
/// takes an empty key, passed to the kernel as NULL.
#[derive(Debug)]
pub struct Map {
    name: String,
    def: MapDef,
    fd: MapFd,
}

impl Map {
    /// Create a map without a name.
    pub fn create(def: &MapDef) -> Result<Map, MapError> {
        Map::create_named("", def)
    }

    /// Create a map called `name` (the kernel keeps the first 15 bytes). The definition is
    /// checked first ([`MapDef::check`]).
    pub fn create_named(name: &str, def: &MapDef) -> Result<Map, MapError> {
        def.check().map_err(|error| MapError::BadDef {
            map: name.to_owned(),
            error,
        })?;
        let fd = sys::map_create(&MapCreate {
            map_type: def.map_type as u32,
            key_size: def.key_size,
            value_size: def.value_size,
            max_entries: def.max_entries,
            map_flags: def.map_flags,
            name,
            ..Default::default()
        })?;
        Ok(Map::from_parts(name.to_owned(), def.clone(), fd))
    }

    pub(crate) fn from_parts(name: String, def: MapDef, fd: MapFd) -> Map {
        Map { name, def, fd }
    }

    /// Take a descriptor of an existing map; its definition is asked from the kernel.
    pub fn from_fd(fd: OwnedFd) -> Result<Map, MapError> {
        let fd = MapFd::from_fd(fd)?;
        let info = fd.info().clone();
        let map_type = MapType::from_u32(info.map_type).ok_or(MapError::UnknownType {
            map: info.name.clone(),
            map_type: info.map_type,
        })?;
        let def = MapDef::new(map_type, info.key_size, info.value_size, info.max_entries)
            .with_flags(info.map_flags);
        Ok(Map {
            name: info.name,
            def,
            fd,
        })
    }

    /// Open a map pinned at `path` (in a bpffs mount).
    pub fn from_pinned(path: impl AsRef<Path>) -> Result<Map, MapError> {
        Map::from_fd(sys::obj_get(path.as_ref(), 0)?)
    }

    /// Pin the map at `path` (in a bpffs mount), so that it outlives this process.
    pub fn pin(&self, path: impl AsRef<Path>) -> Result<(), MapError> {
        Ok(sys::obj_pin(self.fd.fd(), path.as_ref())?)
    }

    /// The map's name (the object's name, not truncated).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The map's definition.
    pub fn def(&self) -> &MapDef {
        &self.def
    }

    /// The file descriptor.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.fd()
    }

    /// The sys-level handle.
    pub fn sys(&self) -> &MapFd {
        &self.fd
    }

    /// What the kernel reports about the map (`BPF_OBJ_GET_INFO_BY_FD`).
    pub fn info(&self) -> Result<sys::MapInfo, MapError> {
        Ok(sys::map_info(self.fd.fd())?)
    }

    /// The size of a value buffer: `value_size`, or for per-CPU maps one 8-byte-aligned value
    /// per possible CPU.
    pub fn value_buf_size(&self) -> usize {
        self.fd.value_buf_size()
    }

    fn key<'k>(&self, key: &'k [u8]) -> Result<Option<&'k [u8]>, MapError> {
        let expected = self.def.key_size as usize;
        if key.len() != expected {
            return Err(MapError::KeySize {
                map: self.name.clone(),
                expected,
                got: key.len(),
            });
        }
        Ok((expected > 0).then_some(key))
    }

    fn value_len(&self, got: usize) -> Result<(), MapError> {
        let expected = self.fd.value_buf_size();
        if got != expected {
            return Err(MapError::ValueSize {
                map: self.name.clone(),
                expected,
                got,
            });
        }
        Ok(())
    }

    /// `BPF_MAP_LOOKUP_ELEM` into `value` (peek on queue and stack maps).
    pub fn lookup_into(&self, key: &[u8], value: &mut [u8], flags: u64) -> Result<(), MapError> {
        let key = self.key(key)?;
        self.value_len(value.len())?;
        Ok(self.fd.lookup(key, value, flags)?)
    }

    /// `BPF_MAP_LOOKUP_ELEM` (peek on queue and stack maps): the value of `key`.
    pub fn lookup(&self, key: &[u8], flags: u64) -> Result<Vec<u8>, MapError> {
        let mut v = vec![0; self.fd.value_buf_size()];
        self.lookup_into(key, &mut v, flags)?;
        Ok(v)
    }

    /// `BPF_MAP_UPDATE_ELEM` (push on queue and stack maps).
    pub fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        let key = self.key(key)?;
        self.value_len(value.len())?;
        Ok(self.fd.update(key, value, flags)?)
    }

    /// `BPF_MAP_DELETE_ELEM` (`EINVAL` on queue and stack maps).
    pub fn delete(&self, key: &[u8]) -> Result<(), MapError> {
        let key = self.key(key)?;
        Ok(self.fd.delete(key)?)
    }

    /// `BPF_MAP_LOOKUP_AND_DELETE_ELEM` (pop on queue and stack maps).
    pub fn lookup_and_delete(&self, key: &[u8], flags: u64) -> Result<Vec<u8>, MapError> {
        let key = self.key(key)?;
        let mut v = vec![0; self.fd.value_buf_size()];
        self.fd.lookup_and_delete(key, &mut v, flags)?;
        Ok(v)
    }

    /// `BPF_MAP_GET_NEXT_KEY`: the key after `key`, or the first key for `None`.
    pub fn get_next_key(&self, key: Option<&[u8]>) -> Result<Vec<u8>, MapError> {
        let key = match key {
            Some(k) => self.key(k)?,
            None => None,
        };
        let mut next = vec![0; self.def.key_size as usize];
        self.fd.get_next_key(key, &mut next)?;
        Ok(next)
    }
}

impl AsFd for Map {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.fd()
    }
}

macro_rules! keyless_map {
    ($(#[$doc:meta])* $name:ident, $map_type:expr, $ctor:ident, $order:literal) => {
        $(#[$doc])*
        ///
        /// `M` is how the handle holds its [`Map`]: owned (the default, for maps created with
        #[doc = concat!("[`", stringify!($name), "::create`]) or borrowed (`&Map`, for the maps of a")]
        /// [`LoadedObject`](super::LoadedObject)).
        #[derive(Debug)]
        pub struct $name<T, M = Map> {
            map: M,
            _value: PhantomData<fn() -> T>,
        }

        impl<T: MapValue> $name<T, Map> {
            #[doc = concat!("Create a ", $order, " of `capacity` `T` values called `name`.")]
            pub fn create(name: &str, capacity: u32) -> Result<Self, MapError> {
                Self::create_with(name, &MapDef::$ctor::<T>(capacity))
            }

            /// Create one from a definition (flags, NUMA node ...), checked against `T`.
            pub fn create_with(name: &str, def: &MapDef) -> Result<Self, MapError> {
                Self::try_from_map(Map::create_named(name, def)?)
            }
        }

        impl<T: MapValue, M: Borrow<Map>> $name<T, M> {
            /// A typed handle over `map`, which must be of this type with values of `T`'s size.
            pub fn try_from_map(map: M) -> Result<Self, MapError> {
                let m = map.borrow();
                if m.def().map_type != $map_type {
                    return Err(MapError::WrongType {
                        map: m.name().to_owned(),
                        expected: $map_type,
                        actual: m.def().map_type,
                    });
                }
                let size = T::type_desc().size() as usize;
                if m.value_buf_size() != size {
                    return Err(MapError::ValueSize {
                        map: m.name().to_owned(),
                        expected: m.value_buf_size(),
                        got: size,
                    });
                }
                Ok($name {
                    map,
                    _value: PhantomData,
                })
            }

            /// The underlying map.
            pub fn map(&self) -> &Map {
                self.map.borrow()
            }

            /// Give back the underlying map.
            pub fn into_inner(self) -> M {
                self.map
            }

            /// `max_entries`: how many values fit.
            pub fn capacity(&self) -> u32 {
                self.map().def().max_entries
            }

            /// Push a value (`BPF_MAP_UPDATE_ELEM` with no key). [`MapError::Full`] when the
            /// map is full and `flags` is [`PushFlags::ANY`]; with [`PushFlags::EXIST`] the
            /// oldest value is dropped instead.
            pub fn push(&self, value: T, flags: PushFlags) -> Result<(), MapError> {
                value
                    .with_bytes(|bytes| self.map().sys().update(None, bytes, flags.0))
                    .map_err(|e| MapError::queue_stack(e, flags.0))
            }

            #[doc = concat!("Remove and return the ", $order, "'s next value (`BPF_MAP_LOOKUP_AND_DELETE_ELEM`);")]
            /// [`MapError::Empty`] when there is none.
            pub fn pop(&self) -> Result<T, MapError> {
                self.get(true, 0)
            }

            /// Pop with explicit flags (the kernel accepts only 0; anything else is
            /// [`MapError::InvalidFlags`]).
            pub fn pop_with_flags(&self, flags: u64) -> Result<T, MapError> {
                self.get(true, flags)
            }

            /// Return the next value without removing it (`BPF_MAP_LOOKUP_ELEM`);
            /// [`MapError::Empty`] when there is none.
            pub fn peek(&self) -> Result<T, MapError> {
                self.get(false, 0)
            }

            fn get(&self, delete: bool, flags: u64) -> Result<T, MapError> {
                let fd = self.map().sys();
                let size = fd.value_buf_size();
                // Small values (all the integer types) need no allocation per call.
                let mut small = [0u8; 64];
                let mut large = Vec::new();
                let buf: &mut [u8] = if size <= small.len() {
                    &mut small[..size]
                } else {
                    large.resize(size, 0);
                    &mut large
                };
                let r = if delete {
                    fd.lookup_and_delete(None, buf, flags)
                } else {
                    fd.lookup(None, buf, flags)
                };
                r.map_err(|e| MapError::queue_stack(e, flags))?;
                // The size was checked in try_from_map.
                Ok(T::from_bytes(buf).expect("value size checked at construction"))
            }

            /// Pop every value, in pop order, until the map is empty.
            pub fn drain(&self) -> Result<Vec<T>, MapError> {
                let mut out = Vec::new();
                loop {
                    match self.pop() {
                        Ok(v) => out.push(v),
                        Err(MapError::Empty) => return Ok(out),
                        Err(e) => return Err(e),
                    }
                }
            }
        }
    };
}

keyless_map!(
    /// A `BPF_MAP_TYPE_QUEUE` of `T` values, from user space: FIFO, pop and peek give the
    /// oldest value.
    Queue,
    MapType::Queue,
    queue,
    "queue"
);

keyless_map!(
    /// A `BPF_MAP_TYPE_STACK` of `T` values, from user space: LIFO, pop and peek give the
    /// newest value.
    Stack,
    MapType::Stack,
    stack,
    "stack"
);

/// `BPF_ANY`, `BPF_NOEXIST`, `BPF_EXIST` and `BPF_F_LOCK`, for the raw [`Map`] operations.
pub use crate::sys::elem_flags as flags;

debug_as_display!(MapError);
