//! A minimal PNG encoder for 8-bit RGB images (zlib through flate2), so plots need no image crate.

use std::io::Write;

use super::crc::crc32;

/// Encodes `rgb` (`width * height * 3` bytes, row-major) as a PNG file.
pub fn encode_rgb_png(rgb: &[u8], width: u32, height: u32) -> Vec<u8> {
    let row = width as usize * 3;
    debug_assert_eq!(rgb.len(), row * height as usize);
    let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    for (r, line) in rgb.chunks_exact(row.max(1)).enumerate() {
        // Filter "Up" (2) for every row but the first ("None"): plots have long vertical runs.
        let up = r.checked_sub(1).map(|p| &rgb[p * row..(p + 1) * row]);
        let filtered: Vec<u8> = match up {
            Some(prev) => std::iter::once(2).chain(line.iter().zip(prev).map(|(a, b)| a.wrapping_sub(*b))).collect(),
            None => std::iter::once(0).chain(line.iter().copied()).collect(),
        };
        zlib.write_all(&filtered).expect("writing to a Vec cannot fail");
    }
    let idat = zlib.finish().expect("writing to a Vec cannot fail");

    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit, truecolour, deflate, no filter variants, no interlace

    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [(b"IHDR", &ihdr[..]), (b"IDAT", &idat[..]), (b"IEND", &[][..])] {
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let start = png.len();
        png.extend_from_slice(kind);
        png.extend_from_slice(data);
        let crc = crc32(&png[start..]);
        png.extend_from_slice(&crc.to_be_bytes());
    }
    png
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn encodes_chunks_with_valid_crcs_and_recoverable_pixels() {
        let (w, h) = (3u32, 2u32);
        let rgb: Vec<u8> = (0..18).map(|i| (i * 13) as u8).collect();
        let png = encode_rgb_png(&rgb, w, h);
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let mut pos = 8;
        let mut idat = Vec::new();
        let mut kinds = Vec::new();
        while pos < png.len() {
            let len = u32::from_be_bytes(png[pos..pos + 4].try_into().unwrap()) as usize;
            let body = &png[pos + 4..pos + 8 + len];
            let crc = u32::from_be_bytes(png[pos + 8 + len..pos + 12 + len].try_into().unwrap());
            assert_eq!(crc, crc32(body));
            kinds.push(String::from_utf8_lossy(&body[..4]).to_string());
            if &body[..4] == b"IHDR" {
                assert_eq!(&body[4..12], &[0, 0, 0, 3, 0, 0, 0, 2]);
            }
            if &body[..4] == b"IDAT" {
                idat.extend_from_slice(&body[4..]);
            }
            pos += 12 + len;
        }
        assert_eq!(kinds, ["IHDR", "IDAT", "IEND"]);
        let mut raw = Vec::new();
        flate2::read::ZlibDecoder::new(&idat[..]).read_to_end(&mut raw).unwrap();
        assert_eq!(raw.len(), 2 * (1 + 9));
        assert_eq!((raw[0], &raw[1..10]), (0, &rgb[..9]));
        let second: Vec<u8> = raw[11..].iter().zip(&rgb[..9]).map(|(d, p)| d.wrapping_add(*p)).collect();
        assert_eq!((raw[10], &second[..]), (2, &rgb[9..]));
    }
}
