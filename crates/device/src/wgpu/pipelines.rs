//! The WGSL sources (one file per kernel family) and the pipeline cache, keyed by
//! (shader, entry point, override constants). Creation runs in an error scope, so an invalid
//! shader is an `Error::Device` rather than a panic.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use crate::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Shader {
    Unary,
    Binary,
    Reduce,
    Softmax,
    Matmul,
    MatmulSubgroup,
    MatmulTexture,
    Layout,
    Conv,
    Random,
    Optim,
    Cells,
}

/// A shader's source with the files of `shaders/common/` in front (WGSL has no includes).
macro_rules! with_common {
    ($file:literal) => {
        concat!(
            include_str!("../../../../shaders/common/activations.wgsl"),
            include_str!("../../../../shaders/common/access.wgsl"),
            include_str!(concat!("../../../../shaders/", $file))
        )
    };
}

impl Shader {
    pub fn source(self) -> &'static str {
        match self {
            Shader::Unary => with_common!("unary.wgsl"),
            Shader::Binary => with_common!("binary.wgsl"),
            Shader::Reduce => with_common!("reduce.wgsl"),
            Shader::Softmax => with_common!("softmax.wgsl"),
            Shader::Matmul => with_common!("matmul.wgsl"),
            Shader::MatmulSubgroup => with_common!("matmul_subgroup.wgsl"),
            Shader::MatmulTexture => with_common!("matmul_texture.wgsl"),
            Shader::Layout => with_common!("layout.wgsl"),
            Shader::Conv => with_common!("conv.wgsl"),
            Shader::Random => with_common!("random.wgsl"),
            Shader::Optim => with_common!("optim.wgsl"),
            Shader::Cells => with_common!("cells.wgsl"),
        }
    }
    pub fn file(self) -> &'static str {
        match self {
            Shader::Unary => "unary.wgsl",
            Shader::Binary => "binary.wgsl",
            Shader::Reduce => "reduce.wgsl",
            Shader::Softmax => "softmax.wgsl",
            Shader::Matmul => "matmul.wgsl",
            Shader::MatmulSubgroup => "matmul_subgroup.wgsl",
            Shader::MatmulTexture => "matmul_texture.wgsl",
            Shader::Layout => "layout.wgsl",
            Shader::Conv => "conv.wgsl",
            Shader::Random => "random.wgsl",
            Shader::Optim => "optim.wgsl",
            Shader::Cells => "cells.wgsl",
        }
    }
}

/// One compute entry point specialised by override constants.
#[derive(Clone, Debug)]
pub(crate) struct Kernel {
    pub shader: Shader,
    pub entry: &'static str,
    pub constants: Vec<(&'static str, f64)>,
}

impl Kernel {
    pub fn new(shader: Shader, entry: &'static str) -> Kernel {
        Kernel { shader, entry, constants: Vec::new() }
    }
    pub fn with(mut self, name: &'static str, value: f64) -> Kernel {
        self.constants.push((name, value));
        self
    }
    fn key(&self) -> Key {
        (self.shader, self.entry, self.constants.iter().map(|&(n, v)| (n, v.to_bits())).collect())
    }
}

type Key = (Shader, &'static str, Vec<(&'static str, u64)>);

/// A pipeline being created or created once: whoever asks first creates it, others wait for it.
type Cell = Arc<OnceLock<Result<Arc<wgpu::ComputePipeline>>>>;

#[derive(Default)]
pub(crate) struct Pipelines {
    modules: Mutex<HashMap<Shader, wgpu::ShaderModule>>,
    pipelines: Mutex<HashMap<Key, Cell>>,
}

impl Pipelines {
    pub fn get(&self, device: &wgpu::Device, kernel: &Kernel) -> Result<Arc<wgpu::ComputePipeline>> {
        let (cell, fresh) = self.cell(kernel);
        if let Some(p) = cell.get() {
            return p.clone();
        }
        let module = self.module(device, kernel.shader)?;
        if fresh {
            for companion in companions(kernel) {
                let (cell, fresh) = self.cell(&companion);
                if fresh {
                    let (device, module) = (device.clone(), module.clone());
                    // Without a thread, the companion is created when first asked for.
                    let _ = std::thread::Builder::new().name("soma pipeline".into()).spawn(move || {
                        cell.get_or_init(|| build(&device, &module, &companion));
                    });
                }
            }
        }
        cell.get_or_init(|| build(device, &module, kernel)).clone()
    }

    /// The kernel's cell, and whether it was just made (nobody has asked for the kernel before).
    fn cell(&self, kernel: &Kernel) -> (Cell, bool) {
        let mut pipelines = self.pipelines.lock().unwrap_or_else(|p| p.into_inner());
        match pipelines.get(&kernel.key()) {
            Some(cell) => (cell.clone(), false),
            None => {
                let cell = Cell::default();
                pipelines.insert(kernel.key(), cell.clone());
                (cell, true)
            }
        }
    }

    fn module(&self, device: &wgpu::Device, shader: Shader) -> Result<wgpu::ShaderModule> {
        let mut modules = self.modules.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(m) = modules.get(&shader) {
            return Ok(m.clone());
        }
        let m = compile_module(device, shader.file(), shader.source())?;
        modules.insert(shader, m.clone());
        Ok(m)
    }
}

fn build(device: &wgpu::Device, module: &wgpu::ShaderModule, kernel: &Kernel) -> Result<Arc<wgpu::ComputePipeline>> {
    let label = format!("{} {}", kernel.shader.file(), kernel.entry);
    create_pipeline(device, module, &label, kernel.entry, &kernel.constants).map(Arc::new)
}

/// The variants a training step needs right after `kernel`, created on background threads
/// meanwhile (a matmul pipeline costs seconds on lavapipe): a linear layer's forward x · Wᵀ is
/// followed in backward by g · W and gᵀ · x, which read their operands transposed (`TRANS_A`,
/// `TRANS_B` of the buffer kernels) or k-major (`A_KMAJOR`, `B_KMAJOR` of the texture kernel).
fn companions(kernel: &Kernel) -> Vec<Kernel> {
    // Per pair of flags, their values in x · Wᵀ, g · W and gᵀ · x.
    type Flags = (&'static str, &'static str, [(f64, f64); 3]);
    const STEP: [Flags; 2] = [
        ("TRANS_A", "TRANS_B", [(0.0, 1.0), (0.0, 0.0), (1.0, 0.0)]),
        ("A_KMAJOR", "B_KMAJOR", [(0.0, 0.0), (0.0, 1.0), (1.0, 1.0)]),
    ];
    let has = |name| kernel.constants.iter().any(|&(n, _)| n == name);
    let Some(&(flag_a, flag_b, values)) = STEP.iter().find(|&&(a, b, _)| has(a) && has(b)) else {
        return Vec::new();
    };
    values
        .into_iter()
        .map(|(a, b)| {
            let mut k = kernel.clone();
            for (name, value) in &mut k.constants {
                if *name == flag_a {
                    *value = a;
                } else if *name == flag_b {
                    *value = b;
                }
            }
            k
        })
        .filter(|k| k.key() != kernel.key())
        .collect()
}

pub(crate) fn compile_module(device: &wgpu::Device, label: &str, source: &str) -> Result<wgpu::ShaderModule> {
    let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(label),
        source: wgpu::ShaderSource::Wgsl(source.into()),
    });
    match pollster::block_on(scope.pop()) {
        Some(e) => Err(Error::Device(format!("{label}: {e}"))),
        None => Ok(module),
    }
}

pub(crate) fn create_pipeline(
    device: &wgpu::Device,
    module: &wgpu::ShaderModule,
    label: &str,
    entry: &str,
    constants: &[(&str, f64)],
) -> Result<wgpu::ComputePipeline> {
    let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
    let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(label),
        layout: None,
        module,
        entry_point: Some(entry),
        compilation_options: wgpu::PipelineCompilationOptions {
            constants,
            // Every kernel writes its workgroup memory before reading it.
            zero_initialize_workgroup_memory: false,
        },
        cache: None,
    });
    match pollster::block_on(scope.pop()) {
        Some(e) => Err(Error::Device(format!("{label}: {e}"))),
        None => Ok(pipeline),
    }
}
