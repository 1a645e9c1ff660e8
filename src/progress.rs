//! The progress bar on stderr: shown only when stderr is a terminal and the run has lasted more
//! than a second.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How long a run goes before its bar appears.
const SHOW_AFTER: Duration = Duration::from_secs(1);

/// A lazily shown progress bar over a known number of steps.
pub struct Progress {
    bar: Option<ProgressBar>,
    started: Instant,
    enabled: bool,
    label: String,
}

impl Progress {
    /// A bar labelled `label`; nothing is drawn unless stderr is a terminal.
    pub fn new(label: impl Into<String>) -> Self {
        Self {
            bar: None,
            started: Instant::now(),
            enabled: std::io::stderr().is_terminal(),
            label: label.into(),
        }
    }

    /// Reports `done` of `total` steps.
    pub fn update(&mut self, done: u64, total: u64) {
        if !self.enabled {
            return;
        }
        if self.bar.is_none() && self.started.elapsed() >= SHOW_AFTER {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "{msg} [{elapsed_precise}] {wide_bar} {pos}/{len} ({eta})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar.set_message(self.label.clone());
            self.bar = Some(bar);
        }
        if let Some(bar) = &self.bar {
            bar.set_length(total);
            bar.set_position(done);
        }
    }

    /// Removes the bar, if one was drawn.
    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
