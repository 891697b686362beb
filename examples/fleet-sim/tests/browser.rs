//! The HTML report in a real browser: headless Chromium lays the page out, `measure.js` (added
//! to a copy of the page for this test only; the page itself has no scripts) reads the real
//! boxes of every chart's legend, labels and marks, and the test asserts that no legend
//! covers the plot, no label is clipped or overlaps another, no mark leaves the plot and the
//! page does not scroll sideways (at 1300 and at 800 px). A second page renames every series to a long name so the
//! legends have to wrap. A screenshot of each page lands in `target/fleet-sim-browser/`.
//!
//! Without Chromium the test says so on stderr and passes; with `FLEET_SIM_BROWSER=require`
//! it fails instead (for CI where Chromium is installed).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use core::time::Duration;
use fleet_sim::progress::Progress;
use fleet_sim::report::Report;
use fleet_sim::{ScenarioConfig, run};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

const MEASURE: &str = include_str!("measure.js");

fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CHROMIUM") {
        return Some(p.into());
    }
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome", "chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |d| d.join(name)))
        .find(|p| p.is_file())
}

/// Runs Chromium headless on `page` in a window `width` px wide with `args`; returns stdout.
fn chromium_run(bin: &Path, page: &Path, width: u32, args: &[String]) -> String {
    let profile = std::env::temp_dir().join(format!(
        "fleet-sim-browser-profile-{}-{}",
        std::process::id(),
        width
    ));
    let mut cmd = Command::new(bin);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ])
    .arg(format!("--window-size={width},3000"))
    .arg(format!("--user-data-dir={}", profile.display()))
    .args(args)
    .arg(format!("file://{}", page.display()))
    .stdout(Stdio::piped())
    .stderr(Stdio::null());
    let mut child = cmd.spawn().expect("chromium starts");
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish within 120 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let _ = std::fs::remove_dir_all(&profile);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn report() -> Report {
    let mut c = ScenarioConfig::new(300, 5);
    c.first_stage_bp = 500;
    c.sunset_days = 4;
    c.export_dir =
        Some(std::env::temp_dir().join(format!("fleet-sim-browser-export-{}", std::process::id())));
    let r = run(&c, &Progress::hidden()).unwrap();
    if let Some(e) = &r.sunset.export {
        std::fs::remove_dir_all(&e.dir).unwrap();
    }
    r
}

/// Screenshots `html` as `name.png` in `out` (1300 px wide) and checks it is not blank.
fn screenshot(bin: &Path, html: &str, name: &str, out: &Path) {
    let page = out.join(format!("{name}.html"));
    std::fs::write(&page, html).unwrap();
    let shot = out.join(format!("{name}.png"));
    chromium_run(
        bin,
        &page,
        1300,
        &[format!("--screenshot={}", shot.display())],
    );
    let png = std::fs::read(&shot).expect("chromium wrote the screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "{} looks blank ({} bytes)",
        shot.display(),
        png.len()
    );
}

/// The page's geometry as Chromium measured it in a window `width` px wide: (charts measured,
/// problems).
fn measure(bin: &Path, html: &str, name: &str, out: &Path, width: u32) -> (u64, Vec<String>) {
    let measured = out.join(format!("{name}-measured-{width}.html"));
    let script = format!("<script>{MEASURE}</script></body>");
    std::fs::write(&measured, html.replace("</body>", &script)).unwrap();
    let dom = chromium_run(bin, &measured, width, &["--dump-dom".to_string()]);
    // The last one: the script's own text mentions the element too.
    let json = dom
        .rsplit("<pre id=\"geometry\">")
        .next()
        .filter(|_| dom.contains("<pre id=\"geometry\">{"))
        .and_then(|rest| rest.split("</pre>").next())
        .unwrap_or_else(|| panic!("no measurement in the dumped DOM:\n{dom}"))
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    let v: serde_json::Value =
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
    let problems = v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap_or_default().to_string())
        .collect();
    (v["svgs"].as_u64().unwrap(), problems)
}

#[test]
fn charts_keep_their_geometry_in_chromium() {
    let Some(bin) = chromium() else {
        assert_ne!(
            std::env::var("FLEET_SIM_BROWSER").as_deref(),
            Ok("require"),
            "FLEET_SIM_BROWSER=require but no Chromium found (set CHROMIUM or PATH)"
        );
        eprintln!("browser test skipped: no chromium on PATH (set CHROMIUM=/path/to/chromium)");
        return;
    };
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fleet-sim-browser");
    std::fs::create_dir_all(&out).unwrap();
    let mut r = report();
    let charts = fleet_sim::html::charts(&r).len() as u64;
    let html = fleet_sim::html::page(&r);
    screenshot(&bin, &html, "report", &out);
    for width in [1300, 800] {
        let (svgs, problems) = measure(&bin, &html, "report", &out, width);
        assert_eq!(svgs, charts, "every chart measured");
        assert_eq!(problems, Vec::<String>::new(), "report page, {width} px");
    }

    // Long series names: the legends must wrap inside their band.
    for (i, rel) in r.releases.iter_mut().enumerate() {
        rel.version = format!("{}-release-candidate.{i}+build.2026-12-01", rel.version);
    }
    for v in &mut r.timeline.versions {
        *v = format!("{v}-with-a-rather-long-build-label");
    }
    for b in &mut r.battery.series {
        b.firmware = format!("{} (hardware A, B and C together)", b.firmware);
    }
    let html = fleet_sim::html::page(&r);
    screenshot(&bin, &html, "long-names", &out);
    let (svgs, problems) = measure(&bin, &html, "long-names", &out, 1300);
    assert_eq!(svgs, charts);
    assert_eq!(problems, Vec::<String>::new(), "long-names page");
    eprintln!("browser: screenshots in {}", out.display());
}
