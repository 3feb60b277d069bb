//! Helpers shared by the integration tests. Each test crate includes this with `mod common;`
//! and uses only part of it.
#![allow(dead_code)]

pub mod arb;
