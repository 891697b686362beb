//! Tells the crate which machine it is built for, from the target triple.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(armv8m_main)");
    println!("cargo::rustc-check-cfg=cfg(armv6m)");
    let target = std::env::var("TARGET").unwrap_or_default();
    if target.starts_with("thumbv8m.main") {
        println!("cargo::rustc-cfg=armv8m_main");
    }
    if target.starts_with("thumbv6m") {
        println!("cargo::rustc-cfg=armv6m");
    }
}
