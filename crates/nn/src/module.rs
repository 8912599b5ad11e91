//! `Module`: a layer or model with named parameters and a train/eval mode; `Sequential`.

use soma_autograd::Tensor;
use soma_device::Result;

use crate::Param;

/// A differentiable function with parameters. Names are dotted paths: `"0.weight"`.
pub trait Module: Send + Sync {
    fn forward(&self, x: &Tensor) -> Result<Tensor>;

    /// `forward` then a ReLU; a layer that fuses the ReLU into its own kernel (`Linear`) overrides
    /// it, and `Sequential` calls it for a layer followed by a `ReLU`.
    fn forward_relu(&self, x: &Tensor) -> Result<Tensor> {
        self.forward(x)?.relu()
    }

    /// Whether the module is a plain ReLU (which `Sequential` fuses into the layer before it).
    fn is_relu(&self) -> bool {
        false
    }

    /// Calls `f(path, param)` for every parameter and buffer, paths prefixed by `prefix`.
    fn visit_params(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param));

    /// Switches training behaviour (dropout, batch statistics) on or off. Unlike PyTorch this does
    /// not walk a module's children by itself: a container holding modes must pass it on (as
    /// `Sequential` does); the default does nothing.
    fn train(&mut self, _on: bool) {}

    /// `train(false)`.
    fn eval(&mut self) {
        self.train(false)
    }

    /// Every parameter and buffer with its path, in visiting order.
    fn named_params(&self) -> Vec<(String, Param)> {
        let mut out = Vec::new();
        self.visit_params("", &mut |name, p| out.push((name.to_string(), p.clone())));
        out
    }

    /// The trainable parameters only; one shared by two paths (tied weights) is listed once, as
    /// torch's `parameters()` lists it.
    fn parameters(&self) -> Vec<Param> {
        let mut seen = std::collections::HashSet::new();
        self.named_params()
            .into_iter()
            .map(|(_, p)| p)
            .filter(|p| p.is_trainable() && seen.insert(p.get().id()))
            .collect()
    }

    /// The number of trainable scalars.
    fn num_parameters(&self) -> usize {
        self.parameters().iter().map(|p| p.get().numel()).sum()
    }
}

/// Joins a path prefix and a name: `join("0", "weight") == "0.weight"`, `join("", "weight") == "weight"`.
pub fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() { name.to_string() } else { format!("{prefix}.{name}") }
}

/// Modules applied in order; the i-th module's parameters are named `"i.<name>"`.
#[derive(Default)]
pub struct Sequential {
    layers: Vec<Box<dyn Module>>,
}

impl Sequential {
    pub fn new() -> Self {
        Sequential::default()
    }
    /// Appends a module (builder style).
    #[allow(clippy::should_implement_trait)] // the builder name PyTorch and Burn users expect
    pub fn add(mut self, layer: impl Module + 'static) -> Self {
        self.layers.push(Box::new(layer));
        self
    }
    pub fn push(&mut self, layer: Box<dyn Module>) {
        self.layers.push(layer);
    }
    pub fn len(&self) -> usize {
        self.layers.len()
    }
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }
}

impl Module for Sequential {
    /// Runs the layers in order; a layer followed by a `ReLU` runs as `forward_relu` (a `Linear`
    /// then computes both in one kernel).
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut x = x.clone();
        let mut layers = self.layers.iter().peekable();
        while let Some(layer) = layers.next() {
            x = match layers.next_if(|next| next.is_relu()) {
                Some(_) => layer.forward_relu(&x)?,
                None => layer.forward(&x)?,
            };
        }
        Ok(x)
    }
    fn visit_params(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param)) {
        for (i, layer) in self.layers.iter().enumerate() {
            layer.visit_params(&join(prefix, &i.to_string()), f);
        }
    }
    fn train(&mut self, on: bool) {
        for layer in &mut self.layers {
            layer.train(on);
        }
    }
}
