//! IDX files (the MNIST format), raw or gzip-compressed, read into an [`IdxArray`] of bytes.
//!
//! Layout: two zero bytes, a type code (0x08 = unsigned byte), the number of dimensions, one
//! big-endian u32 per dimension, then the elements in row-major order. Gzip is detected by its
//! magic bytes (`1f 8b`), not by the file name.

use std::io::Read;
use std::path::Path;

use soma_device::{Error, Result};

/// The two bytes every gzip stream starts with.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// The IDX type code for unsigned bytes, the only element type MNIST uses.
const TYPE_UNSIGNED_BYTE: u8 = 0x08;

/// An n-dimensional array of unsigned bytes read from an IDX file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxArray {
    /// The dimensions, outermost first (`[count, rows, cols]` for MNIST images).
    pub dims: Vec<usize>,
    /// The elements in row-major order; `data.len()` is the product of `dims`.
    pub data: Vec<u8>,
}

impl IdxArray {
    /// Checks the rank and every dimension given as `Some`, naming `path` and `what` on mismatch.
    pub fn expect_dims(&self, path: &Path, what: &str, expected: &[Option<usize>]) -> Result<()> {
        let fits =
            self.dims.len() == expected.len() && self.dims.iter().zip(expected).all(|(d, e)| e.is_none_or(|e| e == *d));
        if fits {
            return Ok(());
        }
        let want: Vec<String> = expected.iter().map(|e| e.map_or("any".to_string(), |e| e.to_string())).collect();
        Err(Error::format(
            path.display(),
            format!("{what}: wrong dimensions {:?}, expected [{}]", self.dims, want.join(", ")),
        ))
    }
}

/// Reads an IDX file, decompressing it first if it is gzipped.
///
/// Errors (all naming the file): it cannot be read ([`Error::Io`]); it is not valid gzip, has a bad
/// magic number, an unsupported element type, or is truncated or too long ([`Error::Format`]).
pub fn read_idx(path: impl AsRef<Path>) -> Result<IdxArray> {
    let path = path.as_ref();
    let raw = std::fs::read(path).map_err(|e| Error::io(path.display(), e))?;
    let bytes = if raw.starts_with(&GZIP_MAGIC) { gunzip(&raw, path)? } else { raw };
    parse_idx(&bytes, path)
}

/// Decompresses a whole gzip stream (including concatenated members).
fn gunzip(compressed: &[u8], path: &Path) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(compressed.len() * 4);
    flate2::read::MultiGzDecoder::new(compressed)
        .read_to_end(&mut out)
        .map_err(|e| Error::format(path.display(), format!("corrupt or truncated gzip data: {e}")))?;
    Ok(out)
}

/// Parses the bytes of an (uncompressed) IDX file; `path` is used only in error messages.
pub fn parse_idx(bytes: &[u8], path: &Path) -> Result<IdxArray> {
    let fail = |msg: String| Err(Error::format(path.display(), msg));
    if bytes.len() < 4 {
        return fail(format!("truncated: {} bytes, too short for an IDX header", bytes.len()));
    }
    let magic = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    if bytes[0] != 0 || bytes[1] != 0 {
        return fail(format!("bad magic number 0x{magic:08x}: not an IDX file (expected 0x0000TTNN)"));
    }
    if bytes[2] != TYPE_UNSIGNED_BYTE {
        return fail(format!(
            "bad magic number 0x{magic:08x}: element type 0x{:02x} is not supported (only unsigned byte 0x08)",
            bytes[2]
        ));
    }
    let rank = bytes[3] as usize;
    if rank == 0 {
        return fail(format!("bad magic number 0x{magic:08x}: zero dimensions"));
    }
    let header_len = 4 + 4 * rank;
    if bytes.len() < header_len {
        return fail(format!(
            "truncated: header needs {header_len} bytes for {rank} dimensions, file has {}",
            bytes.len()
        ));
    }
    let dims: Vec<usize> =
        bytes[4..header_len].chunks_exact(4).map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize).collect();
    let Some(count) = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d)) else {
        return fail(format!("dimensions {dims:?} overflow"));
    };
    let body = &bytes[header_len..];
    if body.len() < count {
        return fail(format!("truncated: dimensions {dims:?} need {count} data bytes, file has {}", body.len()));
    }
    if body.len() > count {
        return fail(format!(
            "{} unexpected bytes after the {count} data bytes of dimensions {dims:?}",
            body.len() - count
        ));
    }
    Ok(IdxArray { dims, data: body.to_vec() })
}

/// Encodes `data` with `dims` as an uncompressed IDX file of unsigned bytes (for tests and tools).
pub fn encode_idx(dims: &[usize], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, TYPE_UNSIGNED_BYTE, dims.len() as u8];
    for &d in dims {
        out.extend_from_slice(&(d as u32).to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> Result<IdxArray> {
        parse_idx(bytes, Path::new("mem.idx"))
    }

    #[test]
    fn round_trips_an_encoded_array() {
        let arr = parse(&encode_idx(&[2, 3], &[1, 2, 3, 4, 5, 6])).unwrap();
        assert_eq!(arr.dims, vec![2, 3]);
        assert_eq!(arr.data, vec![1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn rejects_bad_headers_and_lengths() {
        let msg = |b: &[u8]| parse(b).unwrap_err().to_string();
        assert!(msg(&[0, 0]).contains("truncated"));
        assert!(msg(&[1, 2, 8, 1, 0, 0, 0, 0]).contains("bad magic number 0x01020801"));
        assert!(msg(&[0, 0, 0x0d, 1, 0, 0, 0, 0]).contains("element type 0x0d"));
        assert!(msg(&[0, 0, 8, 0]).contains("zero dimensions"));
        assert!(msg(&[0, 0, 8, 2, 0, 0, 0, 1]).contains("header needs 12 bytes"));
        assert!(msg(&encode_idx(&[4], &[1, 2, 3])).contains("need 4 data bytes, file has 3"));
        assert!(msg(&encode_idx(&[2], &[1, 2, 3])).contains("1 unexpected bytes"));
        assert!(msg(&[0, 0, 8, 0]).starts_with("mem.idx: "));
    }

    #[test]
    fn expect_dims_names_the_file() {
        let arr = parse(&encode_idx(&[2, 3], &[0; 6])).unwrap();
        assert!(arr.expect_dims(Path::new("a"), "images", &[None, Some(3)]).is_ok());
        let err = arr.expect_dims(Path::new("a.idx"), "images", &[None, Some(28), Some(28)]).unwrap_err();
        assert_eq!(err.to_string(), "a.idx: images: wrong dimensions [2, 3], expected [any, 28, 28]");
    }
}
