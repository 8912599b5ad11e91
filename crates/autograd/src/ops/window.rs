//! Window ops for convolution and pooling: im2col (and, through its backward, col2im).

use soma_device::{Conv2dGeometry, Error, Result, Shape};

use crate::Tensor;
use crate::op::Op;

impl Tensor {
    /// Unfolds the `kernel_h x kernel_w` windows of an `[n, c, h, w]` tensor into columns:
    /// `[n, c * kernel_h * kernel_w, out_h * out_w]`, zero-padded by `padding`.
    pub fn im2col(&self, kernel: (usize, usize), stride: usize, padding: usize) -> Result<Tensor> {
        let geom = self.window_geometry("im2col", kernel, stride, padding)?;
        let storage = self.device().im2col(self.storage(), geom)?;
        let shape = Shape::new([geom.n, geom.c * geom.kernel_h * geom.kernel_w, geom.out_h() * geom.out_w()]);
        Ok(Tensor::from_op(storage, shape, self.device(), &[self], || Op::Im2col { x: self.clone(), geom }))
    }

    pub(crate) fn window_geometry(
        &self,
        op: &'static str,
        (kernel_h, kernel_w): (usize, usize),
        stride: usize,
        padding: usize,
    ) -> Result<Conv2dGeometry> {
        let &[n, c, h, w] = self.dims() else {
            return Err(Error::shape(op, format!("expects [n, c, h, w], got {:?}", self.shape())));
        };
        let geometry = Conv2dGeometry { n, c, h, w, kernel_h, kernel_w, stride, padding };
        geometry.check(op)?;
        Ok(geometry)
    }
}
