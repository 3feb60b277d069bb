//! The `bpf(2)` system call: attribute layouts, one safe function per command, owned file
//! descriptors and typed errors.
//!
//! This is the only module of the crate with `unsafe` code. Every attribute struct mirrors a
//! member of the kernel's `union bpf_attr` (include/uapi/linux/bpf.h) field for field, with
//! explicit padding so that no byte the kernel reads is uninitialized (the kernel refuses a
//! command with `EINVAL` when a byte past the command's last field is not zero). Layouts are
//! checked at compile time.
//!
//! The functions here are thin: they do not grow logs or interpret errors; that is the job of
//! [`crate::load`]. The one retry here is `BPF_PROG_LOAD`'s on `EAGAIN` (a signal interrupted
//! the verifier), as libbpf and cilium/ebpf do: it says nothing about the program. They are safe to call because every buffer the kernel reads or writes
//! is a Rust slice whose length is checked against what the kernel will touch:
//! - map element commands go through [`MapFd`], which knows the map's key and value sizes and
//!   panics (before the system call) when a buffer has the wrong length;
//! - `BPF_PROG_TEST_RUN` passes an output buffer only together with its length (the kernel
//!   copies the whole packet when the length is 0, so an empty buffer is passed as NULL).
//!
//! Every file descriptor the kernel returns is wrapped at once in an [`OwnedFd`] (the kernel
//! creates them close-on-exec), so dropping a handle closes it.
#![allow(unsafe_code)]

use std::ffi::{CStr, CString};
use std::fmt;
use std::io;
use std::mem::{offset_of, size_of};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// A `bpf(2)` command (`enum bpf_cmd`), with the kernel's number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Cmd {
    /// `BPF_MAP_CREATE` (0).
    MapCreate = 0,
    /// `BPF_MAP_LOOKUP_ELEM` (1); peek on queue and stack maps.
    MapLookupElem = 1,
    /// `BPF_MAP_UPDATE_ELEM` (2); push on queue and stack maps.
    MapUpdateElem = 2,
    /// `BPF_MAP_DELETE_ELEM` (3).
    MapDeleteElem = 3,
    /// `BPF_MAP_GET_NEXT_KEY` (4).
    MapGetNextKey = 4,
    /// `BPF_PROG_LOAD` (5).
    ProgLoad = 5,
    /// `BPF_OBJ_PIN` (6).
    ObjPin = 6,
    /// `BPF_OBJ_GET` (7).
    ObjGet = 7,
    /// `BPF_PROG_TEST_RUN` (10).
    ProgTestRun = 10,
    /// `BPF_OBJ_GET_INFO_BY_FD` (15).
    ObjGetInfoByFd = 15,
    /// `BPF_BTF_LOAD` (18).
    BtfLoad = 18,
    /// `BPF_MAP_LOOKUP_AND_DELETE_ELEM` (21); pop on queue and stack maps.
    MapLookupAndDeleteElem = 21,
}

impl Cmd {
    /// The kernel's name of the command (`BPF_MAP_CREATE` ...).
    pub fn name(self) -> &'static str {
        match self {
            Cmd::MapCreate => "BPF_MAP_CREATE",
            Cmd::MapLookupElem => "BPF_MAP_LOOKUP_ELEM",
            Cmd::MapUpdateElem => "BPF_MAP_UPDATE_ELEM",
            Cmd::MapDeleteElem => "BPF_MAP_DELETE_ELEM",
            Cmd::MapGetNextKey => "BPF_MAP_GET_NEXT_KEY",
            Cmd::ProgLoad => "BPF_PROG_LOAD",
            Cmd::ObjPin => "BPF_OBJ_PIN",
            Cmd::ObjGet => "BPF_OBJ_GET",
            Cmd::ProgTestRun => "BPF_PROG_TEST_RUN",
            Cmd::ObjGetInfoByFd => "BPF_OBJ_GET_INFO_BY_FD",
            Cmd::BtfLoad => "BPF_BTF_LOAD",
            Cmd::MapLookupAndDeleteElem => "BPF_MAP_LOOKUP_AND_DELETE_ELEM",
        }
    }
}

impl fmt::Display for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `ENOTSUPP` (524): the kernel-internal "operation not supported" that some BPF commands leak
/// to user space (it has no name in libc).
pub const ENOTSUPP: i32 = 524;

/// The symbolic name of an errno value (`EINVAL`), for the errors the BPF commands return.
pub fn errno_name(errno: i32) -> Option<&'static str> {
    Some(match errno {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::ESRCH => "ESRCH",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::E2BIG => "E2BIG",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::ENODEV => "ENODEV",
        libc::ENOTDIR => "ENOTDIR",
        libc::EINVAL => "EINVAL",
        libc::ENFILE => "ENFILE",
        libc::EMFILE => "EMFILE",
        libc::ENOSPC => "ENOSPC",
        libc::ERANGE => "ERANGE",
        libc::ENOSYS => "ENOSYS",
        libc::ELOOP => "ELOOP",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::ENXIO => "ENXIO",
        libc::EPROTO => "EPROTO",
        libc::EBADMSG => "EBADMSG",
        libc::EOVERFLOW => "EOVERFLOW",
        ENOTSUPP => "ENOTSUPP",
        _ => return None,
    })
}

/// A failed `bpf(2)` command: which command and the errno the kernel returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub struct SysError {
    /// The command.
    pub cmd: Cmd,
    /// The (positive) errno.
    pub errno: i32,
}

impl SysError {
    /// The error as an [`io::Error`] (with the operating system's message).
    pub fn io_error(&self) -> io::Error {
        io::Error::from_raw_os_error(self.errno)
    }

    /// The symbolic errno name (`EINVAL`), when known.
    pub fn errno_name(&self) -> Option<&'static str> {
        errno_name(self.errno)
    }

    /// Whether the kernel refused for lack of privilege (`EPERM` or `EACCES`).
    pub fn is_permission(&self) -> bool {
        matches!(self.errno, libc::EPERM | libc::EACCES)
    }
}

impl fmt::Display for SysError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let msg = if self.errno == ENOTSUPP {
            "Operation not supported (kernel-internal ENOTSUPP)".to_owned()
        } else {
            let s = self.io_error().to_string();
            // "Invalid argument (os error 22)" -> "Invalid argument"
            match s.find(" (os error") {
                Some(i) => s[..i].to_owned(),
                None => s,
            }
        };
        match self.errno_name() {
            Some(name) => write!(f, "{} failed: {} ({})", self.cmd, name, msg),
            None => write!(f, "{} failed: errno {} ({})", self.cmd, self.errno, msg),
        }
    }
}

/// Map element flags of `BPF_MAP_UPDATE_ELEM` and the push helper.
pub mod elem_flags {
    /// `BPF_ANY` (0): create or update; push, `E2BIG` when full.
    pub const ANY: u64 = 0;
    /// `BPF_NOEXIST` (1): create only (refused by queue and stack maps: `EINVAL`).
    pub const NOEXIST: u64 = 1;
    /// `BPF_EXIST` (2): update only; push dropping the oldest element when full.
    pub const EXIST: u64 = 2;
    /// `BPF_F_LOCK` (4): take the value's spin lock.
    pub const F_LOCK: u64 = 4;
}

/// The length of object names (`BPF_OBJ_NAME_LEN`), counting the terminating NUL.
pub const OBJ_NAME_LEN: usize = 16;

/// Copy `name` into a NUL-terminated `BPF_OBJ_NAME_LEN` array, truncated to 15 bytes (the
/// kernel refuses a name without a NUL in its 16 bytes). Truncation never splits a UTF-8
/// character.
pub fn obj_name(name: &str) -> [u8; OBJ_NAME_LEN] {
    let mut out = [0u8; OBJ_NAME_LEN];
    let mut end = name.len().min(OBJ_NAME_LEN - 1);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    out[..end].copy_from_slice(&name.as_bytes()[..end]);
    out
}

fn name_from(raw: &[u8; OBJ_NAME_LEN]) -> String {
    let end = raw.iter().position(|&b| b == 0).unwrap_or(OBJ_NAME_LEN);
    String::from_utf8_lossy(&raw[..end]).into_owned()
}

fn ptr<T>(s: &[T]) -> u64 {
    if s.is_empty() {
        0
    } else {
        s.as_ptr() as u64
    }
}

fn mut_ptr<T>(s: &mut [T]) -> u64 {
    if s.is_empty() {
        0
    } else {
        s.as_mut_ptr() as u64
    }
}

fn raw(fd: Option<BorrowedFd<'_>>) -> u32 {
    fd.map_or(0, |fd| fd.as_raw_fd() as u32)
}

// ---------------------------------------------------------------------------------------------
// Attribute layouts (members of `union bpf_attr`), with explicit padding.

/// Marker for the `#[repr(C)]` attribute structs below: plain integers, no implicit padding.
trait Attr {}

/// `BPF_MAP_CREATE`, up to `map_extra`.
#[repr(C)]
#[derive(Default)]
struct MapCreateAttr {
    map_type: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    map_flags: u32,
    inner_map_fd: u32,
    numa_node: u32,
    map_name: [u8; OBJ_NAME_LEN],
    map_ifindex: u32,
    btf_fd: u32,
    btf_key_type_id: u32,
    btf_value_type_id: u32,
    btf_vmlinux_value_type_id: u32,
    map_extra: u64,
}
impl Attr for MapCreateAttr {}

/// `BPF_MAP_*_ELEM` and `BPF_MAP_GET_NEXT_KEY` (`value` doubles as `next_key`).
#[repr(C)]
#[derive(Default)]
struct ElemAttr {
    map_fd: u32,
    _pad0: u32,
    key: u64,
    value: u64,
    flags: u64,
}
impl Attr for ElemAttr {}

/// `BPF_PROG_LOAD`, up to `fd_array_cnt`.
#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; OBJ_NAME_LEN],
    prog_ifindex: u32,
    expected_attach_type: u32,
    prog_btf_fd: u32,
    func_info_rec_size: u32,
    func_info: u64,
    func_info_cnt: u32,
    line_info_rec_size: u32,
    line_info: u64,
    line_info_cnt: u32,
    attach_btf_id: u32,
    attach_prog_fd: u32,
    core_relo_cnt: u32,
    fd_array: u64,
    core_relos: u64,
    core_relo_rec_size: u32,
    log_true_size: u32,
    prog_token_fd: i32,
    fd_array_cnt: u32,
}
impl Attr for ProgLoadAttr {}

/// `BPF_BTF_LOAD`, up to `btf_token_fd`.
#[repr(C)]
#[derive(Default)]
struct BtfLoadAttr {
    btf: u64,
    btf_log_buf: u64,
    btf_size: u32,
    btf_log_size: u32,
    btf_log_level: u32,
    btf_log_true_size: u32,
    btf_flags: u32,
    btf_token_fd: i32,
}
impl Attr for BtfLoadAttr {}

/// `BPF_PROG_TEST_RUN` (the `test` member), up to `batch_size`.
#[repr(C)]
#[derive(Default)]
struct TestRunAttr {
    prog_fd: u32,
    retval: u32,
    data_size_in: u32,
    data_size_out: u32,
    data_in: u64,
    data_out: u64,
    repeat: u32,
    duration: u32,
    ctx_size_in: u32,
    ctx_size_out: u32,
    ctx_in: u64,
    ctx_out: u64,
    flags: u32,
    cpu: u32,
    batch_size: u32,
    _pad0: u32,
}
impl Attr for TestRunAttr {}

/// `BPF_OBJ_PIN` / `BPF_OBJ_GET`, up to `path_fd`.
#[repr(C)]
#[derive(Default)]
struct ObjAttr {
    pathname: u64,
    bpf_fd: u32,
    file_flags: u32,
    path_fd: i32,
    _pad0: u32,
}
impl Attr for ObjAttr {}

/// `BPF_OBJ_GET_INFO_BY_FD` (the `info` member).
#[repr(C)]
#[derive(Default)]
struct InfoAttr {
    bpf_fd: u32,
    info_len: u32,
    info: u64,
}
impl Attr for InfoAttr {}

/// `struct bpf_map_info`.
#[repr(C)]
#[derive(Default)]
struct RawMapInfo {
    map_type: u32,
    id: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    map_flags: u32,
    name: [u8; OBJ_NAME_LEN],
    ifindex: u32,
    btf_vmlinux_value_type_id: u32,
    netns_dev: u64,
    netns_ino: u64,
    btf_id: u32,
    btf_key_type_id: u32,
    btf_value_type_id: u32,
    _pad0: u32,
    map_extra: u64,
}
impl Attr for RawMapInfo {}

/// `struct bpf_prog_info` (as of Linux 6.1; later kernels append fields, which we do not ask
/// for).
#[repr(C)]
#[derive(Default)]
struct RawProgInfo {
    prog_type: u32,
    id: u32,
    tag: [u8; 8],
    jited_prog_len: u32,
    xlated_prog_len: u32,
    jited_prog_insns: u64,
    xlated_prog_insns: u64,
    load_time: u64,
    created_by_uid: u32,
    nr_map_ids: u32,
    map_ids: u64,
    name: [u8; OBJ_NAME_LEN],
    ifindex: u32,
    gpl_compatible: u32,
    netns_dev: u64,
    netns_ino: u64,
    nr_jited_ksyms: u32,
    nr_jited_func_lens: u32,
    jited_ksyms: u64,
    jited_func_lens: u64,
    btf_id: u32,
    func_info_rec_size: u32,
    func_info: u64,
    nr_func_info: u32,
    nr_line_info: u32,
    line_info: u64,
    jited_line_info: u64,
    nr_jited_line_info: u32,
    line_info_rec_size: u32,
    jited_line_info_rec_size: u32,
    nr_prog_tags: u32,
    prog_tags: u64,
    run_time_ns: u64,
    run_cnt: u64,
    recursion_misses: u64,
    verified_insns: u32,
    attach_btf_obj_id: u32,
    attach_btf_id: u32,
    _pad0: u32,
}
impl Attr for RawProgInfo {}

// The kernel's `struct bpf_func_info` and `struct bpf_line_info`: records of the ABI layer
// (`crate::abi`, `#[repr(C)]`), which the BTF writer and reader share.
pub use crate::abi::{FuncInfo, LineInfo};

// Layouts, checked against include/uapi/linux/bpf.h.
const _: () = {
    assert!(offset_of!(MapCreateAttr, map_name) == 28);
    assert!(offset_of!(MapCreateAttr, map_ifindex) == 44);
    assert!(offset_of!(MapCreateAttr, btf_fd) == 48);
    assert!(offset_of!(MapCreateAttr, btf_value_type_id) == 56);
    assert!(offset_of!(MapCreateAttr, map_extra) == 64);
    assert!(size_of::<MapCreateAttr>() == 72);
    assert!(offset_of!(ElemAttr, key) == 8);
    assert!(offset_of!(ElemAttr, flags) == 24);
    assert!(size_of::<ElemAttr>() == 32);
    assert!(offset_of!(ProgLoadAttr, log_buf) == 32);
    assert!(offset_of!(ProgLoadAttr, prog_name) == 48);
    assert!(offset_of!(ProgLoadAttr, expected_attach_type) == 68);
    assert!(offset_of!(ProgLoadAttr, prog_btf_fd) == 72);
    assert!(offset_of!(ProgLoadAttr, func_info) == 80);
    assert!(offset_of!(ProgLoadAttr, line_info) == 96);
    assert!(offset_of!(ProgLoadAttr, fd_array) == 120);
    assert!(offset_of!(ProgLoadAttr, log_true_size) == 140);
    assert!(offset_of!(ProgLoadAttr, fd_array_cnt) == 148);
    assert!(size_of::<ProgLoadAttr>() == 152);
    assert!(offset_of!(BtfLoadAttr, btf_log_true_size) == 28);
    assert!(size_of::<BtfLoadAttr>() == 40);
    assert!(offset_of!(TestRunAttr, repeat) == 32);
    assert!(offset_of!(TestRunAttr, ctx_in) == 48);
    assert!(offset_of!(TestRunAttr, batch_size) == 72);
    assert!(size_of::<TestRunAttr>() == 80);
    assert!(size_of::<ObjAttr>() == 24);
    assert!(size_of::<InfoAttr>() == 16);
    assert!(offset_of!(RawMapInfo, name) == 24);
    assert!(offset_of!(RawMapInfo, btf_id) == 64);
    assert!(size_of::<RawMapInfo>() == 88);
    assert!(offset_of!(RawProgInfo, name) == 64);
    assert!(offset_of!(RawProgInfo, btf_id) == 128);
    assert!(offset_of!(RawProgInfo, verified_insns) == 216);
    assert!(size_of::<RawProgInfo>() == 232);
    assert!(size_of::<FuncInfo>() == 8);
    assert!(size_of::<LineInfo>() == 16);
};

/// Issue one command.
///
/// # Safety
///
/// Every pointer in `attr` must be 0 or point to memory valid for what the command does with
/// it: readable for the sizes the kernel reads and writable for the sizes it writes, for the
/// duration of the call.
unsafe fn sys_bpf<A: Attr>(cmd: Cmd, attr: &mut A) -> Result<libc::c_long, SysError> {
    // SAFETY: `attr` is a live, exclusively borrowed `#[repr(C)]` struct of `size_of::<A>()`
    // bytes without implicit padding; the kernel reads and may write back that many bytes. The
    // pointers inside are valid per this function's contract.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd as libc::c_long,
            attr as *mut A as *mut libc::c_void,
            size_of::<A>() as libc::c_long,
        )
    };
    if ret < 0 {
        let errno = io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO);
        Err(SysError { cmd, errno })
    } else {
        Ok(ret)
    }
}

/// Wrap a file descriptor the kernel just returned.
fn owned_fd(ret: libc::c_long) -> OwnedFd {
    // SAFETY: a successful fd-creating bpf command returns a new descriptor that nothing else
    // owns; ownership passes to the OwnedFd, which closes it once.
    unsafe { OwnedFd::from_raw_fd(ret as RawFd) }
}

// ---------------------------------------------------------------------------------------------
// Maps

/// Whether a map type's values are per CPU (the user-space value buffer holds one
/// 8-byte-aligned value per possible CPU).
fn is_percpu_map_type(map_type: u32) -> bool {
    crate::abi::MapType::from_u32(map_type).is_some_and(crate::abi::MapType::is_per_cpu)
}

/// The number of possible CPUs (`/sys/devices/system/cpu/possible`), which sizes per-CPU map
/// values.
pub fn possible_cpus() -> io::Result<usize> {
    let s = std::fs::read_to_string("/sys/devices/system/cpu/possible")?;
    parse_cpu_list(s.trim())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, format!("bad CPU list {s:?}")))
}

fn parse_cpu_list(s: &str) -> Option<usize> {
    let mut max = None;
    for part in s.split(',').filter(|p| !p.is_empty()) {
        let last = match part.split_once('-') {
            Some((_, b)) => b.trim().parse::<usize>().ok()?,
            None => part.trim().parse::<usize>().ok()?,
        };
        max = Some(max.map_or(last, |m: usize| m.max(last)));
    }
    max.map(|m| m + 1)
}

/// The attributes of `BPF_MAP_CREATE`, unchecked: the kernel alone decides.
#[derive(Clone, Debug, Default)]
pub struct MapCreate<'a> {
    /// `enum bpf_map_type` number.
    pub map_type: u32,
    /// Key size in bytes.
    pub key_size: u32,
    /// Value size in bytes.
    pub value_size: u32,
    /// Capacity.
    pub max_entries: u32,
    /// `map_flags`.
    pub map_flags: u32,
    /// The map's name (truncated to 15 bytes; the kernel accepts letters, digits, `_`, `.`).
    pub name: &'a str,
    /// Template map of a map-in-map.
    pub inner_map_fd: Option<BorrowedFd<'a>>,
    /// NUMA node (used with `BPF_F_NUMA_NODE`).
    pub numa_node: u32,
    /// BTF object and the key and value type ids in it. Queue and stack maps take none:
    /// with a zero key type id the kernel requires a map-type BTF check these maps lack
    /// (`EINVAL`).
    pub btf: Option<(BorrowedFd<'a>, u32, u32)>,
    /// `map_extra` (bloom filter hash count, arena address ...).
    pub map_extra: u64,
}

/// What the kernel knows of a map (`struct bpf_map_info`, abridged).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MapInfo {
    /// `enum bpf_map_type` number.
    pub map_type: u32,
    /// Kernel-wide map id (0 when unknown).
    pub id: u32,
    /// Key size.
    pub key_size: u32,
    /// Value size (of one CPU's value for per-CPU maps).
    pub value_size: u32,
    /// Capacity.
    pub max_entries: u32,
    /// Flags.
    pub map_flags: u32,
    /// Name, as the kernel stored it.
    pub name: String,
    /// BTF object id (0: none).
    pub btf_id: u32,
}

/// A map file descriptor together with the sizes the kernel uses for its elements. All
/// element commands are methods here, so that every buffer is checked against those sizes
/// before the kernel reads or writes it.
#[derive(Debug)]
pub struct MapFd {
    fd: OwnedFd,
    info: MapInfo,
    value_buf_size: usize,
}

/// Create a map. The result is an owned descriptor; nothing is checked before the kernel.
pub fn map_create(req: &MapCreate<'_>) -> Result<MapFd, SysError> {
    let (btf_fd, key_id, value_id) = match req.btf {
        Some((fd, k, v)) => (fd.as_raw_fd() as u32, k, v),
        None => (0, 0, 0),
    };
    let mut attr = MapCreateAttr {
        map_type: req.map_type,
        key_size: req.key_size,
        value_size: req.value_size,
        max_entries: req.max_entries,
        map_flags: req.map_flags,
        inner_map_fd: raw(req.inner_map_fd),
        numa_node: req.numa_node,
        map_name: obj_name(req.name),
        btf_fd,
        btf_key_type_id: key_id,
        btf_value_type_id: value_id,
        map_extra: req.map_extra,
        ..Default::default()
    };
    // SAFETY: MAP_CREATE takes no pointers.
    let ret = unsafe { sys_bpf(Cmd::MapCreate, &mut attr)? };
    let fd = owned_fd(ret);
    let info = MapInfo {
        map_type: req.map_type,
        id: 0,
        key_size: req.key_size,
        value_size: req.value_size,
        max_entries: req.max_entries,
        map_flags: req.map_flags,
        name: name_from(&attr.map_name),
        btf_id: 0,
    };
    MapFd::with_info(fd, info).map_err(|_| SysError {
        cmd: Cmd::MapCreate,
        errno: libc::EIO,
    })
}

impl MapFd {
    fn with_info(fd: OwnedFd, info: MapInfo) -> io::Result<MapFd> {
        let value_buf_size = if is_percpu_map_type(info.map_type) {
            (info.value_size as usize).next_multiple_of(8) * possible_cpus()?
        } else {
            info.value_size as usize
        };
        Ok(MapFd {
            fd,
            info,
            value_buf_size,
        })
    }

    /// Take a descriptor that refers to a map; its sizes are asked from the kernel
    /// (`BPF_OBJ_GET_INFO_BY_FD`). Fails with `EINVAL` when it is not a map.
    pub fn from_fd(fd: OwnedFd) -> Result<MapFd, SysError> {
        // BPF_OBJ_GET_INFO_BY_FD answers for programs, links and BTF too, with their own info
        // struct, which would read as a map's: ask what the descriptor is first.
        let link = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()));
        if let Ok(target) = link {
            if target.as_os_str() != "anon_inode:bpf-map" {
                return Err(SysError {
                    cmd: Cmd::ObjGetInfoByFd,
                    errno: libc::EINVAL,
                });
            }
        }
        let info = map_info(fd.as_fd())?;
        MapFd::with_info(fd, info).map_err(|_| SysError {
            cmd: Cmd::ObjGetInfoByFd,
            errno: libc::EIO,
        })
    }

    /// What the kernel was told (at creation) or said (for an opened map) about the map.
    pub fn info(&self) -> &MapInfo {
        &self.info
    }

    /// The size of the value buffer of the element commands: `value_size`, or for per-CPU
    /// maps one 8-byte-aligned value per possible CPU.
    pub fn value_buf_size(&self) -> usize {
        self.value_buf_size
    }

    /// The descriptor.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Give up the sizes and keep the descriptor.
    pub fn into_fd(self) -> OwnedFd {
        self.fd
    }

    /// Duplicate the handle (a new descriptor for the same map).
    pub fn try_clone(&self) -> io::Result<MapFd> {
        Ok(MapFd {
            fd: self.fd.try_clone()?,
            info: self.info.clone(),
            value_buf_size: self.value_buf_size,
        })
    }

    fn check_key(&self, key: Option<&[u8]>) {
        if let Some(k) = key {
            assert_eq!(
                k.len(),
                self.info.key_size as usize,
                "key buffer of {} bytes for a map with key_size {}",
                k.len(),
                self.info.key_size
            );
        }
    }

    fn check_value(&self, len: usize) {
        assert_eq!(
            len, self.value_buf_size,
            "value buffer of {len} bytes for a map whose values take {} bytes",
            self.value_buf_size
        );
    }

    fn elem(&self, cmd: Cmd, key: Option<&[u8]>, value: u64, flags: u64) -> Result<(), SysError> {
        let mut attr = ElemAttr {
            map_fd: self.fd.as_raw_fd() as u32,
            key: key.map_or(0, |k| k.as_ptr() as u64),
            value,
            flags,
            ..Default::default()
        };
        // SAFETY: the key, when given, is a live slice of exactly key_size bytes (checked by
        // the callers), which is what the kernel reads; `value` is 0 or a live buffer of the
        // size the kernel reads or writes for this command (checked by the callers).
        unsafe { sys_bpf(cmd, &mut attr) }.map(drop)
    }

    /// `BPF_MAP_LOOKUP_ELEM`: read the value of `key` (peek for queue and stack maps, whose
    /// key is `None`). The kernel leaves `value` untouched on failure.
    ///
    /// # Panics
    ///
    /// When `key` is not `key_size` bytes or `value` not [`MapFd::value_buf_size`] bytes.
    pub fn lookup(&self, key: Option<&[u8]>, value: &mut [u8], flags: u64) -> Result<(), SysError> {
        self.check_key(key);
        self.check_value(value.len());
        self.elem(Cmd::MapLookupElem, key, mut_ptr(value), flags)
    }

    /// `BPF_MAP_UPDATE_ELEM`: store `value` at `key` (push for queue and stack maps).
    ///
    /// # Panics
    ///
    /// When `key` is not `key_size` bytes or `value` not [`MapFd::value_buf_size`] bytes.
    pub fn update(&self, key: Option<&[u8]>, value: &[u8], flags: u64) -> Result<(), SysError> {
        self.check_key(key);
        self.check_value(value.len());
        self.elem(Cmd::MapUpdateElem, key, ptr(value), flags)
    }

    /// `BPF_MAP_DELETE_ELEM` (`EINVAL` on queue and stack maps).
    ///
    /// # Panics
    ///
    /// When `key` is not `key_size` bytes.
    pub fn delete(&self, key: Option<&[u8]>) -> Result<(), SysError> {
        self.check_key(key);
        self.elem(Cmd::MapDeleteElem, key, 0, 0)
    }

    /// `BPF_MAP_LOOKUP_AND_DELETE_ELEM`: read and remove (pop for queue and stack maps).
    ///
    /// # Panics
    ///
    /// When `key` is not `key_size` bytes or `value` not [`MapFd::value_buf_size`] bytes.
    pub fn lookup_and_delete(
        &self,
        key: Option<&[u8]>,
        value: &mut [u8],
        flags: u64,
    ) -> Result<(), SysError> {
        self.check_key(key);
        self.check_value(value.len());
        self.elem(Cmd::MapLookupAndDeleteElem, key, mut_ptr(value), flags)
    }

    /// `BPF_MAP_GET_NEXT_KEY`: the key after `key` (the first key for `None`) into `next_key`
    /// (`EINVAL` on queue and stack maps, `ENOENT` after the last key).
    ///
    /// # Panics
    ///
    /// When `key` or `next_key` is not `key_size` bytes.
    pub fn get_next_key(&self, key: Option<&[u8]>, next_key: &mut [u8]) -> Result<(), SysError> {
        self.check_key(key);
        assert_eq!(
            next_key.len(),
            self.info.key_size as usize,
            "next_key buffer of {} bytes for a map with key_size {}",
            next_key.len(),
            self.info.key_size
        );
        // A zero-sized next_key is passed as NULL, which the kernel never writes to.
        self.elem(Cmd::MapGetNextKey, key, mut_ptr(next_key), 0)
    }
}

impl AsFd for MapFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// `BPF_OBJ_GET_INFO_BY_FD` on a map.
pub fn map_info(fd: BorrowedFd<'_>) -> Result<MapInfo, SysError> {
    let mut info = RawMapInfo::default();
    get_info(fd, &mut info)?;
    Ok(MapInfo {
        map_type: info.map_type,
        id: info.id,
        key_size: info.key_size,
        value_size: info.value_size,
        max_entries: info.max_entries,
        map_flags: info.map_flags,
        name: name_from(&info.name),
        btf_id: info.btf_id,
    })
}

/// What the kernel knows of a program (`struct bpf_prog_info`, abridged).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProgInfo {
    /// `enum bpf_prog_type` number.
    pub prog_type: u32,
    /// Kernel-wide program id.
    pub id: u32,
    /// The program's tag (a hash of its instructions), as bpftool prints it.
    pub tag: [u8; 8],
    /// Name, as the kernel stored it.
    pub name: String,
    /// Size in bytes of the translated (post-verifier) instructions.
    pub xlated_prog_len: u32,
    /// Size in bytes of the JIT-compiled code (0 without JIT).
    pub jited_prog_len: u32,
    /// Number of maps the program uses.
    pub nr_map_ids: u32,
    /// BTF object id (0: none).
    pub btf_id: u32,
    /// Number of func_info and line_info records the kernel kept.
    pub nr_func_info: u32,
    /// Number of line_info records.
    pub nr_line_info: u32,
    /// Instructions the verifier processed (the log footer's "processed N insns").
    pub verified_insns: u32,
}

/// `BPF_OBJ_GET_INFO_BY_FD` on a program.
pub fn prog_info(fd: BorrowedFd<'_>) -> Result<ProgInfo, SysError> {
    let mut info = RawProgInfo::default();
    get_info(fd, &mut info)?;
    Ok(ProgInfo {
        prog_type: info.prog_type,
        id: info.id,
        tag: info.tag,
        name: name_from(&info.name),
        xlated_prog_len: info.xlated_prog_len,
        jited_prog_len: info.jited_prog_len,
        nr_map_ids: info.nr_map_ids,
        btf_id: info.btf_id,
        nr_func_info: info.nr_func_info,
        nr_line_info: info.nr_line_info,
        verified_insns: info.verified_insns,
    })
}

fn get_info<I: Attr>(fd: BorrowedFd<'_>, info: &mut I) -> Result<(), SysError> {
    let mut attr = InfoAttr {
        bpf_fd: fd.as_raw_fd() as u32,
        info_len: size_of::<I>() as u32,
        info: info as *mut I as u64,
    };
    // SAFETY: `info` is a zeroed, exclusively borrowed info struct of `info_len` bytes; the
    // kernel writes at most `info_len` bytes to it. Its array pointers (map ids, instructions
    // ...) are 0 with zero counts, so the kernel copies nothing else.
    unsafe { sys_bpf(Cmd::ObjGetInfoByFd, &mut attr) }.map(drop)
}

// ---------------------------------------------------------------------------------------------
// BTF and programs

/// The outcome of a command that writes a verifier or BTF log: the result and the size the
/// whole log needs (`log_true_size`, counting the NUL; 0 on kernels before 6.4 or without a
/// log).
#[derive(Debug)]
pub struct Logged<T> {
    /// The command's result.
    pub result: Result<T, SysError>,
    /// The full size of the log in bytes, even when the buffer was too small.
    pub log_true_size: u32,
}

/// A log buffer and its level for `BPF_BTF_LOAD` and `BPF_PROG_LOAD`.
#[derive(Debug)]
pub struct LogBuf<'a> {
    /// Log level flags: 1 (failing path), 2 (every instruction), 4 (stats), 8 (fixed, no
    /// rotation).
    pub level: u32,
    /// The buffer the kernel writes a NUL-terminated log into (at least 128 bytes, or the
    /// kernel answers `EINVAL`).
    pub buf: &'a mut [u8],
}

/// `BPF_BTF_LOAD`: load a raw BTF blob (header, types, strings).
pub fn btf_load(btf: &[u8], log: Option<LogBuf<'_>>) -> Logged<OwnedFd> {
    let (level, log_ptr, log_size) = match log {
        Some(l) => (
            l.level,
            mut_ptr(l.buf),
            u32::try_from(l.buf.len()).unwrap_or(u32::MAX),
        ),
        None => (0, 0, 0),
    };
    let mut attr = BtfLoadAttr {
        btf: ptr(btf),
        btf_log_buf: log_ptr,
        btf_size: u32::try_from(btf.len()).unwrap_or(u32::MAX),
        btf_log_size: log_size,
        btf_log_level: level,
        ..Default::default()
    };
    if btf.len() > u32::MAX as usize {
        return Logged {
            result: Err(SysError {
                cmd: Cmd::BtfLoad,
                errno: libc::E2BIG,
            }),
            log_true_size: 0,
        };
    }
    // SAFETY: `btf` is a live slice of `btf_size` bytes (the kernel reads them); the log
    // buffer, when given, is a live mutable slice of at least `btf_log_size` bytes (the kernel
    // writes at most that many).
    let result = unsafe { sys_bpf(Cmd::BtfLoad, &mut attr) }.map(owned_fd);
    Logged {
        result,
        log_true_size: attr.btf_log_true_size,
    }
}

/// The attributes of `BPF_PROG_LOAD`.
#[derive(Debug, Default)]
pub struct ProgLoad<'a> {
    /// `enum bpf_prog_type` number.
    pub prog_type: u32,
    /// `expected_attach_type`.
    pub expected_attach_type: u32,
    /// Encoded instructions (a multiple of 8 bytes).
    pub insns: &'a [u8],
    /// License; `GPL`-compatible licenses unlock GPL-only helpers.
    pub license: &'a CStr,
    /// Program name (truncated to 15 bytes).
    pub name: &'a str,
    /// `prog_flags` (`BPF_F_STRICT_ALIGNMENT`, `BPF_F_XDP_HAS_FRAGS`, ...).
    pub prog_flags: u32,
    /// `kern_version` (ignored by current kernels).
    pub kern_version: u32,
    /// The verifier log, if wanted.
    pub log: Option<LogBuf<'a>>,
    /// BTF describing the program; required with `func_info` or `line_info`.
    pub btf_fd: Option<BorrowedFd<'a>>,
    /// One record per function (slot offsets, ascending, the first at 0).
    pub func_info: &'a [FuncInfo],
    /// Line records (slot offsets, ascending, the first at 0).
    pub line_info: &'a [LineInfo],
    /// `attach_btf_id` for tracing programs.
    pub attach_btf_id: u32,
    /// `attach_prog_fd` / `attach_btf_obj_fd`.
    pub attach_fd: Option<BorrowedFd<'a>>,
    /// `prog_ifindex` for device-bound programs.
    pub prog_ifindex: u32,
}

/// `BPF_PROG_LOAD`: verify and load a program.
///
/// # Panics
///
/// When `insns` is not a multiple of 8 bytes.
pub fn prog_load(req: &mut ProgLoad<'_>) -> Logged<OwnedFd> {
    assert_eq!(req.insns.len() % 8, 0, "instructions are 8-byte slots");
    let (level, log_ptr, log_size) = match req.log.as_mut() {
        Some(l) => (
            l.level,
            mut_ptr(l.buf),
            u32::try_from(l.buf.len()).unwrap_or(u32::MAX),
        ),
        None => (0, 0, 0),
    };
    let mut attr = ProgLoadAttr {
        prog_type: req.prog_type,
        insn_cnt: (req.insns.len() / 8) as u32,
        insns: ptr(req.insns),
        license: req.license.as_ptr() as u64,
        log_level: level,
        log_size,
        log_buf: log_ptr,
        kern_version: req.kern_version,
        prog_flags: req.prog_flags,
        prog_name: obj_name(req.name),
        prog_ifindex: req.prog_ifindex,
        expected_attach_type: req.expected_attach_type,
        prog_btf_fd: raw(req.btf_fd),
        func_info_rec_size: if req.func_info.is_empty() {
            0
        } else {
            size_of::<FuncInfo>() as u32
        },
        func_info: ptr(req.func_info),
        func_info_cnt: req.func_info.len() as u32,
        line_info_rec_size: if req.line_info.is_empty() {
            0
        } else {
            size_of::<LineInfo>() as u32
        },
        line_info: ptr(req.line_info),
        line_info_cnt: req.line_info.len() as u32,
        attach_btf_id: req.attach_btf_id,
        attach_prog_fd: raw(req.attach_fd),
        ..Default::default()
    };
    retry_on_eagain(PROG_LOAD_ATTEMPTS, || {
        // SAFETY: `insns` is a live slice of `insn_cnt * 8` bytes, `license` a NUL-terminated
        // string, func_info and line_info live slices of `cnt` records of `rec_size` bytes
        // each (all read by the kernel); the log buffer, when given, is a live mutable slice of
        // at least `log_size` bytes (the kernel writes at most that many). The kernel may also
        // write `log_true_size` into `attr`, which we own. All of it lives across every attempt.
        let result = unsafe { sys_bpf(Cmd::ProgLoad, &mut attr) }.map(owned_fd);
        Logged {
            result,
            log_true_size: attr.log_true_size,
        }
    })
}

/// How many times `BPF_PROG_LOAD` is tried while the kernel answers `EAGAIN` (libbpf's
/// count).
pub const PROG_LOAD_ATTEMPTS: u32 = 5;

/// Call `attempt` until it fails with something other than `EAGAIN`, at most `attempts` times
/// (at least once).
fn retry_on_eagain<T>(attempts: u32, mut attempt: impl FnMut() -> Logged<T>) -> Logged<T> {
    let mut left = attempts.max(1);
    loop {
        let out = attempt();
        left -= 1;
        match &out.result {
            Err(e) if e.errno == libc::EAGAIN && left > 0 => continue,
            _ => return out,
        }
    }
}

/// Input of `BPF_PROG_TEST_RUN`.
#[derive(Debug, Default)]
pub struct TestRunAttrs<'a> {
    /// Packet (or other input) data.
    pub data_in: &'a [u8],
    /// Where the kernel copies the data after the run (empty: not copied).
    pub data_out: &'a mut [u8],
    /// Context in (`struct __sk_buff`, `struct xdp_md` ...), if any.
    pub ctx_in: &'a [u8],
    /// Where the kernel copies the context after the run (empty: not copied).
    pub ctx_out: &'a mut [u8],
    /// Runs (0 counts as 1).
    pub repeat: u32,
    /// `BPF_F_TEST_RUN_ON_CPU` (1), `BPF_F_TEST_XDP_LIVE_FRAMES` (2) ...
    pub flags: u32,
    /// The CPU with `BPF_F_TEST_RUN_ON_CPU`.
    pub cpu: u32,
    /// Batch size of live XDP frames.
    pub batch_size: u32,
}

/// Output of `BPF_PROG_TEST_RUN`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TestRunOut {
    /// The program's return value (`r0`, truncated to 32 bits).
    pub retval: u32,
    /// Mean run time in nanoseconds.
    pub duration_ns: u32,
    /// Full size of the output data (may exceed the buffer: then the call fails with
    /// `ENOSPC`).
    pub data_size_out: u32,
    /// Full size of the output context.
    pub ctx_size_out: u32,
}

/// `BPF_PROG_TEST_RUN`: run a loaded program once or `repeat` times on the given input.
pub fn prog_test_run(prog: BorrowedFd<'_>, io: TestRunAttrs<'_>) -> Result<TestRunOut, SysError> {
    let len32 = |n: usize| {
        u32::try_from(n).map_err(|_| SysError {
            cmd: Cmd::ProgTestRun,
            errno: libc::E2BIG,
        })
    };
    let mut attr = TestRunAttr {
        prog_fd: prog.as_raw_fd() as u32,
        data_size_in: len32(io.data_in.len())?,
        data_size_out: len32(io.data_out.len())?,
        data_in: ptr(io.data_in),
        // NULL when empty: with a non-NULL pointer and size 0 the kernel copies the whole
        // output.
        data_out: mut_ptr(io.data_out),
        repeat: io.repeat,
        ctx_size_in: len32(io.ctx_in.len())?,
        ctx_size_out: len32(io.ctx_out.len())?,
        ctx_in: ptr(io.ctx_in),
        ctx_out: mut_ptr(io.ctx_out),
        flags: io.flags,
        cpu: io.cpu,
        batch_size: io.batch_size,
        ..Default::default()
    };
    // SAFETY: data_in and ctx_in are live slices of the given sizes (read); data_out and
    // ctx_out are 0 or live mutable slices of the given non-zero sizes, and the kernel clamps
    // its copies to those sizes (returning ENOSPC when they are too small).
    unsafe { sys_bpf(Cmd::ProgTestRun, &mut attr) }?;
    Ok(TestRunOut {
        retval: attr.retval,
        duration_ns: attr.duration,
        data_size_out: attr.data_size_out,
        ctx_size_out: attr.ctx_size_out,
    })
}

// ---------------------------------------------------------------------------------------------
// Pinning

fn c_path(path: &Path, cmd: Cmd) -> Result<CString, SysError> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| SysError {
        cmd,
        errno: libc::EINVAL,
    })
}

/// `BPF_OBJ_PIN`: pin a map, program, link or BTF object at `path` (inside a bpffs mount).
pub fn obj_pin(fd: BorrowedFd<'_>, path: &Path) -> Result<(), SysError> {
    let p = c_path(path, Cmd::ObjPin)?;
    let mut attr = ObjAttr {
        pathname: p.as_ptr() as u64,
        bpf_fd: fd.as_raw_fd() as u32,
        ..Default::default()
    };
    // SAFETY: `pathname` points to a live NUL-terminated string (read by the kernel).
    unsafe { sys_bpf(Cmd::ObjPin, &mut attr) }.map(drop)
}

/// `BPF_OBJ_GET`: open a pinned object. `file_flags` may be `BPF_F_RDONLY` or `BPF_F_WRONLY`.
pub fn obj_get(path: &Path, file_flags: u32) -> Result<OwnedFd, SysError> {
    let p = c_path(path, Cmd::ObjGet)?;
    let mut attr = ObjAttr {
        pathname: p.as_ptr() as u64,
        file_flags,
        ..Default::default()
    };
    // SAFETY: `pathname` points to a live NUL-terminated string (read by the kernel).
    unsafe { sys_bpf(Cmd::ObjGet, &mut attr) }.map(owned_fd)
}

/// `BPF_FS_MAGIC`: the `f_type` `statfs(2)` reports for a bpffs mount.
const BPF_FS_MAGIC: i64 = 0xcafe_4a11;

/// Whether `path` is in a bpffs mount (where `BPF_OBJ_PIN` can pin), by `statfs(2)`.
pub fn is_bpffs(path: &Path) -> io::Result<bool> {
    let p = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: an all-zero `statfs` is a valid value of this plain C struct.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `p` is a live NUL-terminated string and `st` a live, writable `statfs`.
    let rc = unsafe { libc::statfs(p.as_ptr(), &mut st) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    #[allow(clippy::unnecessary_cast)] // f_type's width differs between architectures
    Ok(st.f_type as i64 == BPF_FS_MAGIC)
}

// The guest's init: what bpfsmith needs when it is PID 1 of a throw-away VM (`crate::guest`).

/// `mount(2)` without data: `source` of type `fstype` on `target` (used by the guest's init
/// for proc, sysfs and bpffs).
pub fn mount(source: &str, target: &Path, fstype: &str) -> io::Result<()> {
    let src = CString::new(source).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let fst = CString::new(fstype).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let tgt = CString::new(target.as_os_str().as_bytes())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: three live NUL-terminated strings; no data argument.
    let rc = unsafe {
        libc::mount(
            src.as_ptr(),
            tgt.as_ptr(),
            fst.as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Put a terminal into raw mode (no `\n` to `\r\n` translation, no echo), so that what a
/// guest writes to a serial port arrives on the host byte for byte.
pub fn make_raw(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: termios is plain data, filled by tcgetattr before use.
    let mut t: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: `fd` is a live descriptor and `t` a valid termios to write.
    if unsafe { libc::tcgetattr(fd.as_raw_fd(), &mut t) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `t` is a valid termios.
    unsafe { libc::cfmakeraw(&mut t) };
    // SAFETY: `fd` is live and `t` a valid termios to read.
    if unsafe { libc::tcsetattr(fd.as_raw_fd(), libc::TCSANOW, &t) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Flush the file systems and power the machine off: the last act of the guest's init (the
/// VM exits). Returns only if the kernel refused.
pub fn power_off() -> io::Error {
    // SAFETY: sync and reboot take no pointers.
    unsafe {
        libc::sync();
        libc::reboot(libc::RB_POWER_OFF);
    }
    io::Error::last_os_error()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_truncated_to_fifteen_bytes() {
        let n = obj_name("a_very_long_map_name");
        assert_eq!(&n[..15], b"a_very_long_map");
        assert_eq!(n[15], 0);
        assert_eq!(name_from(&n), "a_very_long_map");
        assert_eq!(name_from(&obj_name("q")), "q");
        // never split a character
        assert_eq!(name_from(&obj_name("aaaaaaaaaaaaaaé")), "aaaaaaaaaaaaaa");
    }

    #[test]
    fn prog_load_is_retried_on_eagain_a_bounded_number_of_times() {
        let fail = |errno| Logged::<u32> {
            result: Err(SysError {
                cmd: Cmd::ProgLoad,
                errno,
            }),
            log_true_size: 0,
        };
        // Interrupted twice, then loaded: three calls, the load's result.
        let mut calls = 0;
        let out = retry_on_eagain(PROG_LOAD_ATTEMPTS, || {
            calls += 1;
            if calls < 3 {
                fail(libc::EAGAIN)
            } else {
                Logged {
                    result: Ok(7),
                    log_true_size: 0,
                }
            }
        });
        assert_eq!((calls, out.result), (3, Ok(7)));
        // Always interrupted: five calls, then the EAGAIN is the answer.
        let mut calls = 0;
        let out = retry_on_eagain(PROG_LOAD_ATTEMPTS, || {
            calls += 1;
            fail(libc::EAGAIN)
        });
        assert_eq!(calls, 5);
        assert_eq!(out.result.unwrap_err().errno, libc::EAGAIN);
        // Any other refusal is the answer at once.
        let mut calls = 0;
        let out = retry_on_eagain(PROG_LOAD_ATTEMPTS, || {
            calls += 1;
            fail(libc::EACCES)
        });
        assert_eq!((calls, out.result.unwrap_err().errno), (1, libc::EACCES));
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0"), Some(1));
        assert_eq!(parse_cpu_list("0-3"), Some(4));
        assert_eq!(parse_cpu_list("0,2-5,7"), Some(8));
        assert_eq!(parse_cpu_list("x"), None);
    }

    #[test]
    fn errors_name_the_command_and_errno() {
        let e = SysError {
            cmd: Cmd::MapCreate,
            errno: libc::EINVAL,
        };
        assert_eq!(
            e.to_string(),
            "BPF_MAP_CREATE failed: EINVAL (Invalid argument)"
        );
        let e = SysError {
            cmd: Cmd::ProgLoad,
            errno: ENOTSUPP,
        };
        assert!(e.to_string().contains("ENOTSUPP"));
    }
}
