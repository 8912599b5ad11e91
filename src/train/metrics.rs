//! `MetricsLogger`: per-epoch metrics to `runs/<name>/metrics.csv`, a PNG of the curves and a
//! TensorBoard event file, all in the run's folder.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use soma_device::{Error, Result};

use super::fs::write_atomic;
use super::plot::{Panel, Series, plot_panels};
use super::tensorboard::EventWriter;

/// The folder runs are written to, relative to the working directory.
pub const RUNS_DIR: &str = "runs";

/// The CSV header, one column per field of [`EpochMetrics`], for a validation split (see
/// [`MetricsLogger::held_out`] for another).
pub const CSV_HEADER: &str = "epoch,train_loss,val_loss,val_accuracy,seconds";

/// What one epoch measured. Use NaN for a value that was not measured (e.g. no validation set).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochMetrics {
    /// The epoch number, counting from 1.
    pub epoch: usize,
    pub train_loss: f32,
    pub val_loss: f32,
    /// In [0, 1].
    pub val_accuracy: f32,
    /// Wall-clock time of the epoch, its evaluation included.
    pub seconds: f32,
}

/// Writes a run's metrics each epoch: `metrics.csv` (rewritten atomically, so it is always
/// complete), `curves.png` (loss and accuracy curves) and `events.out.tfevents.*`
/// (`tensorboard --logdir runs`).
///
/// ```no_run
/// use soma::train::{EpochMetrics, MetricsLogger};
/// let mut log = MetricsLogger::new("mnist_mlp")?; // runs/mnist_mlp/
/// log.log(EpochMetrics { epoch: 1, train_loss: 0.4, val_loss: 0.3, val_accuracy: 0.91, seconds: 2.5 })?;
/// # Ok::<(), soma::device::Error>(())
/// ```
#[derive(Debug)]
pub struct MetricsLogger {
    dir: PathBuf,
    rows: Vec<EpochMetrics>,
    events: EventWriter,
    /// The split the `val_*` fields were measured on: `val`, or e.g. `test`.
    held_out: &'static str,
}

impl MetricsLogger {
    /// A logger for the run `name`, writing to `runs/<name>/`.
    pub fn new(name: &str) -> Result<Self> {
        if name.is_empty() || name.contains(['/', '\\']) || name == "." || name == ".." {
            return Err(Error::invalid("MetricsLogger::new", format!("run name {name:?} is not a plain folder name")));
        }
        Self::in_dir(Path::new(RUNS_DIR).join(name))
    }

    /// A logger writing to `dir` (created if needed). Event files of an earlier run in `dir` are
    /// removed, as `metrics.csv` and `curves.png` are replaced, so TensorBoard shows one run.
    pub fn in_dir(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(dir.display(), e))?;
        remove_old_event_files(&dir)?;
        let events = EventWriter::create(&dir)?;
        let logger = Self { dir, rows: Vec::new(), events, held_out: "val" };
        write_atomic(&logger.csv_path(), logger.csv().as_bytes())?;
        // An earlier run's curves would stand beside this run's empty CSV until its first epoch.
        match std::fs::remove_file(logger.plot_path()) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(Error::io(logger.plot_path().display(), e));
            }
            _ => {}
        }
        Ok(logger)
    }

    /// Names the split the `val_*` fields are measured on, e.g. `test` when a run evaluates on
    /// the test set each epoch: it becomes the CSV columns (`test_loss`, `test_accuracy`), the
    /// TensorBoard tags (`loss/test`, `accuracy/test`) and the plot's legend, so curves measured
    /// on the test set are not mistaken for validation curves.
    pub fn held_out(mut self, split: &'static str) -> Result<Self> {
        if split.is_empty() || !split.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
            return Err(Error::invalid(
                "MetricsLogger::held_out",
                format!("split name {split:?} is not lowercase letters and underscores"),
            ));
        }
        self.held_out = split;
        write_atomic(&self.csv_path(), self.csv().as_bytes())?;
        Ok(self)
    }

    /// The run's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn csv_path(&self) -> PathBuf {
        self.dir.join("metrics.csv")
    }

    pub fn plot_path(&self) -> PathBuf {
        self.dir.join("curves.png")
    }

    /// The TensorBoard event file.
    pub fn events_path(&self) -> &Path {
        self.events.path()
    }

    /// The epochs logged so far.
    pub fn rows(&self) -> &[EpochMetrics] {
        &self.rows
    }

    /// Records one epoch: rewrites the CSV and the plot, appends TensorBoard scalars
    /// (`loss/train`, `loss/val`, `accuracy/val`, `time/epoch_seconds` at step `epoch`; `val` is
    /// the `held_out` split's name), flushes.
    /// A NaN (not measured) is an empty CSV field, no TensorBoard point and no point in the plot;
    /// an infinity is written to the CSV and TensorBoard, and left out of the plot.
    pub fn log(&mut self, metrics: EpochMetrics) -> Result<()> {
        self.rows.push(metrics);
        write_atomic(&self.csv_path(), self.csv().as_bytes())?;
        let (loss_tag, accuracy_tag) = (format!("loss/{}", self.held_out), format!("accuracy/{}", self.held_out));
        let scalars = [
            ("loss/train", metrics.train_loss),
            (loss_tag.as_str(), metrics.val_loss),
            (accuracy_tag.as_str(), metrics.val_accuracy),
            ("time/epoch_seconds", metrics.seconds),
        ];
        // A diverged loss (inf) is a point TensorBoard shows; only what was not measured is left out.
        let measured: Vec<(&str, f32)> = scalars.into_iter().filter(|(_, v)| !v.is_nan()).collect();
        self.events.add_scalars(metrics.epoch as i64, &measured)?;
        self.events.flush()?;
        self.write_plot()
    }

    /// The CSV text of the epochs logged so far.
    pub fn csv(&self) -> String {
        let split = self.held_out;
        let mut out = format!("epoch,train_loss,{split}_loss,{split}_accuracy,seconds\n");
        for m in &self.rows {
            let _ = writeln!(
                out,
                "{},{},{},{},{}",
                m.epoch,
                csv_number(m.train_loss),
                csv_number(m.val_loss),
                csv_number(m.val_accuracy),
                csv_number(m.seconds)
            );
        }
        out
    }

    /// Draws the loss curves and the held-out split's accuracy side by side into `curves.png`.
    pub fn write_plot(&self) -> Result<()> {
        let curve = |f: fn(&EpochMetrics) -> f32| self.rows.iter().map(|m| (m.epoch as f32, f(m))).collect();
        let held_out = if self.held_out == "val" { "validation" } else { self.held_out };
        let losses = Panel {
            title: "loss".to_string(),
            x_label: "epoch".to_string(),
            series: vec![Series::new("train", curve(|m| m.train_loss)), Series::new(held_out, curve(|m| m.val_loss))],
        };
        let accuracy = Panel {
            title: format!("{held_out} accuracy"),
            x_label: "epoch".to_string(),
            series: vec![Series::new(held_out, curve(|m| m.val_accuracy))],
        };
        plot_panels(self.plot_path(), &[losses, accuracy])
    }
}

/// A CSV field for a value: shortest round-trip decimal, empty when not measured (NaN).
fn csv_number(v: f32) -> String {
    if v.is_nan() { String::new() } else { v.to_string() }
}

fn remove_old_event_files(dir: &Path) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir.display(), e))?;
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with("events.out.tfevents.") {
            std::fs::remove_file(entry.path()).map_err(|e| Error::io(entry.path().display(), e))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_csv_plot_and_events_each_epoch() {
        let dir = std::env::temp_dir().join(format!("soma-metrics-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut log = MetricsLogger::in_dir(&dir).unwrap();
        assert_eq!(std::fs::read_to_string(log.csv_path()).unwrap(), format!("{CSV_HEADER}\n"));
        log.log(EpochMetrics { epoch: 1, train_loss: 0.75, val_loss: 0.5, val_accuracy: 0.875, seconds: 1.5 }).unwrap();
        assert_eq!(
            std::fs::read_to_string(log.csv_path()).unwrap(),
            "epoch,train_loss,val_loss,val_accuracy,seconds\n1,0.75,0.5,0.875,1.5\n"
        );
        log.log(EpochMetrics { epoch: 2, train_loss: 0.25, val_loss: f32::NAN, val_accuracy: 0.9, seconds: 2.0 })
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(log.csv_path()).unwrap(),
            "epoch,train_loss,val_loss,val_accuracy,seconds\n1,0.75,0.5,0.875,1.5\n2,0.25,,0.9,2\n"
        );
        assert_eq!(&std::fs::read(log.plot_path()).unwrap()[..4], b"\x89PNG");
        let events = std::fs::read(log.events_path()).unwrap();
        assert!(events.windows(10).any(|w| w == b"loss/train"));
        // No temporary files are left behind.
        let names: Vec<String> =
            std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        assert_eq!(names.len(), 3, "{names:?}");

        // A new logger in the same folder starts afresh with one event file.
        drop(log);
        let log = MetricsLogger::in_dir(&dir).unwrap();
        assert_eq!(std::fs::read_to_string(log.csv_path()).unwrap(), format!("{CSV_HEADER}\n"));
        let event_files = std::fs::read_dir(&dir)
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with("events.out"))
            .count();
        assert_eq!(event_files, 1);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn run_names_must_be_plain() {
        assert!(MetricsLogger::new("../x").is_err());
        assert!(MetricsLogger::new("").is_err());
    }
}
