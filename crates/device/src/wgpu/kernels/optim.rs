//! Fused optimizer steps (`shaders/optim.wgsl`): one dispatch per parameter per step, a vec4 per thread.

use bytemuck::{Pod, Zeroable};

use super::{alloc, per_vec4};
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
    let (entry, params) = match *rule {
        UpdateRule::Sgd { lr, momentum, dampening, nesterov, weight_decay } => (
            "update_sgd",
            OptimParams {
                flags: if nesterov { FLAG_NESTEROV } else { 0 },
                lr,
                momentum,
                dampening,
                weight_decay,
                ..base
            },
        ),
        UpdateRule::Adagrad { lr, eps, weight_decay } => {
            ("update_adagrad", OptimParams { lr, eps, weight_decay, ..base })
        }
        UpdateRule::RmsProp { lr, alpha, eps, momentum, weight_decay } => {
            ("update_rmsprop", OptimParams { lr, alpha, eps, momentum, weight_decay, ..base })
        }
        UpdateRule::Adam { lr, beta1, beta2, eps, weight_decay, decoupled, step } => {
            // The bias corrections exactly as optim.rs computes them, in f32.
            let t = step.max(1) as i32;
            (
                "update_adam",
                OptimParams {
                    flags: if decoupled { FLAG_DECOUPLED } else { 0 },
                    lr,
                    beta1,
                    beta2,
                    eps,
                    weight_decay,
                    bias1: 1.0 - beta1.powi(t),
                    bias2: 1.0 - beta2.powi(t),
                    ..base
                },
            )
        }
    };
    let name = rule.name();
    let new_param = alloc(ctx, || format!("{name} step"), n)?;
    let new_state = (0..state.len()).map(|_| alloc(ctx, || format!("{name} step"), n)).collect::<Result<Vec<_>>>()?;
    let mut bindings = vec![(1, param), (2, grad), (5, &new_param)];
    for (i, (s, out)) in state.iter().zip(&new_state).enumerate() {
        bindings.push((3 + i as u32, *s));
        bindings.push((6 + i as u32, out));
    }
    ctx.dispatch(&Kernel::new(Shader::Optim, entry), &params, &bindings, per_vec4(ctx, name, n)?)?;
    Ok((new_param, new_state))
}
