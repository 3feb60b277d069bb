//! The VM's memory: regions, never host pointers.
//!
//! An address is a region number in its high 32 bits and an offset in its low 32 bits, so a
//! program may compute with pointers as it likes (add, subtract, compare), and every access is
//! checked against the one region its address names. Region 0 is empty: a null pointer, or an
//! offset that underflows below a region's start, reaches nothing.

use std::collections::HashMap;

use super::error::VmErrorKind;
use super::maps::VmMap;

/// The kernel's `MAX_CALL_FRAMES`: bpf-to-bpf calls nest at most this deep.
pub const MAX_FRAMES: usize = 8;
/// The kernel's `MAX_BPF_STACK`: each frame's stack.
pub const STACK_SIZE: usize = crate::program::MAX_STACK as usize;

/// What a region holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegionKind {
    /// Nothing: address 0 and its neighbours.
    Null,
    /// The stack of call frame `n` (0: the program's own).
    Stack(usize),
    /// The memory the caller gave (context or packet).
    Mem,
    /// The value of element `elem` of map `map`.
    MapValue {
        /// Index of the map in the VM.
        map: usize,
        /// Element index.
        elem: usize,
    },
}

#[derive(Clone, Debug)]
pub(crate) struct Region {
    pub kind: RegionKind,
    pub data: Vec<u8>,
}

/// The regions of a run, and the maps whose values some regions are.
#[derive(Clone, Debug)]
pub(crate) struct Memory {
    pub regions: Vec<Region>,
    /// The maps. A region of a map value has no bytes of its own: an access to it finds the
    /// value in the map (the slow path), so that user space and programs share one copy.
    pub maps: Vec<VmMap>,
    /// The region of each map value a program has been given a pointer to: (map, element).
    value_regions: HashMap<(usize, usize), usize>,
}

/// The region number of the caller's memory: after the null region and the frames.
pub(crate) const MEM_REGION: usize = 1 + MAX_FRAMES;

/// The address of `offset` in region `region`.
#[inline]
pub(crate) fn address(region: usize, offset: u64) -> u64 {
    ((region as u64) << 32) | (offset & 0xffff_ffff)
}

impl Memory {
    pub fn new() -> Memory {
        let mut regions = vec![Region {
            kind: RegionKind::Null,
            data: Vec::new(),
        }];
        for n in 0..MAX_FRAMES {
            regions.push(Region {
                kind: RegionKind::Stack(n),
                data: vec![0; STACK_SIZE],
            });
        }
        regions.push(Region {
            kind: RegionKind::Mem,
            data: Vec::new(),
        });
        Memory {
            regions,
            maps: Vec::new(),
            value_regions: HashMap::new(),
        }
    }

    /// The address of the value of element `elem` of map `map` (a region made on first use).
    pub fn value_address(&mut self, map: usize, elem: usize) -> u64 {
        let next = self.regions.len();
        let region = *self.value_regions.entry((map, elem)).or_insert(next);
        if region == next {
            self.regions.push(Region {
                kind: RegionKind::MapValue { map, elem },
                data: Vec::new(),
            });
        }
        address(region, 0)
    }

    /// The value bytes behind a map-value region, when the element still exists.
    fn map_value(&self, region: usize) -> Option<&[u8]> {
        match self.regions.get(region)?.kind {
            RegionKind::MapValue { map, elem } => self.maps.get(map)?.value(elem),
            _ => None,
        }
    }

    /// The frame pointer (`r10`) of frame `n`: one past the end of its stack.
    #[inline]
    pub fn frame_pointer(n: usize) -> u64 {
        address(1 + n, STACK_SIZE as u64)
    }

    /// Fill the stack of frame `n` with `byte` (the kernel's holds leftovers; a run is
    /// reproducible).
    pub fn fill_frame(&mut self, n: usize, byte: u8) {
        if let Some(r) = self.regions.get_mut(1 + n) {
            r.data.fill(byte);
        }
    }

    fn describe(&self, addr: u64) -> String {
        let region = (addr >> 32) as usize;
        match self.regions.get(region) {
            Some(r) => {
                let what = match r.kind {
                    RegionKind::Null => return "every region (a null or stray pointer)".into(),
                    RegionKind::Stack(n) => format!("the stack of frame {n}"),
                    RegionKind::Mem => "the memory given to the program".into(),
                    RegionKind::MapValue { map, elem } => {
                        let name = self.maps.get(map).map_or("", |m| m.name.as_str());
                        match self.map_value(region) {
                            Some(v) => format!(
                                "the value of element {elem} of map `{name}` ({} bytes)",
                                v.len()
                            ),
                            None => format!(
                                "the value of element {elem} of map `{name}`, which was deleted"
                            ),
                        }
                    }
                };
                if matches!(r.kind, RegionKind::MapValue { .. }) {
                    return what;
                }
                format!("{what} ({} bytes)", r.data.len())
            }
            None => "every region".into(),
        }
    }

    fn fault(&self, access: &'static str, addr: u64, size: u64) -> VmErrorKind {
        VmErrorKind::OutOfBounds {
            access,
            addr,
            size,
            region: self.describe(addr),
        }
    }

    /// The `size` bytes at `addr`, for reading.
    #[inline]
    pub fn get(&self, addr: u64, size: usize) -> Result<&[u8], VmErrorKind> {
        let off = (addr & 0xffff_ffff) as usize;
        let region = (addr >> 32) as usize;
        if let Some(b) = self
            .regions
            .get(region)
            .and_then(|r| r.data.get(off..off.checked_add(size)?))
        {
            return Ok(b);
        }
        self.map_value(region)
            .and_then(|v| v.get(off..off.checked_add(size)?))
            .ok_or_else(|| self.fault("read", addr, size as u64))
    }

    /// The `size` bytes at `addr`, for writing.
    #[inline]
    pub fn get_mut(&mut self, addr: u64, size: usize) -> Result<&mut [u8], VmErrorKind> {
        let off = (addr & 0xffff_ffff) as usize;
        let region = (addr >> 32) as usize;
        let end = off.checked_add(size);
        let fits = |len: usize| end.is_some_and(|e| e <= len);
        // Where the bytes are, decided before any mutable borrow.
        let value = match self.regions.get(region) {
            Some(r) if fits(r.data.len()) => None,
            Some(&Region {
                kind: RegionKind::MapValue { map, elem },
                ..
            }) if self.map_value(region).is_some_and(|v| fits(v.len())) => Some((map, elem)),
            _ => return Err(self.fault("write", addr, size as u64)),
        };
        let bytes = match value {
            None => self.regions.get_mut(region).map(|r| r.data.as_mut_slice()),
            Some((map, elem)) => self.maps.get_mut(map).and_then(|m| m.value_mut(elem)),
        };
        // Checked above: the range is there.
        match bytes.and_then(|b| b.get_mut(off..off + size)) {
            Some(b) => Ok(b),
            None => Err(VmErrorKind::OutOfBounds {
                access: "write",
                addr,
                size: size as u64,
                region: "a region".into(),
            }),
        }
    }

    /// Read a little-endian value of `size` bytes (1, 2, 4 or 8), zero-extended.
    #[inline]
    pub fn load(&self, addr: u64, size: usize) -> Result<u64, VmErrorKind> {
        let b = self.get(addr, size)?;
        let mut w = [0u8; 8];
        w[..size].copy_from_slice(b);
        Ok(u64::from_le_bytes(w))
    }

    /// Write the low `size` bytes of `value`, little-endian.
    #[inline]
    pub fn store(&mut self, addr: u64, size: usize, value: u64) -> Result<(), VmErrorKind> {
        let b = self.get_mut(addr, size)?;
        b.copy_from_slice(&value.to_le_bytes()[..size]);
        Ok(())
    }
}
