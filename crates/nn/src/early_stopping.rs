//! Early stopping: stop training when a validation metric has not improved for a while.

use soma_device::{Error, Result};

/// Whether a smaller metric is better (a loss) or a larger one (an accuracy).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Min,
    Max,
}

/// Tracks the best metric; `should_stop` turns true after `patience` epochs in a row without an
/// improvement of more than `min_delta`. A NaN metric never improves.
#[derive(Clone, Debug)]
pub struct EarlyStopping {
    patience: usize,
    min_delta: f32,
    mode: Mode,
    best: Option<(f32, usize)>,
    epochs_seen: usize,
    epochs_without_improvement: usize,
}

impl EarlyStopping {
    /// `min_delta` counts by its magnitude and must be finite (with NaN nothing would improve);
    /// `patience` 0 is treated as 1.
    pub fn new(patience: usize, min_delta: f32, mode: Mode) -> Result<EarlyStopping> {
        if !min_delta.is_finite() {
            return Err(Error::invalid("EarlyStopping", format!("min_delta must be finite, got {min_delta}")));
        }
        Ok(EarlyStopping {
            patience,
            min_delta: min_delta.abs(),
            mode,
            best: None,
            epochs_seen: 0,
            epochs_without_improvement: 0,
        })
    }

    /// Records the metric of the next epoch and says whether to stop. Epochs count from 1, as
    /// `MetricsLogger` and the examples number them.
    pub fn should_stop(&mut self, metric: f32) -> bool {
        self.epochs_seen += 1;
        let epoch = self.epochs_seen;
        if self.is_improvement(metric) {
            self.best = Some((metric, epoch));
            self.epochs_without_improvement = 0;
        } else {
            self.epochs_without_improvement += 1;
        }
        self.epochs_without_improvement >= self.patience.max(1)
    }

    /// Whether `metric` would beat the best so far by more than `min_delta`.
    pub fn is_improvement(&self, metric: f32) -> bool {
        if metric.is_nan() {
            return false;
        }
        match (self.best, self.mode) {
            (None, _) => true,
            (Some((best, _)), Mode::Min) => metric < best - self.min_delta,
            (Some((best, _)), Mode::Max) => metric > best + self.min_delta,
        }
    }

    /// Whether the last recorded metric was a new best (e.g. to save a checkpoint).
    pub fn improved(&self) -> bool {
        self.epochs_seen > 0 && self.epochs_without_improvement == 0
    }
    /// The best metric so far.
    pub fn best(&self) -> Option<f32> {
        self.best.map(|(metric, _)| metric)
    }
    /// The epoch (counted from 1) of the best metric.
    pub fn best_epoch(&self) -> Option<usize> {
        self.best.map(|(_, epoch)| epoch)
    }
    /// Epochs in a row without improvement.
    pub fn epochs_without_improvement(&self) -> usize {
        self.epochs_without_improvement
    }
}
