//! The WGSL sources (one file per kernel family) and the pipeline cache, keyed by
//! (shader, entry point, override constants). Creation runs in an error scope, so an invalid
//! shader is an `Error::Device` rather than a panic.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Shader {
    Unary,
    Binary,
    Reduce,
    Softmax,
    Matmul,
    MatmulSubgroup,
    Layout,
    Conv,
    Random,
    Optim,
}

impl Shader {
    pub fn source(self) -> &'static str {
        match self {
            Shader::Unary => include_str!("../../../../shaders/unary.wgsl"),
            Shader::Binary => include_str!("../../../../shaders/binary.wgsl"),
            Shader::Reduce => include_str!("../../../../shaders/reduce.wgsl"),
            Shader::Softmax => include_str!("../../../../shaders/softmax.wgsl"),
            Shader::Matmul => include_str!("../../../../shaders/matmul.wgsl"),
            Shader::MatmulSubgroup => include_str!("../../../../shaders/matmul_subgroup.wgsl"),
            Shader::Layout => include_str!("../../../../shaders/layout.wgsl"),
            Shader::Conv => include_str!("../../../../shaders/conv.wgsl"),
            Shader::Random => include_str!("../../../../shaders/random.wgsl"),
            Shader::Optim => include_str!("../../../../shaders/optim.wgsl"),
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
            Shader::Layout => "layout.wgsl",
            Shader::Conv => "conv.wgsl",
            Shader::Random => "random.wgsl",
            Shader::Optim => "optim.wgsl",
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

#[derive(Default)]
pub(crate) struct Pipelines {
    modules: Mutex<HashMap<Shader, wgpu::ShaderModule>>,
    pipelines: Mutex<HashMap<Key, Arc<wgpu::ComputePipeline>>>,
}

impl Pipelines {
    pub fn get(&self, device: &wgpu::Device, kernel: &Kernel) -> Result<Arc<wgpu::ComputePipeline>> {
        let key = kernel.key();
        if let Some(p) = self.pipelines.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return Ok(p.clone());
        }
        let module = {
            let mut modules = self.modules.lock().unwrap_or_else(|p| p.into_inner());
            match modules.get(&kernel.shader) {
                Some(m) => m.clone(),
                None => {
                    let m = compile_module(device, kernel.shader.file(), kernel.shader.source())?;
                    modules.insert(kernel.shader, m.clone());
                    m
                }
            }
        };
        let label = format!("{} {}", kernel.shader.file(), kernel.entry);
        let pipeline = Arc::new(create_pipeline(device, &module, &label, kernel.entry, &kernel.constants)?);
        self.pipelines.lock().unwrap_or_else(|p| p.into_inner()).insert(key, pipeline.clone());
        Ok(pipeline)
    }
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
