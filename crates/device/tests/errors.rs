//! Limits, invalid shaders and the adapter name: clear errors, never panics.

use soma_device::testing::gpu;
use soma_device::{Backend, BinaryOp, Device, Error, MatmulDims, Shape, StridedView, UnaryOp, WgpuBackend};

fn wgpu_backend() -> WgpuBackend {
    match gpu() {
        Device::Wgpu(b) => b,
        Device::Cpu(_) => unreachable!("testing::gpu() gives the GPU"),
    }
}

fn max_binding() -> u64 {
    let l = wgpu_backend().limits();
    l.max_storage_buffer_binding_size.min(l.max_buffer_size)
}

#[track_caller]
fn assert_limit(err: Error, op: &str, bytes: u64) {
    let msg = err.to_string();
    assert!(matches!(err, Error::Limit { .. }), "not a limit error: {msg}");
    assert!(msg.starts_with(&format!("{op}: {bytes} bytes exceed the device's max")), "{msg}");
    assert!(msg.contains(&max_binding().to_string()), "{msg}");
}

#[test]
fn over_limit_allocations_are_limit_errors() {
    let g = gpu();
    let len = 1usize << 30;
    assert_limit(g.zeros(len).unwrap_err(), "zeros", 1 << 32);
    assert_limit(g.full(len, 1.0).unwrap_err(), "full", 1 << 32);
    assert_limit(g.rand_uniform(len, 1).unwrap_err(), "rand", 1 << 32);
    let one = g.from_slice(&[1.0]).unwrap();
    // A broadcast view of one element, 2^30 elements long.
    let view = StridedView { shape: vec![1 << 15, 1 << 15], strides: vec![0, 0], offset: 0 };
    assert_limit(g.copy_strided(&one, &view).unwrap_err(), "copy_strided", 1 << 32);
    let dims = MatmulDims { batch: 1, m: 1 << 15, n: 1 << 15, k: 1, transpose_a: false, transpose_b: false };
    let a = g.zeros(1 << 15).unwrap();
    assert_limit(g.matmul(&a, &a, dims).unwrap_err(), "matmul", 1 << 32);
    let (col, row) = (Shape::new([1 << 15, 1]), Shape::new([1, 1 << 15]));
    assert_limit(g.binary(BinaryOp::Add, &a, &col, &a, &row).unwrap_err(), "binary add", 1 << 32);
    // The device still works afterwards.
    let y = g.unary(UnaryOp::Neg, &one, 0.0).unwrap();
    assert_eq!(g.to_vec(&y).unwrap(), vec![-1.0]);
    g.synchronize().unwrap();
}

#[test]
fn products_of_operands_of_the_wrong_length_name_the_op() {
    let dims = MatmulDims { batch: 2, m: 3, n: 4, k: 5, transpose_a: false, transpose_b: false };
    for device in [Device::cpu(), gpu()] {
        let (x, y) = (device.from_slice(&[1.0; 30]).unwrap(), device.from_slice(&[1.0; 39]).unwrap());
        let err = device.matmul(&x, &y, dims).unwrap_err();
        assert!(matches!(err, Error::Shape { .. }), "{err}");
        assert_eq!(
            err.to_string(),
            "matmul: a batch of 2 [3, 5] x [5, 4] products needs 30 and 40 values, got 30 and 39"
        );
        let err = device.linear(&y, &x, dims, None, true).unwrap_err();
        assert!(err.to_string().starts_with("linear: a batch of 2"), "{err}");
    }
}

#[test]
fn unary_over_the_limit_names_the_op() {
    // Just past the binding limit, so no 4 GiB buffer is ever needed: the check comes first.
    let b = wgpu_backend();
    let len = (max_binding() / 4 + 1) as usize;
    let err = b.zeros(len).unwrap_err();
    assert_limit(err, "zeros", len as u64 * 4);
}

#[test]
fn an_invalid_shader_is_a_device_error() {
    let b = wgpu_backend();
    let err = b.compile_wgsl("@compute @workgroup_size(1) fn main() { let x: f32 = 1u; }", "main").unwrap_err();
    assert!(matches!(err, Error::Device(_)), "{err}");
    let err = b.compile_wgsl("@compute @workgroup_size(1) fn main() {}", "missing").unwrap_err();
    assert!(matches!(err, Error::Device(_)), "{err}");
    b.compile_wgsl("@compute @workgroup_size(1) fn main() {}", "main").unwrap();
    // Errors in scopes do not leak into later work.
    b.synchronize().unwrap();
}

#[test]
fn adapter_name() {
    let g = gpu();
    let name = g.name();
    println!("GPU adapter: {name}");
    assert!(name.ends_with(')'), "the name gives the API: {name}");
    if let Ok(expected) = std::env::var("SOMA_EXPECT_ADAPTER") {
        assert!(name.to_lowercase().contains(&expected.to_lowercase()), "adapter {name:?} is not {expected:?}");
    }
    assert_eq!(gpu(), g, "one shared device per process");
}

/// An optimizer step with the wrong number of state buffers, or buffers of another length, is an
/// error naming the rule, on both backends.
#[test]
fn update_checks_its_state() {
    let adam = soma_device::UpdateRule::Adam {
        lr: 0.1,
        beta1: 0.9,
        beta2: 0.99,
        eps: 1e-8,
        weight_decay: 0.0,
        decoupled: false,
        step: 1,
    };
    for device in [soma_device::Device::cpu(), soma_device::testing::gpu()] {
        let (four, three) = (device.from_slice(&[1.0; 4]).unwrap(), device.from_slice(&[1.0; 3]).unwrap());
        let err = device.update(&adam, &four, &four, &[&four]).unwrap_err();
        assert_eq!(err.to_string(), "adam: takes 2 state buffers, got 1");
        let err = device.update(&adam, &four, &four, &[&four, &three]).unwrap_err();
        assert_eq!(err.to_string(), "adam: parameter, gradient and state lengths differ: [4, 4, 4, 3]");
    }
}

#[test]
fn operands_that_do_not_fill_their_shapes_name_the_op() {
    use soma_device::{AxisDims, Conv2dGeometry, GatherDims, ReduceOp};
    for device in [Device::cpu(), gpu()] {
        let v = |n: usize| device.from_slice(&vec![1.0; n]).unwrap();
        let message = |r: soma_device::Result<soma_device::Storage>| {
            let err = r.unwrap_err();
            assert!(matches!(err, Error::Shape { .. }), "{err}");
            err.to_string()
        };
        let (s4, s3) = (Shape::new([4]), Shape::new([3]));
        assert_eq!(message(device.binary(BinaryOp::Add, &v(4), &s4, &v(3), &s4)), "add: b [4] needs 4 values, got 3");
        assert_eq!(message(device.binary(BinaryOp::Mul, &v(4), &s3, &v(3), &s3)), "mul: a [3] needs 3 values, got 4");
        assert_eq!(
            message(device.where_cond(&v(4), &v(4), &v(2))),
            "where: y, as long as the condition, [4] needs 4 values, got 2"
        );
        let dims = AxisDims { outer: 2, axis: 3, inner: 4 };
        assert_eq!(message(device.reduce(ReduceOp::Sum, &v(23), dims)), "sum: input [2, 3, 4] needs 24 values, got 23");
        assert_eq!(message(device.softmax(&v(5), 2, 3, false)), "softmax: input [2, 3] needs 6 values, got 5");
        let view = StridedView { shape: vec![2, 3], strides: vec![1, 2], offset: 1 };
        assert_eq!(
            message(device.copy_strided(&v(6), &view)),
            "copy_strided: a view of shape [2, 3], strides [1, 2] from offset 1 reads past a 6-element input"
        );
        assert_eq!(device.to_vec(&device.copy_strided(&v(7), &view).unwrap()).unwrap(), vec![1.0; 6]);
        assert_eq!(
            message(device.concat(&[(&v(4), 2), (&v(5), 3)], 1, 2)),
            "cat: part [1, 3, 2] needs 6 values, got 5"
        );
        let g = GatherDims { outer: 2, src_axis: 3, index_axis: 1, inner: 1 };
        assert_eq!(message(device.gather(&v(5), &v(2), g)), "gather: source [2, 3, 1] needs 6 values, got 5");
        assert_eq!(message(device.scatter_add(&v(2), &v(3), g)), "scatter_add: index [2, 1, 1] needs 2 values, got 3");
        let geom = Conv2dGeometry { n: 1, c: 2, h: 3, w: 3, kernel_h: 2, kernel_w: 2, stride: 1, padding: 0 };
        assert_eq!(message(device.im2col(&v(17), geom)), "im2col: input [1, 2, 3, 3] needs 18 values, got 17");
        assert_eq!(message(device.col2im(&v(31), geom)), "col2im: columns [1, 8, 4] needs 32 values, got 31");
        let too_big = Conv2dGeometry { kernel_h: 6, ..geom };
        assert_eq!(
            message(device.im2col(&v(18), too_big)),
            "im2col: kernel 6x2, stride 1, padding 0 do not fit input [1, 2, 3, 3]"
        );
        let no_stride = Conv2dGeometry { stride: 0, ..geom };
        assert!(message(device.col2im(&v(32), no_stride)).starts_with("col2im: kernel 2x2, stride 0"));
    }
}

#[test]
fn the_cpu_backend_refuses_short_operands_and_indices_out_of_range() {
    use soma_device::{CpuBackend, GatherDims};
    let cpu = CpuBackend;
    let (a, b) = (cpu.from_slice(&[1.0; 4]).unwrap(), cpu.from_slice(&[1.0; 3]).unwrap());
    let s = Shape::new([4]);
    let err = cpu.binary(BinaryOp::Add, &a, &s, &b, &s).unwrap_err();
    assert_eq!(err.to_string(), "add: 4 and 3 values do not fill shapes [4] and [4]");
    let g = GatherDims { outer: 1, src_axis: 4, index_axis: 3, inner: 1 };
    for bad in [4.0, -1.0, 0.5, f32::NAN] {
        let index = cpu.from_slice(&[0.0, bad, 1.0]).unwrap();
        let err = cpu.gather(&a, &index, g).unwrap_err();
        assert_eq!(err.to_string(), format!("gather: index {bad} is out of range for an axis of length 4"));
        assert!(cpu.scatter_add(&b, &index, g).is_err());
    }
    let index = cpu.from_slice(&[3.0, 0.0, 3.0]).unwrap();
    let scattered = cpu.scatter_add(&b, &index, g).unwrap();
    assert_eq!(cpu.to_vec(&scattered).unwrap(), vec![1.0, 0.0, 0.0, 2.0]);
    let into_nothing = GatherDims { src_axis: 0, ..g };
    let err = cpu.scatter_add(&b, &index, into_nothing).unwrap_err();
    assert_eq!(err.to_string(), "scatter_add: index 3 is out of range for an axis of length 0");
}

#[test]
fn sizes_too_large_to_count_are_errors() {
    use soma_device::{CellDims, CellKind, Conv2dGeometry};
    for device in [Device::cpu(), gpu()] {
        let empty = device.from_slice(&[]).unwrap();
        let two = device.from_slice(&[1.0, 2.0]).unwrap();
        // [2^32, 0] x [0, 2^32]: both operands are empty, the product is not.
        let dims = MatmulDims { batch: 1, m: 1 << 32, n: 1 << 32, k: 0, transpose_a: false, transpose_b: false };
        let err = device.matmul(&empty, &empty, dims).unwrap_err();
        assert!(matches!(err, Error::Limit { .. }), "{err}");
        assert_eq!(err.to_string(), "matmul: a batch of 1 [4294967296, 0] x [0, 4294967296] products is too large");
        let err = device.pad_axis(&two, 2, 1, 1, usize::MAX, 4).unwrap_err();
        assert!(err.to_string().starts_with("pad_axis: cannot place 2 elements"), "{err}");
        assert!(device.pad_axis(&two, 2, 1, 1, 0, 1 << 63).is_err());
        // Empty however large its other dims, as in torch; but not countable is an error.
        let view = StridedView { shape: vec![1 << 40, 1 << 40, 0], strides: vec![0, 0, 0], offset: 0 };
        assert_eq!(device.copy_strided(&two, &view).unwrap().len(), 0);
        let view = StridedView { shape: vec![1 << 40, 1 << 40], strides: vec![0, 0], offset: 0 };
        assert!(device.copy_strided(&two, &view).unwrap_err().to_string().starts_with("copy_strided: a view"));
        let cell = CellDims { kind: CellKind::Lstm, batch: 1 << 40, hidden: 1 << 40 };
        let err = device.cell_step(&two, &two, &two, cell).unwrap_err();
        assert!(err.to_string().contains("[1099511627776, 4398046511104]"), "{err}");
        let geom =
            Conv2dGeometry { n: 1, c: 1, h: 1, w: 1, kernel_h: 1, kernel_w: 1, stride: 1 << 32, padding: 1 << 32 };
        let err = device.im2col(&two, geom).unwrap_err();
        assert!(err.to_string().starts_with("im2col: kernel 1x1, stride 4294967296"), "{err}");
    }
}

#[test]
fn cpu_outputs_larger_than_memory_are_limit_errors() {
    let cpu = Device::cpu();
    let bytes = 1u128 << 62;
    let err = cpu.zeros(1 << 60).unwrap_err();
    assert!(matches!(err, Error::Limit { .. }), "{err}");
    assert_eq!(err.to_string(), format!("zeros: cannot allocate {bytes} bytes for the output"));
    // A broadcast of one element to 2^60, as a mistyped `[n, 1] + [1, n]` would ask for.
    let one = cpu.from_slice(&[1.0]).unwrap();
    let view = StridedView { shape: vec![1 << 30, 1 << 30], strides: vec![0, 0], offset: 0 };
    let err = cpu.copy_strided(&one, &view).unwrap_err();
    assert_eq!(err.to_string(), format!("copy_strided: cannot allocate {bytes} bytes for the output"));
    // The backend still works afterwards.
    assert_eq!(cpu.to_vec(&cpu.full(3, 2.0).unwrap()).unwrap(), vec![2.0; 3]);
}
