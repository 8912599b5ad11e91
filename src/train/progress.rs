//! A per-epoch progress bar (indicatif) showing the running loss and samples per second; hidden
//! when stdout is not a terminal or when `CI` is set.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Whether progress bars are drawn: stdout is a terminal and `CI` is not set.
pub fn progress_visible() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("CI").is_none()
}

/// The progress of one epoch: batches done, mean loss so far, throughput.
///
/// ```no_run
/// use soma::train::EpochProgress;
/// let mut progress = EpochProgress::new(1, 10, 125);
/// for _batch in 0..125 {
///     progress.update(64, 0.3); // samples in the batch, its loss
/// }
/// let (mean_loss, seconds) = (progress.mean_loss(), progress.elapsed().as_secs_f32());
/// progress.finish();
/// ```
#[derive(Debug)]
pub struct EpochProgress {
    bar: ProgressBar,
    started: Instant,
    samples: u64,
    loss_sum: f64,
}

impl EpochProgress {
    /// A bar for epoch `epoch` of `epochs` (as shown: count from 1) with `batches` steps.
    pub fn new(epoch: usize, epochs: usize, batches: usize) -> Self {
        let target = if progress_visible() { ProgressDrawTarget::stdout() } else { ProgressDrawTarget::hidden() };
        let bar = ProgressBar::with_draw_target(Some(batches as u64), target);
        let style = ProgressStyle::with_template("{prefix} [{bar:30.cyan/blue}] {pos}/{len} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(format!("epoch {epoch}/{epochs}"));
        Self { bar, started: Instant::now(), samples: 0, loss_sum: 0.0 }
    }

    /// Records one finished batch of `samples` samples whose (mean) loss was `loss`.
    pub fn update(&mut self, samples: usize, loss: f32) {
        self.samples += samples as u64;
        self.loss_sum += f64::from(loss) * samples as f64;
        self.bar.set_message(format!("loss {:.4} | {:.0} samples/s", self.mean_loss(), self.samples_per_second()));
        self.bar.inc(1);
    }

    /// The mean loss per sample so far, each batch weighted by its samples, as the evaluation's
    /// (a short last batch counts for what it holds); NaN before the first sample.
    pub fn mean_loss(&self) -> f32 {
        if self.samples == 0 { f32::NAN } else { (self.loss_sum / self.samples as f64) as f32 }
    }

    /// Samples processed per second since the bar was created.
    pub fn samples_per_second(&self) -> f64 {
        self.samples as f64 / self.elapsed().as_secs_f64().max(1e-9)
    }

    /// Samples processed so far.
    pub fn samples(&self) -> u64 {
        self.samples
    }

    /// Time since the bar was created.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Prints a line of text above the bar (or plainly when the bar is hidden).
    pub fn println(&self, line: impl AsRef<str>) {
        if self.bar.is_hidden() {
            println!("{}", line.as_ref());
        } else {
            self.bar.println(line);
        }
    }

    /// Leaves the bar on screen with its final message.
    pub fn finish(&self) {
        self.bar.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracks_mean_loss_and_throughput() {
        let mut p = EpochProgress::new(1, 2, 3);
        assert!(p.mean_loss().is_nan());
        p.update(10, 1.0);
        p.update(10, 2.0);
        p.update(5, 3.0);
        // Per sample: (10 * 1 + 10 * 2 + 5 * 3) / 25, not the mean of the three batches (2).
        assert_eq!(p.mean_loss(), 1.8);
        assert_eq!(p.samples(), 25);
        assert!(p.samples_per_second() > 0.0);
        p.finish();
    }
}
