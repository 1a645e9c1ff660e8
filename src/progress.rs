//! The progress bar on stderr: shown only when stderr is a terminal, not `--quiet`, and the
//! run has lasted more than a second. It says what it counts (devices settled, replications,
//! plans) and estimates the time left from the rate so far.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How long a run goes before its bar appears.
const SHOW_AFTER: Duration = Duration::from_secs(1);

/// What a bar counts: the words after its `done/total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Target devices in a final state, of the targets of the jobs started so far.
    DevicesSettled,
    /// Replications finished (for `fleetsim plan`, of every plan; its total grows with each
    /// round).
    Replications,
    /// `fleetsim check` cases run, of the budget.
    Cases,
    /// `fleetsim check` shrinking: candidate cases tried.
    ShrinkSteps,
}

impl Unit {
    fn words(self) -> &'static str {
        match self {
            Unit::DevicesSettled => "devices settled",
            Unit::Replications => "replications",
            Unit::Cases => "cases",
            Unit::ShrinkSteps => "shrinking candidates",
        }
    }
}

/// A lazily shown progress bar over a known number of steps.
pub struct Progress {
    bar: Option<ProgressBar>,
    started: Instant,
    enabled: bool,
    label: String,
    unit: Unit,
}

impl Progress {
    /// A bar labelled `label` counting `unit`; nothing is drawn unless stderr is a terminal
    /// and output is not `--quiet`.
    pub fn new(label: impl Into<String>, unit: Unit) -> Self {
        Self {
            bar: None,
            started: Instant::now(),
            enabled: std::io::stderr().is_terminal() && !crate::ui::quiet(),
            label: label.into(),
            unit,
        }
    }

    /// Reports `done` of `total` steps.
    pub fn update(&mut self, done: u64, total: u64) {
        if !self.enabled {
            return;
        }
        if self.bar.is_none() && self.started.elapsed() >= SHOW_AFTER {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            let template = format!(
                "{{msg}} [{{elapsed_precise}}] {{wide_bar}} {{human_pos}}/{{human_len}} {}, {{eta}} left",
                self.unit.words()
            );
            let style = ProgressStyle::with_template(&template)
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

    /// Reports a simulation's progress: devices settled, with the events in the message.
    pub fn simulation(&mut self, p: &fleet_sim::Progress) {
        self.update(p.devices_terminal, p.devices_total);
        if let Some(bar) = &self.bar {
            bar.set_message(format!(
                "{}: {} events",
                self.label,
                indicatif::HumanCount(p.events_processed)
            ));
        }
    }

    /// Removes the bar, if one was drawn.
    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_unit_names_what_it_counts() {
        assert_eq!(Unit::DevicesSettled.words(), "devices settled");
        assert_eq!(Unit::Replications.words(), "replications");
    }
}
