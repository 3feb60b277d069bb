//! A first program from start to finish: build it with the DSL, write it as ELF, load it,
//! run it and read its map back. The README quotes this file; a test runs it.
//!
//! ```text
//! cargo run --example first_program      # as root (or with CAP_BPF)
//! ```

// README:begin
use bpfsmith::prelude::*;

/// Pop the oldest value of a queue and return it times two; 0 when the queue is empty.
pub fn build() -> Result<Object, Box<dyn std::error::Error>> {
    let mut obj = Object::new("GPL");
    let queue = obj.map("queue", MapDef::queue::<u32>(4))?; // BPF_MAP_TYPE_QUEUE of u32
    let mut p = ProgramBuilder::new("double_oldest", Section::SOCKET);
    let value = p.reserve::<u32>(); // 4 bytes at r10 - 4
    let empty = p.label("empty");
    p.pop(&queue, value); // r1 = queue ll; r2 = r10; r2 += -4; call 88
    p.jump_if(W0, Cond::Ne, 0, empty); // -ENOENT: nothing to pop (test w0, see the ABI)
    p.load(Size::U32, R0, R10, value.off); // r0 = the popped value
    p.alu(AluOp::Mul, R0, 2);
    p.exit();
    p.bind(empty).mov(R0, 0).exit();
    obj.add_program(p.finish()?)?;
    Ok(obj)
}

/// Write, load, push 21 and 5 from user space, run, and read back what is left.
pub fn run() -> Result<(u32, Vec<u32>), Box<dyn std::error::Error>> {
    let obj = build()?;
    let path = std::env::temp_dir().join(format!("first_program-{}.o", std::process::id()));
    obj.write_elf(&path)?; // readelf, llvm-objdump, bpftool read it too
    std::fs::remove_file(&path)?;

    let loaded = obj.load()?; // BPF_MAP_CREATE, BPF_PROG_LOAD: needs root or CAP_BPF
    let queue = loaded.queue::<u32>("queue")?;
    queue.push(21, PushFlags::ANY)?; // BPF_MAP_UPDATE_ELEM with a NULL key
    queue.push(5, PushFlags::ANY)?;
    let program = loaded.program("double_oldest")?; // or an error naming the programs there are
    let result = program.test_run(&TestRun::default())?; // BPF_PROG_TEST_RUN, 64 zero bytes
    Ok((result.retval, queue.drain()?)) // drain: BPF_MAP_LOOKUP_AND_DELETE_ELEM until empty
}

fn main() {
    match run() {
        Ok((retval, left)) => println!("returned {retval}; the queue still holds {left:?}"),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
// README:end
