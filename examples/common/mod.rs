//! What the examples share: their command-line flags and the classifier training loop.
#![allow(dead_code)] // each example uses its own part

use soma::autograd::no_grad;
use soma::data::{DataLoader, Dataset, InMemoryDataset};
use soma::device::{Device, Error, Result};
use soma::nn::{LrScheduler, Module, Optimizer, loss};
use soma::train::{EpochMetrics, EpochProgress, MetricsLogger};

/// `--backend cpu|gpu|best` (default best), `--quick` (a short run for CI), `--epochs N`.
pub struct Args {
    pub device: Device,
    pub quick: bool,
    pub epochs: Option<usize>,
}

impl Args {
    pub fn parse() -> Result<Args> {
        let (mut backend, mut quick, mut epochs) = ("best".to_string(), false, None);
        let mut words = std::env::args().skip(1);
        while let Some(word) = words.next() {
            match word.as_str() {
                "--backend" => backend = words.next().unwrap_or_default(),
                "--quick" => quick = true,
                "--epochs" => {
                    let n = words.next().unwrap_or_default();
                    let count: usize =
                        n.parse().map_err(|_| Error::invalid("--epochs", format!("not a count: {n:?}")))?;
                    if count == 0 {
                        return Err(Error::invalid("--epochs", "must be at least 1, got 0"));
                    }
                    epochs = Some(count);
                }
                other => return Err(Error::invalid("arguments", format!("unknown flag {other:?}"))),
            }
        }
        let args = Args { device: Device::from_name(&backend)?, quick, epochs };
        println!("device: {}", args.device);
        Ok(args)
    }

    /// The first `n` samples of `data` in quick mode (CI runs every example on both backends),
    /// else all of it.
    pub fn subset(&self, data: &InMemoryDataset, n: usize) -> Result<InMemoryDataset> {
        if self.quick { data.select(&(0..n.min(data.len())).collect::<Vec<_>>()) } else { Ok(data.clone()) }
    }

    /// The number of epochs: `--epochs`, else `quick` in quick mode, else `full`.
    pub fn epochs_or(&self, full: usize, quick: usize) -> usize {
        self.epochs.unwrap_or(if self.quick { quick } else { full })
    }
}

/// One pass over `loader`, returning the mean training loss.
pub fn train_epoch<D: Dataset>(
    model: &mut dyn Module,
    optimizer: &mut dyn Optimizer,
    loader: &DataLoader<D>,
    epoch: usize,
    epochs: usize,
) -> Result<f32> {
    model.train(true);
    let mut progress = EpochProgress::new(epoch, epochs, loader.num_batches());
    for batch in loader.epoch(epoch as u64) {
        let batch = batch?;
        let loss = loss::cross_entropy(&model.forward(&batch.inputs)?, &batch.labels)?;
        let grads = loss.backward()?;
        optimizer.step(model, &grads)?;
        progress.update(batch.len(), loss.item()?);
    }
    progress.finish();
    Ok(progress.mean_loss())
}

/// Mean loss and accuracy over `loader`, in eval mode without recording a graph.
pub fn evaluate<D: Dataset>(model: &mut dyn Module, loader: &DataLoader<D>) -> Result<(f32, f32)> {
    model.eval();
    no_grad(|| {
        let (mut loss_sum, mut correct, mut seen) = (0.0, 0.0, 0usize);
        for batch in loader.epoch(0) {
            let batch = batch?;
            let logits = model.forward(&batch.inputs)?;
            let n = batch.len();
            loss_sum += loss::cross_entropy(&logits, &batch.labels)?.item()? * n as f32;
            correct += loss::accuracy(&logits, &batch.labels)? * n as f32;
            seen += n;
        }
        if seen == 0 {
            return Err(Error::invalid("evaluate", "the evaluation split is empty"));
        }
        Ok((loss_sum / seen as f32, correct / seen as f32))
    })
}

/// Trains for `epochs`, evaluating on `test` after each and logging to `runs/<name>/`; the
/// scheduler, if any, sets the learning rate after each epoch. Returns the final test accuracy.
pub fn fit<D: Dataset, T: Dataset>(
    name: &str,
    model: &mut dyn Module,
    optimizer: &mut dyn Optimizer,
    mut schedule: Option<&mut dyn LrScheduler>,
    train: &DataLoader<D>,
    test: &DataLoader<T>,
    epochs: usize,
) -> Result<f32> {
    // Evaluated on the test split each epoch (as PyTorch's MNIST example), and labelled so.
    let mut log = MetricsLogger::new(name)?.held_out("test")?;
    let mut accuracy = 0.0;
    for epoch in 1..=epochs {
        let start = std::time::Instant::now();
        let train_loss = train_epoch(model, optimizer, train, epoch, epochs)?;
        let train_seconds = start.elapsed().as_secs_f32();
        let (val_loss, val_accuracy) = evaluate(model, test)?;
        let seconds = start.elapsed().as_secs_f32();
        accuracy = val_accuracy;
        println!(
            "epoch {epoch:>2}: train loss {train_loss:.4}, test loss {val_loss:.4}, test accuracy {:.2}%, {train_seconds:.2} s training",
            100.0 * val_accuracy
        );
        log.log(EpochMetrics { epoch, train_loss, val_loss, val_accuracy, seconds })?;
        if let Some(schedule) = schedule.as_deref_mut() {
            schedule.step(optimizer);
        }
    }
    println!("metrics, curves and TensorBoard events in {}", log.dir().display());
    Ok(accuracy)
}

/// Fails the run (for CI) when a quick run learned too little.
pub fn require(what: &str, value: f32, at_least: f32) -> Result<()> {
    if value >= at_least {
        Ok(())
    } else {
        Err(Error::invalid("example", format!("{what} is {value}, below the {at_least} a working build reaches")))
    }
}
