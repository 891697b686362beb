//! Writes the C test vectors (`fleet_ota_vectors.h`) to the path given as the only argument.
//! `run.sh` runs it on the host before building the Cortex-M4 program.

#[path = "../tests/vectors/mod.rs"]
mod vectors;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: make_vectors OUTPUT.h")?;
    std::fs::write(&path, vectors::header()?)?;
    Ok(())
}
