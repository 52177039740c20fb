//! Progress of long jobs: a bar on a terminal, plain lines otherwise.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

/// Reports the phases of a job on standard error.
pub struct Progress {
    mode: Mode,
    bar: std::sync::Mutex<Option<ProgressBar>>,
}

enum Mode {
    Silent,
    Lines,
    Bar,
}

impl Progress {
    /// A bar when standard error is a terminal, plain lines otherwise.
    pub fn for_stderr() -> Self {
        let mode = if std::io::stderr().is_terminal() {
            Mode::Bar
        } else {
            Mode::Lines
        };
        Self {
            mode,
            bar: std::sync::Mutex::new(None),
        }
    }

    /// Reports nothing (library callers and tests).
    pub fn silent() -> Self {
        Self {
            mode: Mode::Silent,
            bar: std::sync::Mutex::new(None),
        }
    }

    /// Starts a phase of `total` steps.
    pub fn phase(&self, what: &str, total: u64) {
        self.finish();
        match self.mode {
            Mode::Silent => {}
            Mode::Lines => eprintln!("{what}: {total}"),
            Mode::Bar => {
                let bar = ProgressBar::new(total);
                bar.set_style(
                    ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} ({eta})")
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> "),
                );
                bar.set_message(what.to_owned());
                if let Ok(mut slot) = self.bar.lock() {
                    *slot = Some(bar);
                }
            }
        }
    }

    /// Advances the current phase.
    pub fn advance(&self, steps: u64) {
        if let Ok(slot) = self.bar.lock()
            && let Some(bar) = slot.as_ref()
        {
            bar.inc(steps);
        }
    }

    /// Ends the current phase.
    pub fn finish(&self) {
        if let Ok(mut slot) = self.bar.lock()
            && let Some(bar) = slot.take()
        {
            bar.finish_and_clear();
        }
    }
}
