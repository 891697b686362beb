//! The HTML report: one self-contained page (inline CSS and SVG, no scripts, no network) with
//! the releases in plain words (the arithmetic one click away in `<details>`), the rollout
//! progress per release, the version mix, the alerts timeline and the battery drain
//! distribution. The charts come from [`crate::chart`], whose geometry is checked.

use crate::chart::{Axis, Chart, Layout, Rect, colour, esc};
use crate::explain;
use crate::numbers::count;
use crate::report::{ReleaseReport, Report, when};
use core::fmt::Write as _;

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:1040px;margin:2em auto;padding:0 1em;color:#222;line-height:1.4}\
table{border-collapse:collapse;margin:1em 0;width:100%}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right;vertical-align:top}\
th{background:#f3f3f3}td.l,th.l{text-align:left}td.when{white-space:nowrap}th.why{width:40%}tr.more td{border-top:none;padding-top:0;background:#fafafa}svg{display:block;max-width:100%;height:auto}\
.scroll{overflow-x:auto}.ok{color:#2a7a2a}.bad{color:#b22}.note{color:#555;font-size:92%}details{margin-top:.4em}summary{cursor:pointer;color:#245}\
details ol,details ul{margin:.3em 0;padding-left:1.4em}details li{margin:.2em 0}.decision{margin:.5em 0 0}";

/// The page for `report`.
pub fn page(report: &Report) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>fleet-sim report</title>\n<style>{STYLE}</style></head><body>\n"
    );
    let _ = writeln!(
        s,
        "<h1>fleet-sim</h1><p>{} devices, seed {}, power-cut rate {}, first stage {}% of the fleet. Simulated {:.1} days in {:.2} s.</p>",
        count(u64::from(report.devices)),
        report.seed,
        report.power_cut_rate,
        report.first_stage_percent,
        report.simulated_days,
        report.wall_seconds
    );
    let _ = writeln!(
        s,
        "<p>Power cuts injected: <b>{}</b>; devices bricked: <b class=\"{}\">{}</b>; network drops: {}; update sessions: {}.</p>",
        count(report.power_cuts),
        if report.bricked == 0 { "ok" } else { "bad" },
        report.bricked,
        count(report.network_drops),
        count(report.update_sessions)
    );
    releases_table(&mut s, report);
    update_reports_table(&mut s, report);
    for (heading, note, svg) in charts(report) {
        let _ = writeln!(s, "<h2>{heading}</h2><p>{note}</p>\n{}", svg.0);
        if heading == ALERTS {
            events_table(&mut s, report);
        }
    }
    final_state(&mut s, report);
    let _ = writeln!(s, "</body></html>");
    s
}

/// Heading of the alerts chart (the events table follows it).
const ALERTS: &str = "Alerts and events";

/// A chart's SVG and its geometry.
pub struct Svg(pub String, pub Layout);

/// Every chart of the page: (heading, note, SVG and geometry), in page order.
pub fn charts(r: &Report) -> Vec<(&'static str, String, Svg)> {
    let mut out = vec![
        (
            "Rollout progress per release",
            "Share of the fleet running each rolled-out release, as the backend knows it.".into(),
            progress_chart(r),
        ),
        (
            "Version mix",
            "Share of the fleet running each version, as the devices run it.".into(),
            mix_chart(r),
        ),
        (
            ALERTS,
            "Red: a fleet alert firing; blue: a notable moment (hover for what). Both are listed in the table below.".into(),
            alerts_chart(r),
        ),
    ];
    if let Some(b) = battery_chart(r) {
        out.push((
            "Battery drain distribution",
            format!(
                "Drain estimates from heartbeats, per firmware, as a share of each firmware's estimates ({}% per day per bin).",
                r.battery.bin_width_pct_per_day
            ),
            b,
        ));
    }
    out
}

fn releases_table(s: &mut String, r: &Report) {
    let _ = writeln!(
        s,
        "<h2>Releases</h2><p class=note>Offered = succeeded + failed + without an outcome; each device counts once, under its final outcome.</p>\
<div class=scroll><table><tr><th class=l>version</th><th class=l>outcome</th><th>stages</th><th>offered</th><th>succeeded</th><th>failed</th><th>no outcome</th><th>rolled back</th><th class=\"l why\">why</th></tr>"
    );
    for rel in &r.releases {
        let _ = writeln!(
            s,
            "<tr><td class=l>{}</td><td class=\"l {}\">{}</td><td>{} of {}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=l>{}</td></tr>",
            esc(&rel.version),
            match rel.outcome.as_str() {
                "completed" => "ok",
                "aborted" => "bad",
                _ => "",
            },
            esc(&rel.outcome),
            rel.stages_reached,
            rel.stage_percents.len(),
            count(u64::from(rel.devices_exposed)),
            count(u64::from(rel.devices_succeeded)),
            count(u64::from(rel.devices_failed)),
            count(u64::from(rel.unfinished.total())),
            count(u64::from(rel.devices_rolled_back)),
            why_cell(rel)
        );
        let _ = writeln!(
            s,
            "<tr class=more><td class=l colspan=9>{}</td></tr>",
            arithmetic_cell(rel, r.devices)
        );
    }
    let _ = writeln!(s, "</table></div>");
}

/// Per release: devices at each stage of their latest update report, and the top failure
/// reasons.
fn update_reports_table(s: &mut String, r: &Report) {
    let _ = writeln!(
        s,
        "<h2>Update reports</h2><p class=note>Each device's latest report per release, as it sent it with its heartbeats (kept on its flash until acknowledged).</p>\
<div class=scroll><table><tr><th class=l>version</th><th>devices</th><th class=l>stages</th><th class=l>top failure reasons</th></tr>"
    );
    let names = |list: &[crate::report::NamedCount]| {
        list.iter()
            .map(|n| format!("{} {}", esc(&n.name), count(u64::from(n.count))))
            .collect::<Vec<_>>()
            .join(", ")
    };
    for rel in &r.update_reports {
        let _ = writeln!(
            s,
            "<tr><td class=l>{}</td><td>{}</td><td class=l>{}</td><td class=l>{}</td></tr>",
            esc(&rel.version),
            count(u64::from(rel.devices)),
            names(&rel.stages),
            names(&rel.top_failures)
        );
    }
    let _ = writeln!(s, "</table></div>");
}

/// The "why" cell: the outcome in a sentence, and what the counts that do not add up at a
/// glance are made of.
fn why_cell(rel: &ReleaseReport) -> String {
    let mut c = format!("{}.", esc(&upper_first(&rel.summary)));
    let notes: Vec<String> = [
        explain::failures(&rel.failures).map(|f| format!("Failed: {f}.")),
        explain::unfinished(&rel.unfinished, &rel.superseded_by)
            .map(|u| format!("{}.", upper_first(&u))),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !notes.is_empty() {
        let _ = write!(c, "<div class=note>{}</div>", esc(&notes.join(" ")));
    }
    c
}

/// The full-width row under a release: the arithmetic of its last decision and of every
/// decision, each behind a click.
fn arithmetic_cell(rel: &ReleaseReport, fleet: u32) -> String {
    let mut c = String::new();
    let list = |c: &mut String, d| {
        c.push_str("<ul>");
        for line in explain::arithmetic(rel, d, fleet) {
            let _ = write!(c, "<li>{}</li>", esc(&line));
        }
        c.push_str("</ul>");
    };
    if let Some(last) = rel.decisions.last() {
        let _ = write!(
            c,
            "<details><summary>{}: the arithmetic of the last decision</summary>",
            esc(&rel.version)
        );
        list(&mut c, last);
        c.push_str("</details>");
    }
    if rel.decisions.len() > 1 {
        let _ = write!(
            c,
            "<details><summary>{}: every decision ({}; {} holds not listed: nothing wrong, something still missing)</summary>",
            esc(&rel.version),
            rel.decisions.len(),
            count(u64::from(rel.holds))
        );
        for d in &rel.decisions {
            let _ = write!(
                c,
                "<p class=decision><b>{}</b>: {}.</p><details><summary>arithmetic</summary>",
                when(d.hour),
                esc(&explain::decision(rel, d))
            );
            list(&mut c, d);
            c.push_str("</details>");
        }
        c.push_str("</details>");
    }
    c
}

fn upper_first(t: &str) -> String {
    let mut chars = t.chars();
    chars.next().map_or_else(String::new, |f| {
        f.to_uppercase().chain(chars).collect::<String>()
    })
}

fn events_table(s: &mut String, report: &Report) {
    let _ = writeln!(
        s,
        "<table><tr><th class=l>when</th><th class=l>what</th></tr>"
    );
    let mut rows: Vec<(u32, String)> = report
        .events
        .iter()
        .map(|e| (e.hour, esc(&e.text)))
        .collect();
    rows.extend(report.alerts.iter().map(|a| {
        (
            a.hour,
            format!(
                "alert {} {}: {}",
                esc(&a.rule),
                esc(&a.state),
                esc(&a.detail)
            ),
        )
    }));
    rows.sort_by_key(|r| r.0);
    for (h, t) in rows {
        let _ = writeln!(
            s,
            "<tr><td class=\"l when\">{}</td><td class=l>{t}</td></tr>",
            when(h)
        );
    }
    let _ = writeln!(s, "</table>");
}

fn final_state(s: &mut String, report: &Report) {
    let _ = writeln!(
        s,
        "<h2>Final state</h2><table><tr><th class=l>version</th><th>devices</th><th class=l>why</th></tr>"
    );
    for v in &report.final_versions {
        let _ = writeln!(
            s,
            "<tr><td class=l>{}</td><td>{}</td><td class=l>{}</td></tr>",
            esc(&v.version),
            count(u64::from(v.devices)),
            esc(v.why.as_deref().unwrap_or(""))
        );
    }
    let _ = writeln!(
        s,
        "</table><table><tr><th class=l>lifecycle</th><th>devices</th></tr>"
    );
    for l in &report.final_lifecycle {
        let _ = writeln!(
            s,
            "<tr><td class=l>{}</td><td>{}</td></tr>",
            esc(&l.name),
            count(u64::from(l.count))
        );
    }
    let _ = writeln!(s, "</table><h2>End of life</h2><ul>");
    for n in &report.sunset.notifications {
        let _ = writeln!(
            s,
            "<li>{}: notified {} customers: {}</li>",
            when(n.hour),
            count(u64::from(n.recipients)),
            esc(&n.label)
        );
    }
    for line in report.sunset.compliance_report.lines() {
        let _ = writeln!(s, "<li>support policy: {}</li>", esc(line));
    }
    if let Some(e) = &report.sunset.export {
        let _ = writeln!(
            s,
            "<li>export bundle in <code>{}</code></li>",
            esc(&e.dir.display().to_string())
        );
        for f in &e.files {
            let _ = writeln!(
                s,
                "<li>export <code>{}</code>: {} bytes, sha256 <code>{}</code></li>",
                esc(&f.name),
                count(f.bytes),
                f.sha256
            );
        }
    }
    if let Some(e) = &report.sunset.export_error {
        let _ = writeln!(
            s,
            "<li class=bad>export bundle not written: {}</li>",
            esc(e)
        );
    }
    let _ = writeln!(s, "</ul>");
}

fn day(hour: u32) -> f64 {
    f64::from(hour) / 24.0
}

fn progress_chart(r: &Report) -> Svg {
    let names: Vec<String> = r
        .releases
        .iter()
        .map(|rel| format!("{} ({})", rel.version, rel.outcome))
        .collect();
    let mut c = Chart::new(Axis::days(r.simulated_days), Axis::share_of_fleet(), &names);
    let fleet = f64::from(r.devices.max(1));
    for (i, rel) in r.releases.iter().enumerate() {
        let pts: Vec<(f64, f64)> = rel
            .progress
            .iter()
            .map(|&(h, n)| (day(h), 100.0 * f64::from(n) / fleet))
            .collect();
        c.line(&pts, colour(i));
    }
    let (svg, layout) = c.finish("rollout progress per release");
    Svg(svg, layout)
}

fn mix_chart(r: &Report) -> Svg {
    let t = &r.timeline;
    let mut c = Chart::new(
        Axis::days(r.simulated_days),
        Axis::share_of_fleet(),
        &t.versions,
    );
    let fleet = f64::from(r.devices.max(1));
    let xs: Vec<f64> = t.hours.iter().map(|&h| day(h)).collect();
    let mut below = vec![0.0f64; t.hours.len()];
    for (v, counts) in t.counts.iter().enumerate() {
        let top: Vec<f64> = below
            .iter()
            .zip(counts)
            .map(|(b, &n)| b + 100.0 * f64::from(n) / fleet)
            .collect();
        c.band(&xs, &below, &top, colour(v));
        below = top;
    }
    let (svg, layout) = c.finish("version mix over time");
    Svg(svg, layout)
}

fn alerts_chart(r: &Report) -> Svg {
    let mut c = Chart::lanes(Axis::days(r.simulated_days), &["alerts", "events"]);
    let (alert_y, event_y) = (c.lane_y(0), c.lane_y(1));
    let plot = c.plot();
    for (i, a) in r
        .alerts
        .iter()
        .enumerate()
        .filter(|(_, a)| a.state == "firing")
    {
        let end = r
            .alerts
            .iter()
            .skip(i + 1)
            .find(|b| b.state == "resolved" && b.rule == a.rule)
            .map_or(r.simulated_days, |b| day(b.hour));
        let (x0, x1) = (c.px(day(a.hour)), c.px(end));
        let w = (x1 - x0).max(2.0).min(plot.right() - x0);
        c.span(
            Rect {
                x: x0,
                y: alert_y - 10.0,
                w,
                h: 20.0,
            },
            "#e15759",
            &format!("{}: {}", when(a.hour), a.detail),
        );
    }
    for e in &r.events {
        c.dot(
            day(e.hour),
            event_y,
            "#4e79a7",
            &format!("{}: {}", when(e.hour), e.text),
        );
    }
    let (svg, layout) = c.finish("alerts and events over time");
    Svg(svg, layout)
}

fn battery_chart(r: &Report) -> Option<Svg> {
    let b = &r.battery;
    let bins = b.series.first().map_or(0, |x| x.bins.len());
    if bins == 0 {
        return None;
    }
    let shares: Vec<Vec<f64>> = b
        .series
        .iter()
        .map(|x| {
            let total: u32 = x.bins.iter().sum();
            x.bins
                .iter()
                .map(|&c| 100.0 * f64::from(c) / f64::from(total.max(1)))
                .collect()
        })
        .collect();
    let y_max = shares.iter().flatten().fold(1.0f64, |m, &v| m.max(v));
    let width = f64::from(b.bin_width_pct_per_day);
    let names: Vec<String> = b.series.iter().map(|x| x.firmware.clone()).collect();
    let mut c = Chart::new(
        Axis::linear(width * bins as f64, "", "battery drain, % per day"),
        Axis::linear(y_max, "%", "share of estimates"),
        &names,
    );
    for (k, series) in shares.iter().enumerate() {
        for (i, &v) in series.iter().enumerate() {
            if v <= 0.0 {
                continue;
            }
            let (x0, x1) = (c.px(width * i as f64), c.px(width * (i + 1) as f64));
            let bar = (x1 - x0) / (shares.len() as f64 + 0.5);
            let left = x0 + bar * (0.25 + k as f64);
            c.bar(
                left,
                left + bar,
                v,
                colour(k),
                &format!(
                    "{}: {:.1}% of its estimates drain {}-{}% per day",
                    names.get(k).map_or("", String::as_str),
                    v,
                    width * i as f64,
                    width * (i + 1) as f64
                ),
            );
        }
    }
    let (svg, layout) = c.finish("battery drain distribution per firmware");
    Some(Svg(svg, layout))
}
