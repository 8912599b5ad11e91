//! Augmentation: a seeded random shift of an image by up to `k` pixels in each direction.

use soma_device::{Error, Result};

use crate::rng::SplitMix64;

/// Shifts `image` (`rows x cols`, row-major, one or more channels stacked) by `dy` rows down and
/// `dx` columns right; what moves out is dropped and what is uncovered becomes `fill`.
///
/// An image that is not whole `rows x cols` planes is an [`Error::Shape`].
pub fn shift_image(image: &[f32], rows: usize, cols: usize, dy: isize, dx: isize, fill: f32) -> Result<Vec<f32>> {
    let whole_planes = rows.checked_mul(cols).filter(|&plane| image.len().is_multiple_of(plane));
    let Some(plane) = whole_planes else {
        return Err(Error::shape(
            "shift_image",
            format!("{} values are not whole planes of {rows} x {cols}", image.len()),
        ));
    };
    let mut out = vec![fill; image.len()];
    if plane == 0 {
        return Ok(out);
    }
    for (src_plane, dst_plane) in image.chunks_exact(plane).zip(out.chunks_exact_mut(plane)) {
        for r in 0..rows {
            let Some(dst_r) = r.checked_add_signed(dy).filter(|&v| v < rows) else { continue };
            for c in 0..cols {
                let Some(dst_c) = c.checked_add_signed(dx).filter(|&v| v < cols) else { continue };
                dst_plane[dst_r * cols + dst_c] = src_plane[r * cols + c];
            }
        }
    }
    Ok(out)
}

/// A random shift by up to `max_shift` pixels along each axis (uniform in `-k..=k`), seeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RandomShift {
    pub max_shift: usize,
    pub seed: u64,
}

impl RandomShift {
    pub fn new(max_shift: usize, seed: u64) -> Self {
        Self { max_shift, seed }
    }

    /// The `(rows, cols)` of the images of a dataset with `feature_shape` (its last two dims).
    pub fn image_dims(feature_shape: &[usize]) -> Result<(usize, usize)> {
        match feature_shape {
            [.., rows, cols] => Ok((*rows, *cols)),
            _ => Err(Error::shape(
                "RandomShift",
                format!("features of shape {feature_shape:?} are not images (need at least [rows, cols])"),
            )),
        }
    }

    /// Shifts `image` by a random offset drawn for sample `stream` of `epoch`: the same
    /// `(seed, epoch, stream)` always gives the same shift. Errors as [`shift_image`].
    pub fn apply(
        &self,
        image: &[f32],
        rows: usize,
        cols: usize,
        fill: f32,
        epoch: u64,
        stream: u64,
    ) -> Result<Vec<f32>> {
        let mut rng = SplitMix64::for_stream(self.seed ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15), stream);
        let dy = rng.offset(self.max_shift);
        let dx = rng.offset(self.max_shift);
        shift_image(image, rows, cols, dy, dx, fill)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shift_moves_pixels_and_fills_the_gap() {
        // 3x4 image with a single bright pixel at (1, 1) and a marker at (0, 3).
        let mut img = vec![0.0; 12];
        img[4 + 1] = 9.0;
        img[3] = 5.0;
        let down_right = shift_image(&img, 3, 4, 1, 2, -1.0).unwrap();
        let mut want = vec![-1.0; 12];
        // Row 0 and columns 0..2 are uncovered (fill); (1,1) → (2,3); (0,3) falls off the right.
        for r in 1..3 {
            for c in 2..4 {
                want[r * 4 + c] = 0.0;
            }
        }
        want[2 * 4 + 3] = 9.0;
        assert_eq!(down_right, want);

        // Up-left: (1,1) → (0,0); (0,3) falls off the top.
        let up_left = shift_image(&img, 3, 4, -1, -1, 0.0).unwrap();
        assert_eq!(up_left[0], 9.0);
        assert_eq!(up_left.iter().filter(|&&v| v != 0.0).count(), 1);
        // Left by 2: (0,3) → (0,1).
        assert_eq!(shift_image(&img, 3, 4, 0, -2, 0.0).unwrap()[1], 5.0);
        assert_eq!(shift_image(&img, 3, 4, 0, 0, 7.0).unwrap(), img);
        assert_eq!(shift_image(&img, 3, 4, 3, 0, 7.0).unwrap(), vec![7.0; 12]);
    }

    #[test]
    fn shift_refuses_an_image_of_partial_planes() {
        let err = shift_image(&[1.0; 10], 3, 4, 0, 0, -1.0).unwrap_err().to_string();
        assert!(err.contains("shift_image") && err.contains("10 values") && err.contains("3 x 4"), "{err}");
        assert!(shift_image(&[1.0; 14], 3, 4, 1, 0, 0.0).is_err());
        assert!(shift_image(&[1.0; 2], usize::MAX, 2, 0, 0, 0.0).is_err());
        assert!(shift_image(&[1.0; 2], 0, 4, 0, 0, 0.0).is_err());
        assert_eq!(shift_image(&[], 0, 4, 1, 1, 0.0).unwrap(), Vec::<f32>::new());
    }

    #[test]
    fn shift_applies_to_every_channel() {
        let img = vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]; // 2 channels of 2x2
        assert_eq!(shift_image(&img, 2, 2, 0, 1, 0.0).unwrap(), vec![0.0, 1.0, 0.0, 3.0, 0.0, 5.0, 0.0, 7.0]);
    }

    #[test]
    fn random_shift_is_seeded_and_bounded() {
        let mut img = vec![0.0; 49];
        img[3 * 7 + 3] = 1.0; // centre of a 7x7 image
        let aug = RandomShift::new(2, 11);
        let where_is = |v: Vec<f32>| v.iter().position(|&x| x == 1.0).unwrap();
        let mut moved = std::collections::HashSet::new();
        for stream in 0..200 {
            let p = where_is(aug.apply(&img, 7, 7, 0.0, 0, stream).unwrap());
            let (r, c) = (p / 7, p % 7);
            assert!((1..=5).contains(&r) && (1..=5).contains(&c));
            moved.insert(p);
            assert_eq!(aug.apply(&img, 7, 7, 0.0, 0, stream).unwrap(), aug.apply(&img, 7, 7, 0.0, 0, stream).unwrap());
        }
        assert_eq!(moved.len(), 25);
        assert!(RandomShift::image_dims(&[784]).is_err());
        assert_eq!(RandomShift::image_dims(&[1, 28, 28]).unwrap(), (28, 28));
    }
}
