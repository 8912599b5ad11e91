//! Fused optimizer steps (`shaders/optim.wgsl`): one dispatch per parameter per step, a vec4 per
//! thread; on CPU-backed drivers the inputs are read from texture copies (`staged.rs`).

use bytemuck::{Pod, Zeroable};

use super::{alloc, dispatch_staged, per_four};
use crate::wgpu::WgpuStorage;
use crate::wgpu::context::WgpuContext;
use crate::wgpu::pipelines::{Kernel, Shader};
use crate::{Result, UpdateRule};

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct OptimParams {
    n: u32,
    flags: u32,
    lr: f32,
    weight_decay: f32,
    momentum: f32,
    dampening: f32,
    eps: f32,
    alpha: f32,
    beta1: f32,
    beta2: f32,
    bias1: f32,
    bias2: f32,
}

const FLAG_NESTEROV: u32 = 1;
const FLAG_DECOUPLED: u32 = 2;

pub(crate) fn update(
    ctx: &WgpuContext,
    rule: &UpdateRule,
    param: &WgpuStorage,
    grad: &WgpuStorage,
    state: &[&WgpuStorage],
) -> Result<(WgpuStorage, Vec<WgpuStorage>)> {
    let n = param.len;
    let base = OptimParams { n: n as u32, ..Zeroable::zeroed() };
    // `RULE` in optim.wgsl, in `UpdateRule` order.
    let (rule_code, params) = match *rule {
        UpdateRule::Sgd { lr, momentum, dampening, nesterov, weight_decay } => (
            0.0,
            OptimParams {
                flags: if nesterov { FLAG_NESTEROV } else { 0 },
                lr,
                momentum,
                dampening,
                weight_decay,
                ..base
            },
        ),
        UpdateRule::Adagrad { lr, eps, weight_decay } => (1.0, OptimParams { lr, eps, weight_decay, ..base }),
        UpdateRule::RmsProp { lr, alpha, eps, momentum, weight_decay } => {
            (2.0, OptimParams { lr, alpha, eps, momentum, weight_decay, ..base })
        }
        UpdateRule::Adam { lr, beta1, beta2, eps, weight_decay, decoupled, step } => {
            // The bias corrections exactly as optim.rs computes them, in f32.
            let (bias1, bias2) = UpdateRule::bias_corrections(beta1, beta2, step);
            (
                3.0,
                OptimParams {
                    flags: if decoupled { FLAG_DECOUPLED } else { 0 },
                    lr,
                    beta1,
                    beta2,
                    eps,
                    weight_decay,
                    bias1,
                    bias2,
                    ..base
                },
            )
        }
    };
    let name = rule.name();
    let new_param = alloc(ctx, || format!("{name} step"), n)?;
    let new_state = (0..state.len()).map(|_| alloc(ctx, || format!("{name} step"), n)).collect::<Result<Vec<_>>>()?;
    // The shader binds two states whatever the rule; a one-state rule's second slots repeat its
    // first (never read or written: the rule's code is all that is compiled).
    let (s0, s1) = (state[0], *state.get(1).unwrap_or(&state[0]));
    let (out_s0, out_s1) = (&new_state[0], new_state.get(1).unwrap_or(&new_state[0]));
    let inputs = [(1, 8, param), (2, 9, grad), (3, 10, s0), (4, 11, s1)];
    let outputs = [(5, &new_param), (6, out_s0), (7, out_s1)];
    let kernel = Kernel::new(Shader::Optim, "update").with("RULE", rule_code);
    dispatch_staged(ctx, kernel, &params, &inputs, &outputs, per_four(ctx, name, n)?)?;
    Ok((new_param, new_state))
}
