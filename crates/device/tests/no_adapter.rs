//! Without a matching adapter, opening the GPU is an `Error::NoAdapter` on every call, never a
//! panic. (Its own test binary: the context is opened once per process.)

use soma_device::{Device, Error, WgpuBackend};

#[test]
fn an_unmatched_adapter_name_is_no_adapter_every_time() {
    // SAFETY: this binary's only test sets the variable before anything reads the environment.
    unsafe { std::env::set_var("WGPU_ADAPTER_NAME", "no such adapter 1234") };
    for _ in 0..2 {
        match WgpuBackend::shared() {
            Err(Error::NoAdapter(msg)) => assert!(msg.contains("WGPU_ADAPTER_NAME"), "{msg}"),
            other => panic!("expected NoAdapter, got {other:?}"),
        }
    }
    assert!(Device::gpu().is_err());
    assert!(!Device::best().is_gpu(), "best() falls back to the CPU");
}
