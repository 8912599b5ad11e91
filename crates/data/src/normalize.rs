//! How raw pixel bytes become features: MNIST mean/std standardisation, [0, 1] scaling, or raw.

use soma_device::{Error, Result};

/// The mapping from a pixel byte (0..=255) to a feature value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Normalization {
    /// `(byte / 255 - mean) / std`; [`Normalization::MNIST`] is the usual choice for MNIST.
    MeanStd { mean: f32, std: f32 },
    /// `byte / 255`, in [0, 1].
    UnitRange,
    /// The byte value itself, in [0, 255].
    Raw,
}

impl Normalization {
    /// The mean and standard deviation of the MNIST training pixels (scaled to [0, 1]).
    pub const MNIST: Normalization = Normalization::MeanStd { mean: 0.1307, std: 0.3081 };

    /// Checks that a `MeanStd` mapping has a finite mean and a finite std above 0 (else every
    /// feature would be infinite or NaN).
    pub fn check(&self) -> Result<()> {
        match *self {
            Normalization::MeanStd { mean, std } if !(mean.is_finite() && std.is_finite() && std > 0.0) => {
                let msg = format!("MeanStd needs a finite mean and a finite std > 0, got mean {mean}, std {std}");
                Err(Error::invalid("Normalization", msg))
            }
            _ => Ok(()),
        }
    }

    /// The feature value of pixel byte `byte`.
    pub fn apply(&self, byte: u8) -> f32 {
        let x = f32::from(byte);
        match *self {
            Normalization::MeanStd { mean, std } => (x / 255.0 - mean) / std,
            Normalization::UnitRange => x / 255.0,
            Normalization::Raw => x,
        }
    }

    /// The features of many bytes, through a 256-entry lookup table.
    pub fn apply_all(&self, bytes: &[u8]) -> Vec<f32> {
        let table: Vec<f32> = (0..=255u8).map(|b| self.apply(b)).collect();
        bytes.iter().map(|&b| table[b as usize]).collect()
    }
}

impl Default for Normalization {
    /// [`Normalization::MNIST`].
    fn default() -> Self {
        Normalization::MNIST
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_bytes_as_documented() {
        assert!((Normalization::MNIST.apply(0) - (-0.1307 / 0.3081)).abs() < 1e-6);
        assert!((Normalization::MNIST.apply(255) - (0.8693 / 0.3081)).abs() < 1e-5);
        assert_eq!(Normalization::UnitRange.apply(255), 1.0);
        assert_eq!(Normalization::UnitRange.apply(0), 0.0);
        assert_eq!(Normalization::Raw.apply(17), 17.0);
        assert_eq!(Normalization::UnitRange.apply_all(&[0, 51, 255]), vec![0.0, 0.2, 1.0]);
        assert!(Normalization::MNIST.check().is_ok() && Normalization::Raw.check().is_ok());
        let err = Normalization::MeanStd { mean: 0.5, std: 0.0 }.check().unwrap_err();
        assert_eq!(
            err.to_string(),
            "Normalization: MeanStd needs a finite mean and a finite std > 0, got mean 0.5, std 0"
        );
        assert_eq!(Normalization::default(), Normalization::MNIST);
    }
}
