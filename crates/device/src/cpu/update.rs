//! Optimizer steps on the CPU: one pass over parameter, gradient and state, writing fresh
//! buffers, in parallel chunks for large parameters. The rule is matched once, outside the loop.

use std::mem::MaybeUninit;

use rayon::prelude::*;

use super::PARALLEL_THRESHOLD;
use crate::{Result, UpdateRule};

const CHUNK: usize = 1 << 13;

/// One work item: its first element, its slice of the new parameter and of each new state buffer.
type Chunk<'a, const K: usize> = (usize, &'a mut [MaybeUninit<f32>], [&'a mut [MaybeUninit<f32>]; K]);

/// Returns the new parameter and the new state buffers (`state.len() == rule.state_count()`).
pub fn update(rule: &UpdateRule, param: &[f32], grad: &[f32], state: &[&[f32]]) -> Result<(Vec<f32>, Vec<Vec<f32>>)> {
    let r = *rule;
    match (r, state) {
        (UpdateRule::Sgd { .. }, [s0]) => unpack(run(param, grad, [s0], |p, g, s| r.apply(p, g, s))),
        (UpdateRule::Adagrad { .. }, [s0]) => unpack(run(param, grad, [s0], |p, g, s| r.apply(p, g, s))),
        (UpdateRule::RmsProp { .. }, [s0, s1]) => unpack(run(param, grad, [s0, s1], |p, g, s| r.apply(p, g, s))),
        (UpdateRule::Adam { lr, beta1, beta2, eps, weight_decay, decoupled, step }, [s0, s1]) => {
            // `UpdateRule::apply` with the bias corrections computed once instead of per element
            // (the same operations, so the same results).
            let (c1, c2) = UpdateRule::bias_corrections(beta1, beta2, step);
            unpack(run(param, grad, [s0, s1], move |p, g, s| {
                let (p, g) = if decoupled { (p * (1.0 - lr * weight_decay), g) } else { (p, g + weight_decay * p) };
                s[0] = beta1 * s[0] + (1.0 - beta1) * g;
                s[1] = beta2 * s[1] + (1.0 - beta2) * g * g;
                p - lr * (s[0] / c1) / ((s[1] / c2).sqrt() + eps)
            }))
        }
        // A state count that does not match the rule: the general per-element loop.
        (
            UpdateRule::Sgd { .. } | UpdateRule::Adagrad { .. } | UpdateRule::RmsProp { .. } | UpdateRule::Adam { .. },
            _,
        ) => Ok(general(rule, param, grad, state)),
    }
}

fn unpack<const K: usize>(out: Result<(Vec<f32>, [Vec<f32>; K])>) -> Result<(Vec<f32>, Vec<Vec<f32>>)> {
    out.map(|(p, s)| (p, s.into()))
}

/// The step with `K` state buffers; `step(p, g, state)` returns the new parameter.
fn run<const K: usize>(
    param: &[f32],
    grad: &[f32],
    state: [&[f32]; K],
    step: impl Fn(f32, f32, &mut [f32]) -> f32 + Sync,
) -> Result<(Vec<f32>, [Vec<f32>; K])> {
    let n = param.len();
    let mut out_p = super::pool::take(n)?;
    let mut out_s: [Vec<f32>; K] = std::array::from_fn(|_| Vec::new());
    for s in &mut out_s {
        *s = super::pool::take(n)?;
    }
    {
        let mut s_chunks: [_; K] = {
            let mut it = out_s.iter_mut();
            std::array::from_fn(|_| it.next().expect("K buffers").spare_capacity_mut()[..n].chunks_mut(CHUNK))
        };
        let work: Vec<Chunk<K>> = out_p.spare_capacity_mut()[..n]
            .chunks_mut(CHUNK)
            .enumerate()
            .map(|(c, p)| (c * CHUNK, p, std::array::from_fn(|k| s_chunks[k].next().expect("equal lengths"))))
            .collect();
        let chunk = |(start, p_out, s_out): Chunk<K>| {
            let len = p_out.len();
            let (p_in, g_in) = (&param[start..start + len], &grad[start..start + len]);
            let s_in: [&[f32]; K] = std::array::from_fn(|k| &state[k][start..start + len]);
            let s_out: [&mut [MaybeUninit<f32>]; K] = s_out.map(|s| &mut s[..len]);
            // Built for AVX2 where the CPU has it: 8 lanes where the baseline build has 4 (Adam's
            // square root and division among them). Without fast-math, LLVM neither fuses nor
            // reorders the arithmetic, so the results are the same bits.
            #[cfg(target_arch = "x86_64")]
            if super::simd::has_avx2_fma() {
                // SAFETY: the CPU runs AVX2 and FMA, checked just above.
                return unsafe { super::simd::with_avx2_fma(|| step_chunk(p_in, g_in, s_in, p_out, s_out, &step)) };
            }
            step_chunk(p_in, g_in, s_in, p_out, s_out, &step);
        };
        if n >= PARALLEL_THRESHOLD {
            work.into_par_iter().for_each(chunk);
        } else {
            work.into_iter().for_each(chunk);
        }
    }
    // SAFETY: the chunks cover all `n` elements of every buffer, and each element was written above.
    unsafe {
        out_p.set_len(n);
        for s in &mut out_s {
            s.set_len(n);
        }
    }
    Ok((out_p, out_s))
}

/// Steps one chunk: `p_out[i] = step(p_in[i], g_in[i], state)`, the state read from `s_in` and
/// written to `s_out`.
#[inline(always)]
fn step_chunk<const K: usize>(
    p_in: &[f32],
    g_in: &[f32],
    s_in: [&[f32]; K],
    p_out: &mut [MaybeUninit<f32>],
    s_out: [&mut [MaybeUninit<f32>]; K],
    step: &impl Fn(f32, f32, &mut [f32]) -> f32,
) {
    for i in 0..p_out.len() {
        let mut cell: [f32; K] = std::array::from_fn(|k| s_in[k][i]);
        p_out[i].write(step(p_in[i], g_in[i], &mut cell));
        for k in 0..K {
            s_out[k][i].write(cell[k]);
        }
    }
}

fn general(rule: &UpdateRule, param: &[f32], grad: &[f32], state: &[&[f32]]) -> (Vec<f32>, Vec<Vec<f32>>) {
    let mut new_state: Vec<Vec<f32>> = state.iter().map(|s| s.to_vec()).collect();
    let mut cell = vec![0.0; new_state.len()];
    let new_param = param
        .iter()
        .zip(grad)
        .enumerate()
        .map(|(i, (&p, &g))| {
            for (c, s) in cell.iter_mut().zip(&new_state) {
                *c = s[i];
            }
            let p = rule.apply(p, g, &mut cell);
            for (c, s) in cell.iter().zip(new_state.iter_mut()) {
                s[i] = *c;
            }
            p
        })
        .collect();
    (new_param, new_state)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every rule gives exactly what `UpdateRule::apply` gives, element by element.
    #[test]
    fn matches_the_per_element_rule() {
        let n = PARALLEL_THRESHOLD + 77;
        let wave = |k: f32| (0..n).map(|i| ((i as f32 * 0.37 + k).sin()) * 0.5).collect::<Vec<f32>>();
        let (p, g, s0, s1) = (wave(0.0), wave(1.0), wave(2.0).iter().map(|v| v.abs()).collect::<Vec<_>>(), wave(3.0));
        let s1: Vec<f32> = s1.iter().map(|v| v.abs()).collect();
        let rules = [
            UpdateRule::Sgd { lr: 0.1, momentum: 0.9, dampening: 0.1, nesterov: true, weight_decay: 0.01 },
            UpdateRule::Adagrad { lr: 0.1, eps: 1e-10, weight_decay: 0.01 },
            UpdateRule::RmsProp { lr: 0.01, alpha: 0.99, eps: 1e-8, momentum: 0.9, weight_decay: 0.01 },
            UpdateRule::Adam {
                lr: 1e-3,
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
                weight_decay: 0.01,
                decoupled: true,
                step: 7,
            },
            UpdateRule::Adam {
                lr: 1e-3,
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
                weight_decay: 0.01,
                decoupled: false,
                step: 1,
            },
        ];
        for rule in rules {
            let state: Vec<&[f32]> = [&s0[..], &s1[..]][..rule.state_count()].to_vec();
            let (new_p, new_s) = update(&rule, &p, &g, &state).unwrap();
            for i in 0..n {
                let mut cell: Vec<f32> = state.iter().map(|s| s[i]).collect();
                assert_eq!(new_p[i], rule.apply(p[i], g[i], &mut cell), "{rule:?} at {i}");
                for (k, c) in cell.iter().enumerate() {
                    assert_eq!(new_s[k][i], *c, "{rule:?} state {k} at {i}");
                }
            }
        }
    }
}
