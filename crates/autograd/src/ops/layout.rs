//! Shape and layout ops: reshape, permute/transpose, broadcast, narrow, cat and stack.

use soma_device::{Error, Result, Shape, StridedView};

use crate::Tensor;
use crate::op::Op;
use crate::ops::elementwise::check_rank;

impl Tensor {
    /// The same buffer under a new shape with as many elements (free: storage is contiguous).
    pub fn reshape(&self, shape: impl Into<Shape>) -> Result<Tensor> {
        let shape = shape.into();
        if shape.checked_numel("reshape")? != self.numel() {
            return Err(Error::shape(
                "reshape",
                format!("cannot reshape {:?} ({} elements) to {shape:?}", self.shape(), self.numel()),
            ));
        }
        Ok(Tensor::from_op(self.storage().clone(), shape, self.device(), &[self], || Op::Reshape { x: self.clone() }))
    }
    /// Flattens all axes from `start` on into one: `[n, c, h, w].flatten(1)` is `[n, c*h*w]`; a
    /// scalar flattens (from 0) to `[1]`.
    pub fn flatten(&self, start: usize) -> Result<Tensor> {
        if start >= self.rank().max(1) {
            return Err(Error::invalid("flatten", format!("axis {start} is out of range for {:?}", self.shape())));
        }
        let mut dims = self.dims()[..start].to_vec();
        dims.push(self.dims()[start..].iter().product());
        self.reshape(dims)
    }
    /// Inserts an axis of length 1 at `axis`.
    pub fn unsqueeze(&self, axis: usize) -> Result<Tensor> {
        if axis > self.rank() {
            return Err(Error::invalid("unsqueeze", format!("axis {axis} is out of range for {:?}", self.shape())));
        }
        let mut dims = self.dims().to_vec();
        dims.insert(axis, 1);
        self.reshape(dims)
    }
    /// Removes an axis of length 1.
    pub fn squeeze(&self, axis: usize) -> Result<Tensor> {
        self.shape().check_axis("squeeze", axis)?;
        if self.dims()[axis] != 1 {
            return Err(Error::shape("squeeze", format!("axis {axis} of {:?} is not of length 1", self.shape())));
        }
        let mut dims = self.dims().to_vec();
        dims.remove(axis);
        self.reshape(dims)
    }

    /// Reorders the axes: output axis `i` is input axis `perm[i]`.
    pub fn permute(&self, perm: &[usize]) -> Result<Tensor> {
        let rank = self.rank();
        let mut seen = vec![false; rank];
        if perm.len() != rank || perm.iter().any(|&p| p >= rank || std::mem::replace(&mut seen[p], true)) {
            return Err(Error::invalid(
                "permute",
                format!("{perm:?} is not a permutation of the axes of {:?}", self.shape()),
            ));
        }
        check_rank("permute", self.shape())?;
        if perm.iter().enumerate().all(|(i, &p)| i == p) {
            return Ok(self.clone());
        }
        let strides = self.shape().strides();
        let view = StridedView {
            shape: perm.iter().map(|&p| self.dims()[p]).collect(),
            strides: perm.iter().map(|&p| strides[p]).collect(),
            offset: 0,
        };
        let storage = self.device().copy_strided(self.storage(), &view)?;
        Ok(Tensor::from_op(storage, Shape::new(view.shape), self.device(), &[self], || Op::Permute {
            x: self.clone(),
            perm: perm.to_vec(),
        }))
    }
    /// Swaps two axes.
    pub fn transpose(&self, a: usize, b: usize) -> Result<Tensor> {
        self.shape().check_axis("transpose", a.max(b))?;
        let mut perm: Vec<usize> = (0..self.rank()).collect();
        perm.swap(a, b);
        self.permute(&perm)
    }
    /// The matrix transpose of the last two axes.
    pub fn t(&self) -> Result<Tensor> {
        if self.rank() < 2 {
            return Err(Error::invalid("t", format!("needs at least 2 axes, got {:?}", self.shape())));
        }
        self.transpose(self.rank() - 2, self.rank() - 1)
    }

    /// Repeats the tensor along axes of length 1 (and new leading axes) to `shape`.
    pub fn broadcast_to(&self, shape: impl Into<Shape>) -> Result<Tensor> {
        let shape = shape.into();
        if &shape == self.shape() {
            return Ok(self.clone());
        }
        if Shape::broadcast("broadcast_to", self.shape(), &shape)? != shape {
            return Err(Error::shape("broadcast_to", format!("cannot broadcast {:?} to {shape:?}", self.shape())));
        }
        check_rank("broadcast_to", &shape)?;
        let view =
            StridedView { shape: shape.dims().to_vec(), strides: self.shape().broadcast_strides(&shape), offset: 0 };
        let storage = self.device().copy_strided(self.storage(), &view)?;
        Ok(Tensor::from_op(storage, shape, self.device(), &[self], || Op::Expand { x: self.clone() }))
    }

    /// The slice `start..start + len` of `axis`.
    pub fn narrow(&self, axis: usize, start: usize, len: usize) -> Result<Tensor> {
        self.shape().check_axis("narrow", axis)?;
        if start.checked_add(len).is_none_or(|end| end > self.dims()[axis]) {
            return Err(Error::shape(
                "narrow",
                format!("{start}..{start}+{len} is out of range for axis {axis} of {:?}", self.shape()),
            ));
        }
        check_rank("narrow", self.shape())?;
        let strides = self.shape().strides();
        let mut dims = self.dims().to_vec();
        dims[axis] = len;
        let view = StridedView { shape: dims.clone(), strides, offset: start * self.shape().strides()[axis] };
        let storage = self.device().copy_strided(self.storage(), &view)?;
        Ok(Tensor::from_op(storage, Shape::new(dims), self.device(), &[self], || Op::Narrow {
            x: self.clone(),
            axis,
            start,
        }))
    }

    /// Joins tensors along an existing axis; all other axes must agree.
    pub fn cat(parts: &[Tensor], axis: usize) -> Result<Tensor> {
        let first = parts.first().ok_or_else(|| Error::invalid("cat", "needs at least one tensor"))?;
        first.shape().check_axis("cat", axis)?;
        for p in parts {
            first.same_device("cat", p)?;
            let same_rest = p.rank() == first.rank()
                && p.dims().iter().zip(first.dims()).enumerate().all(|(i, (a, b))| i == axis || a == b);
            if !same_rest {
                let shapes: Vec<_> = parts.iter().map(|p| p.shape().clone()).collect();
                return Err(Error::shape("cat", format!("shapes differ off axis {axis}: {shapes:?}")));
            }
        }
        let (outer, _, inner) = first.shape().split_at_axis(axis);
        let pieces: Vec<_> = parts.iter().map(|p| (p.storage(), p.dims()[axis])).collect();
        let storage = first.device().concat(&pieces, outer, inner)?;
        let mut dims = first.dims().to_vec();
        dims[axis] = parts.iter().map(|p| p.dims()[axis]).sum();
        let parents: Vec<&Tensor> = parts.iter().collect();
        Ok(Tensor::from_op(storage, Shape::new(dims), first.device(), &parents, || Op::Cat {
            parts: parts.to_vec(),
            axis,
        }))
    }
    /// Joins tensors of one shape along a new axis.
    pub fn stack(parts: &[Tensor], axis: usize) -> Result<Tensor> {
        let expanded = parts.iter().map(|p| p.unsqueeze(axis)).collect::<Result<Vec<_>>>()?;
        Tensor::cat(&expanded, axis)
    }
}
