//! Training utilities: a per-epoch progress bar, a metrics logger (CSV, PNG curves, TensorBoard
//! events) and line plots.

mod crc;
mod fs;
mod metrics;
mod plot;
mod png;
mod progress;
mod tensorboard;

pub use fs::write_atomic;
pub use metrics::{CSV_HEADER, EpochMetrics, MetricsLogger, RUNS_DIR};
pub use plot::{Panel, Series, plot_curves, plot_panels, plot_xy};
pub use progress::{EpochProgress, progress_visible};
pub use tensorboard::EventWriter;
