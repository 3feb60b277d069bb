//! ELF section names and the program types they stand for, by libbpf's conventions.

use std::borrow::Cow;
use std::fmt;

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

/// The ELF section a program lives in. Its name tells loaders the program type, by libbpf's
/// conventions (`socket`, `xdp`, `tc`, `tracepoint/<category>/<name>` ...).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Section(Cow<'static, str>);

/// How a loader loads a program of a section: its type and expected attach type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SectionKind {
    /// The program type.
    pub prog_type: ProgType,
    /// `expected_attach_type` for `BPF_PROG_LOAD` (0 where the type needs none).
    pub expected_attach_type: u32,
}

// From libbpf's section_defs: (pattern, program type, expected attach type). A pattern ending
// in `+` matches the name alone or followed by `/...`; any other pattern matches exactly, as
// libbpf 1.x does (it refuses `socket/foo`).
const SECTION_RULES: &[(&str, ProgType, u32)] = &[
    ("socket", ProgType::SocketFilter, 0),
    ("sk_reuseport", ProgType::SkReuseport, 0),
    ("kprobe+", ProgType::Kprobe, 0),
    ("kretprobe+", ProgType::Kprobe, 0),
    ("uprobe+", ProgType::Kprobe, 0),
    ("uretprobe+", ProgType::Kprobe, 0),
    ("tc", ProgType::SchedCls, 0),
    ("classifier", ProgType::SchedCls, 0),
    ("action", ProgType::SchedAct, 0),
    ("tracepoint+", ProgType::Tracepoint, 0),
    ("tp+", ProgType::Tracepoint, 0),
    ("raw_tracepoint+", ProgType::RawTracepoint, 0),
    ("raw_tp+", ProgType::RawTracepoint, 0),
    ("xdp", ProgType::Xdp, 0),
    ("xdp.frags", ProgType::Xdp, 0),
    ("perf_event", ProgType::PerfEvent, 0),
    ("cgroup_skb/ingress", ProgType::CgroupSkb, 0),
    ("cgroup_skb/egress", ProgType::CgroupSkb, 1),
    ("cgroup/skb", ProgType::CgroupSkb, 0),
    ("sk_skb", ProgType::SkSkb, 0),
    ("sk_skb/stream_parser", ProgType::SkSkb, 4),
    ("sk_skb/stream_verdict", ProgType::SkSkb, 5),
    ("sk_msg", ProgType::SkMsg, 0),
    ("flow_dissector", ProgType::FlowDissector, 0),
    ("syscall", ProgType::Syscall, 0),
    ("lwt_in", ProgType::LwtIn, 0),
    ("lwt_out", ProgType::LwtOut, 0),
    ("lwt_xmit", ProgType::LwtXmit, 0),
    ("sockops", ProgType::SockOps, 0),
];

impl Section {
    /// `socket`: a socket filter (`BPF_PROG_TYPE_SOCKET_FILTER`).
    pub const SOCKET: Section = Section(Cow::Borrowed("socket"));
    /// `xdp`: an XDP program.
    pub const XDP: Section = Section(Cow::Borrowed("xdp"));
    /// `tc`: a traffic-control classifier (`BPF_PROG_TYPE_SCHED_CLS`).
    pub const TC: Section = Section(Cow::Borrowed("tc"));
    /// `.text`: the section of subprograms (bpf-to-bpf callees), not loadable on its own.
    pub const TEXT: Section = Section(Cow::Borrowed(".text"));

    /// A section with any name.
    pub fn new(name: impl Into<Cow<'static, str>>) -> Section {
        Section(name.into())
    }

    /// The section name.
    pub fn name(&self) -> &str {
        &self.0
    }

    /// The program type and expected attach type a loader derives from the name, or `None`
    /// when the name follows no known convention.
    pub fn kind(&self) -> Option<SectionKind> {
        let name = self.name();
        SECTION_RULES
            .iter()
            .find(|(pattern, ..)| match pattern.strip_suffix('+') {
                Some(prefix) => {
                    name == prefix
                        || name
                            .strip_prefix(prefix)
                            .is_some_and(|rest| rest.starts_with('/'))
                }
                None => name == *pattern,
            })
            .map(|&(_, prog_type, expected_attach_type)| SectionKind {
                prog_type,
                expected_attach_type,
            })
    }
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libbpf_section_names_give_program_types() {
        let t = |s: &'static str| Section::new(s).kind().map(|k| k.prog_type);
        assert_eq!(t("socket"), Some(ProgType::SocketFilter));
        assert_eq!(t("socket/foo"), None, "libbpf 1.x matches `socket` exactly");
        assert_eq!(t("xdp"), Some(ProgType::Xdp));
        assert_eq!(t("xdp.frags"), Some(ProgType::Xdp));
        assert_eq!(t("classifier"), Some(ProgType::SchedCls));
        assert_eq!(
            t("tracepoint/syscalls/sys_enter_write"),
            Some(ProgType::Tracepoint)
        );
        assert_eq!(t("socketx"), None);
        assert_eq!(t(".text"), None);
        assert_eq!(
            Section::new("cgroup_skb/egress")
                .kind()
                .map(|k| k.expected_attach_type),
            Some(1)
        );
    }
}
