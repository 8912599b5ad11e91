//! Indexing ops: gather along an axis and index_select (rows of an embedding table).

use soma_device::{Error, GatherDims, Result, Shape};

use crate::Tensor;
use crate::op::Op;

impl Tensor {
    /// `torch.gather`: `out[.., i, ..] = self[.., index[.., i, ..], ..]` along `axis`. `index`
    /// holds integer values as f32 and has `self`'s shape except along `axis`.
    pub fn gather(&self, axis: usize, index: &Tensor) -> Result<Tensor> {
        self.same_device("gather", index)?;
        self.shape().check_axis("gather", axis)?;
        let same_rest = index.rank() == self.rank()
            && index.dims().iter().zip(self.dims()).enumerate().all(|(i, (a, b))| i == axis || a == b);
        if !same_rest {
            return Err(Error::shape(
                "gather",
                format!("index shape {:?} must match {:?} off axis {axis}", index.shape(), self.shape()),
            ));
        }
        let (outer, src_axis, inner) = self.shape().split_at_axis(axis);
        check_indices("gather", index, src_axis)?;
        let dims = GatherDims { outer, src_axis, index_axis: index.dims()[axis], inner };
        let storage = self.device().gather(self.storage(), index.storage(), dims)?;
        Ok(Tensor::from_op(storage, index.shape().clone(), self.device(), &[self], || Op::Gather {
            x: self.clone(),
            axis,
            index: index.detach(),
        }))
    }

    /// Picks entries along `axis` by a 1-D list of indices: `embedding.index_select(0, ids)`.
    pub fn index_select(&self, axis: usize, ids: &Tensor) -> Result<Tensor> {
        self.shape().check_axis("index_select", axis)?;
        if ids.rank() != 1 {
            return Err(Error::shape("index_select", format!("ids must be 1-D, got {:?}", ids.shape())));
        }
        let mut out_dims = self.dims().to_vec();
        out_dims[axis] = ids.numel();
        let mut id_dims = vec![1; self.rank()];
        id_dims[axis] = ids.numel();
        let index = ids.reshape(id_dims)?.broadcast_to(Shape::new(out_dims))?;
        self.gather(axis, &index)
    }
}

/// Index values are checked where they can be read for free (on the CPU). On the GPU a
/// readback would stall the queue, so the kernels turn an out-of-range index into NaN instead.
pub(crate) fn check_indices(op: &'static str, index: &Tensor, len: usize) -> Result<()> {
    if let soma_device::Storage::Cpu(s) = index.storage()
        && let Some(bad) = s.as_slice().iter().find(|&&i| !(i >= 0.0 && (i as usize) < len && i.fract() == 0.0))
    {
        return Err(Error::invalid(op, format!("index {bad} is out of range for an axis of length {len}")));
    }
    Ok(())
}
