//! The table of differentiable ops the gradient tests walk: a name, the inputs' shapes and
//! value ranges, and the function of those inputs.

use soma_autograd::{Device, Result, Rng, Tensor};
use soma_device::BinaryOp;

pub type OpFn = fn(&[Tensor]) -> Result<Tensor>;

pub struct Case {
    pub name: &'static str,
    /// Shape and value range of each input.
    pub inputs: Vec<(Vec<usize>, f32, f32)>,
    pub f: OpFn,
}

fn case(name: &'static str, inputs: Vec<(Vec<usize>, f32, f32)>, f: OpFn) -> Case {
    Case { name, inputs, f }
}

fn any(shape: &[usize]) -> (Vec<usize>, f32, f32) {
    (shape.to_vec(), -2.0, 2.0)
}
fn positive(shape: &[usize]) -> (Vec<usize>, f32, f32) {
    (shape.to_vec(), 0.5, 2.0)
}

pub fn inputs(case: &Case, device: &Device, seed: u64) -> Result<Vec<Tensor>> {
    let mut rng = Rng::new(seed);
    case.inputs.iter().map(|(shape, lo, hi)| Tensor::rand_range(shape.clone(), *lo, *hi, &mut rng, device)).collect()
}

/// Every differentiable op, with shapes that exercise broadcasting and odd sizes. Inputs of
/// kinked functions (relu, abs, max) are random, so no value sits on a kink.
pub fn cases() -> Vec<Case> {
    vec![
        case("neg", vec![any(&[3, 4])], |x| x[0].neg()),
        case("exp", vec![any(&[3, 4])], |x| x[0].exp()),
        case("log", vec![positive(&[3, 4])], |x| x[0].log()),
        case("sqrt", vec![positive(&[5])], |x| x[0].sqrt()),
        case("abs", vec![any(&[7])], |x| x[0].abs()),
        case("recip", vec![positive(&[4])], |x| x[0].recip()),
        case("square", vec![any(&[2, 3])], |x| x[0].square()),
        case("sin", vec![any(&[6])], |x| x[0].sin()),
        case("cos", vec![any(&[6])], |x| x[0].cos()),
        case("sigmoid", vec![any(&[3, 5])], |x| x[0].sigmoid()),
        case("tanh", vec![any(&[3, 5])], |x| x[0].tanh()),
        case("relu", vec![any(&[9])], |x| x[0].relu()),
        case("leaky_relu", vec![any(&[9])], |x| x[0].leaky_relu(0.1)),
        case("elu", vec![any(&[9])], |x| x[0].elu(1.0)),
        case("gelu", vec![any(&[9])], |x| x[0].gelu()),
        case("add_broadcast", vec![any(&[2, 3, 4]), any(&[3, 1])], |x| &x[0] + &x[1]),
        case("sub_broadcast", vec![any(&[4]), any(&[2, 4])], |x| &x[0] - &x[1]),
        case("mul_broadcast", vec![any(&[2, 1, 3]), any(&[4, 1])], |x| &x[0] * &x[1]),
        case("div", vec![any(&[3, 4]), positive(&[4])], |x| &x[0] / &x[1]),
        case("pow", vec![positive(&[5]), any(&[5])], |x| x[0].pow(&x[1])),
        case("maximum", vec![any(&[6]), any(&[6])], |x| x[0].maximum(&x[1])),
        case("minimum", vec![any(&[2, 3]), any(&[3])], |x| x[0].minimum(&x[1])),
        case("relu_grad", vec![any(&[2, 3]), any(&[3])], |x| x[0].binary(BinaryOp::ReluGrad, &x[1])),
        case("relu_grad_scalar", vec![any(&[5])], |x| {
            (&x[0].scalar_op(BinaryOp::ReluGrad, 0.5, false)? + &x[0].scalar_op(BinaryOp::ReluGrad, -0.5, false)?)?
                + x[0].scalar_op(BinaryOp::ReluGrad, 2.0, true)?
        }),
        // The loss's fused mean: its backward is the rows' gradient kernel with one shared gradient.
        case("cross_entropy_mean", vec![any(&[3, 4])], |x| {
            x[0].cross_entropy_mean(&Tensor::from_vec(vec![2.0, 0.0, 3.0], [3], x[0].device())?)?.affine(3.0, 0.0)
        }),
        case("cross_entropy_rows", vec![any(&[3, 4])], |x| {
            x[0].cross_entropy_rows(&Tensor::from_vec(vec![1.0, 3.0, 0.0], [3], x[0].device())?)
        }),
        case("scalar_ops", vec![positive(&[5])], |x| {
            let y = (&((2.0 - &x[0])? * 3.0)? / 0.5)?;
            (&y + &(1.5 / &x[0])?)? + x[0].powf(2.5)?
        }),
        case("clamp", vec![any(&[8])], |x| x[0].clamp(-1.0, 1.0)),
        case("where", vec![any(&[4, 3]), any(&[4, 3]), any(&[3])], |x| {
            Tensor::where_cond(&x[0].gt(&x[1])?, &x[1], &x[2])
        }),
        case("mul_add", vec![any(&[4, 8]), any(&[4, 8]), any(&[8])], |x| x[0].mul_add(&x[1], &x[2])),
        case("mul_add_relu", vec![any(&[4, 8]), any(&[8]), any(&[4, 8])], |x| x[0].mul_add_relu(&x[1], &x[2])),
        case("sum_axis", vec![any(&[2, 3, 4])], |x| x[0].sum(1)),
        case("mean_axis", vec![any(&[2, 3, 4])], |x| x[0].mean(2)),
        case("max_axis", vec![any(&[3, 5])], |x| x[0].max(1)),
        case("min_axis", vec![any(&[3, 5])], |x| x[0].min(0)),
        case("sum_all", vec![any(&[3, 5])], |x| x[0].sum_all()),
        case("softmax", vec![any(&[3, 5])], |x| x[0].softmax(1)),
        case("softmax_axis0", vec![any(&[4, 2])], |x| x[0].softmax(0)),
        case("log_softmax", vec![any(&[3, 5])], |x| x[0].log_softmax(1)),
        case("matmul", vec![any(&[3, 4]), any(&[4, 5])], |x| x[0].matmul(&x[1])),
        case("matmul_batched", vec![any(&[2, 3, 4]), any(&[2, 4, 2])], |x| x[0].matmul(&x[1])),
        case("matmul_folded", vec![any(&[2, 3, 4]), any(&[4, 2])], |x| x[0].matmul(&x[1])),
        case("matmul_transposed", vec![any(&[4, 3]), any(&[5, 4])], |x| x[0].matmul_t(&x[1], true, true)),
        case("matmul_t_b", vec![any(&[3, 4]), any(&[5, 4])], |x| x[0].matmul_t(&x[1], false, true)),
        // A linear layer: on lavapipe the bias and ReLU run in the texture matmul's epilogue (a
        // vec4 store where `out` is a multiple of 4, one value at a time otherwise).
        case("linear", vec![any(&[3, 4]), any(&[5, 4]), any(&[5])], |x| x[0].linear(&x[1], Some(&x[2]), false)),
        case("linear_relu", vec![any(&[6, 4]), any(&[8, 4]), any(&[8])], |x| x[0].linear(&x[1], Some(&x[2]), true)),
        case("linear_relu_odd", vec![any(&[5, 8]), any(&[7, 8]), any(&[7])], |x| x[0].linear(&x[1], Some(&x[2]), true)),
        case("linear_no_bias_3d", vec![any(&[2, 3, 4]), any(&[2, 4])], |x| x[0].linear(&x[1], None, true)),
        case("linear_vector", vec![any(&[4]), any(&[3, 4]), any(&[3])], |x| x[0].linear(&x[1], Some(&x[2]), false)),
        case("reshape", vec![any(&[2, 6])], |x| x[0].reshape([3, 4])?.square()),
        case("permute", vec![any(&[2, 3, 4])], |x| &x[0].permute(&[2, 0, 1])? * &x[0].permute(&[2, 0, 1])?.sin()?),
        case("transpose", vec![any(&[3, 4])], |x| x[0].t()?.matmul(&x[0])),
        case("broadcast_to", vec![any(&[3, 1])], |x| x[0].broadcast_to([2, 3, 4])?.square()),
        case("narrow", vec![any(&[4, 5])], |x| x[0].narrow(1, 1, 3)?.square()),
        case("lstm_cell", vec![any(&[3, 8]), any(&[3, 8]), any(&[3, 4])], |x| Tensor::lstm_cell(&x[0], &x[1], &x[2])),
        case("gru_cell", vec![any(&[3, 9]), any(&[3, 9]), any(&[3, 3])], |x| Tensor::gru_cell(&x[0], &x[1], &x[2])),
        // Overlapping slices, a gap (column 4 of 6) and a slice along the other axis.
        case("narrow_slices", vec![any(&[3, 6])], |x| {
            let x = &x[0];
            let rows = (&(&x.narrow(1, 0, 2)? + &x.narrow(1, 1, 2)?)? * &x.narrow(1, 3, 2)?)?;
            &rows.square()? * &x.narrow(0, 2, 1)?.narrow(1, 5, 1)?
        }),
        case("cat", vec![any(&[2, 3]), any(&[2, 2])], |x| Tensor::cat(&[x[0].clone(), x[1].clone()], 1)?.exp()),
        case("stack", vec![any(&[3]), any(&[3])], |x| Tensor::stack(&[x[0].clone(), x[1].square()?], 0)),
        case("gather", vec![any(&[3, 4])], |x| {
            let idx = Tensor::from_vec(vec![3.0, 0.0, 0.0, 2.0, 1.0, 1.0], [3, 2], x[0].device())?;
            x[0].gather(1, &idx)
        }),
        case("index_select", vec![any(&[5, 3])], |x| {
            let ids = Tensor::from_vec(vec![4.0, 0.0, 4.0, 2.0], [4], x[0].device())?;
            x[0].index_select(0, &ids)
        }),
        case("im2col", vec![any(&[2, 2, 5, 4])], |x| x[0].im2col((3, 2), 2, 1)),
    ]
}
