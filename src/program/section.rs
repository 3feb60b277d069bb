//! ELF section names and the program types they stand for, by libbpf's conventions.

use std::borrow::Cow;
use std::fmt;

pub use crate::abi::ProgType;
use crate::abi::{prog_flags, AttachType};

/// The ELF section a program lives in. Its name tells loaders the program type, by libbpf's
/// conventions (`socket`, `xdp`, `tc`, `tracepoint/<category>/<name>` ...).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Section(Cow<'static, str>);

/// How a loader loads a program of a section: its type, expected attach type and load flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SectionKind {
    /// The program type.
    pub prog_type: ProgType,
    /// `expected_attach_type` for `BPF_PROG_LOAD` (`None` where the type needs none: 0 is
    /// sent).
    pub attach_type: Option<AttachType>,
    /// `prog_flags` the section name implies ([`prog_flags::XDP_HAS_FRAGS`] for
    /// `xdp.frags`, [`prog_flags::SLEEPABLE`] for the `.s` sections).
    pub prog_flags: u32,
}

impl SectionKind {
    /// The number `BPF_PROG_LOAD` takes as `expected_attach_type`.
    pub fn expected_attach_type(&self) -> u32 {
        self.attach_type.map_or(0, |a| a as u32)
    }
}

/// One row of the section table: a name pattern and what it means. A pattern ending in `+`
/// matches the name alone or followed by `/...`; any other pattern matches exactly, as
/// libbpf 1.x does (it refuses `socket/foo`).
struct SectionDef {
    pattern: &'static str,
    prog_type: ProgType,
    attach_type: Option<AttachType>,
    prog_flags: u32,
}

const fn def(
    pattern: &'static str,
    prog_type: ProgType,
    attach_type: Option<AttachType>,
) -> SectionDef {
    SectionDef {
        pattern,
        prog_type,
        attach_type,
        prog_flags: 0,
    }
}

// The section names of libbpf's `section_defs` that this crate can load, with the program
// type, expected attach type and flags libbpf derives from each.
const SECTION_TABLE: &[SectionDef] = &[
    def("socket", ProgType::SocketFilter, None),
    def("sk_reuseport", ProgType::SkReuseport, None),
    def("kprobe+", ProgType::Kprobe, None),
    def("kretprobe+", ProgType::Kprobe, None),
    def("uprobe+", ProgType::Kprobe, None),
    def("uretprobe+", ProgType::Kprobe, None),
    def("tc", ProgType::SchedCls, None),
    def("classifier", ProgType::SchedCls, None),
    def("action", ProgType::SchedAct, None),
    def("tracepoint+", ProgType::Tracepoint, None),
    def("tp+", ProgType::Tracepoint, None),
    def("raw_tracepoint+", ProgType::RawTracepoint, None),
    def("raw_tp+", ProgType::RawTracepoint, None),
    def("xdp", ProgType::Xdp, None),
    SectionDef {
        prog_flags: prog_flags::XDP_HAS_FRAGS,
        ..def("xdp.frags", ProgType::Xdp, None)
    },
    def("perf_event", ProgType::PerfEvent, None),
    def(
        "cgroup_skb/ingress",
        ProgType::CgroupSkb,
        Some(AttachType::CgroupInetIngress),
    ),
    def(
        "cgroup_skb/egress",
        ProgType::CgroupSkb,
        Some(AttachType::CgroupInetEgress),
    ),
    def("cgroup/skb", ProgType::CgroupSkb, None),
    def("sk_skb", ProgType::SkSkb, None),
    def(
        "sk_skb/stream_parser",
        ProgType::SkSkb,
        Some(AttachType::SkSkbStreamParser),
    ),
    def(
        "sk_skb/stream_verdict",
        ProgType::SkSkb,
        Some(AttachType::SkSkbStreamVerdict),
    ),
    def("sk_msg", ProgType::SkMsg, None),
    def("flow_dissector", ProgType::FlowDissector, None),
    SectionDef {
        prog_flags: prog_flags::SLEEPABLE,
        ..def("syscall", ProgType::Syscall, None)
    },
    def("lwt_in", ProgType::LwtIn, None),
    def("lwt_out", ProgType::LwtOut, None),
    def("lwt_xmit", ProgType::LwtXmit, None),
    def("sockops", ProgType::SockOps, None),
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

    /// The program type, expected attach type and load flags a loader derives from the name,
    /// or `None` when the name follows no known convention.
    pub fn kind(&self) -> Option<SectionKind> {
        let name = self.name();
        SECTION_TABLE
            .iter()
            .find(|d| match d.pattern.strip_suffix('+') {
                Some(prefix) => {
                    name == prefix
                        || name
                            .strip_prefix(prefix)
                            .is_some_and(|rest| rest.starts_with('/'))
                }
                None => name == d.pattern,
            })
            .map(|d| SectionKind {
                prog_type: d.prog_type,
                attach_type: d.attach_type,
                prog_flags: d.prog_flags,
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
        let egress = Section::new("cgroup_skb/egress").kind();
        assert_eq!(egress.map(|k| k.expected_attach_type()), Some(1));
        let frags = Section::new("xdp.frags").kind().map(|k| k.prog_flags);
        assert_eq!(frags, Some(1 << 5), "BPF_F_XDP_HAS_FRAGS");
        assert_eq!(Section::XDP.kind().map(|k| k.prog_flags), Some(0));
    }
}
