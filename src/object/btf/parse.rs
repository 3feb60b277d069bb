//! The BTF parser: total over any bytes (an error names the offset, nothing panics), with every
//! type reference checked and reference loops detected.

use std::fmt;
use std::marker::PhantomData;

use super::{BtfError, BtfErrorKind as K, Kind, BTF_MAGIC};

/// The kernel's limit on reference chains (`MAX_RESOLVE_DEPTH`).
const MAX_DEPTH: usize = 32;

/// A member of a `STRUCT` or `UNION`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Member {
    /// Name offset in the string section.
    pub name_off: u32,
    /// Member type.
    pub type_id: u32,
    /// Bit offset (with the struct's kind flag: bitfield size in the top 8 bits).
    pub offset: u32,
}

/// A parameter of a `FUNC_PROTO`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Param {
    /// Name offset in the string section (0 for an unnamed parameter).
    pub name_off: u32,
    /// Parameter type (0 for a trailing `...`).
    pub type_id: u32,
}

/// A variable of a `DATASEC`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VarSecinfo {
    /// The `VAR` type id.
    pub type_id: u32,
    /// Offset in the section.
    pub offset: u32,
    /// Size in the section.
    pub size: u32,
}

/// The kind-specific data that follows a type's 12-byte header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TypeData {
    /// Kinds with nothing more (PTR, FWD, TYPEDEF, modifiers, FUNC, FLOAT, TYPE_TAG).
    None,
    /// `INT`: encoding bits, bit offset, bit count.
    Int {
        /// `INT_SIGNED` / `INT_CHAR` / `INT_BOOL` bits.
        encoding: u32,
        /// Bit offset.
        offset: u32,
        /// Number of bits.
        bits: u32,
    },
    /// `ARRAY`.
    Array {
        /// Element type.
        elem: u32,
        /// Index type.
        index: u32,
        /// Number of elements.
        nelems: u32,
    },
    /// `STRUCT` / `UNION` members.
    Members(Vec<Member>),
    /// `ENUM` / `ENUM64`: the number of values (their names and values are not kept).
    Enum(u16),
    /// `FUNC_PROTO` parameters.
    Params(Vec<Param>),
    /// `VAR` linkage.
    Var {
        /// 0 static, 1 global allocated, 2 extern.
        linkage: u32,
    },
    /// `DATASEC` variables.
    Datasec(Vec<VarSecinfo>),
    /// `DECL_TAG` component index.
    DeclTag(i32),
}

/// One parsed type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BtfType {
    /// Byte offset of the type's header in the `.BTF` data.
    pub offset: usize,
    /// Name offset in the string section.
    pub name_off: u32,
    /// The kind.
    pub kind: Kind,
    /// `vlen` (member count, or a `FUNC`'s linkage).
    pub vlen: u16,
    /// The kind flag.
    pub kflag: bool,
    /// The size (INT, STRUCT, UNION, ENUM, DATASEC, FLOAT) or the referenced type (the rest).
    pub size_or_type: u32,
    /// What follows the header.
    pub data: TypeData,
}

/// Parsed `.BTF`: the types (id 1 onwards) and the string section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Btf {
    types: Vec<BtfType>,
    strings: Vec<u8>,
    str_start: usize,
}

struct Reader<'a> {
    b: &'a [u8],
    /// Offset of `b` in the whole section (for errors).
    base: usize,
}

impl<'a> Reader<'a> {
    fn bytes(&self, at: usize, n: usize, what: &'static str) -> Result<&'a [u8], BtfError> {
        at.checked_add(n)
            .and_then(|end| self.b.get(at..end))
            .ok_or_else(|| {
                BtfError::new(
                    self.base + at,
                    K::Truncated {
                        what,
                        need: n,
                        have: self.b.len().saturating_sub(at),
                    },
                )
            })
    }

    fn u32(&self, at: usize, what: &'static str) -> Result<u32, BtfError> {
        let b = self.bytes(at, 4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

/// Read `n` entries of `size` bytes (up to three u32 words each are kept) at `*at`.
fn entries(
    r: &Reader<'_>,
    at: &mut usize,
    n: usize,
    size: usize,
    what: &'static str,
) -> Result<Vec<[u32; 3]>, BtfError> {
    let bytes = r.bytes(*at, n * size, what)?;
    *at += n * size;
    Ok(bytes.chunks_exact(size).map(words).collect())
}

/// The first `N` little-endian u32 words of `c` (missing words are 0).
fn words<const N: usize>(c: &[u8]) -> [u32; N] {
    let mut w = [0; N];
    for (i, x) in w.iter_mut().enumerate() {
        if let Some(b) = c.get(i * 4..i * 4 + 4) {
            *x = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        }
    }
    w
}

/// Check the common header of `.BTF` and `.BTF.ext` (magic, version 1) and give `hdr_len`.
fn check_magic(data: &[u8], min_hdr: usize) -> Result<usize, BtfError> {
    let r = Reader { b: data, base: 0 };
    let h = r.bytes(0, 8, "header")?;
    let magic = u16::from_le_bytes([h[0], h[1]]);
    if magic != BTF_MAGIC {
        return Err(BtfError::new(0, K::BadMagic(magic)));
    }
    if h[2] != 1 {
        return Err(BtfError::new(2, K::BadVersion(h[2])));
    }
    let hdr_len = r.u32(4, "header")? as usize;
    if hdr_len < min_hdr {
        return Err(BtfError::new(4, K::BadHeader("hdr_len is too small")));
    }
    r.bytes(0, hdr_len, "header")?;
    Ok(hdr_len)
}

impl Btf {
    /// Parse `.BTF` bytes. Every type reference is checked against the type count and every
    /// chain of typedefs, modifiers, arrays and variables is followed to detect loops.
    pub fn parse(data: &[u8]) -> Result<Btf, BtfError> {
        let hdr_len = check_magic(data, 24)?;
        let r = Reader { b: data, base: 0 };
        let type_off = r.u32(8, "header")? as usize;
        let type_len = r.u32(12, "header")? as usize;
        let str_off = r.u32(16, "header")? as usize;
        let str_len = r.u32(20, "header")? as usize;
        let sec = |off: usize, len: usize, what| {
            hdr_len
                .checked_add(off)
                .and_then(|s| Some((s, s.checked_add(len)?)))
                .filter(|&(_, e)| e <= data.len())
                .ok_or(BtfError::new(8, K::BadHeader(what)))
        };
        let (ts, te) = sec(type_off, type_len, "type section outside the data")?;
        let (ss, se) = sec(str_off, str_len, "string section outside the data")?;
        if type_off % 4 != 0 {
            return Err(BtfError::new(
                8,
                K::BadHeader("type section is not 4-byte aligned"),
            ));
        }
        if ts < se && ss < te {
            return Err(BtfError::new(
                8,
                K::BadHeader("type and string sections overlap"),
            ));
        }
        let strings = &data[ss..se];
        if strings.first() != Some(&0) || strings.last() != Some(&0) {
            return Err(BtfError::new(
                ss,
                K::BadHeader("string section must start and end with NUL"),
            ));
        }
        let tr = Reader {
            b: &data[ts..te],
            base: ts,
        };
        let mut types = Vec::new();
        let mut at = 0;
        while at < tr.b.len() {
            let id = types.len() as u32 + 1;
            let name_off = tr.u32(at, "type header")?;
            let info = tr.u32(at + 4, "type header")?;
            let size_or_type = tr.u32(at + 8, "type header")?;
            let kind_num = ((info >> 24) & 0x1f) as u8;
            let kind = Kind::from_u8(kind_num)
                .ok_or_else(|| BtfError::new(ts + at, K::UnknownKind { id, kind: kind_num }))?;
            let vlen = (info & 0xffff) as u16;
            let kflag = info >> 31 != 0;
            let offset = ts + at;
            at += 12;
            let n = vlen as usize;
            let data = match kind {
                Kind::Int => {
                    let v = tr.u32(at, "INT data")?;
                    at += 4;
                    TypeData::Int {
                        encoding: v >> 24 & 0x0f,
                        offset: v >> 16 & 0xff,
                        bits: v & 0xff,
                    }
                }
                Kind::Array => {
                    let e = tr.u32(at, "ARRAY data")?;
                    let i = tr.u32(at + 4, "ARRAY data")?;
                    let ne = tr.u32(at + 8, "ARRAY data")?;
                    at += 12;
                    TypeData::Array {
                        elem: e,
                        index: i,
                        nelems: ne,
                    }
                }
                Kind::Struct | Kind::Union => TypeData::Members(
                    entries(&tr, &mut at, n, 12, "members")?
                        .into_iter()
                        .map(|[name_off, type_id, offset]| Member {
                            name_off,
                            type_id,
                            offset,
                        })
                        .collect(),
                ),
                Kind::Enum => {
                    entries(&tr, &mut at, n, 8, "enum values")?;
                    TypeData::Enum(vlen)
                }
                Kind::Enum64 => {
                    entries(&tr, &mut at, n, 12, "enum64 values")?;
                    TypeData::Enum(vlen)
                }
                Kind::FuncProto => TypeData::Params(
                    entries(&tr, &mut at, n, 8, "parameters")?
                        .into_iter()
                        .map(|[name_off, type_id, _]| Param { name_off, type_id })
                        .collect(),
                ),
                Kind::Var => {
                    let l = tr.u32(at, "VAR data")?;
                    at += 4;
                    TypeData::Var { linkage: l }
                }
                Kind::Datasec => TypeData::Datasec(
                    entries(&tr, &mut at, n, 12, "datasec variables")?
                        .into_iter()
                        .map(|[type_id, offset, size]| VarSecinfo {
                            type_id,
                            offset,
                            size,
                        })
                        .collect(),
                ),
                Kind::DeclTag => {
                    let c = tr.u32(at, "DECL_TAG data")?;
                    at += 4;
                    TypeData::DeclTag(c as i32)
                }
                _ => TypeData::None,
            };
            types.push(BtfType {
                offset,
                name_off,
                kind,
                vlen,
                kflag,
                size_or_type,
                data,
            });
        }
        let btf = Btf {
            types,
            strings: strings.to_vec(),
            str_start: ss,
        };
        btf.check_refs()?;
        Ok(btf)
    }

    /// Check every type reference and every name offset; follow chains to find loops.
    fn check_refs(&self) -> Result<(), BtfError> {
        let last = self.types.len() as u32;
        for (i, t) in self.types.iter().enumerate() {
            let from = i as u32 + 1;
            let check = |id: u32| {
                if id > last {
                    Err(BtfError::new(
                        t.offset,
                        K::TypeIdOutOfRange { from, id, last },
                    ))
                } else {
                    Ok(())
                }
            };
            if !matches!(
                t.kind,
                Kind::Int
                    | Kind::Struct
                    | Kind::Union
                    | Kind::Enum
                    | Kind::Enum64
                    | Kind::Datasec
                    | Kind::Float
                    | Kind::Fwd
            ) {
                check(t.size_or_type)?;
            }
            match &t.data {
                TypeData::Array { elem, index, .. } => {
                    check(*elem)?;
                    check(*index)?;
                }
                TypeData::Members(m) => {
                    for m in m {
                        check(m.type_id)?;
                        self.name(m.name_off)
                            .map_err(|e| BtfError::new(t.offset, e.kind))?;
                    }
                }
                TypeData::Params(p) => {
                    for p in p {
                        check(p.type_id)?;
                        self.name(p.name_off)
                            .map_err(|e| BtfError::new(t.offset, e.kind))?;
                    }
                }
                TypeData::Datasec(v) => {
                    for v in v {
                        check(v.type_id)?;
                    }
                }
                _ => {}
            }
            self.name(t.name_off)
                .map_err(|e| BtfError::new(t.offset, e.kind))?;
        }
        // With every reference in range, follow the chains of types whose meaning depends on
        // the next one.
        for (i, t) in self.types.iter().enumerate() {
            let from = i as u32 + 1;
            let mut id = from;
            for _ in 0..=MAX_DEPTH {
                let Some(t) = id.checked_sub(1).and_then(|i| self.types.get(i as usize)) else {
                    id = 0;
                    break;
                };
                let next = match (t.kind, &t.data) {
                    (
                        Kind::Typedef
                        | Kind::Volatile
                        | Kind::Const
                        | Kind::Restrict
                        | Kind::TypeTag
                        | Kind::Var,
                        _,
                    ) => t.size_or_type,
                    (Kind::Array, TypeData::Array { elem, .. }) => *elem,
                    _ => 0,
                };
                if next == 0 {
                    id = 0;
                    break;
                }
                id = next;
            }
            if id != 0 {
                return Err(BtfError::new(t.offset, K::Loop(from)));
            }
        }
        Ok(())
    }

    /// The number of types (the last valid id).
    pub fn len(&self) -> u32 {
        self.types.len() as u32
    }

    /// Whether there are no types.
    pub fn is_empty(&self) -> bool {
        self.types.is_empty()
    }

    /// The type with this id (1-based; 0 is `void`, which has no entry).
    pub fn get(&self, id: u32) -> Result<&BtfType, BtfError> {
        id.checked_sub(1)
            .and_then(|i| self.types.get(i as usize))
            .ok_or(BtfError::new(
                0,
                K::TypeIdOutOfRange {
                    from: 0,
                    id,
                    last: self.len(),
                },
            ))
    }

    /// All types, id 1 first.
    pub fn types(&self) -> impl Iterator<Item = (u32, &BtfType)> {
        self.types
            .iter()
            .enumerate()
            .map(|(i, t)| (i as u32 + 1, t))
    }

    /// The raw string section.
    pub fn strings(&self) -> &[u8] {
        &self.strings
    }

    /// The string at `off` in the string section.
    pub fn name(&self, off: u32) -> Result<&str, BtfError> {
        let err = |k| BtfError::new(self.str_start + off as usize, k);
        let rest = self
            .strings
            .get(off as usize..)
            .ok_or_else(|| err(K::BadString(off)))?;
        let end = rest
            .iter()
            .position(|&c| c == 0)
            .ok_or_else(|| err(K::BadString(off)))?;
        std::str::from_utf8(&rest[..end]).map_err(|_| err(K::NotUtf8(off)))
    }

    /// The name of type `id` ("" for anonymous types and `void`).
    pub fn type_name(&self, id: u32) -> Result<&str, BtfError> {
        if id == 0 {
            return Ok("");
        }
        self.name(self.get(id)?.name_off)
    }

    /// Follow typedefs and `const`/`volatile`/`restrict`/type tags to the type they name.
    pub fn skip_modifiers(&self, mut id: u32) -> Result<u32, BtfError> {
        for _ in 0..=MAX_DEPTH {
            if id == 0 {
                return Ok(0);
            }
            let t = self.get(id)?;
            match t.kind {
                Kind::Typedef | Kind::Volatile | Kind::Const | Kind::Restrict | Kind::TypeTag => {
                    id = t.size_or_type
                }
                _ => return Ok(id),
            }
        }
        Err(BtfError::new(0, K::Loop(id)))
    }

    /// The size in bytes of type `id`, as the kernel and libbpf compute it (`btf__resolve_size`):
    /// through typedefs and modifiers, 8 for pointers, element size times count for arrays.
    pub fn resolve_size(&self, id: u32) -> Result<u32, BtfError> {
        let mut mult: u64 = 1;
        let mut cur = id;
        for _ in 0..=MAX_DEPTH {
            let t = self
                .get(cur)
                .map_err(|_| BtfError::new(0, K::NoSize(cur)))?;
            let size = match (t.kind, &t.data) {
                (
                    Kind::Int
                    | Kind::Struct
                    | Kind::Union
                    | Kind::Enum
                    | Kind::Enum64
                    | Kind::Datasec
                    | Kind::Float,
                    _,
                ) => t.size_or_type as u64,
                (Kind::Ptr, _) => 8,
                (
                    Kind::Typedef
                    | Kind::Volatile
                    | Kind::Const
                    | Kind::Restrict
                    | Kind::TypeTag
                    | Kind::Var,
                    _,
                ) => {
                    cur = t.size_or_type;
                    continue;
                }
                (Kind::Array, TypeData::Array { elem, nelems, .. }) => {
                    mult = mult.saturating_mul(*nelems as u64);
                    cur = *elem;
                    continue;
                }
                _ => return Err(BtfError::new(t.offset, K::NoSize(cur))),
            };
            return u32::try_from(size.saturating_mul(mult))
                .map_err(|_| BtfError::new(t.offset, K::NoSize(id)));
        }
        Err(BtfError::new(0, K::Loop(id)))
    }

    /// The first type of this kind with this name.
    pub fn find(&self, kind: Kind, name: &str) -> Option<u32> {
        self.types()
            .find(|(_, t)| t.kind == kind && self.name(t.name_off).ok() == Some(name))
            .map(|(id, _)| id)
    }
}

/// A `.BTF.ext` function record, as in the ELF: the offset is in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExtFunc {
    /// Byte offset of the function in its section.
    pub insn_off: u32,
    /// The `FUNC` type id.
    pub type_id: u32,
}

/// A `.BTF.ext` line record, as in the ELF: the offset is in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExtLine {
    /// Byte offset of the instruction in its section.
    pub insn_off: u32,
    /// File path string offset.
    pub file_name_off: u32,
    /// Line text string offset.
    pub line_off: u32,
    /// `line << 10 | column`.
    pub line_col: u32,
}

/// A kind of `.BTF.ext` record ([`ExtFunc`], [`ExtLine`]): how it is read from the words at
/// the start of a record.
pub trait ExtRecord: Copy {
    /// The smallest record size the kind allows.
    const MIN_SIZE: u32;
    /// The record from the first four words of its bytes (0 for words past its end).
    fn from_words(w: [u32; 4]) -> Self;
    /// Byte offset, in its section, of the instruction the record is about.
    fn insn_off(&self) -> u32;
}

impl ExtRecord for ExtFunc {
    const MIN_SIZE: u32 = 8;
    fn from_words(w: [u32; 4]) -> Self {
        ExtFunc {
            insn_off: w[0],
            type_id: w[1],
        }
    }
    fn insn_off(&self) -> u32 {
        self.insn_off
    }
}

impl ExtRecord for ExtLine {
    const MIN_SIZE: u32 = 16;
    fn from_words(w: [u32; 4]) -> Self {
        ExtLine {
            insn_off: w[0],
            file_name_off: w[1],
            line_off: w[2],
            line_col: w[3],
        }
    }
    fn insn_off(&self) -> u32 {
        self.insn_off
    }
}

/// The records of one ELF section, read where they are in the `.BTF.ext` bytes (a line record
/// per instruction adds up: they are not copied).
#[derive(Clone, Copy)]
pub struct ExtRecords<'a, T> {
    bytes: &'a [u8],
    /// The record size (at least `T::MIN_SIZE`, so never 0).
    size: usize,
    kind: PhantomData<T>,
}

impl<'a, T: ExtRecord> ExtRecords<'a, T> {
    /// How many records there are.
    pub fn len(&self) -> usize {
        self.bytes.len() / self.size
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Record `i`.
    pub fn get(&self, i: usize) -> Option<T> {
        let at = i.checked_mul(self.size)?;
        let c = self.bytes.get(at..at.checked_add(self.size)?)?;
        Some(T::from_words(words(c)))
    }

    /// The records, in file order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = T> + DoubleEndedIterator + 'a {
        self.bytes
            .chunks_exact(self.size)
            .map(|c| T::from_words(words(c)))
    }
}

impl<T: ExtRecord + fmt::Debug> fmt::Debug for ExtRecords<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<T: ExtRecord + PartialEq> PartialEq for ExtRecords<'_, T> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl<T: ExtRecord + Eq> Eq for ExtRecords<'_, T> {}

/// The records of one ELF section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtSection<'a, T: ExtRecord> {
    /// The ELF section name.
    pub name: String,
    /// The records, in file order.
    pub records: ExtRecords<'a, T>,
}

/// Parsed `.BTF.ext`: func_info and line_info per section (CO-RE relocations are not read).
/// The records stay in the bytes parsed, which it borrows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BtfExt<'a> {
    /// Function records per section.
    pub func_info: Vec<ExtSection<'a, ExtFunc>>,
    /// Line records per section.
    pub line_info: Vec<ExtSection<'a, ExtLine>>,
}

impl<'a> BtfExt<'a> {
    /// Parse `.BTF.ext` bytes; section names are looked up in `btf`'s strings.
    pub fn parse(data: &'a [u8], btf: &Btf) -> Result<BtfExt<'a>, BtfError> {
        let hdr_len = check_magic(data, 24)?;
        let r = Reader { b: data, base: 0 };
        let sub = |off_at: usize| -> Result<(usize, usize), BtfError> {
            let off = r.u32(off_at, "header")? as usize;
            let len = r.u32(off_at + 4, "header")? as usize;
            let start = hdr_len.saturating_add(off);
            r.bytes(start, len, "info block")?;
            Ok((start, len))
        };
        let (fs, fl) = sub(8)?;
        let (ls, ll) = sub(16)?;
        Ok(BtfExt {
            func_info: Self::blocks(data, fs, fl, "func_info", btf)?,
            line_info: Self::blocks(data, ls, ll, "line_info", btf)?,
        })
    }

    fn blocks<T: ExtRecord>(
        data: &'a [u8],
        start: usize,
        len: usize,
        what: &'static str,
        btf: &Btf,
    ) -> Result<Vec<ExtSection<'a, T>>, BtfError> {
        let mut out = Vec::new();
        if len == 0 {
            return Ok(out);
        }
        let r = Reader {
            b: &data[start..start + len],
            base: start,
        };
        let rec_size = r.u32(0, "record size")?;
        if rec_size < T::MIN_SIZE || rec_size % 4 != 0 {
            return Err(BtfError::new(
                start,
                K::RecordSize {
                    what,
                    size: rec_size,
                    min: T::MIN_SIZE,
                },
            ));
        }
        let mut at = 4;
        while at < len {
            let name_off = r.u32(at, "section header")?;
            let n = r.u32(at + 4, "section header")? as usize;
            let name = btf
                .name(name_off)
                .map_err(|e| BtfError::new(start + at, e.kind))?
                .to_owned();
            if n == 0 {
                return Err(BtfError::new(start + at, K::EmptyExtSection(what)));
            }
            at += 8;
            let bytes = r.bytes(at, n.saturating_mul(rec_size as usize), "records")?;
            at += bytes.len();
            out.push(ExtSection {
                name,
                records: ExtRecords {
                    bytes,
                    size: rec_size as usize,
                    kind: PhantomData,
                },
            });
        }
        Ok(out)
    }
}
