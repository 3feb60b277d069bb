fn main() {
    let path = std::env::args().nth(1).unwrap();
    match bpfsmith::text::assemble_file(&path) {
        Ok(obj) => {
            for p in &obj.programs {
                println!("{}", bpfsmith::snapshot::program_listing(p));
            }
        }
        Err(e) => println!("{e}"),
    }
}
