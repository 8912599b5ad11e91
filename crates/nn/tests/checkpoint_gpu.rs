//! Checkpoints of GPU models: values are read back to the file and uploaded back to the device;
//! a GPU checkpoint loads into a CPU model and the other way round.

mod optim_support;

use optim_support::*;
use soma_autograd::Device;
use soma_device::testing::gpu;
use soma_nn::checkpoint::{load, load_optimizer, save, save_optimizer};
use soma_nn::*;

fn scratch(test: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("soma-checkpoint-gpu-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn gpu_model_round_trips_through_a_file_and_across_devices() {
    let dir = scratch("model");
    let path = dir.join("model.safetensors");
    let gpu = gpu();
    let trained = mlp(&gpu);
    train(&trained, &mut Sgd::new(0.1).momentum(0.9), 3);
    save(&trained, &path).unwrap();

    let on_cpu = mlp(&Device::cpu());
    load(&on_cpu, &path).unwrap();
    assert_eq!(snapshot(&on_cpu), snapshot(&trained));

    let on_gpu = mlp(&gpu);
    train(&on_gpu, &mut Sgd::new(0.5), 1);
    save(&on_cpu, &path).unwrap();
    load(&on_gpu, &path).unwrap();
    assert_eq!(snapshot(&on_gpu), snapshot(&trained));
    assert!(on_gpu.named_params().iter().all(|(_, p)| p.get().device().is_gpu()));
}

#[test]
fn gpu_optimizer_state_resumes_exactly() {
    let dir = scratch("optimizer");
    let (model_path, opt_path) = (dir.join("model.safetensors"), dir.join("rmsprop.safetensors"));
    let gpu = gpu();
    let uninterrupted = mlp(&gpu);
    let mut opt = RmsProp::new(0.01).momentum(0.5);
    train(&uninterrupted, &mut opt, 3);
    save(&uninterrupted, &model_path).unwrap();
    save_optimizer(&opt, &opt_path).unwrap();

    let resumed = mlp(&gpu);
    let mut fresh = RmsProp::new(0.01).momentum(0.5);
    load(&resumed, &model_path).unwrap();
    load_optimizer(&mut fresh, &resumed, &opt_path).unwrap();
    assert!(fresh.state_dict().tensors.values().all(|t| t.device().is_gpu()));
    train(&uninterrupted, &mut opt, 2);
    train(&resumed, &mut fresh, 2);
    assert_eq!(snapshot(&uninterrupted), snapshot(&resumed));
}
