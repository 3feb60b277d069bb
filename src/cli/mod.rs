//! The command's own code, compiled only into the `bpfsmith` binary (the `cli` feature): the
//! demo's walkthrough and the parsing of argument values. What a library user needs (the seed
//! programs, reading and assembling files, running programs) stays in the library.

pub(crate) mod demo;
pub(crate) mod values;
