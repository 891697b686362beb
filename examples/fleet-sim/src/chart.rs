//! SVG charts whose geometry is decided before anything is drawn, so it can be checked.
//!
//! A chart is a legend band on top (items flow left to right and wrap), then the plot area,
//! then the x axis with its tick labels and title; the y axis' labels sit in the left margin.
//! Margins are sized from the labels they hold (text widths are estimated conservatively,
//! and a browser test measures the real ones), so tick labels are never clipped and the
//! legend never covers data. Every mark drawn is recorded in the chart's [`Layout`], and
//! [`Layout::problems`] lists anything that overlaps or leaves the picture.

use core::fmt::Write as _;

/// Font size of every text, px.
pub const FONT: f64 = 11.0;
/// Width of the whole chart, px.
pub const WIDTH: f64 = 1000.0;
/// Series colours, in order.
pub const COLOURS: [&str; 6] = [
    "#4e79a7", "#59a14f", "#e15759", "#f28e2b", "#76b7b2", "#b07aa1",
];
/// Room a circle mark may take beyond its data point, px.
pub const MARK_RADIUS: f64 = 5.0;
/// Height of the plot area, px.
const PLOT_HEIGHT: f64 = 220.0;
const SWATCH: f64 = 10.0;
const LEGEND_ROW: f64 = 16.0;
const GAP: f64 = 18.0;
const PAD: f64 = 8.0;

/// The colour of series `i`.
pub fn colour(i: usize) -> &'static str {
    COLOURS[i % COLOURS.len()]
}

/// An axis-aligned rectangle, px.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Rect {
    /// Left.
    pub x: f64,
    /// Top.
    pub y: f64,
    /// Width.
    pub w: f64,
    /// Height.
    pub h: f64,
}

impl Rect {
    /// Right edge.
    pub fn right(&self) -> f64 {
        self.x + self.w
    }
    /// Bottom edge.
    pub fn bottom(&self) -> f64 {
        self.y + self.h
    }
    /// Whether the two share any area (touching edges do not count).
    pub fn overlaps(&self, o: &Rect) -> bool {
        self.x < o.right() && o.x < self.right() && self.y < o.bottom() && o.y < self.bottom()
    }
    /// Whether `o` lies inside this rectangle grown by `slack` on every side.
    pub fn holds(&self, o: &Rect, slack: f64) -> bool {
        o.x >= self.x - slack
            && o.y >= self.y - slack
            && o.right() <= self.right() + slack
            && o.bottom() <= self.bottom() + slack
    }
}

/// Conservative width of `text` at [`FONT`]: wider than the common sans-serif faces render
/// digits and lower-case letters.
pub fn text_width(text: &str) -> f64 {
    text.chars().count() as f64 * FONT * 0.64
}

/// `text`, shortened with an ellipsis to fit `room` px by [`text_width`].
fn fit(text: &str, room: f64) -> String {
    if text_width(text) <= room {
        return text.to_string();
    }
    let keep = ((room / (FONT * 0.64)).floor() as usize).saturating_sub(1);
    let mut short: String = text.chars().take(keep).collect();
    short.push('\u{2026}');
    short
}

/// The box of a text of `text` anchored at (`x`, baseline `y`); `anchor` as in SVG.
fn text_box(text: &str, x: f64, y: f64, anchor: Anchor) -> Rect {
    let w = text_width(text);
    let left = match anchor {
        Anchor::Middle => x - w / 2.0,
        Anchor::End => x - w,
    };
    Rect {
        x: left,
        y: y - FONT,
        w,
        h: FONT * 1.3,
    }
}

#[derive(Clone, Copy)]
enum Anchor {
    Middle,
    End,
}

impl Anchor {
    fn svg(self) -> &'static str {
        match self {
            Anchor::Middle => "middle",
            Anchor::End => "end",
        }
    }
}

/// An axis from 0 to `max` with labelled ticks.
#[derive(Clone, Debug, PartialEq)]
pub struct Axis {
    /// The value at the far end.
    pub max: f64,
    /// (value, label) of each tick, from 0.
    pub ticks: Vec<(f64, String)>,
    /// What the axis measures.
    pub title: String,
}

/// A step for `span` days that puts every tick on a whole day, with at most 8 intervals:
/// 1, 2, 5, 7, 10, 14, 28, 30, 60, 90, 180, 365, then whole years.
pub fn day_step(span: f64) -> u32 {
    const STEPS: [u32; 12] = [1, 2, 5, 7, 10, 14, 28, 30, 60, 90, 180, 365];
    let span = span.max(1.0);
    STEPS
        .iter()
        .copied()
        .find(|&s| (span / f64::from(s)).ceil() <= 8.0)
        .unwrap_or_else(|| 365 * ((span / 365.0 / 8.0).ceil() as u32).max(1))
}

/// A step of 1, 2 or 5 times a power of ten with at most `intervals` steps up to `max`.
pub fn nice_step(max: f64, intervals: u32) -> f64 {
    let max = if max.is_finite() && max > 0.0 {
        max
    } else {
        1.0
    };
    let raw = max / f64::from(intervals.max(1));
    let power = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * power)
        .find(|&s| (max / s).ceil() <= f64::from(intervals))
        .unwrap_or(10.0 * power)
}

/// A label for `v` without a trailing `.0`.
fn tick_text(v: f64) -> String {
    let t = format!("{v:.2}");
    t.trim_end_matches('0').trim_end_matches('.').to_string()
}

impl Axis {
    /// Simulated days from 0 to `days` (at least 1), ticks on whole days ([`day_step`]).
    pub fn days(days: f64) -> Self {
        let max = if days.is_finite() { days.max(1.0) } else { 1.0 };
        let step = day_step(max);
        let n = (max / f64::from(step) + 1e-9).floor() as u32;
        Self {
            max,
            ticks: (0..=n)
                .map(|i| (f64::from(i * step), (i * step).to_string()))
                .collect(),
            title: "simulated day".into(),
        }
    }

    /// 0 to at least `max` in steps of 1, 2 or 5 times a power of ten, labels with `unit`.
    pub fn linear(max: f64, unit: &str, title: &str) -> Self {
        let step = nice_step(max, 5);
        let n = (max.max(step) / step - 1e-9).ceil().max(1.0) as u32;
        Self {
            max: step * f64::from(n),
            ticks: (0..=n)
                .map(|i| {
                    let v = step * f64::from(i);
                    (v, format!("{}{unit}", tick_text(v)))
                })
                .collect(),
            title: title.into(),
        }
    }

    /// A share of the fleet: 0% to 100% by 20%.
    pub fn share_of_fleet() -> Self {
        Self::linear(100.0, "%", "share of the fleet")
    }
}

/// Where everything of a chart is, px: what [`Layout::problems`] checks.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Layout {
    /// Width of the picture.
    pub width: f64,
    /// Height of the picture.
    pub height: f64,
    /// The plot area: data goes here and nowhere else.
    pub plot: Rect,
    /// Each legend item (swatch and name).
    pub legend: Vec<Rect>,
    /// Each text outside the plot: tick labels, axis titles, lane names.
    pub labels: Vec<Rect>,
    /// Each data mark's bounding box (circles include their radius).
    pub marks: Vec<Rect>,
}

impl Layout {
    /// Everything wrong with the geometry, in words; empty when legends stay off the data,
    /// labels stay apart and inside the picture, and data stays inside the plot.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let picture = Rect {
            x: 0.0,
            y: 0.0,
            w: self.width,
            h: self.height,
        };
        for (i, l) in self.legend.iter().enumerate() {
            if l.overlaps(&self.plot) {
                out.push(format!(
                    "legend item {i} {l:?} overlaps the plot {:?}",
                    self.plot
                ));
            }
            if !picture.holds(l, 0.0) {
                out.push(format!("legend item {i} {l:?} leaves the picture"));
            }
            for (j, m) in self.legend.iter().enumerate().skip(i + 1) {
                if l.overlaps(m) {
                    out.push(format!("legend items {i} and {j} overlap"));
                }
            }
        }
        for (i, t) in self.labels.iter().enumerate() {
            if !picture.holds(t, 0.0) {
                out.push(format!("label {i} {t:?} is clipped by the picture"));
            }
            if t.overlaps(&self.plot) {
                out.push(format!("label {i} {t:?} overlaps the plot"));
            }
            if let Some(l) = self.legend.iter().find(|l| l.overlaps(t)) {
                out.push(format!("label {i} {t:?} overlaps legend item {l:?}"));
            }
            for (j, u) in self.labels.iter().enumerate().skip(i + 1) {
                if t.overlaps(u) {
                    out.push(format!("labels {i} {t:?} and {j} {u:?} overlap"));
                }
            }
        }
        for (i, m) in self.marks.iter().enumerate() {
            if !self.plot.holds(m, MARK_RADIUS + 0.01) {
                out.push(format!("mark {i} {m:?} leaves the plot {:?}", self.plot));
            }
        }
        out
    }
}

/// A chart being drawn.
pub struct Chart {
    layout: Layout,
    x: Axis,
    y: Option<Axis>,
    svg: String,
}

impl Chart {
    /// A chart with axes `x` and `y` and a legend of `names` (coloured by [`colour`]).
    pub fn new(x: Axis, y: Axis, names: &[String]) -> Self {
        let left = y
            .ticks
            .iter()
            .map(|(_, t)| text_width(t))
            .fold(0.0, f64::max)
            + 2.0 * PAD
            + FONT * 1.5;
        Self::frame(x, Some(y), names, left, &[])
    }

    /// A chart with time axis `x` and one horizontal lane per name in `lanes` (no y axis).
    pub fn lanes(x: Axis, lanes: &[&str]) -> Self {
        let left = lanes.iter().map(|t| text_width(t)).fold(0.0, f64::max) + 2.0 * PAD;
        Self::frame(x, None, &[], left, lanes)
    }

    fn frame(x: Axis, y: Option<Axis>, names: &[String], left: f64, lanes: &[&str]) -> Self {
        let mut layout = Layout {
            width: WIDTH,
            ..Layout::default()
        };
        let last_tick = x.ticks.last().map_or(0.0, |(_, t)| text_width(t));
        let right = (last_tick / 2.0 + PAD).max(2.0 * PAD);
        // Legend band: items flow left to right over the plot's width and wrap; a name too
        // long for a whole row is shortened with an ellipsis (the full name is its tooltip).
        let room = WIDTH - right - left - SWATCH - 4.0;
        let shown: Vec<String> = names.iter().map(|n| fit(n, room)).collect();
        let (mut lx, mut ly) = (left, PAD);
        for name in &shown {
            let w = SWATCH + 4.0 + text_width(name);
            if lx > left && lx + w > WIDTH - right {
                lx = left;
                ly += LEGEND_ROW;
            }
            layout.legend.push(Rect {
                x: lx,
                y: ly,
                w,
                h: LEGEND_ROW - 2.0,
            });
            lx += w + GAP;
        }
        let band = if names.is_empty() {
            0.0
        } else {
            ly + LEGEND_ROW
        };
        let plot_height = if lanes.is_empty() {
            PLOT_HEIGHT
        } else {
            40.0 * lanes.len() as f64
        };
        // Room above the plot for the top y tick label's upper half.
        layout.plot = Rect {
            x: left,
            y: band + PAD + FONT,
            w: WIDTH - left - right,
            h: plot_height,
        };
        layout.height = layout.plot.bottom() + 2.0 * FONT + 3.0 * PAD;
        let mut c = Self {
            layout,
            x,
            y,
            svg: String::new(),
        };
        c.draw_frame(names, &shown, lanes);
        c
    }

    /// The x pixel of value `v`.
    pub fn px(&self, v: f64) -> f64 {
        let p = &self.layout.plot;
        p.x + p.w * (v / self.x.max.max(1e-9)).clamp(0.0, 1.0)
    }

    /// The y pixel of value `v` (the bottom of the plot without a y axis).
    pub fn py(&self, v: f64) -> f64 {
        let p = &self.layout.plot;
        let max = self.y.as_ref().map_or(1.0, |a| a.max).max(1e-9);
        p.bottom() - p.h * (v / max).clamp(0.0, 1.0)
    }

    /// The vertical centre of lane `i`.
    pub fn lane_y(&self, i: usize) -> f64 {
        self.layout.plot.y + 40.0 * i as f64 + 20.0
    }

    /// The plot area.
    pub fn plot(&self) -> Rect {
        self.layout.plot
    }

    fn text(&mut self, text: &str, x: f64, y: f64, anchor: Anchor, extra: &str) {
        self.layout.labels.push(text_box(text, x, y, anchor));
        let _ = writeln!(
            self.svg,
            "<text x=\"{x:.1}\" y=\"{y:.1}\" text-anchor=\"{}\"{extra}>{}</text>",
            anchor.svg(),
            esc(text)
        );
    }

    fn draw_frame(&mut self, names: &[String], shown: &[String], lanes: &[&str]) {
        let p = self.layout.plot;
        let _ = writeln!(
            self.svg,
            "<rect class=\"plot\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#fff\" stroke=\"#ccc\"/>",
            p.x, p.y, p.w, p.h
        );
        if let Some(y) = self.y.clone() {
            for (v, t) in &y.ticks {
                let py = self.py(*v);
                let _ = writeln!(
                    self.svg,
                    "<line x1=\"{:.1}\" y1=\"{py:.1}\" x2=\"{:.1}\" y2=\"{py:.1}\" stroke=\"#eee\"/>",
                    p.x,
                    p.right()
                );
                self.text(
                    t,
                    p.x - PAD,
                    py + FONT * 0.35,
                    Anchor::End,
                    " class=\"tick\"",
                );
            }
            // The y title, rotated, in the left margin; its box is the rotated one.
            let (tx, ty) = (FONT, p.y + p.h / 2.0);
            let w = text_width(&y.title);
            self.layout.labels.push(Rect {
                x: tx - FONT,
                y: ty - w / 2.0,
                w: FONT * 1.3,
                h: w,
            });
            let _ = writeln!(
                self.svg,
                "<text x=\"{tx:.1}\" y=\"{ty:.1}\" transform=\"rotate(-90 {tx:.1} {ty:.1})\" text-anchor=\"middle\">{}</text>",
                esc(&y.title)
            );
        }
        for (i, lane) in lanes.iter().enumerate() {
            let y = self.lane_y(i);
            self.text(lane, p.x - PAD, y + FONT * 0.35, Anchor::End, "");
        }
        let x = self.x.clone();
        for (v, t) in &x.ticks {
            let px = self.px(*v);
            let _ = writeln!(
                self.svg,
                "<line x1=\"{px:.1}\" y1=\"{:.1}\" x2=\"{px:.1}\" y2=\"{:.1}\" stroke=\"#eee\"/>",
                p.y,
                p.bottom()
            );
            self.text(
                t,
                px,
                p.bottom() + FONT + 4.0,
                Anchor::Middle,
                " class=\"tick\"",
            );
        }
        self.text(
            &x.title,
            p.x + p.w / 2.0,
            p.bottom() + 2.0 * FONT + 2.0 * PAD,
            Anchor::Middle,
            "",
        );
        let _ = writeln!(
            self.svg,
            "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#444\"/>",
            p.x,
            p.bottom(),
            p.right(),
            p.bottom()
        );
        let _ = writeln!(self.svg, "<g class=\"legend\">");
        let items = names.iter().zip(shown).zip(self.layout.legend.clone());
        for (i, ((name, text), r)) in items.enumerate() {
            let _ = writeln!(
                self.svg,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{SWATCH}\" height=\"{SWATCH}\" fill=\"{}\"/><text x=\"{:.1}\" y=\"{:.1}\"><title>{}</title>{}</text>",
                r.x,
                r.y + 2.0,
                colour(i),
                r.x + SWATCH + 4.0,
                r.y + FONT,
                esc(name),
                esc(text)
            );
        }
        let _ = writeln!(self.svg, "</g>");
    }

    fn mark(&mut self, r: Rect) {
        self.layout.marks.push(r);
    }

    /// A line through `points` (data values).
    pub fn line(&mut self, points: &[(f64, f64)], colour: &str) {
        let px: Vec<(f64, f64)> = points
            .iter()
            .map(|&(x, y)| (self.px(x), self.py(y)))
            .collect();
        self.mark_extent(&px);
        let pts: Vec<String> = px.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
        let _ = writeln!(
            self.svg,
            "<polyline class=\"data\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"/>",
            pts.join(" ")
        );
    }

    /// A filled band between `below` and `above` over `xs` (data values).
    pub fn band(&mut self, xs: &[f64], below: &[f64], above: &[f64], colour: &str) {
        let mut px: Vec<(f64, f64)> = xs
            .iter()
            .zip(above)
            .map(|(&x, &y)| (self.px(x), self.py(y)))
            .collect();
        px.extend(
            xs.iter()
                .zip(below)
                .rev()
                .map(|(&x, &y)| (self.px(x), self.py(y))),
        );
        self.mark_extent(&px);
        let pts: Vec<String> = px.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
        let _ = writeln!(
            self.svg,
            "<polygon class=\"data\" fill=\"{colour}\" fill-opacity=\"0.85\" stroke=\"none\" points=\"{}\"/>",
            pts.join(" ")
        );
    }

    /// A bar from value 0 to `y`, `x0` to `x1` wide in pixels.
    pub fn bar(&mut self, x0: f64, x1: f64, y: f64, colour: &str, title: &str) {
        let (top, bottom) = (self.py(y), self.py(0.0));
        self.span(
            Rect {
                x: x0,
                y: top,
                w: (x1 - x0).max(0.5),
                h: bottom - top,
            },
            colour,
            title,
        );
    }

    /// A filled rectangle in pixels, inside the plot.
    pub fn span(&mut self, r: Rect, colour: &str, title: &str) {
        self.mark(r);
        let _ = writeln!(
            self.svg,
            "<rect class=\"data\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{colour}\"><title>{}</title></rect>",
            r.x,
            r.y,
            r.w,
            r.h,
            esc(title)
        );
    }

    /// A dot at x value `x` on pixel row `y`.
    pub fn dot(&mut self, x: f64, y: f64, colour: &str, title: &str) {
        let cx = self.px(x);
        self.mark(Rect {
            x: cx - MARK_RADIUS,
            y: y - MARK_RADIUS,
            w: 2.0 * MARK_RADIUS,
            h: 2.0 * MARK_RADIUS,
        });
        let _ = writeln!(
            self.svg,
            "<circle class=\"data\" cx=\"{cx:.1}\" cy=\"{y:.1}\" r=\"{MARK_RADIUS}\" fill=\"{colour}\"><title>{}</title></circle>",
            esc(title)
        );
    }

    fn mark_extent(&mut self, px: &[(f64, f64)]) {
        if px.is_empty() {
            return;
        }
        let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        for &(x, y) in px {
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
        }
        self.mark(Rect {
            x: x0,
            y: y0,
            w: x1 - x0,
            h: y1 - y0,
        });
    }

    /// The SVG, described by `label` for screen readers, and its geometry.
    pub fn finish(self, label: &str) -> (String, Layout) {
        let (w, h) = (self.layout.width, self.layout.height);
        let svg = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"{}\" width=\"{w}\" height=\"{h:.0}\" viewBox=\"0 0 {w} {h:.0}\" font-size=\"{FONT}\" font-family=\"sans-serif\">\n{}</svg>\n",
            esc(label),
            self.svg
        );
        (svg, self.layout)
    }
}

/// `t` escaped for HTML and SVG text and attributes.
pub fn esc(t: &str) -> String {
    t.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_ticks_fall_on_whole_days() {
        for (span, step) in [
            (0.5, 1),
            (6.0, 1),
            (8.0, 1),
            (9.0, 2),
            (30.0, 5),
            (53.0, 7),
            (70.0, 10),
            (100.0, 14),
            (200.0, 28),
            (1_000.0, 180),
            (5_000.0, 730),
        ] {
            assert_eq!(day_step(span), step, "span {span}");
            let a = Axis::days(span);
            assert!(a.max == span.max(1.0) && a.ticks.len() <= 9, "{a:?}");
            assert!(a.ticks.iter().all(|(v, _)| *v <= a.max), "{a:?}");
            for (v, t) in &a.ticks {
                assert_eq!(v.fract(), 0.0, "{a:?}");
                assert_eq!(*t, format!("{v}"), "{a:?}");
            }
        }
        let a = Axis::days(53.0);
        let labels: Vec<&str> = a.ticks.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(labels, ["0", "7", "14", "21", "28", "35", "42", "49"]);
    }

    #[test]
    fn linear_axes_step_by_one_two_or_five() {
        let a = Axis::linear(34.0, "%", "share");
        let labels: Vec<&str> = a.ticks.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(labels, ["0%", "10%", "20%", "30%", "40%"]);
        assert_eq!(nice_step(100.0, 5), 20.0);
        assert_eq!(nice_step(7.5, 5), 2.0);
        assert_eq!(nice_step(0.3, 5), 0.1);
        assert_eq!(Axis::linear(0.0, "", "x").ticks.len(), 2);
    }

    fn names(n: usize, len: usize) -> Vec<String> {
        (0..n).map(|i| format!("{i} {}", "w".repeat(len))).collect()
    }

    #[test]
    fn legends_wrap_above_the_plot_and_never_cover_it() {
        for (n, len) in [(0, 0), (1, 5), (4, 14), (12, 20), (3, 150)] {
            let mut c = Chart::new(Axis::days(53.0), Axis::share_of_fleet(), &names(n, len));
            c.line(&[(0.0, 100.0), (53.0, 0.0)], colour(0));
            c.band(&[0.0, 53.0], &[0.0, 0.0], &[100.0, 100.0], colour(1));
            let (svg, layout) = c.finish("test");
            assert_eq!(layout.legend.len(), n);
            if len == 150 {
                assert!(
                    svg.contains('\u{2026}') && svg.contains(&"w".repeat(150)),
                    "{svg}"
                );
            }
            assert_eq!(layout.problems(), Vec::<String>::new(), "{n} x {len}");
        }
    }

    #[test]
    fn the_checker_catches_what_it_is_for() {
        let (_, mut layout) =
            Chart::new(Axis::days(10.0), Axis::share_of_fleet(), &names(2, 4)).finish("test");
        let plot = layout.plot;
        let mut bad = layout.clone();
        bad.legend.push(Rect {
            x: plot.x + 5.0,
            y: plot.y + 5.0,
            w: 40.0,
            h: 12.0,
        });
        assert!(
            bad.problems()[0].contains("overlaps the plot"),
            "{:?}",
            bad.problems()
        );
        let mut bad = layout.clone();
        bad.labels.push(Rect {
            x: layout.width - 10.0,
            y: 50.0,
            w: 30.0,
            h: 12.0,
        });
        assert!(
            bad.problems().iter().any(|p| p.contains("clipped")),
            "{:?}",
            bad.problems()
        );
        layout.marks.push(Rect {
            x: plot.right() + 20.0,
            y: plot.y,
            w: 1.0,
            h: 1.0,
        });
        assert!(
            layout
                .problems()
                .iter()
                .any(|p| p.contains("leaves the plot"))
        );
    }

    #[test]
    fn values_beyond_the_axis_stay_in_the_plot() {
        let mut c = Chart::lanes(Axis::days(3.0), &["alerts", "events"]);
        let y = c.lane_y(1);
        c.dot(99.0, y, colour(0), "late");
        c.dot(-1.0, y, colour(0), "early");
        let (svg, layout) = c.finish("lanes");
        assert_eq!(layout.problems(), Vec::<String>::new());
        assert!(svg.contains("<title>late</title>"));
    }
}
