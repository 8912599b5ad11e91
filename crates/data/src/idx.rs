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

/// Decompresses gzip members one after another (as `cat a.gz b.gz` makes), skipping zero bytes
/// between and after them (block padding, which Python's `gzip` skips too). It stops one byte past the length
/// the IDX header declares: a small file that would inflate to gigabytes is then reported as too
/// long by `parse_idx` instead of being held in memory.
fn gunzip(compressed: &[u8], path: &Path) -> Result<Vec<u8>> {
    let corrupt = |e: std::io::Error| Error::format(path.display(), format!("corrupt or truncated gzip data: {e}"));
    let mut out = Vec::new();
    let mut rest = compressed;
    loop {
        // Zero bytes between or after members are padding, skipped as Python's gzip skips them.
        rest = &rest[rest.iter().take_while(|&&b| b == 0).count()..];
        if rest.is_empty() {
            return Ok(out);
        }
        let mut member = flate2::bufread::GzDecoder::new(rest);
        loop {
            let wanted = bytes_to_read(&out);
            if out.len() as u64 >= wanted {
                return Ok(out);
            }
            let read = (&mut member).take(wanted - out.len() as u64).read_to_end(&mut out).map_err(corrupt)?;
            if read == 0 {
                break;
            }
        }
        rest = member.into_inner();
    }
}

/// How many bytes of an IDX file to read, given its first bytes `head`: the fixed header, then the
/// dimensions, then the data and one byte more (to tell a file that goes on past its data).
fn bytes_to_read(head: &[u8]) -> u64 {
    let Some(&rank) = head.get(3) else { return 4 };
    let header_len = 4 + 4 * usize::from(rank);
    let Some(dims) = head.get(4..header_len) else { return header_len as u64 };
    let dims: Vec<usize> =
        dims.chunks_exact(4).map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize).collect();
    element_count(&dims).and_then(|count| count.checked_add(header_len + 1)).map_or(header_len as u64, |n| n as u64)
}

/// The product of `dims`: 0 if any is 0 (however large the others), `None` past `usize`.
fn element_count(dims: &[usize]) -> Option<usize> {
    if dims.contains(&0) {
        return Some(0);
    }
    dims.iter().try_fold(1usize, |n, &d| n.checked_mul(d))
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
    let Some(count) = element_count(&dims) else {
        return fail(format!("dimensions {dims:?} overflow"));
    };
    let body = &bytes[header_len..];
    if body.len() < count {
        return fail(format!("truncated: dimensions {dims:?} need {count} data bytes, file has {}", body.len()));
    }
    if body.len() > count {
        return fail(format!("bytes after the {count} data bytes of dimensions {dims:?}: longer than its header says"));
    }
    Ok(IdxArray { dims, data: body.to_vec() })
}

/// Encodes `data` with `dims` as an uncompressed IDX file of unsigned bytes (for tests and tools).
///
/// More than 255 dimensions, a dimension past `u32::MAX`, or `data` whose length is not the
/// product of `dims` is an [`Error::Shape`].
pub fn encode_idx(dims: &[usize], data: &[u8]) -> Result<Vec<u8>> {
    let fail = |why: String| Err(Error::shape("encode_idx", format!("dims {dims:?} with {} bytes: {why}", data.len())));
    let Ok(rank) = u8::try_from(dims.len()) else { return fail("an IDX file has at most 255 dimensions".into()) };
    let Ok(dims32) = dims.iter().map(|&d| u32::try_from(d)).collect::<std::result::Result<Vec<u32>, _>>() else {
        return fail("an IDX dimension is a u32".into());
    };
    if element_count(dims) != Some(data.len()) {
        return fail("the data is not the product of the dims".into());
    }
    let mut out = vec![0, 0, TYPE_UNSIGNED_BYTE, rank];
    for d in dims32 {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(data);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> Result<IdxArray> {
        parse_idx(bytes, Path::new("mem.idx"))
    }

    #[test]
    fn round_trips_an_encoded_array() {
        let arr = parse(&encode_idx(&[2, 3], &[1, 2, 3, 4, 5, 6]).unwrap()).unwrap();
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
        assert!(msg(&[0, 0, 8, 1, 0, 0, 0, 4, 1, 2, 3]).contains("need 4 data bytes, file has 3"));
        assert!(msg(&[0, 0, 8, 1, 0, 0, 0, 2, 1, 2, 3]).contains("bytes after the 2 data bytes of dimensions [2]"));
        assert!(msg(&[0, 0, 8, 0]).starts_with("mem.idx: "));
    }

    #[test]
    fn gunzip_stops_one_byte_past_the_declared_data() {
        use std::io::Write;
        let mut bomb = encode_idx(&[1], &[5]).unwrap();
        bomb.resize(bomb.len() + (16 << 20), 0);
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&bomb).unwrap();
        let inflated = gunzip(&enc.finish().unwrap(), Path::new("bomb.gz")).unwrap();
        assert_eq!(inflated, [0, 0, 8, 1, 0, 0, 0, 1, 5, 0]);
    }

    #[test]
    fn encode_refuses_what_an_idx_file_cannot_hold() {
        let msg = |dims: &[usize], data: &[u8]| encode_idx(dims, data).unwrap_err().to_string();
        assert!(msg(&[4], &[1, 2, 3]).contains("encode_idx: dims [4] with 3 bytes: the data is not the product"));
        assert!(msg(&[1 << 32, 0], &[]).contains("a u32"));
        assert!(msg(&[1; 256], &[0]).contains("at most 255 dimensions"));
        assert_eq!(encode_idx(&[1; 255], &[7]).unwrap().len(), 4 + 4 * 255 + 1);
        // Empty, however large the other dimensions: no overflow.
        let empty = encode_idx(&[65536, 65536, 65536, 65536, 0], &[]).unwrap();
        assert_eq!(parse(&empty).unwrap().dims, [65536, 65536, 65536, 65536, 0]);
    }

    #[test]
    fn expect_dims_names_the_file() {
        let arr = parse(&encode_idx(&[2, 3], &[0; 6]).unwrap()).unwrap();
        assert!(arr.expect_dims(Path::new("a"), "images", &[None, Some(3)]).is_ok());
        let err = arr.expect_dims(Path::new("a.idx"), "images", &[None, Some(28), Some(28)]).unwrap_err();
        assert_eq!(err.to_string(), "a.idx: images: wrong dimensions [2, 3], expected [any, 28, 28]");
    }
}
