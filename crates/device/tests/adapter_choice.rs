//! Adapter choice through `WGPU_ADAPTER_NAME`, checked in child processes (the context is opened
//! once per process): a name no adapter has gives `Error::NoAdapter` on every call, never a panic;
//! a case-insensitive substring of the real adapter's name selects it.

use std::process::Command;

use soma_device::testing::gpu;
use soma_device::{Device, Error};

/// Runs one test of this file in a child process with `WGPU_ADAPTER_NAME` set.
fn run_child(test: &str, adapter_name: &str) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--include-ignored"])
        .env("SOMA_ADAPTER_CHILD", "1")
        .env("WGPU_ADAPTER_NAME", adapter_name)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && stdout.contains("1 passed"), "{test} failed:\n{stdout}");
}

fn in_child() -> bool {
    std::env::var_os("SOMA_ADAPTER_CHILD").is_some()
}

#[test]
fn unknown_adapter_name_is_no_adapter_on_every_call() {
    if !in_child() {
        return run_child("unknown_adapter_name_is_no_adapter_on_every_call", "no-such-adapter-xyz");
    }
    for _ in 0..2 {
        match Device::gpu() {
            Err(Error::NoAdapter(msg)) => assert!(msg.contains("no-such-adapter-xyz"), "{msg}"),
            other => panic!("expected NoAdapter, got {other:?}"),
        }
    }
    assert!(!Device::best().is_gpu());
}

#[test]
fn adapter_name_substring_selects_case_insensitively() {
    if !in_child() {
        // A piece of the real adapter's name, upper-cased.
        let name = gpu().name();
        let piece: String = name.chars().take(4).collect::<String>().to_uppercase();
        return run_child("adapter_name_substring_selects_case_insensitively", &piece);
    }
    let name = gpu().name();
    let wanted = std::env::var("WGPU_ADAPTER_NAME").unwrap().to_lowercase();
    assert!(name.to_lowercase().contains(&wanted), "{name} vs {wanted}");
}
