//! Links GCC's unwinder statically into glibc builds, as `gcc -static-libgcc`
//! does: rustc asks for `-lgcc_s`, and a `libgcc_s.so` linker script here,
//! searched before the system's, answers with the static `libgcc_eh` instead.
//! The binary then loads one shared library (libc) instead of two: loading
//! and relocating libgcc_s.so was about 0.1 ms of every start. Skipped where
//! the C compiler has no `libgcc_eh.a` (the link stays as rustc made it) and
//! for static and non-glibc builds, which do not use libgcc_s.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let target = |key: &str| std::env::var(format!("CARGO_CFG_TARGET_{key}")).unwrap_or_default();
    let glibc = target("OS") == "linux" && target("ENV") == "gnu";
    let crt_static = target("FEATURE").split(',').any(|f| f == "crt-static");
    if !glibc || crt_static || !has_static_unwinder() {
        return;
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    std::fs::write(out.join("libgcc_s.so"), "GROUP ( -lgcc_eh -lgcc )\n")
        .expect("write the libgcc_s.so linker script");
    println!("cargo:rustc-link-search=native={}", out.display());
}

/// Whether the C compiler that links the binary ships `libgcc_eh.a`.
fn has_static_unwinder() -> bool {
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    Command::new(cc)
        .arg("-print-file-name=libgcc_eh.a")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        .is_some_and(|path| path.is_absolute() && path.is_file())
}
