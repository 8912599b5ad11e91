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
