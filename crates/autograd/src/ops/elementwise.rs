//! Elementwise ops: unary functions, broadcasting binary ops, scalar ops and `where`.

use soma_device::{BinaryOp, Error, Result, Shape, UnaryOp};

use crate::Tensor;
use crate::op::Op;

impl Tensor {
    /// Applies a unary op from the device's table (`alpha` is used by leaky_relu and elu).
    pub fn unary(&self, op: UnaryOp, alpha: f32) -> Result<Tensor> {
        let storage = self.device().unary(op, self.storage(), alpha)?;
        Ok(Tensor::from_op(storage, self.shape().clone(), self.device(), &[self], || Op::Unary {
            op,
            alpha,
            x: self.clone(),
        }))
    }
    pub fn neg(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Neg, 0.0)
    }
    pub fn exp(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Exp, 0.0)
    }
    pub fn log(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Log, 0.0)
    }
    pub fn sqrt(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Sqrt, 0.0)
    }
    pub fn abs(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Abs, 0.0)
    }
    pub fn sign(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Sign, 0.0)
    }
    pub fn recip(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Recip, 0.0)
    }
    pub fn square(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Square, 0.0)
    }
    pub fn sin(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Sin, 0.0)
    }
    pub fn cos(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Cos, 0.0)
    }
    pub fn sigmoid(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Sigmoid, 0.0)
    }
    pub fn tanh(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Tanh, 0.0)
    }
    pub fn relu(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Relu, 0.0)
    }
    pub fn leaky_relu(&self, negative_slope: f32) -> Result<Tensor> {
        self.unary(UnaryOp::LeakyRelu, negative_slope)
    }
    pub fn elu(&self, alpha: f32) -> Result<Tensor> {
        self.unary(UnaryOp::Elu, alpha)
    }
    /// GELU (tanh approximation).
    pub fn gelu(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Gelu, 0.0)
    }
    /// The Heaviside step: 1 where x > 0, else 0 (gradient zero).
    pub fn step(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Step, 0.0)
    }

    /// A broadcasting binary op (NumPy rules).
    pub fn binary(&self, op: BinaryOp, other: &Tensor) -> Result<Tensor> {
        self.same_device(op.name(), other)?;
        let shape = Shape::broadcast(op.name(), self.shape(), other.shape())?;
        check_rank(op.name(), &shape)?;
        let storage = self.device().binary(op, self.storage(), self.shape(), other.storage(), other.shape())?;
        Ok(Tensor::from_op(storage, shape, self.device(), &[self, other], || Op::Binary {
            op,
            a: self.clone(),
            b: other.clone(),
        }))
    }
    /// `op(self, scalar)`, or `op(scalar, self)` when `scalar_first`.
    pub fn scalar_op(&self, op: BinaryOp, scalar: f32, scalar_first: bool) -> Result<Tensor> {
        let storage = self.device().binary_scalar(op, self.storage(), scalar, scalar_first)?;
        Ok(Tensor::from_op(storage, self.shape().clone(), self.device(), &[self], || Op::Scalar {
            op,
            x: self.clone(),
            scalar,
            scalar_first,
        }))
    }
    /// `self * scale + shift`.
    pub fn affine(&self, scale: f32, shift: f32) -> Result<Tensor> {
        let scaled = if scale == 1.0 { self.clone() } else { self.scalar_op(BinaryOp::Mul, scale, false)? };
        if shift == 0.0 { Ok(scaled) } else { scaled.scalar_op(BinaryOp::Add, shift, false) }
    }
    pub fn pow(&self, exponent: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Pow, exponent)
    }
    pub fn powf(&self, exponent: f32) -> Result<Tensor> {
        self.scalar_op(BinaryOp::Pow, exponent, false)
    }
    pub fn maximum(&self, other: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Max, other)
    }
    pub fn minimum(&self, other: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Min, other)
    }
    /// Clamps every element into `[low, high]`.
    pub fn clamp(&self, low: f32, high: f32) -> Result<Tensor> {
        self.scalar_op(BinaryOp::Max, low, false)?.scalar_op(BinaryOp::Min, high, false)
    }
    pub fn eq(&self, other: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Eq, other)
    }
    pub fn ne(&self, other: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Ne, other)
    }
    pub fn lt(&self, other: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Lt, other)
    }
    pub fn le(&self, other: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Le, other)
    }
    pub fn gt(&self, other: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Gt, other)
    }
    pub fn ge(&self, other: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Ge, other)
    }

    /// `cond != 0 ? a : b` elementwise, with all three broadcast to a common shape.
    pub fn where_cond(cond: &Tensor, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        cond.same_device("where", a)?;
        cond.same_device("where", b)?;
        let shape = Shape::broadcast("where", &Shape::broadcast("where", cond.shape(), a.shape())?, b.shape())?;
        let (cond, a, b) =
            (cond.broadcast_to(shape.clone())?, a.broadcast_to(shape.clone())?, b.broadcast_to(shape.clone())?);
        let storage = cond.device().where_cond(cond.storage(), a.storage(), b.storage())?;
        Ok(Tensor::from_op(storage, shape, cond.device(), &[&a, &b], || Op::Where {
            cond: cond.detach(),
            a: a.clone(),
            b: b.clone(),
        }))
    }
}

impl Tensor {
    /// `self * b + c` in one fused kernel, with all three broadcast to a common shape.
    pub fn mul_add(&self, b: &Tensor, c: &Tensor) -> Result<Tensor> {
        self.fused_mul_add(b, c, false)
    }

    /// `relu(self * b + c)` in one fused kernel (a layer's scale, shift and activation): one pass
    /// over memory where `mul`, `add` and `relu` make three.
    pub fn mul_add_relu(&self, b: &Tensor, c: &Tensor) -> Result<Tensor> {
        self.fused_mul_add(b, c, true)
    }

    fn fused_mul_add(&self, b: &Tensor, c: &Tensor, relu: bool) -> Result<Tensor> {
        let op = if relu { "mul_add_relu" } else { "mul_add" };
        self.same_device(op, b)?;
        self.same_device(op, c)?;
        let shape = Shape::broadcast(op, &Shape::broadcast(op, self.shape(), b.shape())?, c.shape())?;
        let (a, b, c) =
            (self.broadcast_to(shape.clone())?, b.broadcast_to(shape.clone())?, c.broadcast_to(shape.clone())?);
        let storage = a.device().mul_add(a.storage(), b.storage(), c.storage(), relu)?;
        Ok(Tensor::from_op(storage, shape, a.device(), &[&a, &b, &c], || Op::MulAdd {
            a: a.clone(),
            b: b.clone(),
            c: c.clone(),
            relu,
        }))
    }
}

pub(crate) fn check_rank(op: &'static str, shape: &Shape) -> Result<()> {
    if shape.rank() > soma_device::MAX_RANK {
        return Err(Error::limit(op, format!("rank {} of {shape:?} exceeds {}", shape.rank(), soma_device::MAX_RANK)));
    }
    Ok(())
}
