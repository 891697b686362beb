//! Patch sizes of `ota-core`'s delta format against detools on real firmware image pairs.
//!
//! ```sh
//! cargo run --release -p ota-tool --example delta-sizes [-- --pairs DIR] [--block-log2 N]
//! ```
//!
//! Each pair is `DIR/NAME/{old,new}.bin` (default: the three pairs checked in under
//! `examples/ota-tool/tests/data/firmware/`, made by `examples/ota-tool/examples/delta-pairs.sh`
//! from this repository's history). For every pair it makes our patch, applies it with the
//! device's applier and checks the result, then asks detools (`pip install detools`) for the
//! smallest patch it makes for the same pair that its C applier can apply within the same RAM
//! budget, applies that too (detools' Python side) and checks it. One line per pair:
//! `delta: pair=NAME old=O new=N ours=P detools=D ratio=P/D ram=R`, then
//! `delta: worst ratio=X`; the exit status is 1 when X is above 1.0 (the target).
//!
//! Which detools patches fit 8 KiB: its C library applies only `sequential` patches (bsdiff or
//! match-blocks algorithm) and, of its compressions, `none`, `crle`, `heatshrink` and `lzma`.
//! LZMA allocates its dictionary and probability tables (16 KiB for the tables alone at the
//! default lc=3), so it is out. Heatshrink's decoder holds a `2^window_sz2`-byte window plus a
//! 256-byte input buffer (the C library's static configuration), and detools' own apply state
//! and 2 x 128-byte stack buffers come on top: windows up to 2^12 fit 8 KiB, 2^13 does not. So
//! the candidates are both algorithms x {none, crle, heatshrink with window_sz2 4..=12 and every
//! lookahead_sz2 3..window_sz2-1}; the smallest wins.

use ota_core::delta::{self, APPLY_RAM, DiffOptions};
use std::path::{Path, PathBuf};
use std::process::Command;

const DETOOLS_BEST: &str = r#"
import sys, io, detools
old = open(sys.argv[1], 'rb').read()
new = open(sys.argv[2], 'rb').read()
best = None
def run(**kw):
    global best
    out = io.BytesIO()
    detools.create_patch(io.BytesIO(old), io.BytesIO(new), out, patch_type='sequential', use_mmap=False, **kw)
    p = out.getvalue()
    if best is None or len(p) < len(best[0]):
        best = (p, kw)
for algorithm in ('bsdiff', 'match-blocks'):
    for compression in ('none', 'crle'):
        run(algorithm=algorithm, compression=compression)
    for w in range(4, 13):
        for l in range(3, w):
            run(algorithm=algorithm, compression='heatshrink',
                heatshrink_window_sz2=w, heatshrink_lookahead_sz2=l)
patch, kw = best
got = io.BytesIO()
detools.apply_patch(io.BytesIO(old), io.BytesIO(patch), got)
assert got.getvalue() == new, 'detools patch does not apply'
w = kw.get('heatshrink_window_sz2')
ram = (1 << w) + 256 if w else 0
print(len(patch), kw['algorithm'], kw['compression'], w or '-', kw.get('heatshrink_lookahead_sz2') or '-', ram)
"#;

fn detools_available() -> Result<(), String> {
    let check = || {
        Command::new("python3")
            .args(["-c", "import detools"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    };
    if check() {
        return Ok(());
    }
    eprintln!("delta: detools not found; trying `python3 -m pip install detools`");
    let _ = Command::new("python3")
        .args(["-m", "pip", "install", "--quiet", "detools"])
        .status();
    if check() {
        Ok(())
    } else {
        Err("detools cannot be installed (python3 -m pip install detools failed)".into())
    }
}

/// detools' smallest in-budget patch: (size, description).
fn detools_best(old: &Path, new: &Path) -> Result<(usize, String), String> {
    let o = Command::new("python3")
        .args(["-c", DETOOLS_BEST])
        .arg(old)
        .arg(new)
        .output()
        .map_err(|e| format!("python3: {e}"))?;
    if !o.status.success() {
        return Err(String::from_utf8_lossy(&o.stderr).into_owned());
    }
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let mut f = text.split_whitespace();
    let size = f
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("unexpected detools output {text:?}"))?;
    let rest: Vec<&str> = f.collect();
    let desc = match rest.as_slice() {
        [algo, comp, w, l, ram] => {
            format!("{algo} {comp} window_sz2={w} lookahead_sz2={l} window+input={ram} B")
        }
        _ => text.trim().to_string(),
    };
    Ok((size, desc))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/firmware");
    let mut opts = DiffOptions::default();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--pairs" => dir = PathBuf::from(args.next().ok_or("--pairs needs a directory")?),
            "--block-log2" => {
                opts.block_log2 = args.next().ok_or("--block-log2 needs N")?.parse()?;
            }
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }
    let mut pairs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("old.bin").is_file() && p.join("new.bin").is_file())
        .collect();
    pairs.sort();
    if pairs.is_empty() {
        return Err(format!("no NAME/old.bin + NAME/new.bin pairs in {}", dir.display()).into());
    }
    let detools = detools_available();
    if let Err(why) = &detools {
        println!("delta: SKIP detools comparison: {why}");
    }
    let mut worst: Option<f64> = None;
    for p in &pairs {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("?");
        let (old_path, new_path) = (p.join("old.bin"), p.join("new.bin"));
        let old = std::fs::read(&old_path)?;
        let new = std::fs::read(&new_path)?;
        let patch = delta::diff(&old, &new, &opts)?;
        let applied = delta::apply_to_vec(&old, &patch)?;
        if applied != new {
            return Err(format!("pair {name}: our patch did not reproduce new.bin").into());
        }
        let (d, ratio) = match &detools {
            Ok(()) => {
                let (d, desc) = detools_best(&old_path, &new_path)?;
                eprintln!("delta: pair={name} detools best: {desc}");
                let r = patch.len() as f64 / d as f64;
                worst = Some(worst.map_or(r, |w: f64| w.max(r)));
                (d.to_string(), format!("{r:.3}"))
            }
            Err(_) => ("skipped".into(), "skipped".into()),
        };
        println!(
            "delta: pair={name} old={} new={} ours={} detools={d} ratio={ratio} ram={APPLY_RAM}",
            old.len(),
            new.len(),
            patch.len()
        );
    }
    match worst {
        Some(w) => {
            println!("delta: worst ratio={w:.3}");
            if w > 1.0 {
                // The target: never larger than detools' best in-budget patch.
                std::process::exit(1);
            }
        }
        None => println!("delta: worst ratio=skipped"),
    }
    Ok(())
}
