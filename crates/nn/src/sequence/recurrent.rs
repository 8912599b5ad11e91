//! The machinery shared by `Rnn`, `Lstm` and `Gru`: stacked layers of PyTorch-named weights and
//! the loop over time; each layer kind only supplies its cell (one time step).

use std::marker::PhantomData;

use soma_autograd::{Rng, Tensor};
use soma_device::{Device, Error, Result};

use crate::sequence::check_sequence;
use crate::{Param, init, join};

/// The parts of `Rnn`, `Gru` and `Lstm` (structs holding `stack: Recurrent<Cell>`) that differ
/// only by name: `new`, `stacked`, the sizes, and `Module` (the outputs from a zero state, through
/// the layer's own `forward_seq`).
macro_rules! recurrent_layer {
    ($layer:ident) => {
        impl $layer {
            /// One layer.
            pub fn new(
                input_size: usize,
                hidden_size: usize,
                device: &soma_device::Device,
                rng: &mut soma_autograd::Rng,
            ) -> soma_device::Result<$layer> {
                $layer::stacked(input_size, hidden_size, 1, device, rng)
            }
            /// `num_layers` layers, each reading the previous one's outputs.
            pub fn stacked(
                input_size: usize,
                hidden_size: usize,
                num_layers: usize,
                device: &soma_device::Device,
                rng: &mut soma_autograd::Rng,
            ) -> soma_device::Result<$layer> {
                let stack =
                    $crate::sequence::recurrent::Recurrent::new(input_size, hidden_size, num_layers, device, rng)?;
                Ok($layer { stack })
            }
            pub fn input_size(&self) -> usize {
                self.stack.input_size()
            }
            pub fn hidden_size(&self) -> usize {
                self.stack.hidden_size()
            }
            pub fn num_layers(&self) -> usize {
                self.stack.num_layers()
            }
        }

        impl $crate::Module for $layer {
            /// The outputs `[batch, time, hidden]` from a zero state.
            fn forward(&self, x: &soma_autograd::Tensor) -> soma_device::Result<soma_autograd::Tensor> {
                Ok(self.forward_seq(x, None)?.0)
            }
            fn visit_params(&self, prefix: &str, f: &mut dyn FnMut(&str, &$crate::Param)) {
                self.stack.visit_params(prefix, f)
            }
        }
    };
}
pub(crate) use recurrent_layer;

/// One time step of a recurrent layer kind.
pub(crate) trait Cell {
    /// The layer's name in errors: `"Lstm"`.
    const NAME: &'static str;
    /// How many gate blocks of `hidden` rows the weights stack (1, 3 or 4).
    const GATES: usize;
    /// Whether the state carries a cell `c` besides `h` (LSTM): it is then `[batch, 2 hidden]`,
    /// `(h, c)` per row, else `h [batch, hidden]`.
    const HAS_CELL: bool;
    /// Whether `b_hh` may join `b_ih` in the input projection, added once for every time step
    /// (not when the cell scales `gh`, as the GRU's reset gate does).
    const FOLDS_HH_BIAS: bool;

    /// The next state from `gi = x W_ihᵀ + b_ih` and `gh = h W_hhᵀ + b_hh` (both
    /// `[batch, GATES * hidden]`, gate blocks in PyTorch's order; `b_hh` is in `gi` instead when
    /// `FOLDS_HH_BIAS`) and the state.
    fn step(gi: &Tensor, gh: &Tensor, state: &Tensor) -> Result<Tensor>;
}

/// The weights of layer `l`: `weight_ih_l{l}`, `weight_hh_l{l}`, `bias_ih_l{l}`, `bias_hh_l{l}`.
struct LayerWeights {
    weight_ih: Param,
    weight_hh: Param,
    bias_ih: Param,
    bias_hh: Param,
}

/// A stack of `num_layers` recurrent layers of one kind; layer `l > 0` reads layer `l - 1`'s output.
pub(crate) struct Recurrent<C> {
    layers: Vec<LayerWeights>,
    input_size: usize,
    hidden_size: usize,
    cell: PhantomData<fn() -> C>,
}

/// The final state of every layer: `h` (and `c` for an LSTM), each `[num_layers, batch, hidden]`.
pub(crate) struct FinalState {
    pub(crate) h: Tensor,
    pub(crate) c: Option<Tensor>,
}

impl<C: Cell> Recurrent<C> {
    /// PyTorch's init: every weight and bias drawn from `U(-1/√hidden, 1/√hidden)`, layer by
    /// layer in the order `weight_ih, weight_hh, bias_ih, bias_hh`.
    pub(crate) fn new(
        input_size: usize,
        hidden_size: usize,
        num_layers: usize,
        device: &Device,
        rng: &mut Rng,
    ) -> Result<Self> {
        if input_size == 0 || hidden_size == 0 || num_layers == 0 {
            return Err(Error::invalid(
                C::NAME,
                format!("sizes must be positive: input {input_size}, hidden {hidden_size}, layers {num_layers}"),
            ));
        }
        let rows = C::GATES * hidden_size;
        let uniform = |shape: Vec<usize>, rng: &mut Rng| -> Result<Param> {
            Ok(Param::new(init::fan_in_uniform(shape, hidden_size, device, rng)?))
        };
        let layers = (0..num_layers)
            .map(|l| {
                let in_features = if l == 0 { input_size } else { hidden_size };
                Ok(LayerWeights {
                    weight_ih: uniform(vec![rows, in_features], rng)?,
                    weight_hh: uniform(vec![rows, hidden_size], rng)?,
                    bias_ih: uniform(vec![rows], rng)?,
                    bias_hh: uniform(vec![rows], rng)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Recurrent { layers, input_size, hidden_size, cell: PhantomData })
    }

    pub(crate) fn input_size(&self) -> usize {
        self.input_size
    }
    pub(crate) fn hidden_size(&self) -> usize {
        self.hidden_size
    }
    pub(crate) fn num_layers(&self) -> usize {
        self.layers.len()
    }

    /// Checks an initial state `[num_layers, batch, hidden]` on `device` (`what` is `"h0"` or `"c0"`).
    fn check_state(&self, what: &str, state: &Tensor, batch: usize, device: &Device) -> Result<()> {
        if state.device() != device {
            let (a, b) = (device.name(), format!("{} ({what})", state.device().name()));
            return Err(Error::DeviceMismatch { op: C::NAME, a, b });
        }
        let expected = [self.layers.len(), batch, self.hidden_size];
        if state.dims() != expected {
            return Err(Error::shape(
                C::NAME,
                format!("{what} must be {expected:?} (layers, batch, hidden), got {:?}", state.shape()),
            ));
        }
        Ok(())
    }

    /// Runs the stack over `x [batch, time, input]` from `h0` / `c0` (zeros when `None`).
    /// Returns the last layer's outputs `[batch, time, hidden]` and every layer's final state.
    pub(crate) fn run(&self, x: &Tensor, h0: Option<&Tensor>, c0: Option<&Tensor>) -> Result<(Tensor, FinalState)> {
        let (batch, time) = check_sequence(C::NAME, self.input_size, x)?;
        let hidden = self.hidden_size;
        for (what, state) in [("h0", h0), ("c0", c0)] {
            if let Some(s) = state {
                self.check_state(what, s, batch, x.device())?;
            }
        }
        let zeros = Tensor::zeros([batch, hidden], x.device())?;
        let initial = |state: Option<&Tensor>, l: usize| -> Result<Tensor> {
            match state {
                Some(s) => s.narrow(0, l, 1)?.reshape([batch, hidden]),
                None => Ok(zeros.clone()),
            }
        };
        let mut input = x.clone();
        let (mut final_h, mut final_c) = (Vec::new(), Vec::new());
        for (l, w) in self.layers.iter().enumerate() {
            let (weight_hh, bias_hh) = (w.weight_hh.get(), w.bias_hh.get());
            let bias = if C::FOLDS_HH_BIAS { (&w.bias_ih.get() + &bias_hh)? } else { w.bias_ih.get() };
            // The input projection of every time step in one matmul: [batch, time, GATES * hidden].
            let gi_all = (&input.matmul_t(&w.weight_ih.get(), false, true)? + &bias)?;
            let mut h = initial(h0, l)?;
            let mut state = if C::HAS_CELL { Tensor::cat(&[h.clone(), initial(c0, l)?], 1)? } else { h.clone() };
            let mut outputs = Vec::with_capacity(time);
            for t in 0..time {
                // Backward joins the steps' gradients in one `cat` (see `PendingGrad`).
                let gi = gi_all.narrow(1, t, 1)?.reshape([batch, C::GATES * hidden])?;
                let mut gh = h.matmul_t(&weight_hh, false, true)?;
                if !C::FOLDS_HH_BIAS {
                    gh = (&gh + &bias_hh)?;
                }
                state = C::step(&gi, &gh, &state)?;
                h = if C::HAS_CELL { state.narrow(1, 0, hidden)? } else { state.clone() };
                outputs.push(h.clone());
            }
            input = Tensor::stack(&outputs, 1)?;
            final_h.push(h);
            if C::HAS_CELL {
                final_c.push(state.narrow(1, hidden, hidden)?);
            }
        }
        let c = if C::HAS_CELL { Some(Tensor::stack(&final_c, 0)?) } else { None };
        Ok((input, FinalState { h: Tensor::stack(&final_h, 0)?, c }))
    }

    pub(crate) fn visit_params(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param)) {
        for (l, w) in self.layers.iter().enumerate() {
            f(&join(prefix, &format!("weight_ih_l{l}")), &w.weight_ih);
            f(&join(prefix, &format!("weight_hh_l{l}")), &w.weight_hh);
            f(&join(prefix, &format!("bias_ih_l{l}")), &w.bias_ih);
            f(&join(prefix, &format!("bias_hh_l{l}")), &w.bias_hh);
        }
    }
}
