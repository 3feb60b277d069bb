//! One cfg for everything that talks to the Linux kernel (bpf(2), capabilities, qemu guests):
//! `bpfsmith_kernel`, set when the target OS is Linux and the `kernel` feature is on.
//!
//! The code gates on this cfg, never on `target_os = "linux"` itself, so that
//! `--no-default-features --features cli` on Linux compiles exactly the cfg branches a macOS
//! build compiles, and CI can check them without a macOS toolchain.

fn main() {
    println!("cargo:rustc-check-cfg=cfg(bpfsmith_kernel)");
    println!("cargo:rerun-if-changed=build.rs");
    // The target's OS, not the host's: a cross build from Linux to macOS has no kernel parts.
    let linux = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux");
    let kernel = std::env::var_os("CARGO_FEATURE_KERNEL").is_some();
    if linux && kernel {
        println!("cargo:rustc-cfg=bpfsmith_kernel");
    }
}
