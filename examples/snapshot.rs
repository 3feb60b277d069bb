//! Snapshot-testing the bytecode you emit, with insta.
//!
//! Build the program in a function, and in a test assert its snapshot in one line:
//!
//! ```text
//! bpfsmith::assert_bytecode_snapshot!("counter", counter_program());
//! ```
//!
//! The first run writes `snapshots/counter.snap` (with `INSTA_UPDATE=always`, or review it with
//! `cargo insta review`); afterwards any change to the emitted instructions fails the test and
//! shows the difference as a listing. The listing has no file paths, source lines or
//! addresses, so only a change in bytecode changes it.
//!
//! `cargo run --example snapshot` prints the listing that the snapshot holds.

use bpfsmith::prelude::*;

/// A program that counts down from `n` to 0 in a bounded loop and returns the number of
/// iterations.
pub fn counter_program(n: i32) -> Program {
    let mut p = ProgramBuilder::new("counter", Section::SOCKET);
    let top = p.label("top");
    let done = p.label("done");
    p.mov(R0, 0).mov(R1, n);
    p.bind(top).jump_if(R1, Cond::Sle, 0, done);
    p.add(R0, 1).sub(R1, 1).jump(top);
    p.bind(done).exit();
    p.finish().expect("the counter builds")
}

#[allow(dead_code)]
fn main() {
    print!(
        "{}",
        bpfsmith::snapshot::program_listing(&counter_program(3))
    );
}

#[cfg(test)]
mod tests {
    #[test]
    fn counter_bytecode() {
        // This project keeps snapshots in its top-level folder; yours can use insta's default.
        insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
            bpfsmith::assert_bytecode_snapshot!("example_counter", super::counter_program(3));
        });
    }
}
