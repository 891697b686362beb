//! The checked-in `include/fleet_ota.h` is what cbindgen (the version in Cargo.lock) generates
//! from the source with `cbindgen.toml`. To update it after an API change:
//! `FLEET_OTA_BLESS=1 cargo test --test header` (or `cbindgen --config cbindgen.toml
//! --output include/fleet_ota.h` with the same cbindgen version).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed check

use std::path::Path;

#[test]
fn checked_in_header_matches_cbindgen() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).unwrap();
    let bindings = cbindgen::Builder::new()
        .with_crate(dir)
        .with_config(config)
        .generate()
        .unwrap();
    let mut generated = Vec::new();
    bindings.write(&mut generated);
    let path = dir.join("include/fleet_ota.h");
    if std::env::var_os("FLEET_OTA_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let checked_in = std::fs::read(&path).unwrap();
    assert!(
        checked_in == generated,
        "include/fleet_ota.h is stale: run `FLEET_OTA_BLESS=1 cargo test --test header` in examples/ota-capi"
    );
}
