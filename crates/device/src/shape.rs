//! `Shape`: the dimensions of a tensor, row-major strides and NumPy broadcasting.

use crate::{Error, Result};

/// The highest rank a kernel accepts (the GPU kernels carry shapes in fixed-size arrays).
pub const MAX_RANK: usize = 6;

/// The product of `dims`, or `None` when it does not fit a `usize` (0 whenever a dim is 0, however
/// large the others).
pub(crate) fn checked_product(dims: &[usize]) -> Option<usize> {
    if dims.contains(&0) {
        return Some(0);
    }
    dims.iter().try_fold(1usize, |n, &d| n.checked_mul(d))
}

/// The dimensions of a tensor, outermost first. A scalar has no dimensions.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Shape(Vec<usize>);

impl Shape {
    pub fn new(dims: impl Into<Vec<usize>>) -> Self {
        Shape(dims.into())
    }
    pub fn scalar() -> Self {
        Shape(Vec::new())
    }
    pub fn dims(&self) -> &[usize] {
        &self.0
    }
    pub fn rank(&self) -> usize {
        self.0.len()
    }
    /// The number of elements (1 for a scalar; 0 when any dim is 0, however large the others).
    /// Past `usize::MAX` it saturates: shapes a caller spells out are refused before that by
    /// `checked_numel`.
    pub fn numel(&self) -> usize {
        checked_product(&self.0).unwrap_or(usize::MAX)
    }
    /// `numel`, or a `Limit` error naming `op` when the count does not fit a `usize`. Shapes a
    /// caller spells out are checked with this before anything is allocated for them.
    pub fn checked_numel(&self, op: &'static str) -> Result<usize> {
        checked_product(&self.0)
            .ok_or_else(|| Error::limit(op, format!("shape {self:?} has more elements than fit in memory")))
    }
    /// Row-major strides in elements.
    pub fn strides(&self) -> Vec<usize> {
        let mut strides = vec![1usize; self.0.len()];
        for i in (0..self.0.len().saturating_sub(1)).rev() {
            // Wrapping: only an empty shape's strides can overflow, and nothing reads them.
            strides[i] = strides[i + 1].wrapping_mul(self.0[i + 1]);
        }
        strides
    }
    /// Checks `axis < rank`, naming the op in the error.
    pub fn check_axis(&self, op: &'static str, axis: usize) -> Result<()> {
        if axis < self.rank() {
            Ok(())
        } else {
            Err(Error::invalid(op, format!("axis {axis} is out of range for shape {self:?}")))
        }
    }
    /// Views the shape as `[outer, dims[axis], inner]` around `axis`. An empty shape's other dims
    /// may be too large to count: their products saturate at `usize::MAX` instead of overflowing,
    /// and the device refuses any output that large.
    pub fn split_at_axis(&self, axis: usize) -> (usize, usize, usize) {
        let product = |dims: &[usize]| dims.iter().try_fold(1usize, |n, &d| n.checked_mul(d)).unwrap_or(usize::MAX);
        (product(&self.0[..axis]), self.0[axis], product(&self.0[axis + 1..]))
    }
    /// The NumPy broadcast of two shapes: dimensions align from the right; a 1 stretches.
    pub fn broadcast(op: &'static str, a: &Shape, b: &Shape) -> Result<Shape> {
        let rank = a.rank().max(b.rank());
        let mut dims = vec![0; rank];
        for (i, dim) in dims.iter_mut().enumerate() {
            let da = a.dim_from_right(rank - 1 - i);
            let db = b.dim_from_right(rank - 1 - i);
            *dim = match (da, db) {
                (x, y) if x == y => x,
                (1, y) => y,
                (x, 1) => x,
                _ => {
                    return Err(Error::shape(op, format!("shapes cannot be broadcast: {a:?} and {b:?}")));
                }
            };
        }
        let shape = Shape(dims);
        shape.checked_numel(op)?;
        Ok(shape)
    }
    /// Strides that read this shape as if it had been broadcast to `target` (0 where stretched).
    pub fn broadcast_strides(&self, target: &Shape) -> Vec<usize> {
        let own = self.strides();
        let offset = target.rank() - self.rank();
        (0..target.rank()).map(|i| if i < offset || self.0[i - offset] == 1 { 0 } else { own[i - offset] }).collect()
    }
    fn dim_from_right(&self, i: usize) -> usize {
        if i < self.rank() { self.0[self.rank() - 1 - i] } else { 1 }
    }
}

impl std::fmt::Debug for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl From<&[usize]> for Shape {
    fn from(d: &[usize]) -> Self {
        Shape(d.to_vec())
    }
}
impl From<Vec<usize>> for Shape {
    fn from(d: Vec<usize>) -> Self {
        Shape(d)
    }
}
impl<const N: usize> From<[usize; N]> for Shape {
    fn from(d: [usize; N]) -> Self {
        Shape(d.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_follows_numpy() {
        let s = Shape::broadcast("add", &Shape::new([3, 1, 5]), &Shape::new([4, 1])).unwrap();
        assert_eq!(s.dims(), &[3, 4, 5]);
        assert_eq!(Shape::new([4, 1]).broadcast_strides(&s), vec![0, 1, 0]);
        let err = Shape::broadcast("add", &Shape::new([2, 3]), &Shape::new([4])).unwrap_err();
        assert_eq!(err.to_string(), "add: shapes cannot be broadcast: [2, 3] and [4]");
    }

    #[test]
    fn an_empty_shape_has_no_elements_however_large_its_other_dims() {
        let huge = 1usize << 40;
        assert_eq!(Shape::new([huge, huge, 0]).numel(), 0);
        assert_eq!(Shape::new([huge, huge, 0]).strides()[2], 1);
        // Past usize it saturates (it wrapped, to 0 here, in release builds).
        assert_eq!(Shape::new([huge, huge, 256]).numel(), usize::MAX);
    }

    #[test]
    fn strides_are_row_major() {
        assert_eq!(Shape::new([2, 3, 4]).strides(), vec![12, 4, 1]);
        assert_eq!(Shape::scalar().numel(), 1);
    }
}
