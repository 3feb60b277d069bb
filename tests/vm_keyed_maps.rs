//! Array and hash maps with helpers 1-3 in the VM, against the kernel: one program walks the
//! rules of `arraymap.c` and `hashtab.c` (BPF_ANY / BPF_NOEXIST / BPF_EXIST, EEXIST, ENOENT,
//! E2BIG when full or past the end, EINVAL for other flags and for deleting from an array,
//! NULL from a lookup that finds nothing, a write through a looked-up pointer) and records
//! every helper's result in an array map. The VM must give what the kernel gives: every
//! result, and both maps' contents. Without the kernel (not root), the VM is checked against
//! the same rules as the kernel documents them.

#[cfg(bpfsmith_kernel)]
#[macro_use]
#[path = "common/kernel.rs"]
mod kernel;

use bpfsmith::text::assemble;
use bpfsmith::vm::Vm;

/// One step: what it does, and the result the kernel documents for it.
enum Step {
    Update(&'static str, u32, i32, u64),
    Delete(&'static str, u32),
    /// Lookup; r6 = -1 for NULL, else the value; with `true`, the value is then raised by 5
    /// through the pointer.
    Lookup(&'static str, u32, bool),
}

const EEXIST: i64 = -17;
const ENOENT: i64 = -2;
const E2BIG: i64 = -7;
const EINVAL: i64 = -22;

/// The steps and the result each gives in the kernel's documentation.
fn steps() -> Vec<(Step, i64)> {
    use Step::*;
    vec![
        (Update("h", 1, 10, 0), 0),
        (Update("h", 1, 11, 1), EEXIST), // BPF_NOEXIST on an existing key
        (Update("h", 2, 20, 2), ENOENT), // BPF_EXIST on a missing key
        (Update("h", 2, 20, 0), 0),
        (Update("h", 3, 30, 0), E2BIG), // full (max_entries 2)
        (Update("h", 1, 12, 2), 0),
        (Update("h", 1, 13, 8), EINVAL), // flags beyond BPF_EXIST
        (Lookup("h", 1, true), 12),
        (Lookup("h", 3, false), -1), // NULL
        (Delete("h", 2), 0),
        (Delete("h", 2), ENOENT),
        (Update("h", 3, 30, 1), 0), // room again after the delete
        (Update("a", 0, 7, 0), 0),
        (Update("a", 2, 7, 0), E2BIG),  // index past the end
        (Update("a", 1, 7, 1), EEXIST), // every array element exists
        (Delete("a", 0), EINVAL),       // array elements cannot be deleted
        (Lookup("a", 0, false), 7),
        (Lookup("a", 5, false), -1),
        (Lookup("h", 1, false), 17), // 12 + 5, written through the pointer
    ]
}

fn source() -> String {
    let steps = steps();
    let mut s = format!(
        ".license \"GPL\"\n\
         .map h, type=hash, key_size=4, value_size=8, max_entries=2\n\
         .map a, type=array, key_size=4, value_size=8, max_entries=2\n\
         .map out, type=array, key_size=4, value_size=8, max_entries={}\n\
         .section socket\n.globl prog\nprog:\n",
        steps.len()
    );
    for (i, (step, _)) in steps.iter().enumerate() {
        match *step {
            Step::Update(map, key, value, flags) => s.push_str(&format!(
                "\t*(u32 *)(r10 - 4) = {key}\n\t*(u64 *)(r10 - 16) = {value}\n\tr1 = {map} ll\n\
                 \tr2 = r10\n\tr2 += -4\n\tr3 = r10\n\tr3 += -16\n\tr4 = {flags}\n\
                 \tcall bpf_map_update_elem\n\tr6 = r0\n"
            )),
            Step::Delete(map, key) => s.push_str(&format!(
                "\t*(u32 *)(r10 - 4) = {key}\n\tr1 = {map} ll\n\tr2 = r10\n\tr2 += -4\n\
                 \tcall bpf_map_delete_elem\n\tr6 = r0\n"
            )),
            Step::Lookup(map, key, raise) => {
                s.push_str(&format!(
                    "\t*(u32 *)(r10 - 4) = {key}\n\tr1 = {map} ll\n\tr2 = r10\n\tr2 += -4\n\
                     \tcall bpf_map_lookup_elem\n\tr6 = -1\n\tif r0 == 0 goto skip{i}\n\
                     \tr6 = *(u64 *)(r0 + 0)\n"
                ));
                if raise {
                    s.push_str("\tr7 = r6\n\tr7 += 5\n\t*(u64 *)(r0 + 0) = r7\n");
                }
                s.push_str(&format!("skip{i}:\n"));
            }
        }
        // out[i] = r6
        s.push_str(&format!(
            "\t*(u32 *)(r10 - 4) = {i}\n\tr1 = out ll\n\tr2 = r10\n\tr2 += -4\n\
             \tcall bpf_map_lookup_elem\n\tif r0 == 0 goto fail\n\t*(u64 *)(r0 + 0) = r6\n"
        ));
    }
    s.push_str("\tr0 = 0\n\texit\nfail:\n\tr0 = 1\n\texit\n");
    s
}

/// What a run leaves: the return value, each step's result, and the values of `h` (keys 1 to
/// 3; -1 when missing) and `a` (indexes 0 and 1).
type Outcome = (u32, Vec<i64>, Vec<i64>);

fn word(v: &[u8]) -> i64 {
    i64::from_le_bytes(v.try_into().unwrap())
}

fn in_vm() -> Outcome {
    let obj = assemble("keyed.s", &source()).unwrap_or_else(|e| panic!("{e}"));
    let mut vm = Vm::from_object(&obj, "prog").unwrap();
    let run = vm.run(&mut [0; 64]).unwrap_or_else(|e| panic!("{e}"));
    let out = vm
        .map("out")
        .unwrap()
        .contents()
        .iter()
        .map(|v| word(v))
        .collect();
    let h = vm.map("h").unwrap();
    let a = vm.map("a").unwrap();
    let mut maps: Vec<i64> = (1u32..4)
        .map(|k| h.lookup(&k.to_le_bytes()).map_or(-1, |v| word(&v)))
        .collect();
    maps.extend((0u32..2).map(|k| word(&a.lookup(&k.to_le_bytes()).unwrap())));
    (run.r0 as u32, out, maps)
}

#[test]
fn the_vm_follows_the_documented_rules() {
    let (r0, out, maps) = in_vm();
    assert_eq!(r0, 0);
    let want: Vec<i64> = steps().iter().map(|(_, r)| *r).collect();
    assert_eq!(out, want);
    assert_eq!(maps, [17, -1, 30, 7, 0]);
}

#[cfg(bpfsmith_kernel)]
#[test]
fn the_vm_and_the_kernel_agree_on_array_and_hash_maps() {
    use bpfsmith::load::TestRun;
    require_kernel!("the_vm_and_the_kernel_agree_on_array_and_hash_maps");
    let obj = assemble("keyed.s", &source()).unwrap_or_else(|e| panic!("{e}"));
    let loaded = obj.load().unwrap_or_else(|e| panic!("{e}"));
    let run = loaded
        .program("prog")
        .unwrap()
        .test_run(&TestRun {
            data: &[0; 64],
            ..Default::default()
        })
        .unwrap();
    let read = |map: &str, k: u32| {
        loaded
            .map(map)
            .unwrap()
            .lookup(&k.to_le_bytes(), 0)
            .map_or(-1, |v| word(&v))
    };
    let out = (0..steps().len() as u32).map(|i| read("out", i)).collect();
    let mut maps: Vec<i64> = (1..4).map(|k| read("h", k)).collect();
    maps.extend((0..2).map(|k| read("a", k)));
    let kernel: Outcome = (run.retval, out, maps);
    assert_eq!(
        in_vm(),
        kernel,
        "the VM (left) and the kernel (right) disagree"
    );
}
