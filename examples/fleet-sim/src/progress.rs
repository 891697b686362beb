//! A progress bar over simulated time, shown only on a terminal and when not quiet.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal as _;

/// Progress over simulated hours.
#[derive(Debug)]
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// A bar expecting about `hours` simulated hours; hidden when `quiet` or stderr is no terminal.
    pub fn new(hours: u64, quiet: bool) -> Self {
        if quiet || !std::io::stderr().is_terminal() {
            return Self::hidden();
        }
        let bar = ProgressBar::with_draw_target(Some(hours), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template("{elapsed:>4} [{bar:40}] day {msg}") {
            bar.set_style(style.progress_chars("=> "));
        }
        Self { bar: Some(bar) }
    }

    /// No output at all.
    pub fn hidden() -> Self {
        Self { bar: None }
    }

    /// Simulated time reached `hour`, in `phase`.
    pub fn at(&self, hour: u32, phase: &str) {
        if let Some(bar) = &self.bar {
            if bar.length().is_some_and(|l| u64::from(hour) > l) {
                bar.set_length(u64::from(hour));
            }
            bar.set_position(u64::from(hour));
            bar.set_message(format!("{}: {phase}", hour / 24));
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
