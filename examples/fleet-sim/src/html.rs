//! The HTML report: one self-contained page (inline CSS and SVG, no scripts, no network) with
//! the rollout progress per release, the version mix, the alerts timeline and the battery
//! drain distribution.

use crate::report::{Report, when};
use core::fmt::Write as _;

const W: f64 = 860.0;
const H: f64 = 300.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 20.0;
const BOTTOM: f64 = 40.0;
const COLOURS: [&str; 6] = [
    "#4e79a7", "#59a14f", "#e15759", "#f28e2b", "#76b7b2", "#b07aa1",
];

/// The page for `report`.
pub fn page(report: &Report) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>fleet-sim report</title>\n<style>\
body{{font-family:system-ui,sans-serif;max-width:900px;margin:2em auto;color:#222}}\
table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}\
th{{background:#f3f3f3}}td.l,th.l{{text-align:left}}svg{{background:#fcfcfc;border:1px solid #ddd}}\
.ok{{color:#2a7a2a}}.bad{{color:#b22}}</style></head><body>\n"
    );
    let _ = writeln!(
        s,
        "<h1>fleet-sim</h1><p>{} devices, seed {}, power-cut rate {}, first stage {}%. Simulated {:.1} days in {:.2} s.</p>",
        report.devices,
        report.seed,
        report.power_cut_rate,
        report.first_stage_percent,
        report.simulated_days,
        report.wall_seconds
    );
    let _ = writeln!(
        s,
        "<p>Power cuts injected: <b>{}</b>; devices bricked: <b class=\"{}\">{}</b>; network drops: {}; update sessions: {}.</p>",
        report.power_cuts,
        if report.bricked == 0 { "ok" } else { "bad" },
        report.bricked,
        report.network_drops,
        report.update_sessions
    );
    releases_table(&mut s, report);
    let _ = writeln!(
        s,
        "<h2>Rollout progress per release</h2><p>Share of the fleet running each rolled-out release, as the backend knows it.</p>"
    );
    progress_chart(&mut s, report);
    let _ = writeln!(
        s,
        "<h2>Version mix</h2><p>Share of the fleet running each version, as the devices run it.</p>"
    );
    mix_chart(&mut s, report);
    let _ = writeln!(s, "<h2>Alerts and events</h2>");
    alerts_chart(&mut s, report);
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
            "<tr><td class=l>{}</td><td class=l>{t}</td></tr>",
            when(h)
        );
    }
    let _ = writeln!(s, "</table>");
    let _ = writeln!(
        s,
        "<h2>Battery drain distribution</h2><p>Drain estimates from heartbeats, per firmware, as a share of each firmware's estimates ({} % per day per bin).</p>",
        report.battery.bin_width_pct_per_day
    );
    battery_chart(&mut s, report);
    let _ = writeln!(
        s,
        "<h2>Final state</h2><table><tr><th class=l>version</th><th>devices</th><th class=l>why</th></tr>"
    );
    for v in &report.final_versions {
        let _ = writeln!(
            s,
            "<tr><td class=l>{}</td><td>{}</td><td class=l>{}</td></tr>",
            esc(&v.version),
            v.devices,
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
            l.count
        );
    }
    let _ = writeln!(s, "</table><h2>End of life</h2><ul>");
    for n in &report.sunset.notifications {
        let _ = writeln!(
            s,
            "<li>{}: notified {} customers: {}</li>",
            when(n.hour),
            n.recipients,
            esc(&n.label)
        );
    }
    if let Some(e) = &report.sunset.export {
        for f in &e.files {
            let _ = writeln!(
                s,
                "<li>export <code>{}</code>: {} bytes, sha256 <code>{}</code></li>",
                esc(&f.name),
                f.bytes,
                f.sha256
            );
        }
    }
    let _ = writeln!(s, "</ul></body></html>");
    s
}

fn releases_table(s: &mut String, r: &Report) {
    let _ = writeln!(
        s,
        "<h2>Releases</h2><table><tr><th class=l>version</th><th class=l>outcome</th><th>stages</th><th>exposed</th><th>succeeded</th><th>failed</th><th>rolled back</th><th class=l>why</th></tr>"
    );
    for rel in &r.releases {
        let _ = writeln!(
            s,
            "<tr><td class=l>{}</td><td class=\"l {}\">{}</td><td>{}/{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=l>{}</td></tr>",
            esc(&rel.version),
            if rel.outcome == "completed" {
                "ok"
            } else {
                "bad"
            },
            esc(&rel.outcome),
            rel.stages_reached,
            rel.stage_percents.len(),
            rel.devices_exposed,
            rel.devices_succeeded,
            rel.devices_failed,
            rel.devices_rolled_back,
            esc(&rel.why)
        );
    }
    let _ = writeln!(s, "</table>");
}

struct Frame {
    x_max: f64,
    y_max: f64,
}

impl Frame {
    fn x(&self, v: f64) -> f64 {
        LEFT + (W - LEFT - RIGHT) * v / self.x_max.max(1e-9)
    }
    fn y(&self, v: f64) -> f64 {
        H - BOTTOM - (H - TOP - BOTTOM) * v / self.y_max.max(1e-9)
    }
    fn open(&self, s: &mut String, x_label: &str, y_label: &str, y_pct: bool) {
        let _ = writeln!(
            s,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" font-size=\"11\">"
        );
        let _ = writeln!(
            s,
            "<line x1=\"{LEFT}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#444\"/>",
            H - BOTTOM,
            W - RIGHT,
            H - BOTTOM
        );
        let _ = writeln!(
            s,
            "<line x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{}\" stroke=\"#444\"/>",
            H - BOTTOM
        );
        for i in 0..=5 {
            let v = self.y_max * f64::from(i) / 5.0;
            let y = self.y(v);
            let t = if y_pct {
                format!("{:.0}%", v)
            } else {
                format!("{v:.0}")
            };
            let _ = writeln!(
                s,
                "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{}\" y2=\"{y:.1}\" stroke=\"#eee\"/><text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{t}</text>",
                W - RIGHT,
                LEFT - 4.0,
                y + 4.0
            );
            let xv = self.x_max * f64::from(i) / 5.0;
            let x = self.x(xv);
            let _ = writeln!(
                s,
                "<text x=\"{x:.1}\" y=\"{}\" text-anchor=\"middle\">{xv:.1}</text>",
                H - BOTTOM + 14.0
            );
        }
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            (LEFT + W - RIGHT) / 2.0,
            H - 6.0,
            esc(x_label)
        );
        let _ = writeln!(
            s,
            "<text x=\"12\" y=\"{}\" transform=\"rotate(-90 12 {})\" text-anchor=\"middle\">{}</text>",
            H / 2.0,
            H / 2.0,
            esc(y_label)
        );
    }
}

fn legend(s: &mut String, names: &[String]) {
    for (i, n) in names.iter().enumerate() {
        let x = LEFT + 10.0 + 110.0 * i as f64;
        let c = COLOURS[i % COLOURS.len()];
        let _ = writeln!(
            s,
            "<rect x=\"{x}\" y=\"{TOP}\" width=\"10\" height=\"10\" fill=\"{c}\"/><text x=\"{}\" y=\"{}\">{}</text>",
            x + 14.0,
            TOP + 9.0,
            esc(n)
        );
    }
}

fn progress_chart(s: &mut String, r: &Report) {
    let x_max = r.simulated_days.max(1.0);
    let f = Frame {
        x_max,
        y_max: 100.0,
    };
    f.open(s, "simulated days", "share of fleet", true);
    let fleet = f64::from(r.devices.max(1));
    let mut names = Vec::new();
    for (i, rel) in r.releases.iter().enumerate() {
        let c = COLOURS[i % COLOURS.len()];
        let pts: Vec<String> = rel
            .progress
            .iter()
            .map(|&(h, n)| {
                format!(
                    "{:.1},{:.1}",
                    f.x(f64::from(h) / 24.0),
                    f.y(100.0 * f64::from(n) / fleet)
                )
            })
            .collect();
        let _ = writeln!(
            s,
            "<polyline fill=\"none\" stroke=\"{c}\" stroke-width=\"2\" points=\"{}\"/>",
            pts.join(" ")
        );
        names.push(format!("{} ({})", rel.version, rel.outcome));
    }
    legend(s, &names);
    let _ = writeln!(s, "</svg>");
}

fn mix_chart(s: &mut String, r: &Report) {
    let t = &r.timeline;
    let x_max = r.simulated_days.max(1.0);
    let f = Frame {
        x_max,
        y_max: 100.0,
    };
    f.open(s, "simulated days", "share of fleet", true);
    let fleet = f64::from(r.devices.max(1));
    let mut below = vec![0.0f64; t.hours.len()];
    for (v, counts) in t.counts.iter().enumerate() {
        let top: Vec<f64> = below
            .iter()
            .zip(counts)
            .map(|(b, &c)| b + 100.0 * f64::from(c) / fleet)
            .collect();
        let mut pts: Vec<String> = t
            .hours
            .iter()
            .zip(&top)
            .map(|(&h, &y)| format!("{:.1},{:.1}", f.x(f64::from(h) / 24.0), f.y(y)))
            .collect();
        pts.extend(
            t.hours
                .iter()
                .zip(&below)
                .rev()
                .map(|(&h, &y)| format!("{:.1},{:.1}", f.x(f64::from(h) / 24.0), f.y(y))),
        );
        let c = COLOURS[v % COLOURS.len()];
        let _ = writeln!(
            s,
            "<polygon fill=\"{c}\" fill-opacity=\"0.85\" stroke=\"none\" points=\"{}\"/>",
            pts.join(" ")
        );
        below = top;
    }
    legend(s, &t.versions);
    let _ = writeln!(s, "</svg>");
}

fn alerts_chart(s: &mut String, r: &Report) {
    let x_max = r.simulated_days.max(1.0);
    let f = Frame { x_max, y_max: 2.0 };
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"140\" viewBox=\"0 0 {W} 140\" font-size=\"11\">"
    );
    let _ = writeln!(
        s,
        "<line x1=\"{LEFT}\" y1=\"110\" x2=\"{}\" y2=\"110\" stroke=\"#444\"/>",
        W - RIGHT
    );
    for i in 0..=5 {
        let xv = x_max * f64::from(i) / 5.0;
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"126\" text-anchor=\"middle\">day {xv:.1}</text>",
            f.x(xv)
        );
    }
    let _ = writeln!(
        s,
        "<text x=\"4\" y=\"44\">alerts</text><text x=\"4\" y=\"94\">events</text>"
    );
    // Firing spans.
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
            .map_or(r.simulated_days * 24.0, |b| f64::from(b.hour));
        let (x0, x1) = (f.x(f64::from(a.hour) / 24.0), f.x(end / 24.0));
        let _ = writeln!(
            s,
            "<rect x=\"{x0:.1}\" y=\"30\" width=\"{:.1}\" height=\"20\" fill=\"#e15759\"><title>{}</title></rect>",
            (x1 - x0).max(2.0),
            esc(&a.detail)
        );
    }
    for e in &r.events {
        let x = f.x(f64::from(e.hour) / 24.0);
        let _ = writeln!(
            s,
            "<circle cx=\"{x:.1}\" cy=\"90\" r=\"5\" fill=\"#4e79a7\"><title>{}: {}</title></circle>",
            when(e.hour),
            esc(&e.text)
        );
    }
    let _ = writeln!(s, "</svg>");
}

fn battery_chart(s: &mut String, r: &Report) {
    let b = &r.battery;
    let bins = b.series.first().map_or(0, |x| x.bins.len());
    if bins == 0 {
        let _ = writeln!(s, "<p>No drain estimates.</p>");
        return;
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
    let x_max = f64::from(b.bin_width_pct_per_day) * bins as f64;
    let f = Frame { x_max, y_max };
    f.open(s, "battery drain, % per day", "share of estimates", true);
    let group = (W - LEFT - RIGHT) / bins as f64;
    let bar = group / (shares.len() as f64 + 0.5);
    for (k, series) in shares.iter().enumerate() {
        let c = COLOURS[k % COLOURS.len()];
        for (i, &v) in series.iter().enumerate() {
            if v <= 0.0 {
                continue;
            }
            let x = LEFT + group * i as f64 + bar * k as f64;
            let y = f.y(v);
            let _ = writeln!(
                s,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bar:.1}\" height=\"{:.1}\" fill=\"{c}\"/>",
                H - BOTTOM - y
            );
        }
    }
    let names: Vec<String> = b.series.iter().map(|x| x.firmware.clone()).collect();
    legend(s, &names);
    let _ = writeln!(s, "</svg>");
}

fn esc(t: &str) -> String {
    t.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
