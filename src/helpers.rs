//! Placeholder: replaced by the full helper table from the `helpers` branch.
//!
//! Only the API the instruction printers use: [`Helper::from_id`] and [`Helper::name`].
#![allow(missing_docs)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u32)]
pub enum Helper {
    Unspec = 0,
    MapLookupElem = 1,
    MapUpdateElem = 2,
    MapDeleteElem = 3,
    ProbeRead = 4,
    KtimeGetNs = 5,
    MapPushElem = 87,
    MapPopElem = 88,
    MapPeekElem = 89,
}
impl Helper {
    pub fn id(self) -> u32 {
        self as u32
    }
    pub fn from_id(id: u32) -> Option<Helper> {
        Some(match id {
            0 => Helper::Unspec,
            1 => Helper::MapLookupElem,
            2 => Helper::MapUpdateElem,
            3 => Helper::MapDeleteElem,
            4 => Helper::ProbeRead,
            5 => Helper::KtimeGetNs,
            87 => Helper::MapPushElem,
            88 => Helper::MapPopElem,
            89 => Helper::MapPeekElem,
            _ => return None,
        })
    }
    pub fn name(self) -> &'static str {
        match self {
            Helper::Unspec => "bpf_unspec",
            Helper::MapLookupElem => "bpf_map_lookup_elem",
            Helper::MapUpdateElem => "bpf_map_update_elem",
            Helper::MapDeleteElem => "bpf_map_delete_elem",
            Helper::ProbeRead => "bpf_probe_read",
            Helper::KtimeGetNs => "bpf_ktime_get_ns",
            Helper::MapPushElem => "bpf_map_push_elem",
            Helper::MapPopElem => "bpf_map_pop_elem",
            Helper::MapPeekElem => "bpf_map_peek_elem",
        }
    }
}
impl From<Helper> for i32 {
    fn from(h: Helper) -> i32 {
        h as i32
    }
}
