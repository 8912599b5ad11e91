//! CRC-32 (IEEE, for PNG chunks) and CRC-32C (Castagnoli, for TFRecord framing), table-driven.

/// The 256-entry lookup table of a reflected CRC-32 with polynomial `poly`.
const fn table(poly: u32) -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ poly } else { crc >> 1 };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
}

const IEEE: [u32; 256] = table(0xEDB8_8320);
const CASTAGNOLI: [u32; 256] = table(0x82F6_3B78);

fn checksum(table: &[u32; 256], bytes: &[u8]) -> u32 {
    !bytes.iter().fold(!0u32, |crc, &b| table[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8))
}

/// CRC-32 as used by PNG, zlib and gzip.
pub fn crc32(bytes: &[u8]) -> u32 {
    checksum(&IEEE, bytes)
}

/// CRC-32C as used by TFRecord files.
pub fn crc32c(bytes: &[u8]) -> u32 {
    checksum(&CASTAGNOLI, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_values_match_the_standards() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(b""), 0);
        assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA); // RFC 3720 B.4
    }
}
