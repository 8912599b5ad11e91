//! Matrix products: 2-D, batched 3-D and a batched left side against one matrix.

use soma_device::{Error, MatmulDims, Result, Shape};

use crate::Tensor;
use crate::op::Op;

impl Tensor {
    /// `self @ other`: `[m, k] x [k, n]`, `[.., m, k] x [.., k, n]` with equal batch axes, or
    /// `[.., m, k] x [k, n]` (the batch folds into the rows).
    pub fn matmul(&self, other: &Tensor) -> Result<Tensor> {
        self.matmul_t(other, false, false)
    }

    /// `op(self) @ op(other)` where `op` transposes the last two axes when its flag is set.
    /// The transpose costs nothing: the kernels read the operand transposed.
    pub fn matmul_t(&self, other: &Tensor, transpose_a: bool, transpose_b: bool) -> Result<Tensor> {
        self.same_device("matmul", other)?;
        let (a, b) = (self.dims(), other.dims());
        let bad = || Error::shape("matmul", format!("cannot multiply {:?} x {:?}", self.shape(), other.shape()));
        if a.len() < 2 || b.len() < 2 {
            return Err(bad());
        }
        let (ra, rb) = (a.len(), b.len());
        let (m, ka) = if transpose_a { (a[ra - 1], a[ra - 2]) } else { (a[ra - 2], a[ra - 1]) };
        let (kb, n) = if transpose_b { (b[rb - 1], b[rb - 2]) } else { (b[rb - 2], b[rb - 1]) };
        if ka != kb {
            return Err(Error::shape(
                "matmul",
                format!("inner dimensions differ: {:?} x {:?}", self.shape(), other.shape()),
            ));
        }
        let batch_a: usize = a[..ra - 2].iter().product();
        let batch_b: usize = b[..rb - 2].iter().product();
        if rb == 2 && ra > 2 && !transpose_a {
            // Fold the batch into the rows: one large GEMM instead of many small ones.
            let folded = self.reshape([batch_a * m, ka])?;
            let out = folded.matmul_3d(other, false, transpose_b)?;
            let mut dims = a[..ra - 2].to_vec();
            dims.extend([m, n]);
            return out.reshape(dims);
        }
        if ra != rb || a[..ra - 2] != b[..rb - 2] {
            return Err(Error::shape("matmul", format!("batch axes differ: {:?} x {:?}", self.shape(), other.shape())));
        }
        let out = self.reshape([batch_a, a[ra - 2], a[ra - 1]])?.matmul_3d(
            &other.reshape([batch_b, b[rb - 2], b[rb - 1]])?,
            transpose_a,
            transpose_b,
        )?;
        let mut dims = a[..ra - 2].to_vec();
        dims.extend([m, n]);
        out.reshape(dims)
    }

    /// A linear layer (PyTorch's `F.linear`): `self · wᵀ + bias`, then a ReLU when `relu`, for
    /// `self` `[.., in]`, `w` `[out, in]` and `bias` `[out]`; the output is `[.., out]`. Backends
    /// fuse the bias and ReLU into the product where they can (one kernel on lavapipe).
    pub fn linear(&self, w: &Tensor, bias: Option<&Tensor>, relu: bool) -> Result<Tensor> {
        self.same_device("linear", w)?;
        if let Some(b) = bias {
            self.same_device("linear", b)?;
        }
        let (x, wd) = (self.dims(), w.dims());
        let fits =
            !x.is_empty() && wd.len() == 2 && x[x.len() - 1] == wd[1] && bias.is_none_or(|b| b.dims() == [wd[0]]);
        if !fits {
            let bias = bias.map(|b| format!(" + bias {:?}", b.shape())).unwrap_or_default();
            let msg = format!(
                "needs x [.., in], w [out, in] and bias [out]; got x {:?}, w {:?}{bias}",
                self.shape(),
                w.shape()
            );
            return Err(Error::shape("linear", msg));
        }
        let (inputs, outputs) = (wd[1], wd[0]);
        let rows: usize = x[..x.len() - 1].iter().product();
        let x2 = if x.len() == 2 { self.clone() } else { self.reshape([rows, inputs])? };
        let dims = MatmulDims { batch: 1, m: rows, n: outputs, k: inputs, transpose_a: false, transpose_b: true };
        let storage = self.device().linear(x2.storage(), w.storage(), dims, bias.map(Tensor::storage), relu)?;
        let mut shape = x[..x.len() - 1].to_vec();
        shape.push(outputs);
        let parents: Vec<&Tensor> = [&x2, w].into_iter().chain(bias).collect();
        let mask =
            relu.then(|| Tensor::make(storage.clone(), Shape::new([rows, outputs]), self.device().clone(), None));
        Ok(Tensor::from_op(storage, Shape::new(shape), self.device(), &parents, || Op::Linear {
            x: x2.clone(),
            w: w.clone(),
            bias: bias.cloned(),
            relu,
            out: mask,
        }))
    }

    /// The recorded primitive: operands of rank 2 or 3 with equal batch, already checked.
    pub(crate) fn matmul_3d(&self, other: &Tensor, transpose_a: bool, transpose_b: bool) -> Result<Tensor> {
        let (a, b) = (self.dims(), other.dims());
        let batch = if a.len() == 3 { a[0] } else { 1 };
        let (ra, rb) = (a.len(), b.len());
        let (m, k) = if transpose_a { (a[ra - 1], a[ra - 2]) } else { (a[ra - 2], a[ra - 1]) };
        let n = if transpose_b { b[rb - 2] } else { b[rb - 1] };
        let dims = MatmulDims { batch, m, n, k, transpose_a, transpose_b };
        let storage = self.device().matmul(self.storage(), other.storage(), dims)?;
        let shape = if a.len() == 3 { Shape::new([batch, m, n]) } else { Shape::new([m, n]) };
        Ok(Tensor::from_op(storage, shape, self.device(), &[self, other], || Op::Matmul {
            a: self.clone(),
            b: other.clone(),
            transpose_a,
            transpose_b,
        }))
    }
}
