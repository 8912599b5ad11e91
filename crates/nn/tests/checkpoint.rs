//! Checkpoints on the CPU: round trips, strict loading, corrupt and truncated files, atomic
//! writes, optimizer state, and interchange with Python's `safetensors` + numpy.

mod optim_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use optim_support::*;
use soma_autograd::{Device, Rng};
use soma_device::Error;
use soma_nn::checkpoint::{load, load_optimizer, load_schedule, save, save_optimizer, save_schedule};
use soma_nn::*;

/// A fresh, empty directory for one test.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("soma-checkpoint-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A tanh MLP followed by batch norm: trainable parameters and running-statistics buffers.
fn model(seed: u64) -> Sequential {
    let cpu = Device::cpu();
    let mut rng = Rng::new(seed);
    Sequential::new()
        .add(Linear::new(3, 4, &cpu, &mut rng).unwrap())
        .add(Tanh::new())
        .add(Linear::new(4, 2, &cpu, &mut rng).unwrap())
        .add(BatchNorm1d::new(2, &cpu).unwrap())
}

#[test]
fn round_trip_restores_every_parameter_and_buffer() {
    let dir = scratch("round_trip");
    let path = dir.join("model.safetensors");
    let mut trained = model(1);
    train(&trained, &mut Adam::new(0.01), 3); // moves the batch-norm running statistics too
    trained.eval();
    save(&trained, &path).unwrap();
    let restored = model(2);
    assert_ne!(snapshot(&trained), snapshot(&restored));
    load(&restored, &path).unwrap();
    assert_eq!(snapshot(&trained), snapshot(&restored));
    let names: Vec<String> = snapshot(&restored).into_iter().map(|(n, _)| n).collect();
    assert!(names.contains(&"3.running_mean".to_string()) && names.contains(&"0.weight".to_string()), "{names:?}");
    // Loaded parameters are still trainable leaves.
    assert!(restored.parameters().iter().all(|p| p.get().is_requires_grad()));
    // No temporary file is left behind.
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
}

#[test]
fn loading_is_strict_and_all_or_nothing() {
    let dir = scratch("strict");
    let cpu = Device::cpu();
    let path = dir.join("small.safetensors");
    let small = Sequential::new().add(Linear::new(3, 4, &cpu, &mut Rng::new(1)).unwrap());
    save(&small, &path).unwrap();

    // Mis-shaped: both shapes named.
    let wide = Sequential::new().add(Linear::new(5, 4, &cpu, &mut Rng::new(1)).unwrap());
    let before = snapshot(&wide);
    let err = load(&wide, &path).unwrap_err();
    assert!(matches!(err, Error::Shape { op: "load", .. }), "{err}");
    assert_eq!(
        err.to_string(),
        format!("load: {}: 0.weight has shape [4, 3] in the file but [4, 5] in the model", path.display())
    );
    assert_eq!(snapshot(&wide), before);

    // Missing and extra names.
    let no_bias = Sequential::new().add(Linear::with_bias(3, 4, false, &cpu, &mut Rng::new(1)).unwrap());
    let err = load(&no_bias, &path).unwrap_err();
    assert_eq!(err.to_string(), format!("load: {}: unexpected 0.bias (shape [4]; not in the model)", path.display()));
    save(&no_bias, &path).unwrap();
    let err = load(&small, &path).unwrap_err();
    assert!(matches!(err, Error::Invalid { op: "load", .. }), "{err}");
    assert!(err.to_string().ends_with("missing 0.bias (shape [4] in the model)"), "{err}");

    let err = load(&small, dir.join("nothing-here.safetensors")).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
}

/// Loads `bytes` as a checkpoint and expects a format error naming the file.
#[track_caller]
fn assert_format_error(dir: &Path, bytes: &[u8], what: &str) {
    let path = dir.join("broken.safetensors");
    std::fs::write(&path, bytes).unwrap();
    let target = model(3);
    let before = snapshot(&target);
    match load(&target, &path) {
        Err(Error::Format { path: p, msg }) => assert_eq!(p, path.display().to_string(), "{what}: {msg}"),
        other => panic!("{what}: expected a format error, got {other:?}"),
    }
    assert_eq!(snapshot(&target), before, "{what}");
}

#[test]
fn corrupt_and_truncated_files_are_format_errors() {
    let dir = scratch("corrupt");
    let path = dir.join("model.safetensors");
    save(&model(1), &path).unwrap();
    let good = std::fs::read(&path).unwrap();
    let header_len = u64::from_le_bytes(good[..8].try_into().unwrap()) as usize;
    assert!(good.len() > 8 + header_len, "the file has a data section");

    for cut in [0, 1, 7, 8, 9, 8 + header_len / 2, 8 + header_len - 1, 8 + header_len, good.len() - 5, good.len() - 1] {
        assert_format_error(&dir, &good[..cut], &format!("truncated to {cut} bytes"));
    }
    let mut longer = good.clone();
    longer.extend([0; 4]);
    assert_format_error(&dir, &longer, "trailing bytes");

    for (len, what) in [
        (0, "zero header length"),
        (header_len as u64 - 1, "header length one short"),
        (header_len as u64 + 1, "header length one long"),
        (u64::MAX, "huge header length"),
        (good.len() as u64 * 4, "header length past the end"),
    ] {
        let mut bytes = good.clone();
        bytes[..8].copy_from_slice(&len.to_le_bytes());
        assert_format_error(&dir, &bytes, what);
    }

    for (offset, byte, what) in [
        (8, b'[', "header is not an object"),
        (8 + header_len / 2, 0xff, "invalid UTF-8 in the header"),
        (8 + good[8..].iter().position(|&b| b == b':').unwrap(), b',', "broken JSON in the header"),
    ] {
        let mut bytes = good.clone();
        bytes[offset] = byte;
        assert_format_error(&dir, &bytes, what);
    }
    // A header whose JSON is valid but whose offsets do not cover the data.
    let text = String::from_utf8(good[8..8 + header_len].to_vec()).unwrap();
    let shifted = text.replacen("\"data_offsets\":[0,", "\"data_offsets\":[4,", 1);
    assert_ne!(text, shifted);
    let mut bytes = good.clone();
    bytes[8..8 + header_len].copy_from_slice(shifted.as_bytes());
    assert_format_error(&dir, &bytes, "offsets that overlap");
    assert_format_error(&dir, b"not a safetensors file at all, just text", "text file");
}

#[test]
fn saving_replaces_the_file_atomically_and_reports_io_errors() {
    let dir = scratch("atomic");
    let path = dir.join("model.safetensors");
    std::fs::write(&path, b"old contents").unwrap();
    save(&model(1), &path).unwrap();
    load(&model(2), &path).unwrap();
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "no temporary file left");
    let err = save(&model(1), dir.join("no-such-dir").join("model.safetensors")).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "no temporary file left after a failure");
}

#[test]
fn optimizer_state_round_trip_resumes_training_exactly() {
    let dir = scratch("optimizer");
    let (model_path, opt_path) = (dir.join("model.safetensors"), dir.join("adam.safetensors"));
    let uninterrupted = mlp(&Device::cpu());
    let mut adam = Adam::new(0.01).weight_decay(0.01);
    train(&uninterrupted, &mut adam, 3);
    save(&uninterrupted, &model_path).unwrap();
    adam.set_learning_rate(0.005);
    save_optimizer(&adam, &opt_path).unwrap();

    let resumed = mlp(&Device::cpu());
    let mut fresh = Adam::new(0.01).weight_decay(0.01);
    load(&resumed, &model_path).unwrap();
    load_optimizer(&mut fresh, &resumed, &opt_path).unwrap();
    assert_eq!(fresh.learning_rate(), 0.005);
    train(&uninterrupted, &mut adam, 2);
    train(&resumed, &mut fresh, 2);
    assert_eq!(snapshot(&uninterrupted), snapshot(&resumed));

    // Strict: another kind of optimizer, or a model with other shapes.
    let err = load_optimizer(&mut Sgd::new(0.1), &resumed, &opt_path).unwrap_err();
    assert!(err.to_string().contains("not \"sgd\""), "{err}");
    let cpu = Device::cpu();
    let other = Sequential::new().add(Linear::new(3, 5, &cpu, &mut Rng::new(1)).unwrap());
    let err = load_optimizer(&mut Adam::new(0.01), &other, &opt_path).unwrap_err();
    assert!(matches!(err, Error::Shape { op: "load_optimizer", .. }), "{err}");
    assert!(
        err.to_string().contains("0.weight.exp_avg has shape [4, 3] in the file but the parameter has [5, 3]"),
        "{err}"
    );
    assert!(err.to_string().contains("unexpected 2.bias.exp_avg"), "{err}");
}

/// Runs a Python script; fails (never skips) with a clear message if Python or its packages are missing.
fn python(script: &str) -> String {
    let out = Command::new("python3").arg("-c").arg(script).output().unwrap_or_else(|e| {
        panic!("this test needs python3 with safetensors and numpy (pip install safetensors numpy): {e}")
    });
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "python3 failed{}:\n{stderr}",
        if stderr.contains("ModuleNotFoundError") { " (run: pip install safetensors numpy)" } else { "" }
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Writes `arrays` (a Python dict of NumPy arrays, `np` imported) to `path` with Python's
/// `safetensors.numpy.save_file`.
fn python_save_file(path: &Path, arrays: &str) {
    let path = path.display().to_string();
    python(&format!("from safetensors.numpy import save_file\nimport numpy as np\nsave_file({arrays}, {path:?})\n"));
}

#[test]
fn python_safetensors_reads_what_soma_writes() {
    let dir = scratch("python_reads");
    let path = dir.join("model.safetensors");
    let m = model(5);
    save(&m, &path).unwrap();
    let printed = python(&format!(
        r#"
from safetensors.numpy import load_file
import numpy as np
for name, a in sorted(load_file({path:?}).items()):
    assert a.dtype == np.float32, a.dtype
    print(name, list(a.shape), " ".join(repr(float(v)) for v in a.ravel()))
"#,
        path = path.display().to_string()
    ));
    let mut want = snapshot(&m);
    want.sort_by(|a, b| a.0.cmp(&b.0));
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines.len(), want.len(), "{printed}");
    let params: std::collections::HashMap<_, _> = m.named_params().into_iter().collect();
    for (line, (name, values)) in lines.iter().zip(&want) {
        let (got_name, rest) = line.split_once(' ').unwrap();
        let (shape, numbers) = rest.split_once("] ").unwrap();
        assert_eq!(got_name, name);
        assert_eq!(format!("{shape}]"), format!("{:?}", params[name].get().dims()));
        let got: Vec<f32> = numbers.split(' ').map(|v| v.parse().unwrap()).collect();
        assert_eq!(&got, values, "{name}: exact f32 values");
    }
}

#[test]
fn soma_reads_what_python_safetensors_writes() {
    let dir = scratch("python_writes");
    let path = dir.join("from_python.safetensors");
    python_save_file(
        &path,
        r#"{"0.weight": np.arange(12, dtype=np.float32).reshape(4, 3) / 8,
            "0.bias": np.array([1.5, -2.0, 0.25, 1e-3], dtype=np.float32)}"#,
    );
    let cpu = Device::cpu();
    let m = Sequential::new().add(Linear::new(3, 4, &cpu, &mut Rng::new(1)).unwrap());
    load(&m, &path).unwrap();
    let want_w: Vec<f32> = (0..12).map(|i| i as f32 / 8.0).collect();
    assert_eq!(snapshot(&m), [("0.weight".to_string(), want_w), ("0.bias".to_string(), vec![1.5, -2.0, 0.25, 1e-3])]);

    // Python's float64 arrays are not silently converted.
    python_save_file(&path, r#"{"0.weight": np.zeros((4, 3)), "0.bias": np.zeros(4, dtype=np.float32)}"#);
    let err = load(&m, &path).unwrap_err();
    assert!(matches!(err, Error::Format { .. }) && err.to_string().contains("0.weight is F64"), "{err}");
}

#[test]
fn a_pytorch_batch_norm_checkpoint_loads_without_its_batch_counter() {
    // torch's BatchNorm1d(4).state_dict() layout, with its int64 num_batches_tracked.
    let dir = scratch("python_batch_norm");
    let path = dir.join("bn.safetensors");
    python_save_file(
        &path,
        r#"{"0.weight": np.array([1, 2, 3, 4], dtype=np.float32),
            "0.bias": np.array([0.5, 0, 0, -0.5], dtype=np.float32),
            "0.running_mean": np.array([0.1, 0.2, 0.3, 0.4], dtype=np.float32),
            "0.running_var": np.array([1, 1, 2, 2], dtype=np.float32),
            "0.num_batches_tracked": np.array(7, dtype=np.int64)}"#,
    );
    let m = Sequential::new().add(BatchNorm1d::new(4, &Device::cpu()).unwrap());
    load(&m, &path).unwrap();
    let got: std::collections::HashMap<_, _> = snapshot(&m).into_iter().collect();
    assert_eq!(got["0.running_var"], [1.0, 1.0, 2.0, 2.0]);
    assert_eq!(got["0.bias"], [0.5, 0.0, 0.0, -0.5]);
}

#[test]
fn python_safetensors_reads_optimizer_state_and_metadata() {
    let dir = scratch("python_optimizer");
    let path = dir.join("adam.safetensors");
    let m = mlp(&Device::cpu());
    let mut adam = Adam::new(0.01);
    train(&m, &mut adam, 2);
    save_optimizer(&adam, &path).unwrap();
    let printed = python(&format!(
        r#"
from safetensors import safe_open
with safe_open({path:?}, "np") as f:
    meta = f.metadata()
    print(meta["optimizer"], meta["lr"], meta["0.weight.step"], list(f.get_tensor("0.weight.exp_avg").shape))
    print(" ".join(repr(float(v)) for v in f.get_tensor("2.bias.exp_avg_sq").ravel()))
"#,
        path = path.display().to_string()
    ));
    let mut lines = printed.lines();
    assert_eq!(lines.next(), Some("adam 0.01 2 [4, 3]"));
    let got: Vec<f32> = lines.next().unwrap().split(' ').map(|v| v.parse().unwrap()).collect();
    assert_eq!(got, adam.state_dict().tensors["2.bias.exp_avg_sq"].to_vec().unwrap());
}

#[test]
fn a_schedule_resumes_from_its_file_not_from_the_annealed_rate() {
    let dir = scratch("schedule");
    let path = dir.join("schedule.safetensors");
    let mut opt = Adam::new(2e-3);
    let mut schedule = CosineAnnealingLR::new(&opt, 15, 0.0).unwrap();
    for _ in 0..7 {
        schedule.step(&mut opt);
    }
    save_schedule(&schedule, &path).unwrap();
    let want: Vec<f32> = (8..=15).map(|_| schedule.step(&mut opt)).collect();

    // A resumed run: the optimizer's rate comes back annealed (as load_optimizer restores it), so a
    // schedule built from it starts from the wrong base until its state is loaded.
    let mut resumed_opt = Adam::new(2e-3);
    resumed_opt.set_learning_rate(CosineAnnealingLR::new(&Adam::new(2e-3), 15, 0.0).unwrap().lr_at(7));
    // Built with other settings too: the saved ones (t_max 15, eta_min 0) replace them, as torch.
    let mut resumed = CosineAnnealingLR::new(&resumed_opt, 10, 0.5).unwrap();
    load_schedule(&mut resumed, &mut resumed_opt, &path).unwrap();
    assert_eq!((resumed.epoch(), resumed_opt.learning_rate()), (7, resumed.lr_at(7)));
    let got: Vec<f32> = (8..=15).map(|_| resumed.step(&mut resumed_opt)).collect();
    assert_eq!(got, want);
    assert!(got[7].abs() < 1e-9, "annealed to 0 at t_max: {got:?}");

    // Another kind of schedule, or a model file, is refused naming the file.
    let mut step = StepLR::new(&opt, 3, 0.5).unwrap();
    let err = load_schedule(&mut step, &mut opt, &path).unwrap_err().to_string();
    assert!(
        err.contains("schedule.safetensors") && err.contains("StepLR: the saved state is of a CosineAnnealingLR"),
        "{err}"
    );
    let model_file = dir.join("model.safetensors");
    save(&model(1), &model_file).unwrap();
    let err = load_schedule(&mut step, &mut opt, &model_file).unwrap_err().to_string();
    assert!(err.contains("a schedule file holds no tensors"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}
