//! Checkpoints as safetensors files, readable by Python's `safetensors`.
//!
//! A model file holds one F32 little-endian tensor per parameter or buffer, named by its path
//! (`"0.weight"`) with its shape as-is. An optimizer's state goes in a second file: its tensors are
//! named `"<param path>.<slot>"` (`"0.weight.exp_avg"`) and its kind, learning rate and step counts
//! are the file's `__metadata__` (see `StateDict`). Files are written atomically (a temporary file
//! in the same directory, fsync, rename) and loaded strictly: missing, extra or mis-shaped tensors
//! are errors that name them, and a corrupt or truncated file is an `Error::Format` naming the file.
//! PyTorch's BatchNorm batch counters (`*.num_batches_tracked`, int64) are skipped when reading:
//! Soma's BatchNorm always averages with its momentum, so it has no counter (PyTorch fills in a
//! missing counter when it loads Soma's files).

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use soma_autograd::Tensor;
use soma_device::{Error, Result};

use crate::{LrScheduler, Module, Optimizer, Param, StateDict};

/// Writes every parameter and buffer of `model` (values read back from its device).
pub fn save(model: &dyn Module, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let mut tensors = BTreeMap::new();
    for (name, param) in model.named_params() {
        if tensors.insert(name.clone(), param.get()).is_some() {
            return Err(Error::invalid("save", format!("two parameters are named {name}")));
        }
    }
    write_tensors(path, &tensors, HashMap::new())
}

/// Replaces every parameter and buffer of `model` by the tensor of the same name in the file,
/// uploaded to the parameter's device. Nothing is changed unless every name and shape matches.
pub fn load(model: &dyn Module, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let (mut file, _) = read_tensors(path)?;
    let params = model.named_params();
    let mut problems = Problems::default();
    for (name, param) in &params {
        let want = param.get().dims().to_vec();
        match file.get(name) {
            None => problems.names.push(format!("missing {name} (shape {want:?} in the model)")),
            Some(t) if t.shape != want => {
                problems.shapes.push(format!("{name} has shape {:?} in the file but {want:?} in the model", t.shape))
            }
            Some(_) => {}
        }
    }
    for (name, t) in &file {
        if !params.iter().any(|(n, _)| n == name) {
            problems.names.push(format!("unexpected {name} (shape {:?}; not in the model)", t.shape));
        }
    }
    problems.check("load", path)?;
    let values = params
        .iter()
        .map(|(name, param)| {
            let t = file.remove(name).unwrap_or_default();
            Tensor::from_vec(t.values, t.shape, param.get().device())
        })
        .collect::<Result<Vec<_>>>()?;
    for ((_, param), value) in params.iter().zip(values) {
        param.set(value);
    }
    Ok(())
}

/// Writes `optimizer.state_dict()`: its tensors, and its text values as the file's metadata.
pub fn save_optimizer(optimizer: &dyn Optimizer, path: impl AsRef<Path>) -> Result<()> {
    let state = optimizer.state_dict();
    write_tensors(path.as_ref(), &state.tensors, state.meta.into_iter().collect())
}

/// Restores an optimizer saved by `save_optimizer` for `model`: each state tensor must belong to a
/// trainable parameter of `model` and have its shape; it is uploaded to that parameter's device.
pub fn load_optimizer(optimizer: &mut dyn Optimizer, model: &dyn Module, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let (file, meta) = read_tensors(path)?;
    let params: HashMap<String, Param> = model.named_params().into_iter().filter(|(_, p)| p.is_trainable()).collect();
    let mut problems = Problems::default();
    let mut state = StateDict { tensors: BTreeMap::new(), meta: meta.into_iter().collect() };
    for (name, t) in file {
        let param = name.rsplit_once('.').and_then(|(path, _)| params.get(path));
        let Some(param) = param else {
            problems.names.push(format!("unexpected {name} (shape {:?}; no such trainable parameter)", t.shape));
            continue;
        };
        let value = param.get();
        if t.shape != value.dims() {
            problems.shapes.push(format!(
                "{name} has shape {:?} in the file but the parameter has {:?}",
                t.shape,
                value.dims()
            ));
            continue;
        }
        state.tensors.insert(name, Tensor::from_vec(t.values, t.shape, value.device())?);
    }
    problems.check("load_optimizer", path)?;
    optimizer.load_state_dict(state)
}

/// Writes a learning-rate schedule's `state_dict` (kind, base rate, epoch) as the metadata of a
/// safetensors file without tensors, to resume it with `load_schedule`.
pub fn save_schedule(schedule: &dyn LrScheduler, path: impl AsRef<Path>) -> Result<()> {
    write_tensors(path.as_ref(), &BTreeMap::new(), schedule.state_dict().into_iter().collect())
}

/// Restores a schedule saved by `save_schedule` (of the same kind) and gives `optimizer` the rate
/// of the saved epoch; the next `step` continues where the saved run stopped.
pub fn load_schedule(
    schedule: &mut dyn LrScheduler,
    optimizer: &mut dyn Optimizer,
    path: impl AsRef<Path>,
) -> Result<()> {
    let path = path.as_ref();
    let (tensors, meta) = read_tensors(path)?;
    if let Some(name) = tensors.keys().next() {
        return Err(Error::format(path.display(), format!("a schedule file holds no tensors, found {name}")));
    }
    schedule
        .load_state_dict(&meta.into_iter().collect(), optimizer)
        .map_err(|e| Error::format(path.display(), e.to_string()))
}

/// A tensor as read from a file.
#[derive(Default)]
struct FileTensor {
    shape: Vec<usize>,
    values: Vec<f32>,
}

/// Name and shape mismatches, reported together.
#[derive(Default)]
struct Problems {
    names: Vec<String>,
    shapes: Vec<String>,
}

impl Problems {
    /// A shape error if any shape differs, else an invalid-argument error if any name differs.
    fn check(self, op: &'static str, path: &Path) -> Result<()> {
        if self.names.is_empty() && self.shapes.is_empty() {
            return Ok(());
        }
        let all = [self.shapes.as_slice(), self.names.as_slice()].concat().join("; ");
        let msg = format!("{}: {all}", path.display());
        Err(if self.shapes.is_empty() { Error::invalid(op, msg) } else { Error::shape(op, msg) })
    }
}

fn read_tensors(path: &Path) -> Result<(BTreeMap<String, FileTensor>, HashMap<String, String>)> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path.display(), e))?;
    let corrupt =
        |e: safetensors::SafeTensorError| Error::format(path.display(), format!("not a valid safetensors file ({e})"));
    let (_, metadata) = SafeTensors::read_metadata(&bytes).map_err(corrupt)?;
    let file = SafeTensors::deserialize(&bytes).map_err(corrupt)?;
    let mut tensors = BTreeMap::new();
    for (name, view) in file.iter() {
        if name.rsplit('.').next() == Some("num_batches_tracked") {
            continue;
        }
        if view.dtype() != Dtype::F32 {
            return Err(Error::format(
                path.display(),
                format!("tensor {name} is {:?}; Soma reads F32 tensors only", view.dtype()),
            ));
        }
        let values = view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        tensors.insert(name.to_string(), FileTensor { shape: view.shape().to_vec(), values });
    }
    Ok((tensors, metadata.metadata().clone().unwrap_or_default()))
}

fn write_tensors(path: &Path, tensors: &BTreeMap<String, Tensor>, metadata: HashMap<String, String>) -> Result<()> {
    let bytes: Vec<(&String, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(name, t)| {
            let data = t.to_vec()?.iter().flat_map(|v| v.to_le_bytes()).collect();
            Ok((name, t.dims().to_vec(), data))
        })
        .collect::<Result<_>>()?;
    let views = bytes
        .iter()
        .map(|(name, shape, data)| Ok((name.as_str(), TensorView::new(Dtype::F32, shape.clone(), data)?)))
        .collect::<Result<Vec<_>, safetensors::SafeTensorError>>()
        .and_then(|views| safetensors::serialize(views, (!metadata.is_empty()).then_some(metadata)))
        .map_err(|e| Error::format(path.display(), format!("cannot encode safetensors: {e}")))?;
    write_atomically(path, &views)
}

/// Writes `bytes` to a temporary file beside `path`, syncs it, and renames it over `path`, so a
/// crash leaves either the old file or the new one, never a partial one. The temporary file is
/// created new (never opened if it exists), under a name of the process id, a per-process count
/// and the clock, so writers in other processes, even ones sharing a pid across containers, never
/// share it.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let io = |e: std::io::Error| Error::io(path.display(), e);
    let file_name = path.file_name().ok_or_else(|| Error::io(path.display(), "not a file path"))?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let (tmp, mut file) = loop {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let unique = format!("{}.{}.{nanos}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
        let tmp = dir.join(format!(".{}.{unique}.tmp", file_name.to_string_lossy()));
        match File::options().write(true).create_new(true).open(&tmp) {
            Ok(file) => break (tmp, file),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io(e)),
        }
    };
    let written = file.write_all(bytes).and_then(|_| file.sync_all()).and_then(|_| std::fs::rename(&tmp, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(e));
    }
    // Persist the rename itself; not every platform or filesystem can sync a directory.
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}
