//! The helper table: every eBPF helper function the kernel's uapi header numbers, and a fuller
//! description of the helpers this crate teaches.
//!
//! A helper call is `call imm` with `src_reg = 0`; the immediate is the helper's number from
//! the kernel's `___BPF_FUNC_MAPPER` list in `include/uapi/linux/bpf.h`. [`Helper`] is that list
//! as a Rust enum, in the same order and with the same numbers, and [`Helper::info`] gives a
//! [`HelperInfo`] for each one. Every helper has a name and a number; the map helpers (1, 2, 3
//! and 87, 88, 89) and a few common ones (5, 6, 14) also have their C prototype, the verifier's
//! argument and return kinds, the errors they return and a note on calling them by hand.
//!
//! The calling convention is the same for every helper: arguments go in `r1` to `r5`, the
//! result comes back in `r0`, and the call clobbers `r1`-`r5` (their contents are unreadable
//! afterwards until written again); `r6`-`r9` and `r10` survive the call.
//!
//! Where the facts come from: names and numbers from `include/uapi/linux/bpf.h` of a
//! linux-next tree (the ColinIanKing/linux-next mirror, file at commit `068741d3e2d5`), whose
//! list ends at `cgrp_storage_delete` = 211 and carries the kernel's note that the helper list
//! is frozen (new kernel functionality is offered as kfuncs instead). Argument and return kinds
//! come from the `bpf_func_proto` definitions in `kernel/bpf/helpers.c` and
//! `kernel/trace/bpf_trace.c`, error codes from `kernel/bpf/queue_stack_maps.c`,
//! `kernel/bpf/hashtab.c` and `kernel/bpf/arraymap.c`. All descriptions are written for this
//! crate.
//!
//! ```
//! use bpfsmith::helpers::{ArgKind, Helper, Ret};
//!
//! let push = Helper::MapPushElem;
//! assert_eq!(push.id(), 87);
//! assert_eq!(i32::from(push), 87); // the `call` immediate
//! assert_eq!(push.name(), "bpf_map_push_elem");
//! assert_eq!(push.to_string(), "bpf_map_push_elem");
//! assert_eq!(Helper::from_name("map_push_elem"), Some(push));
//! assert_eq!(Helper::from_id(87), Some(push));
//!
//! let info = push.info();
//! let kinds: Vec<ArgKind> = info.args.unwrap().iter().map(|a| a.kind).collect();
//! assert_eq!(kinds, [ArgKind::ConstMapPtr, ArgKind::PtrToMapValue, ArgKind::Anything]);
//! assert_eq!(info.ret, Ret::Integer);
//! assert!(info.errors.iter().any(|e| e.errno == "E2BIG" && e.value == 7));
//! ```

use std::fmt;

/// Builds [`Helper`], [`Helper::ALL`] and the name table from one line per helper:
/// `Variant = number => "uapi_name",`.
macro_rules! helper_table {
    ($($variant:ident = $id:literal => $name:literal,)*) => {
        /// Every helper of the kernel's uapi `___BPF_FUNC_MAPPER` list, in order, with its
        /// number (the immediate of the `call` instruction).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u32)]
        pub enum Helper {
            $(
                #[doc = concat!("`bpf_", $name, "`, helper number ", stringify!($id), ".")]
                $variant = $id,
            )*
        }

        impl Helper {
            /// Every helper, in id order: `ALL[i].id() == i`.
            pub const ALL: &'static [Helper] = &[$(Helper::$variant,)*];
        }

        /// Kernel-style names (`bpf_` + the uapi name), indexed by helper id.
        const NAMES: &[&str] = &[$(concat!("bpf_", $name),)*];
    };
}

helper_table! {
    Unspec = 0 => "unspec",
    MapLookupElem = 1 => "map_lookup_elem",
    MapUpdateElem = 2 => "map_update_elem",
    MapDeleteElem = 3 => "map_delete_elem",
    ProbeRead = 4 => "probe_read",
    KtimeGetNs = 5 => "ktime_get_ns",
    TracePrintk = 6 => "trace_printk",
    GetPrandomU32 = 7 => "get_prandom_u32",
    GetSmpProcessorId = 8 => "get_smp_processor_id",
    SkbStoreBytes = 9 => "skb_store_bytes",
    L3CsumReplace = 10 => "l3_csum_replace",
    L4CsumReplace = 11 => "l4_csum_replace",
    TailCall = 12 => "tail_call",
    CloneRedirect = 13 => "clone_redirect",
    GetCurrentPidTgid = 14 => "get_current_pid_tgid",
    GetCurrentUidGid = 15 => "get_current_uid_gid",
    GetCurrentComm = 16 => "get_current_comm",
    GetCgroupClassid = 17 => "get_cgroup_classid",
    SkbVlanPush = 18 => "skb_vlan_push",
    SkbVlanPop = 19 => "skb_vlan_pop",
    SkbGetTunnelKey = 20 => "skb_get_tunnel_key",
    SkbSetTunnelKey = 21 => "skb_set_tunnel_key",
    PerfEventRead = 22 => "perf_event_read",
    Redirect = 23 => "redirect",
    GetRouteRealm = 24 => "get_route_realm",
    PerfEventOutput = 25 => "perf_event_output",
    SkbLoadBytes = 26 => "skb_load_bytes",
    GetStackid = 27 => "get_stackid",
    CsumDiff = 28 => "csum_diff",
    SkbGetTunnelOpt = 29 => "skb_get_tunnel_opt",
    SkbSetTunnelOpt = 30 => "skb_set_tunnel_opt",
    SkbChangeProto = 31 => "skb_change_proto",
    SkbChangeType = 32 => "skb_change_type",
    SkbUnderCgroup = 33 => "skb_under_cgroup",
    GetHashRecalc = 34 => "get_hash_recalc",
    GetCurrentTask = 35 => "get_current_task",
    ProbeWriteUser = 36 => "probe_write_user",
    CurrentTaskUnderCgroup = 37 => "current_task_under_cgroup",
    SkbChangeTail = 38 => "skb_change_tail",
    SkbPullData = 39 => "skb_pull_data",
    CsumUpdate = 40 => "csum_update",
    SetHashInvalid = 41 => "set_hash_invalid",
    GetNumaNodeId = 42 => "get_numa_node_id",
    SkbChangeHead = 43 => "skb_change_head",
    XdpAdjustHead = 44 => "xdp_adjust_head",
    ProbeReadStr = 45 => "probe_read_str",
    GetSocketCookie = 46 => "get_socket_cookie",
    GetSocketUid = 47 => "get_socket_uid",
    SetHash = 48 => "set_hash",
    Setsockopt = 49 => "setsockopt",
    SkbAdjustRoom = 50 => "skb_adjust_room",
    RedirectMap = 51 => "redirect_map",
    SkRedirectMap = 52 => "sk_redirect_map",
    SockMapUpdate = 53 => "sock_map_update",
    XdpAdjustMeta = 54 => "xdp_adjust_meta",
    PerfEventReadValue = 55 => "perf_event_read_value",
    PerfProgReadValue = 56 => "perf_prog_read_value",
    Getsockopt = 57 => "getsockopt",
    OverrideReturn = 58 => "override_return",
    SockOpsCbFlagsSet = 59 => "sock_ops_cb_flags_set",
    MsgRedirectMap = 60 => "msg_redirect_map",
    MsgApplyBytes = 61 => "msg_apply_bytes",
    MsgCorkBytes = 62 => "msg_cork_bytes",
    MsgPullData = 63 => "msg_pull_data",
    Bind = 64 => "bind",
    XdpAdjustTail = 65 => "xdp_adjust_tail",
    SkbGetXfrmState = 66 => "skb_get_xfrm_state",
    GetStack = 67 => "get_stack",
    SkbLoadBytesRelative = 68 => "skb_load_bytes_relative",
    FibLookup = 69 => "fib_lookup",
    SockHashUpdate = 70 => "sock_hash_update",
    MsgRedirectHash = 71 => "msg_redirect_hash",
    SkRedirectHash = 72 => "sk_redirect_hash",
    LwtPushEncap = 73 => "lwt_push_encap",
    LwtSeg6StoreBytes = 74 => "lwt_seg6_store_bytes",
    LwtSeg6AdjustSrh = 75 => "lwt_seg6_adjust_srh",
    LwtSeg6Action = 76 => "lwt_seg6_action",
    RcRepeat = 77 => "rc_repeat",
    RcKeydown = 78 => "rc_keydown",
    SkbCgroupId = 79 => "skb_cgroup_id",
    GetCurrentCgroupId = 80 => "get_current_cgroup_id",
    GetLocalStorage = 81 => "get_local_storage",
    SkSelectReuseport = 82 => "sk_select_reuseport",
    SkbAncestorCgroupId = 83 => "skb_ancestor_cgroup_id",
    SkLookupTcp = 84 => "sk_lookup_tcp",
    SkLookupUdp = 85 => "sk_lookup_udp",
    SkRelease = 86 => "sk_release",
    MapPushElem = 87 => "map_push_elem",
    MapPopElem = 88 => "map_pop_elem",
    MapPeekElem = 89 => "map_peek_elem",
    MsgPushData = 90 => "msg_push_data",
    MsgPopData = 91 => "msg_pop_data",
    RcPointerRel = 92 => "rc_pointer_rel",
    SpinLock = 93 => "spin_lock",
    SpinUnlock = 94 => "spin_unlock",
    SkFullsock = 95 => "sk_fullsock",
    TcpSock = 96 => "tcp_sock",
    SkbEcnSetCe = 97 => "skb_ecn_set_ce",
    GetListenerSock = 98 => "get_listener_sock",
    SkcLookupTcp = 99 => "skc_lookup_tcp",
    TcpCheckSyncookie = 100 => "tcp_check_syncookie",
    SysctlGetName = 101 => "sysctl_get_name",
    SysctlGetCurrentValue = 102 => "sysctl_get_current_value",
    SysctlGetNewValue = 103 => "sysctl_get_new_value",
    SysctlSetNewValue = 104 => "sysctl_set_new_value",
    Strtol = 105 => "strtol",
    Strtoul = 106 => "strtoul",
    SkStorageGet = 107 => "sk_storage_get",
    SkStorageDelete = 108 => "sk_storage_delete",
    SendSignal = 109 => "send_signal",
    TcpGenSyncookie = 110 => "tcp_gen_syncookie",
    SkbOutput = 111 => "skb_output",
    ProbeReadUser = 112 => "probe_read_user",
    ProbeReadKernel = 113 => "probe_read_kernel",
    ProbeReadUserStr = 114 => "probe_read_user_str",
    ProbeReadKernelStr = 115 => "probe_read_kernel_str",
    TcpSendAck = 116 => "tcp_send_ack",
    SendSignalThread = 117 => "send_signal_thread",
    Jiffies64 = 118 => "jiffies64",
    ReadBranchRecords = 119 => "read_branch_records",
    GetNsCurrentPidTgid = 120 => "get_ns_current_pid_tgid",
    XdpOutput = 121 => "xdp_output",
    GetNetnsCookie = 122 => "get_netns_cookie",
    GetCurrentAncestorCgroupId = 123 => "get_current_ancestor_cgroup_id",
    SkAssign = 124 => "sk_assign",
    KtimeGetBootNs = 125 => "ktime_get_boot_ns",
    SeqPrintf = 126 => "seq_printf",
    SeqWrite = 127 => "seq_write",
    SkCgroupId = 128 => "sk_cgroup_id",
    SkAncestorCgroupId = 129 => "sk_ancestor_cgroup_id",
    RingbufOutput = 130 => "ringbuf_output",
    RingbufReserve = 131 => "ringbuf_reserve",
    RingbufSubmit = 132 => "ringbuf_submit",
    RingbufDiscard = 133 => "ringbuf_discard",
    RingbufQuery = 134 => "ringbuf_query",
    CsumLevel = 135 => "csum_level",
    SkcToTcp6Sock = 136 => "skc_to_tcp6_sock",
    SkcToTcpSock = 137 => "skc_to_tcp_sock",
    SkcToTcpTimewaitSock = 138 => "skc_to_tcp_timewait_sock",
    SkcToTcpRequestSock = 139 => "skc_to_tcp_request_sock",
    SkcToUdp6Sock = 140 => "skc_to_udp6_sock",
    GetTaskStack = 141 => "get_task_stack",
    LoadHdrOpt = 142 => "load_hdr_opt",
    StoreHdrOpt = 143 => "store_hdr_opt",
    ReserveHdrOpt = 144 => "reserve_hdr_opt",
    InodeStorageGet = 145 => "inode_storage_get",
    InodeStorageDelete = 146 => "inode_storage_delete",
    DPath = 147 => "d_path",
    CopyFromUser = 148 => "copy_from_user",
    SnprintfBtf = 149 => "snprintf_btf",
    SeqPrintfBtf = 150 => "seq_printf_btf",
    SkbCgroupClassid = 151 => "skb_cgroup_classid",
    RedirectNeigh = 152 => "redirect_neigh",
    PerCpuPtr = 153 => "per_cpu_ptr",
    ThisCpuPtr = 154 => "this_cpu_ptr",
    RedirectPeer = 155 => "redirect_peer",
    TaskStorageGet = 156 => "task_storage_get",
    TaskStorageDelete = 157 => "task_storage_delete",
    GetCurrentTaskBtf = 158 => "get_current_task_btf",
    BprmOptsSet = 159 => "bprm_opts_set",
    KtimeGetCoarseNs = 160 => "ktime_get_coarse_ns",
    ImaInodeHash = 161 => "ima_inode_hash",
    SockFromFile = 162 => "sock_from_file",
    CheckMtu = 163 => "check_mtu",
    ForEachMapElem = 164 => "for_each_map_elem",
    Snprintf = 165 => "snprintf",
    SysBpf = 166 => "sys_bpf",
    BtfFindByNameKind = 167 => "btf_find_by_name_kind",
    SysClose = 168 => "sys_close",
    TimerInit = 169 => "timer_init",
    TimerSetCallback = 170 => "timer_set_callback",
    TimerStart = 171 => "timer_start",
    TimerCancel = 172 => "timer_cancel",
    GetFuncIp = 173 => "get_func_ip",
    GetAttachCookie = 174 => "get_attach_cookie",
    TaskPtRegs = 175 => "task_pt_regs",
    GetBranchSnapshot = 176 => "get_branch_snapshot",
    TraceVprintk = 177 => "trace_vprintk",
    SkcToUnixSock = 178 => "skc_to_unix_sock",
    KallsymsLookupName = 179 => "kallsyms_lookup_name",
    FindVma = 180 => "find_vma",
    Loop = 181 => "loop",
    Strncmp = 182 => "strncmp",
    GetFuncArg = 183 => "get_func_arg",
    GetFuncRet = 184 => "get_func_ret",
    GetFuncArgCnt = 185 => "get_func_arg_cnt",
    GetRetval = 186 => "get_retval",
    SetRetval = 187 => "set_retval",
    XdpGetBuffLen = 188 => "xdp_get_buff_len",
    XdpLoadBytes = 189 => "xdp_load_bytes",
    XdpStoreBytes = 190 => "xdp_store_bytes",
    CopyFromUserTask = 191 => "copy_from_user_task",
    SkbSetTstamp = 192 => "skb_set_tstamp",
    ImaFileHash = 193 => "ima_file_hash",
    KptrXchg = 194 => "kptr_xchg",
    MapLookupPercpuElem = 195 => "map_lookup_percpu_elem",
    SkcToMptcpSock = 196 => "skc_to_mptcp_sock",
    DynptrFromMem = 197 => "dynptr_from_mem",
    RingbufReserveDynptr = 198 => "ringbuf_reserve_dynptr",
    RingbufSubmitDynptr = 199 => "ringbuf_submit_dynptr",
    RingbufDiscardDynptr = 200 => "ringbuf_discard_dynptr",
    DynptrRead = 201 => "dynptr_read",
    DynptrWrite = 202 => "dynptr_write",
    DynptrData = 203 => "dynptr_data",
    TcpRawGenSyncookieIpv4 = 204 => "tcp_raw_gen_syncookie_ipv4",
    TcpRawGenSyncookieIpv6 = 205 => "tcp_raw_gen_syncookie_ipv6",
    TcpRawCheckSyncookieIpv4 = 206 => "tcp_raw_check_syncookie_ipv4",
    TcpRawCheckSyncookieIpv6 = 207 => "tcp_raw_check_syncookie_ipv6",
    KtimeGetTaiNs = 208 => "ktime_get_tai_ns",
    UserRingbufDrain = 209 => "user_ringbuf_drain",
    CgrpStorageGet = 210 => "cgrp_storage_get",
    CgrpStorageDelete = 211 => "cgrp_storage_delete",
}

/// Number of helpers in the table: the last id in the kernel header plus one.
const COUNT: usize = Helper::ALL.len();

/// Whether a map type is one a helper takes ([`Helper::map_types_taken`]).
pub type MapTypeTest = fn(crate::abi::MapType) -> bool;

impl Helper {
    /// For the generic map helpers (1-3 and 87-89), the map types they take, in words, and
    /// whether a type is one of them: the rule of the verifier's
    /// `check_map_func_compatibility`, which the DSL checks when it builds and the assembler
    /// warns about. `None` for every other helper.
    ///
    /// ```
    /// use bpfsmith::helpers::Helper;
    /// use bpfsmith::maps::MapType;
    ///
    /// let (words, takes) = Helper::MapPopElem.map_types_taken().unwrap();
    /// assert_eq!(words, "queue and stack maps");
    /// assert!(takes(MapType::Stack) && !takes(MapType::Hash));
    /// let (_, takes) = Helper::MapLookupElem.map_types_taken().unwrap();
    /// assert!(takes(MapType::Hash) && !takes(MapType::Queue));
    /// ```
    pub fn map_types_taken(self) -> Option<(&'static str, MapTypeTest)> {
        use crate::abi::MapType as M;
        fn keyless(t: M) -> bool {
            t.is_queue_or_stack() || t == M::BloomFilter
        }
        Some(match self {
            Helper::MapPopElem => ("queue and stack maps", M::is_queue_or_stack),
            Helper::MapPushElem | Helper::MapPeekElem => {
                ("queue, stack and bloom_filter maps", keyless)
            }
            Helper::MapLookupElem | Helper::MapUpdateElem | Helper::MapDeleteElem => {
                ("maps with keys (not queue, stack or bloom_filter)", |t| {
                    !keyless(t)
                })
            }
            _ => return None,
        })
    }

    /// The helper's number, as used in the `call` instruction's immediate.
    pub fn id(self) -> u32 {
        self as u32
    }

    /// The helper with number `id`, or `None` if the kernel list has no such number.
    pub fn from_id(id: u32) -> Option<Helper> {
        Self::ALL.get(usize::try_from(id).ok()?).copied()
    }

    /// The kernel-style name: `bpf_` followed by the uapi name, e.g. `"bpf_map_push_elem"`
    /// (and `"bpf_unspec"` for number 0). This is the name the verifier log prints.
    pub fn name(self) -> &'static str {
        NAMES[self as usize]
    }

    /// Looks a helper up by name, with or without the `bpf_` prefix: both
    /// `"bpf_map_push_elem"` and `"map_push_elem"` give [`Helper::MapPushElem`].
    /// The match is exact (case-sensitive).
    pub fn from_name(s: &str) -> Option<Helper> {
        let short = s.strip_prefix("bpf_").unwrap_or(s);
        NAMES
            .iter()
            .position(|n| &n["bpf_".len()..] == short)
            .map(|i| Self::ALL[i])
    }

    /// The description of this helper. For helpers not described in full, only
    /// [`HelperInfo::helper`] is meaningful: the prototype and summary are empty, `args` is
    /// `None` and `ret` is [`Ret::Unknown`].
    pub fn info(self) -> &'static HelperInfo {
        &INFOS[self as usize]
    }
}

impl From<Helper> for i32 {
    /// The `call` immediate for this helper.
    fn from(h: Helper) -> i32 {
        h as i32
    }
}

impl fmt::Display for Helper {
    /// Prints [`Helper::name`], e.g. `bpf_map_push_elem`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the verifier demands of one argument register, after the kernel's `enum bpf_arg_type`
/// (`ARG_*` in `include/linux/bpf.h`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgKind {
    /// `ARG_CONST_MAP_PTR`: a map, loaded with `ld_imm64` whose `src_reg` marks the immediate
    /// as a map fd (or map index); the verifier knows the map's type, key and value sizes from
    /// it.
    ConstMapPtr,
    /// `ARG_PTR_TO_MAP_KEY`: a pointer to `key_size` initialized, readable bytes (stack,
    /// packet or map value memory).
    PtrToMapKey,
    /// `ARG_PTR_TO_MAP_VALUE`: a pointer to `value_size` initialized, readable bytes.
    PtrToMapValue,
    /// `ARG_PTR_TO_UNINIT_MAP_VALUE`: a pointer to `value_size` writable bytes that need not
    /// be initialized, because the helper fills them. Newer kernels spell this
    /// `ARG_PTR_TO_MAP_VALUE | MEM_UNINIT | MEM_WRITE`; the meaning is the same.
    PtrToUninitMapValue,
    /// `ARG_ANYTHING`: any initialized value (a scalar such as flags, or a pointer).
    Anything,
    /// `ARG_PTR_TO_CTX`: the context pointer the program received in `r1`.
    PtrToCtx,
    /// `ARG_PTR_TO_MEM`: a pointer to initialized memory; its size is given by the next
    /// argument, which is a [`ArgKind::ConstSize`] or [`ArgKind::ConstSizeOrZero`].
    PtrToMem,
    /// `ARG_PTR_TO_UNINIT_MEM`: like [`ArgKind::PtrToMem`], but the memory may be
    /// uninitialized because the helper writes it.
    PtrToUninitMem,
    /// `ARG_CONST_SIZE`: the size in bytes of the preceding memory argument; its value must
    /// be bounded and greater than zero.
    ConstSize,
    /// `ARG_CONST_SIZE_OR_ZERO`: like [`ArgKind::ConstSize`], but zero is allowed.
    ConstSizeOrZero,
    /// `ARG_PTR_TO_STACK`: a pointer into the program's stack frame.
    PtrToStack,
    /// Any other kernel argument type, by its kernel name (e.g. `"ARG_PTR_TO_SPIN_LOCK"`).
    Other(&'static str),
}

impl ArgKind {
    /// The kernel's name for this kind, e.g. `"ARG_CONST_MAP_PTR"`.
    pub fn kernel_name(self) -> &'static str {
        match self {
            ArgKind::ConstMapPtr => "ARG_CONST_MAP_PTR",
            ArgKind::PtrToMapKey => "ARG_PTR_TO_MAP_KEY",
            ArgKind::PtrToMapValue => "ARG_PTR_TO_MAP_VALUE",
            ArgKind::PtrToUninitMapValue => "ARG_PTR_TO_UNINIT_MAP_VALUE",
            ArgKind::Anything => "ARG_ANYTHING",
            ArgKind::PtrToCtx => "ARG_PTR_TO_CTX",
            ArgKind::PtrToMem => "ARG_PTR_TO_MEM",
            ArgKind::PtrToUninitMem => "ARG_PTR_TO_UNINIT_MEM",
            ArgKind::ConstSize => "ARG_CONST_SIZE",
            ArgKind::ConstSizeOrZero => "ARG_CONST_SIZE_OR_ZERO",
            ArgKind::PtrToStack => "ARG_PTR_TO_STACK",
            ArgKind::Other(name) => name,
        }
    }
}

/// What a helper leaves in `r0`, after the kernel's `enum bpf_return_type` (`RET_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ret {
    /// `RET_INTEGER`: a scalar; for most helpers 0 or a positive value on success and a
    /// negative errno on failure.
    Integer,
    /// `RET_PTR_TO_MAP_VALUE_OR_NULL`: a pointer into a map value, or NULL. The verifier
    /// rejects any access through `r0` until the program has compared it with 0.
    PtrToMapValueOrNull,
    /// `RET_VOID`: nothing useful; `r0` must not be read.
    Void,
    /// Any other kernel return type, by its kernel name.
    Other(&'static str),
    /// Not described in this table yet.
    Unknown,
}

impl Ret {
    /// The kernel's name for this return type, e.g. `"RET_INTEGER"`; `""` for
    /// [`Ret::Unknown`].
    pub fn kernel_name(self) -> &'static str {
        match self {
            Ret::Integer => "RET_INTEGER",
            Ret::PtrToMapValueOrNull => "RET_PTR_TO_MAP_VALUE_OR_NULL",
            Ret::Void => "RET_VOID",
            Ret::Other(name) => name,
            Ret::Unknown => "",
        }
    }
}

/// One argument register of a helper.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arg {
    /// The parameter's name in the C prototype (`"map"`, `"key"`, ...).
    pub name: &'static str,
    /// What the verifier demands of the register.
    pub kind: ArgKind,
    /// What to put there, in this crate's words.
    pub doc: &'static str,
}

/// An error a helper can return: `r0` holds `-value`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HelperErrno {
    /// The errno's name, e.g. `"E2BIG"`.
    pub errno: &'static str,
    /// Its (positive) Linux value, e.g. `7`; the helper returns the negation.
    pub value: i32,
    /// When the helper returns it.
    pub when: &'static str,
}

/// The description of one helper.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HelperInfo {
    /// The helper described.
    pub helper: Helper,
    /// C prototype as in the kernel's helper docs, e.g.
    /// `"long bpf_map_push_elem(struct bpf_map *map, const void *value, u64 flags)"`.
    /// Empty `""` where not described.
    pub proto: &'static str,
    /// Argument descriptions (`r1`, `r2`, ...); `None` for helpers not described in full yet.
    /// `Some(&[])` means the helper takes no arguments.
    pub args: Option<&'static [Arg]>,
    /// What the helper leaves in `r0`.
    pub ret: Ret,
    /// One-line summary in our own words (`""` where not described).
    pub summary: &'static str,
    /// Errors the helper returns (negative errno in `r0`), for the described helpers.
    pub errors: &'static [HelperErrno],
    /// A teaching note: how to call it by hand in eBPF (register set-up), in our own words.
    pub note: &'static str,
}

impl HelperInfo {
    /// The register convention in a few words, for listings: `r1 = map, r2 = value,
    /// r3 = flags -> r0`. `None` for helpers whose arguments are not described.
    pub fn abi_line(&self) -> Option<String> {
        let args = self.args?;
        let mut s = String::new();
        for (i, a) in args.iter().enumerate() {
            if i > 0 {
                s.push_str(", ");
            }
            s.push_str(&format!("r{} = {}", i + 1, a.name));
        }
        s.push_str(" -> r0");
        Some(s)
    }

    /// An entry with nothing described but the helper itself.
    const fn bare(helper: Helper) -> HelperInfo {
        HelperInfo {
            helper,
            proto: "",
            args: None,
            ret: Ret::Unknown,
            summary: "",
            errors: &[],
            note: "",
        }
    }
}

// Linux errno values used below (asm-generic/errno-base.h).
const ENOENT: i32 = 2;
const E2BIG: i32 = 7;
const ENOMEM: i32 = 12;
const EEXIST: i32 = 17;
const EINVAL: i32 = 22;

const ARG_MAP: Arg = Arg {
    name: "map",
    kind: ArgKind::ConstMapPtr,
    doc: "The map: an ld_imm64 into r1 whose immediate is the map's fd, marked as such by \
          src_reg = 1 (BPF_PSEUDO_MAP_FD).",
};

const ARG_KEY: Arg = Arg {
    name: "key",
    kind: ArgKind::PtrToMapKey,
    doc: "Address of key_size bytes holding the key, all initialized; usually a slot of the \
          stack frame, i.e. r10 plus a negative offset.",
};

const LOOKUP: HelperInfo = HelperInfo {
    helper: Helper::MapLookupElem,
    proto: "void *bpf_map_lookup_elem(struct bpf_map *map, const void *key)",
    args: Some(&[ARG_MAP, ARG_KEY]),
    ret: Ret::PtrToMapValueOrNull,
    summary: "Finds the value stored under a key and gives a pointer to it inside the map, \
              or NULL when the key is absent.",
    errors: &[],
    note: "Store the key on the stack (e.g. *(u32 *)(r10 - 4) = 0), load the map into r1 \
           with ld_imm64 (a map pointer keeps its type when copied, so r6 = map early and \
           r1 = r6 before each call works too), then r2 = r10; r2 += -4; call 1. There is no errno: a missing key \
           gives NULL. Test r0 before touching it (if r0 == 0 goto miss); only on the non-NULL \
           path may the program load or store through r0, within value_size bytes, and the \
           writes change the map in place. r1-r5 are clobbered by the call.",
};

const UPDATE: HelperInfo = HelperInfo {
    helper: Helper::MapUpdateElem,
    proto: "long bpf_map_update_elem(struct bpf_map *map, const void *key, const void *value, \
            u64 flags)",
    args: Some(&[
        ARG_MAP,
        ARG_KEY,
        Arg {
            name: "value",
            kind: ArgKind::PtrToMapValue,
            doc: "Address of value_size initialized bytes, copied into the map; usually a \
                  stack slot below the key.",
        },
        Arg {
            name: "flags",
            kind: ArgKind::Anything,
            doc: "BPF_ANY (0): create or replace; BPF_NOEXIST (1): create only; BPF_EXIST (2): \
                  replace only. Maps whose value holds a bpf_spin_lock also accept BPF_F_LOCK (4) \
                  or-ed in.",
        },
    ]),
    ret: Ret::Integer,
    summary: "Stores a value under a key, creating or replacing the entry as the flags allow; \
              0 on success.",
    errors: &[
        HelperErrno {
            errno: "EINVAL",
            value: EINVAL,
            when: "flags hold a value other than BPF_ANY, BPF_NOEXIST or BPF_EXIST (BPF_F_LOCK \
                   aside, where the map supports it)",
        },
        HelperErrno {
            errno: "EEXIST",
            value: EEXIST,
            when: "BPF_NOEXIST and the key already has an entry; on array maps every index \
                   exists, so BPF_NOEXIST always fails there",
        },
        HelperErrno {
            errno: "ENOENT",
            value: ENOENT,
            when: "BPF_EXIST and the key has no entry (hash maps)",
        },
        HelperErrno {
            errno: "E2BIG",
            value: E2BIG,
            when: "the key is new and the hash map already holds max_entries elements, or the \
                   array index is >= max_entries",
        },
        HelperErrno {
            errno: "ENOMEM",
            value: ENOMEM,
            when: "the kernel could not allocate the new element (maps created without \
                   preallocation, LRU maps)",
        },
    ],
    note: "Write key and value to the stack, then: r1 = map (ld_imm64); r2 = r10; r2 += \
           key offset; r3 = r10; r3 += value offset; r4 = flags (e.g. r4 = 0 for BPF_ANY); \
           call 2. r0 is 0 or a negative errno; test its low 32 bits (if w0 != 0 goto fail): \
           before Linux 6.4 the JIT hands the error back zero-extended, so a signed 64-bit \
           test (if r0 s< 0) misses it there. r1-r5 are clobbered by the call.",
};

const DELETE: HelperInfo = HelperInfo {
    helper: Helper::MapDeleteElem,
    proto: "long bpf_map_delete_elem(struct bpf_map *map, const void *key)",
    args: Some(&[ARG_MAP, ARG_KEY]),
    ret: Ret::Integer,
    summary: "Removes the entry stored under a key; 0 on success.",
    errors: &[
        HelperErrno {
            errno: "ENOENT",
            value: ENOENT,
            when: "the key has no entry (hash maps)",
        },
        HelperErrno {
            errno: "EINVAL",
            value: EINVAL,
            when: "the map type has no deletion, e.g. array maps, whose elements always exist",
        },
    ],
    note: "Same set-up as a lookup: key on the stack, r1 = map (ld_imm64), r2 = r10 plus the \
           key's offset, call 3. r0 is 0 or a negative errno; test w0, its low 32 bits (Linux \
           before 6.4 zero-extends the error). r1-r5 are clobbered by the call.",
};

const PUSH: HelperInfo = HelperInfo {
    helper: Helper::MapPushElem,
    proto: "long bpf_map_push_elem(struct bpf_map *map, const void *value, u64 flags)",
    args: Some(&[
        Arg {
            name: "map",
            kind: ArgKind::ConstMapPtr,
            doc: "A queue or stack map (the verifier also lets bloom filter maps through), \
                  loaded into r1 with ld_imm64 (map fd, src_reg = 1).",
        },
        Arg {
            name: "value",
            kind: ArgKind::PtrToMapValue,
            doc: "Address of value_size initialized bytes to copy in; usually a stack slot.",
        },
        Arg {
            name: "flags",
            kind: ArgKind::Anything,
            doc: "BPF_ANY (0): fail when the map is full; BPF_EXIST (2): when the map is full, \
                  drop its oldest element to make room. No other value is accepted.",
        },
    ]),
    ret: Ret::Integer,
    summary: "Adds an element to a queue or stack map; with BPF_EXIST a full map first drops \
              its oldest element.",
    errors: &[
        HelperErrno {
            errno: "EINVAL",
            value: EINVAL,
            when: "flags is neither BPF_ANY (0) nor BPF_EXIST (2); BPF_NOEXIST is refused too",
        },
        HelperErrno {
            errno: "E2BIG",
            value: E2BIG,
            when: "the map already holds max_entries elements and flags is not BPF_EXIST",
        },
    ],
    note: "Write the value to the stack, then: r1 = map (ld_imm64); r2 = r10; r2 += value \
           offset; r3 = 0 (or 2 for BPF_EXIST); call 87. r0 is 0 or a negative errno: test \
           w0, its low 32 bits (if w0 == -7 goto full), since Linux before 6.4 zero-extends the \
           error (0x00000000fffffff9). With \
           BPF_EXIST on a full map the element that goes is the oldest one for both map kinds: \
           the next one a queue would hand out, the bottom of a stack (not its top). Queue and \
           stack maps have no keys: they are created with key_size 0. r1-r5 are clobbered by \
           the call; the result is in r0.",
};

const POP: HelperInfo = HelperInfo {
    helper: Helper::MapPopElem,
    proto: "long bpf_map_pop_elem(struct bpf_map *map, void *value)",
    args: Some(&[
        Arg {
            name: "map",
            kind: ArgKind::ConstMapPtr,
            doc: "A queue or stack map, loaded into r1 with ld_imm64 (map fd, src_reg = 1).",
        },
        Arg {
            name: "value",
            kind: ArgKind::PtrToUninitMapValue,
            doc: "Address of value_size writable bytes that receive the element; they need not \
                  be initialized first. Usually a stack slot.",
        },
    ]),
    ret: Ret::Integer,
    summary: "Removes one element from a queue or stack map and copies it out: the oldest for \
              a queue (FIFO), the newest for a stack (LIFO).",
    errors: &[HelperErrno {
        errno: "ENOENT",
        value: ENOENT,
        when: "the map is empty; the value buffer is then filled with zeros",
    }],
    note: "r1 = map (ld_imm64); r2 = r10; r2 += buffer offset (value_size bytes); call 88. \
           If r0 is 0 the element is in the buffer; otherwise r0 is a negative errno. Test w0 \
           (if w0 != 0 goto empty): Linux before 6.4 zero-extends the error into r0. The \
           verifier treats the buffer as written by the call, so the program may read it \
           afterwards even though it never stored there. r1-r5 are clobbered by the call.",
};

const PEEK: HelperInfo = HelperInfo {
    helper: Helper::MapPeekElem,
    proto: "long bpf_map_peek_elem(struct bpf_map *map, void *value)",
    args: Some(&[
        Arg {
            name: "map",
            kind: ArgKind::ConstMapPtr,
            doc: "A queue or stack map (the verifier also lets bloom filter maps through), \
                  loaded into r1 with ld_imm64 (map fd, src_reg = 1).",
        },
        Arg {
            name: "value",
            kind: ArgKind::PtrToUninitMapValue,
            doc: "Address of value_size writable bytes that receive a copy of the element; they \
                  need not be initialized first. Usually a stack slot.",
        },
    ]),
    ret: Ret::Integer,
    summary: "Copies out the element a pop would take (oldest of a queue, newest of a stack) \
              without removing it.",
    errors: &[HelperErrno {
        errno: "ENOENT",
        value: ENOENT,
        when: "the map is empty; the value buffer is then filled with zeros",
    }],
    note: "Set up exactly like a pop: r1 = map (ld_imm64); r2 = r10; r2 += buffer offset; \
           call 89. r0 is 0 or a negative errno (test w0: Linux before 6.4 zero-extends the \
           error), and the map is left unchanged either way. \
           r1-r5 are clobbered by the call.",
};

const KTIME_GET_NS: HelperInfo = HelperInfo {
    helper: Helper::KtimeGetNs,
    proto: "u64 bpf_ktime_get_ns(void)",
    args: Some(&[]),
    ret: Ret::Integer,
    summary: "Nanoseconds since boot on the monotonic clock, not counting time spent \
              suspended.",
    errors: &[],
    note: "No arguments: call 5 and read the time from r0. r1-r5 are clobbered all the same, \
           so keep anything needed later in r6-r9 or on the stack.",
};

const TRACE_PRINTK: HelperInfo = HelperInfo {
    helper: Helper::TracePrintk,
    proto: "long bpf_trace_printk(const char *fmt, u32 fmt_size, ...)",
    args: Some(&[
        Arg {
            name: "fmt",
            kind: ArgKind::PtrToMem,
            doc: "Address of the format string, NUL included; typically built on the stack with \
                  a few 8-byte stores.",
        },
        Arg {
            name: "fmt_size",
            kind: ArgKind::ConstSize,
            doc: "Length of fmt in bytes, counting the NUL; a constant greater than zero.",
        },
    ]),
    ret: Ret::Integer,
    summary: "Debug output: formats up to three extra values into a line of the kernel's trace \
              buffer (read it from tracefs trace_pipe); slow, meant for debugging only.",
    errors: &[HelperErrno {
        errno: "EINVAL",
        value: EINVAL,
        when: "the format uses a conversion the helper does not support; nothing is printed",
    }],
    note: "r1 = r10 plus the string's offset, r2 = its size, and up to three u64 values in \
           r3-r5 (the verifier does not type-check these); call 6. r0 is the number of bytes \
           written or a negative errno. The helper is GPL-only: the program must be loaded \
           with a GPL-compatible license string. r1-r5 are clobbered by the call.",
};

const GET_CURRENT_PID_TGID: HelperInfo = HelperInfo {
    helper: Helper::GetCurrentPidTgid,
    proto: "u64 bpf_get_current_pid_tgid(void)",
    args: Some(&[]),
    ret: Ret::Integer,
    summary: "The current task's ids in one u64: the thread-group id (the PID user space sees) \
              in the upper 32 bits, the thread id in the lower 32.",
    errors: &[HelperErrno {
        errno: "EINVAL",
        value: EINVAL,
        when: "there is no current task",
    }],
    note: "No arguments: call 14. For the process id shift right: r0 >>= 32. For the thread \
           id use a 32-bit move (w1 = w0), which clears the upper half; an ALU64 and with \
           0xffffffff does not, because the 32-bit immediate is sign-extended to all ones. \
           r1-r5 are clobbered by the call.",
};

/// The full description of `h`, or a bare entry.
const fn describe(h: Helper) -> HelperInfo {
    match h {
        Helper::MapLookupElem => LOOKUP,
        Helper::MapUpdateElem => UPDATE,
        Helper::MapDeleteElem => DELETE,
        Helper::KtimeGetNs => KTIME_GET_NS,
        Helper::TracePrintk => TRACE_PRINTK,
        Helper::GetCurrentPidTgid => GET_CURRENT_PID_TGID,
        Helper::MapPushElem => PUSH,
        Helper::MapPopElem => POP,
        Helper::MapPeekElem => PEEK,
        _ => HelperInfo::bare(h),
    }
}

/// One [`HelperInfo`] per helper, indexed by id.
static INFOS: [HelperInfo; COUNT] = {
    let mut infos = [HelperInfo::bare(Helper::Unspec); COUNT];
    let mut i = 0;
    while i < COUNT {
        infos[i] = describe(Helper::ALL[i]);
        i += 1;
    }
    infos
};

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// The last id of `___BPF_FUNC_MAPPER` in `include/uapi/linux/bpf.h` as read from the
    /// linux-next mirror ColinIanKing/linux-next at commit
    /// 068741d3e2d5708ec08131ec1fa565a12dba2ab4 (a 6.x tree whose list carries the kernel's
    /// "effectively frozen" note): `FN(cgrp_storage_delete, 211, ##ctx)`.
    const LAST_KERNEL_ID: u32 = 211;

    #[test]
    fn count_matches_kernel_header() {
        assert_eq!(Helper::ALL.len(), LAST_KERNEL_ID as usize + 1);
        assert_eq!(COUNT, Helper::ALL.len());
        assert_eq!(NAMES.len(), Helper::ALL.len());
        assert_eq!(Helper::ALL.last().unwrap().id(), LAST_KERNEL_ID);
        assert_eq!(Helper::ALL.last(), Some(&Helper::CgrpStorageDelete));
    }

    #[test]
    fn ids_are_dense_and_in_order() {
        for (i, h) in Helper::ALL.iter().enumerate() {
            assert_eq!(h.id() as usize, i, "{h:?}");
            assert_eq!(i32::from(*h) as usize, i);
        }
        assert!(Helper::ALL.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn from_id_round_trips() {
        for h in Helper::ALL {
            assert_eq!(Helper::from_id(h.id()), Some(*h));
        }
        assert_eq!(Helper::from_id(LAST_KERNEL_ID + 1), None);
        assert_eq!(Helper::from_id(u32::MAX), None);
    }

    #[test]
    fn names_are_unique_and_round_trip() {
        let mut seen = HashSet::new();
        for h in Helper::ALL {
            let name = h.name();
            assert!(seen.insert(name), "duplicate name {name}");
            let short = name.strip_prefix("bpf_").expect("bpf_ prefix");
            assert!(!short.is_empty());
            assert!(short
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'));
            assert_eq!(Helper::from_name(name), Some(*h));
            assert_eq!(Helper::from_name(short), Some(*h));
            assert_eq!(h.to_string(), name);
        }
        assert_eq!(Helper::Unspec.name(), "bpf_unspec");
        assert_eq!(Helper::from_name("unspec"), Some(Helper::Unspec));
        for bad in [
            "",
            "bpf_",
            "bpf_nope",
            "BPF_MAP_PUSH_ELEM",
            "map_push_elem ",
            "bpf_bpf_map_push_elem",
        ] {
            assert_eq!(Helper::from_name(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn spot_checks_against_the_header() {
        // Pairs copied by hand from the FN(name, id, ##ctx) lines of the header.
        let pairs = [
            (0, "unspec"),
            (1, "map_lookup_elem"),
            (2, "map_update_elem"),
            (3, "map_delete_elem"),
            (5, "ktime_get_ns"),
            (6, "trace_printk"),
            (12, "tail_call"),
            (14, "get_current_pid_tgid"),
            (25, "perf_event_output"),
            (45, "probe_read_str"),
            (64, "bind"),
            (86, "sk_release"),
            (87, "map_push_elem"),
            (88, "map_pop_elem"),
            (89, "map_peek_elem"),
            (113, "probe_read_kernel"),
            (130, "ringbuf_output"),
            (147, "d_path"),
            (181, "loop"),
            (195, "map_lookup_percpu_elem"),
            (208, "ktime_get_tai_ns"),
            (211, "cgrp_storage_delete"),
        ];
        for (id, name) in pairs {
            let h = Helper::from_id(id).unwrap();
            assert_eq!(h.name(), format!("bpf_{name}"));
            assert_eq!(Helper::from_name(name).map(Helper::id), Some(id));
        }
    }

    fn kinds(h: Helper) -> Vec<ArgKind> {
        h.info()
            .args
            .expect("described")
            .iter()
            .map(|a| a.kind)
            .collect()
    }

    fn arg_names(h: Helper) -> Vec<&'static str> {
        h.info()
            .args
            .expect("described")
            .iter()
            .map(|a| a.name)
            .collect()
    }

    fn errnos(h: Helper) -> Vec<(&'static str, i32)> {
        h.info().errors.iter().map(|e| (e.errno, e.value)).collect()
    }

    #[test]
    fn queue_stack_helpers_match_kernel_source() {
        use ArgKind::*;
        // kernel/bpf/helpers.c: bpf_map_push_elem_proto
        let push = Helper::MapPushElem;
        assert_eq!((push as u32, push.name()), (87, "bpf_map_push_elem"));
        assert_eq!(kinds(push), [ConstMapPtr, PtrToMapValue, Anything]);
        assert_eq!(arg_names(push), ["map", "value", "flags"]);
        assert_eq!(push.info().ret, Ret::Integer);
        assert_eq!(
            push.info().proto,
            "long bpf_map_push_elem(struct bpf_map *map, const void *value, u64 flags)"
        );
        // kernel/bpf/queue_stack_maps.c: bad flags -EINVAL, full without BPF_EXIST -E2BIG.
        assert_eq!(errnos(push), [("EINVAL", 22), ("E2BIG", 7)]);

        // bpf_map_pop_elem_proto / bpf_map_peek_elem_proto: the value argument is
        // ARG_PTR_TO_UNINIT_MAP_VALUE (spelled ARG_PTR_TO_MAP_VALUE | MEM_UNINIT | MEM_WRITE
        // in the newer helpers.c), and an empty map gives -ENOENT.
        for (h, id, name) in [
            (Helper::MapPopElem, 88, "bpf_map_pop_elem"),
            (Helper::MapPeekElem, 89, "bpf_map_peek_elem"),
        ] {
            assert_eq!((h.id(), h.name()), (id, name));
            assert_eq!(kinds(h), [ConstMapPtr, PtrToUninitMapValue]);
            assert_eq!(arg_names(h), ["map", "value"]);
            assert_eq!(h.info().ret, Ret::Integer);
            assert_eq!(
                h.info().proto,
                format!("long {name}(struct bpf_map *map, void *value)")
            );
            assert_eq!(errnos(h), [("ENOENT", 2)]);
        }
    }

    #[test]
    fn classic_map_helpers_match_kernel_source() {
        use ArgKind::*;
        assert_eq!(kinds(Helper::MapLookupElem), [ConstMapPtr, PtrToMapKey]);
        assert_eq!(Helper::MapLookupElem.info().ret, Ret::PtrToMapValueOrNull);
        assert!(Helper::MapLookupElem.info().errors.is_empty());
        assert_eq!(
            kinds(Helper::MapUpdateElem),
            [ConstMapPtr, PtrToMapKey, PtrToMapValue, Anything]
        );
        assert_eq!(Helper::MapUpdateElem.info().ret, Ret::Integer);
        assert_eq!(kinds(Helper::MapDeleteElem), [ConstMapPtr, PtrToMapKey]);
        assert_eq!(Helper::MapDeleteElem.info().ret, Ret::Integer);
        let update = errnos(Helper::MapUpdateElem);
        for e in [
            ("EINVAL", 22),
            ("EEXIST", 17),
            ("ENOENT", 2),
            ("E2BIG", 7),
            ("ENOMEM", 12),
        ] {
            assert!(update.contains(&e), "{e:?}");
        }
        assert_eq!(
            errnos(Helper::MapDeleteElem),
            [("ENOENT", 2), ("EINVAL", 22)]
        );
    }

    // libc, the independent truth here, is a dependency of the kernel build only.
    #[cfg(bpfsmith_kernel)]
    #[test]
    fn errno_values_are_linux_values() {
        for h in Helper::ALL {
            for e in h.info().errors {
                let expected = match e.errno {
                    "ENOENT" => libc::ENOENT,
                    "E2BIG" => libc::E2BIG,
                    "ENOMEM" => libc::ENOMEM,
                    "EEXIST" => libc::EEXIST,
                    "EINVAL" => libc::EINVAL,
                    other => panic!("{h}: errno {other} not checked here"),
                };
                assert_eq!(e.value, expected, "{h}: {}", e.errno);
                assert!(!e.when.is_empty());
            }
        }
    }

    #[test]
    fn info_is_consistent() {
        let described = [
            Helper::MapLookupElem,
            Helper::MapUpdateElem,
            Helper::MapDeleteElem,
            Helper::KtimeGetNs,
            Helper::TracePrintk,
            Helper::GetCurrentPidTgid,
            Helper::MapPushElem,
            Helper::MapPopElem,
            Helper::MapPeekElem,
        ];
        for h in Helper::ALL {
            let info = h.info();
            assert_eq!(info.helper, *h);
            if described.contains(h) {
                assert!(info.proto.contains(&format!("{}(", h.name())), "{h}");
                assert!(!info.summary.is_empty() && !info.note.is_empty(), "{h}");
                assert_ne!(info.ret, Ret::Unknown, "{h}");
                // The argument names follow the prototype's parameters, in order.
                let params = &info.proto[info.proto.find('(').unwrap() + 1..info.proto.len() - 1];
                let names: Vec<&str> = params
                    .split(", ")
                    .filter(|p| *p != "void" && *p != "...")
                    .map(|p| p.rsplit([' ', '*']).next().unwrap())
                    .collect();
                assert_eq!(arg_names(*h), names, "{h}");
                for a in info.args.unwrap() {
                    assert!(!a.doc.is_empty(), "{h} {}", a.name);
                }
            } else {
                assert_eq!(info.proto, "");
                assert_eq!(info.summary, "");
                assert_eq!(info.args, None);
                assert_eq!(info.ret, Ret::Unknown);
                assert!(info.errors.is_empty());
            }
        }
    }

    #[test]
    fn kernel_names() {
        assert_eq!(ArgKind::ConstMapPtr.kernel_name(), "ARG_CONST_MAP_PTR");
        assert_eq!(ArgKind::PtrToMapKey.kernel_name(), "ARG_PTR_TO_MAP_KEY");
        assert_eq!(ArgKind::PtrToMapValue.kernel_name(), "ARG_PTR_TO_MAP_VALUE");
        assert_eq!(
            ArgKind::PtrToUninitMapValue.kernel_name(),
            "ARG_PTR_TO_UNINIT_MAP_VALUE"
        );
        assert_eq!(ArgKind::Anything.kernel_name(), "ARG_ANYTHING");
        assert_eq!(
            ArgKind::ConstSizeOrZero.kernel_name(),
            "ARG_CONST_SIZE_OR_ZERO"
        );
        assert_eq!(
            ArgKind::Other("ARG_PTR_TO_SPIN_LOCK").kernel_name(),
            "ARG_PTR_TO_SPIN_LOCK"
        );
        assert_eq!(Ret::Integer.kernel_name(), "RET_INTEGER");
        assert_eq!(
            Ret::PtrToMapValueOrNull.kernel_name(),
            "RET_PTR_TO_MAP_VALUE_OR_NULL"
        );
        assert_eq!(Ret::Void.kernel_name(), "RET_VOID");
        assert_eq!(Ret::Unknown.kernel_name(), "");
    }
}
