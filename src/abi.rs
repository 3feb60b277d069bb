//! The kernel's ABI numbers by name: map types, program types, attach types and the flags of
//! `BPF_PROG_LOAD`, and the `func_info`/`line_info` records it takes, from the kernel's uapi
//! header `include/uapi/linux/bpf.h`.
//!
//! This is the lowest layer beside [`crate::sys`], which takes its records from here; every
//! other module names these values through the enums rather than by number.
//!
//! ```
//! use bpfsmith::abi::{AttachType, MapType, ProgType};
//!
//! assert_eq!(MapType::Queue as u32, 22);
//! assert_eq!(MapType::from_name("BPF_MAP_TYPE_STACK"), Some(MapType::Stack));
//! assert!(MapType::PercpuArray.is_per_cpu() && !MapType::Queue.is_per_cpu());
//! assert_eq!(ProgType::SocketFilter as u32, 1);
//! assert_eq!(AttachType::CgroupInetEgress as u32, 1);
//! ```

use std::fmt;

macro_rules! map_types {
    ($($variant:ident = $n:literal, $name:literal;)*) => {
        /// A map type (`enum bpf_map_type`), with the kernel's number.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u32)]
        pub enum MapType {
            $(
                #[doc = concat!("`BPF_MAP_TYPE_", $name, "` (", stringify!($n), ").")]
                $variant = $n,
            )*
        }

        impl MapType {
            /// Every map type, in number order.
            pub const ALL: &'static [MapType] = &[$(MapType::$variant),*];

            /// The map type with this number.
            pub fn from_u32(n: u32) -> Option<MapType> {
                match n {
                    $($n => Some(MapType::$variant),)*
                    _ => None,
                }
            }

            /// The kernel's name without the `BPF_MAP_TYPE_` prefix, in lower case
            /// (`queue`, `percpu_hash` ...), as `.map type=` and bpftool use it.
            pub fn name(self) -> &'static str {
                match self {
                    $(MapType::$variant => $name,)*
                }
            }
        }
    };
}

map_types! {
    Unspec = 0, "unspec";
    Hash = 1, "hash";
    Array = 2, "array";
    ProgArray = 3, "prog_array";
    PerfEventArray = 4, "perf_event_array";
    PercpuHash = 5, "percpu_hash";
    PercpuArray = 6, "percpu_array";
    StackTrace = 7, "stack_trace";
    CgroupArray = 8, "cgroup_array";
    LruHash = 9, "lru_hash";
    LruPercpuHash = 10, "lru_percpu_hash";
    LpmTrie = 11, "lpm_trie";
    ArrayOfMaps = 12, "array_of_maps";
    HashOfMaps = 13, "hash_of_maps";
    Devmap = 14, "devmap";
    Sockmap = 15, "sockmap";
    Cpumap = 16, "cpumap";
    Xskmap = 17, "xskmap";
    Sockhash = 18, "sockhash";
    CgroupStorage = 19, "cgroup_storage";
    ReuseportSockarray = 20, "reuseport_sockarray";
    PercpuCgroupStorage = 21, "percpu_cgroup_storage";
    Queue = 22, "queue";
    Stack = 23, "stack";
    SkStorage = 24, "sk_storage";
    DevmapHash = 25, "devmap_hash";
    StructOps = 26, "struct_ops";
    Ringbuf = 27, "ringbuf";
    InodeStorage = 28, "inode_storage";
    TaskStorage = 29, "task_storage";
    BloomFilter = 30, "bloom_filter";
    UserRingbuf = 31, "user_ringbuf";
    CgrpStorage = 32, "cgrp_storage";
    Arena = 33, "arena";
}

impl MapType {
    /// The map type with this name (as [`MapType::name`] gives it; case-insensitive, with or
    /// without the `BPF_MAP_TYPE_` prefix).
    pub fn from_name(s: &str) -> Option<MapType> {
        let lower = s.to_ascii_lowercase();
        let bare = lower.strip_prefix("bpf_map_type_").unwrap_or(&lower);
        MapType::ALL.iter().copied().find(|t| t.name() == bare)
    }

    /// Whether the map is keyless FIFO/LIFO storage, used through helpers 87-89.
    pub fn is_queue_or_stack(self) -> bool {
        matches!(self, MapType::Queue | MapType::Stack)
    }

    /// Whether each element holds one value per possible CPU, so that the user-space value
    /// buffer of a lookup holds `possible CPUs` values, each padded to 8 bytes.
    pub fn is_per_cpu(self) -> bool {
        matches!(
            self,
            MapType::PercpuHash
                | MapType::PercpuArray
                | MapType::LruPercpuHash
                | MapType::PercpuCgroupStorage
        )
    }
}

impl fmt::Display for MapType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

macro_rules! prog_types {
    ($($variant:ident = $n:literal, $name:literal;)*) => {
        /// A program type (`enum bpf_prog_type`), with the kernel's number.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u32)]
        pub enum ProgType {
            $(
                #[doc = concat!("`BPF_PROG_TYPE_", $name, "` (", stringify!($n), ").")]
                $variant = $n,
            )*
        }

        impl ProgType {
            /// The type with this number.
            pub fn from_u32(n: u32) -> Option<ProgType> {
                match n {
                    $($n => Some(ProgType::$variant),)*
                    _ => None,
                }
            }

            /// The kernel's name without the prefix, in lower case (as bpftool prints it).
            pub fn name(self) -> &'static str {
                match self {
                    $(ProgType::$variant => $name,)*
                }
            }
        }
    };
}

prog_types! {
    Unspec = 0, "unspec";
    SocketFilter = 1, "socket_filter";
    Kprobe = 2, "kprobe";
    SchedCls = 3, "sched_cls";
    SchedAct = 4, "sched_act";
    Tracepoint = 5, "tracepoint";
    Xdp = 6, "xdp";
    PerfEvent = 7, "perf_event";
    CgroupSkb = 8, "cgroup_skb";
    CgroupSock = 9, "cgroup_sock";
    LwtIn = 10, "lwt_in";
    LwtOut = 11, "lwt_out";
    LwtXmit = 12, "lwt_xmit";
    SockOps = 13, "sock_ops";
    SkSkb = 14, "sk_skb";
    CgroupDevice = 15, "cgroup_device";
    SkMsg = 16, "sk_msg";
    RawTracepoint = 17, "raw_tracepoint";
    CgroupSockAddr = 18, "cgroup_sock_addr";
    LwtSeg6local = 19, "lwt_seg6local";
    LircMode2 = 20, "lirc_mode2";
    SkReuseport = 21, "sk_reuseport";
    FlowDissector = 22, "flow_dissector";
    CgroupSysctl = 23, "cgroup_sysctl";
    RawTracepointWritable = 24, "raw_tracepoint_writable";
    CgroupSockopt = 25, "cgroup_sockopt";
    Tracing = 26, "tracing";
    StructOps = 27, "struct_ops";
    Ext = 28, "ext";
    Lsm = 29, "lsm";
    SkLookup = 30, "sk_lookup";
    Syscall = 31, "syscall";
    Netfilter = 32, "netfilter";
}

impl fmt::Display for ProgType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

macro_rules! attach_types {
    ($($variant:ident = $n:literal, $name:literal;)*) => {
        /// An attach type (`enum bpf_attach_type`), with the kernel's number: what
        /// `expected_attach_type` of `BPF_PROG_LOAD` and `BPF_PROG_ATTACH` take.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u32)]
        pub enum AttachType {
            $(
                #[doc = concat!("`BPF_", $name, "` (", stringify!($n), "), in upper case.")]
                $variant = $n,
            )*
        }

        impl AttachType {
            /// The attach type with this number.
            pub fn from_u32(n: u32) -> Option<AttachType> {
                match n {
                    $($n => Some(AttachType::$variant),)*
                    _ => None,
                }
            }

            /// The kernel's name without the `BPF_` prefix, in lower case.
            pub fn name(self) -> &'static str {
                match self {
                    $(AttachType::$variant => $name,)*
                }
            }
        }
    };
}

attach_types! {
    CgroupInetIngress = 0, "cgroup_inet_ingress";
    CgroupInetEgress = 1, "cgroup_inet_egress";
    CgroupInetSockCreate = 2, "cgroup_inet_sock_create";
    CgroupSockOps = 3, "cgroup_sock_ops";
    SkSkbStreamParser = 4, "sk_skb_stream_parser";
    SkSkbStreamVerdict = 5, "sk_skb_stream_verdict";
    CgroupDevice = 6, "cgroup_device";
    SkMsgVerdict = 7, "sk_msg_verdict";
    CgroupInet4Bind = 8, "cgroup_inet4_bind";
    CgroupInet6Bind = 9, "cgroup_inet6_bind";
    CgroupInet4Connect = 10, "cgroup_inet4_connect";
    CgroupInet6Connect = 11, "cgroup_inet6_connect";
    CgroupInet4PostBind = 12, "cgroup_inet4_post_bind";
    CgroupInet6PostBind = 13, "cgroup_inet6_post_bind";
    CgroupUdp4Sendmsg = 14, "cgroup_udp4_sendmsg";
    CgroupUdp6Sendmsg = 15, "cgroup_udp6_sendmsg";
    LircMode2 = 16, "lirc_mode2";
    FlowDissector = 17, "flow_dissector";
    CgroupSysctl = 18, "cgroup_sysctl";
    CgroupUdp4Recvmsg = 19, "cgroup_udp4_recvmsg";
    CgroupUdp6Recvmsg = 20, "cgroup_udp6_recvmsg";
    CgroupGetsockopt = 21, "cgroup_getsockopt";
    CgroupSetsockopt = 22, "cgroup_setsockopt";
    TraceRawTp = 23, "trace_raw_tp";
    TraceFentry = 24, "trace_fentry";
    TraceFexit = 25, "trace_fexit";
    ModifyReturn = 26, "modify_return";
    LsmMac = 27, "lsm_mac";
    TraceIter = 28, "trace_iter";
    CgroupInet4Getpeername = 29, "cgroup_inet4_getpeername";
    CgroupInet6Getpeername = 30, "cgroup_inet6_getpeername";
    CgroupInet4Getsockname = 31, "cgroup_inet4_getsockname";
    CgroupInet6Getsockname = 32, "cgroup_inet6_getsockname";
    XdpDevmap = 33, "xdp_devmap";
    CgroupInetSockRelease = 34, "cgroup_inet_sock_release";
    XdpCpumap = 35, "xdp_cpumap";
    SkLookup = 36, "sk_lookup";
    Xdp = 37, "xdp";
    SkSkbVerdict = 38, "sk_skb_verdict";
    SkReuseportSelect = 39, "sk_reuseport_select";
    SkReuseportSelectOrMigrate = 40, "sk_reuseport_select_or_migrate";
    PerfEvent = 41, "perf_event";
    TraceKprobeMulti = 42, "trace_kprobe_multi";
    LsmCgroup = 43, "lsm_cgroup";
}

impl fmt::Display for AttachType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Flags of `BPF_PROG_LOAD` (`prog_flags`).
pub mod prog_flags {
    /// `BPF_F_STRICT_ALIGNMENT`: check alignment as on a strict-alignment architecture.
    pub const STRICT_ALIGNMENT: u32 = 1 << 0;
    /// `BPF_F_ANY_ALIGNMENT`: accept any alignment (tests only).
    pub const ANY_ALIGNMENT: u32 = 1 << 1;
    /// `BPF_F_TEST_RND_HI32`: randomise the upper halves of 32-bit results (tests only).
    pub const TEST_RND_HI32: u32 = 1 << 2;
    /// `BPF_F_TEST_STATE_FREQ`: check state equivalence more often (tests only).
    pub const TEST_STATE_FREQ: u32 = 1 << 3;
    /// `BPF_F_SLEEPABLE`: the program may sleep (`.s` sections of libbpf).
    pub const SLEEPABLE: u32 = 1 << 4;
    /// `BPF_F_XDP_HAS_FRAGS`: an XDP program that handles multi-buffer packets (`xdp.frags`).
    pub const XDP_HAS_FRAGS: u32 = 1 << 5;
}

/// One `func_info` record as `BPF_PROG_LOAD` takes it (`struct bpf_func_info`, the same
/// layout: the syscall layer passes these records to the kernel as they are).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FuncInfo {
    /// Slot index of the function's first instruction in the loaded program.
    pub insn_off: u32,
    /// The function's `FUNC` type id in the object's BTF.
    pub type_id: u32,
}

/// One `line_info` record as `BPF_PROG_LOAD` takes it (`struct bpf_line_info`, the same
/// layout: the syscall layer passes these records to the kernel as they are).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct LineInfo {
    /// Slot index of the first instruction of the line in the loaded program.
    pub insn_off: u32,
    /// Offset of the file path in the BTF string section.
    pub file_name_off: u32,
    /// Offset of the line's text in the BTF string section.
    pub line_off: u32,
    /// `line << 10 | column` (column limited to 10 bits, line to 22).
    pub line_col: u32,
}

impl LineInfo {
    /// The line number (`line_col >> 10`).
    pub fn line(&self) -> u32 {
        self.line_col >> 10
    }

    /// The column (`line_col & 0x3ff`).
    pub fn column(&self) -> u32 {
        self.line_col & 0x3ff
    }

    /// Pack a line and a column the way the kernel reads them; both saturate at their field's
    /// width.
    pub fn pack(line: u32, column: u32) -> u32 {
        (line.min((1 << 22) - 1) << 10) | column.min(0x3ff)
    }
}
