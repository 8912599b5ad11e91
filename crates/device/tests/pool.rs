//! Buffers of dropped tensors are reused: a training-like loop reaches a steady state.

use soma_device::testing::gpu;
use soma_device::{BinaryOp, Device, MatmulDims, ReduceOp, Shape, UnaryOp, UpdateRule};

#[test]
fn memory_reaches_a_steady_state() {
    let g = gpu();
    let Device::Wgpu(backend) = &g else { unreachable!() };
    let dims = MatmulDims { batch: 1, m: 32, n: 10, k: 64, transpose_a: false, transpose_b: false };
    let mut w = g.rand_uniform(64 * 10, 1).unwrap();
    let mut v = g.zeros(64 * 10).unwrap();
    let rule = UpdateRule::Sgd { lr: 0.01, momentum: 0.9, dampening: 0.0, nesterov: false, weight_decay: 0.0 };
    let mut created = Vec::new();
    for step in 0..40 {
        let x = g.from_slice(&vec![0.5; 32 * 64]).unwrap();
        let y = g.matmul(&x, &w, dims).unwrap();
        let y = g.unary(UnaryOp::Tanh, &y, 0.0).unwrap();
        let loss = g.reduce(ReduceOp::Sum, &y, soma_device::AxisDims { outer: 1, axis: 320, inner: 1 }).unwrap();
        let grad = g.binary(BinaryOp::Mul, &w, &Shape::new([640]), &loss, &Shape::new([1])).unwrap();
        let (nw, ns) = g.update(&rule, &w, &grad, &[&v]).unwrap();
        w = nw;
        v = ns.into_iter().next().unwrap();
        g.to_vec(&loss).unwrap();
        created.push(backend.buffers_created());
        if step == 39 {
            assert!(g.to_vec(&w).unwrap().iter().all(|x| x.is_finite()));
        }
    }
    assert_eq!(created[10], created[39], "buffers keep being created: {created:?}");
    assert!(backend.pooled_bytes() > 0);
}
