//! TensorBoard event files written by hand: TFRecord framing around hand-encoded `Event` protobufs
//! holding scalar summaries.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use soma_device::{Error, Result};

use super::crc::crc32c;

/// Writes scalars to `events.out.tfevents.<seconds>.<host>` in a directory TensorBoard can read
/// (`tensorboard --logdir runs`).
#[derive(Debug)]
pub struct EventWriter {
    path: PathBuf,
    file: BufWriter<File>,
}

impl EventWriter {
    /// Creates a new event file in `dir` (and `dir` itself if needed), starting with the
    /// `brain.Event:2` version record.
    pub fn create(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir.display(), e))?;
        let base = format!("events.out.tfevents.{}.{}", unix_seconds(), hostname());
        let mut attempt = 0;
        let (path, file) = loop {
            let name = if attempt == 0 { base.clone() } else { format!("{base}.{attempt}") };
            let path = dir.join(name);
            match File::create_new(&path) {
                Ok(file) => break (path, file),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 1000 => attempt += 1,
                Err(e) => return Err(Error::io(path.display(), e)),
            }
        };
        let mut writer = Self { path, file: BufWriter::new(file) };
        let mut event = event_header(wall_time(), 0);
        put_bytes(&mut event, 3, b"brain.Event:2");
        writer.write_record(&event)?;
        writer.flush()?;
        Ok(writer)
    }

    /// The event file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records `value` under `tag` at `step`.
    pub fn add_scalar(&mut self, tag: &str, value: f32, step: i64) -> Result<()> {
        self.add_scalars(step, &[(tag, value)])
    }

    /// Records several tagged values at `step` in one event.
    pub fn add_scalars(&mut self, step: i64, scalars: &[(&str, f32)]) -> Result<()> {
        let mut summary = Vec::new();
        for (tag, value) in scalars {
            let mut entry = Vec::new();
            put_bytes(&mut entry, 1, tag.as_bytes());
            put_key(&mut entry, 2, WIRE_FIXED32);
            entry.extend_from_slice(&value.to_le_bytes());
            put_bytes(&mut summary, 1, &entry);
        }
        let mut event = event_header(wall_time(), step);
        put_bytes(&mut event, 5, &summary);
        self.write_record(&event)
    }

    /// Pushes buffered events to the file.
    pub fn flush(&mut self) -> Result<()> {
        self.file.flush().map_err(|e| Error::io(self.path.display(), e))
    }

    /// Writes one TFRecord: length, masked CRC of the length, payload, masked CRC of the payload.
    fn write_record(&mut self, payload: &[u8]) -> Result<()> {
        let len = (payload.len() as u64).to_le_bytes();
        let mut record = Vec::with_capacity(payload.len() + 16);
        record.extend_from_slice(&len);
        record.extend_from_slice(&masked_crc32c(&len).to_le_bytes());
        record.extend_from_slice(payload);
        record.extend_from_slice(&masked_crc32c(payload).to_le_bytes());
        self.file.write_all(&record).map_err(|e| Error::io(self.path.display(), e))
    }
}

impl Drop for EventWriter {
    fn drop(&mut self) {
        let _ = self.file.flush();
    }
}

/// The CRC TFRecord stores: rotated and offset so CRCs of CRCs are not degenerate.
fn masked_crc32c(bytes: &[u8]) -> u32 {
    crc32c(bytes).rotate_right(15).wrapping_add(0xA282_EAD8)
}

const WIRE_VARINT: u8 = 0;
const WIRE_FIXED64: u8 = 1;
const WIRE_LEN: u8 = 2;
const WIRE_FIXED32: u8 = 5;

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_key(out: &mut Vec<u8>, field: u32, wire: u8) {
    put_varint(out, u64::from(field) << 3 | u64::from(wire));
}

fn put_bytes(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    put_key(out, field, WIRE_LEN);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// An `Event` with `wall_time` (field 1, double) and `step` (field 2, int64).
fn event_header(wall_time: f64, step: i64) -> Vec<u8> {
    let mut event = Vec::new();
    put_key(&mut event, 1, WIRE_FIXED64);
    event.extend_from_slice(&wall_time.to_le_bytes());
    put_key(&mut event, 2, WIRE_VARINT);
    put_varint(&mut event, step as u64);
    event
}

fn wall_time() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

fn unix_seconds() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The machine's name for the file name (as TensorFlow does), or `localhost`.
fn hostname() -> String {
    let from_kernel = std::fs::read_to_string("/proc/sys/kernel/hostname").ok();
    let name = from_kernel.or_else(|| std::env::var("HOSTNAME").ok()).or_else(|| std::env::var("COMPUTERNAME").ok());
    let name: String = name
        .unwrap_or_default()
        .trim()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '_' })
        .collect();
    if name.is_empty() { "localhost".to_string() } else { name }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn varints_and_masked_crc_match_protobuf_and_tfrecord() {
        let mut out = Vec::new();
        put_varint(&mut out, 300);
        assert_eq!(out, [0xAC, 0x02]);
        let mut neg = Vec::new();
        put_varint(&mut neg, -1i64 as u64);
        assert_eq!(neg.len(), 10);
        // TFRecord length header of an empty payload.
        assert_eq!(masked_crc32c(&0u64.to_le_bytes()), crc32c(&[0; 8]).rotate_right(15).wrapping_add(0xA282_EAD8));
    }

    #[test]
    fn records_are_framed_with_valid_crcs() {
        let dir = std::env::temp_dir().join(format!("soma-tb-frame-{}", std::process::id()));
        let mut w = EventWriter::create(&dir).unwrap();
        w.add_scalar("loss", 0.5, 1).unwrap();
        w.flush().unwrap();
        let bytes = std::fs::read(w.path()).unwrap();
        let name = w.path().file_name().unwrap().to_string_lossy().to_string();
        assert!(name.starts_with("events.out.tfevents."), "{name}");
        let mut pos = 0;
        let mut records = Vec::new();
        while pos < bytes.len() {
            let len_bytes = &bytes[pos..pos + 8];
            let len = u64::from_le_bytes(len_bytes.try_into().unwrap()) as usize;
            assert_eq!(u32::from_le_bytes(bytes[pos + 8..pos + 12].try_into().unwrap()), masked_crc32c(len_bytes));
            let payload = &bytes[pos + 12..pos + 12 + len];
            let crc = u32::from_le_bytes(bytes[pos + 12 + len..pos + 16 + len].try_into().unwrap());
            assert_eq!(crc, masked_crc32c(payload));
            records.push(payload.to_vec());
            pos += 16 + len;
        }
        assert_eq!(records.len(), 2);
        assert!(records[0].windows(13).any(|w| w == b"brain.Event:2"));
        assert!(records[1].windows(4).any(|w| w == 0.5f32.to_le_bytes()));
        drop(w);
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// Reads the scalars back with Python's `tensorboard` package (`pip install tensorboard`).
    #[test]
    fn tensorboard_reads_the_scalars_back() {
        let dir = std::env::temp_dir().join(format!("soma-tb-python-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut w = EventWriter::create(&dir).unwrap();
        let losses = [2.5f32, 1.25, 0.625, 0.3125];
        for (step, loss) in losses.iter().enumerate() {
            w.add_scalars(step as i64 + 1, &[("train/loss", *loss), ("val/accuracy", 0.5 + step as f32 * 0.1)])
                .unwrap();
        }
        w.add_scalar("big_step", -3.75, 1 << 40).unwrap();
        drop(w);

        let script = r#"
import sys
try:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
except ImportError as e:
    print("IMPORT-ERROR", e)
    sys.exit(3)
acc = EventAccumulator(sys.argv[1])
acc.Reload()
for tag in sorted(acc.Tags()["scalars"]):
    for e in acc.Scalars(tag):
        print(tag, e.step, repr(e.value))
"#;
        let output = Command::new("python3").arg("-c").arg(script).arg(&dir).output().unwrap_or_else(|e| {
            panic!("this test needs python3 with the `tensorboard` package (pip install tensorboard): {e}")
        });
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.code() != Some(3),
            "this test needs Python's `tensorboard` package: run `pip install tensorboard` ({stdout})"
        );
        assert!(output.status.success(), "python3 failed reading {}:\n{stdout}\n{stderr}", dir.display());
        let rows: Vec<(String, i64, f32)> = stdout
            .lines()
            .map(|l| {
                let parts: Vec<&str> = l.split_whitespace().collect();
                (parts[0].to_string(), parts[1].parse().unwrap(), parts[2].parse().unwrap())
            })
            .collect();
        let mut expected = vec![("big_step".to_string(), 1i64 << 40, -3.75f32)];
        expected.extend(losses.iter().enumerate().map(|(i, &l)| ("train/loss".to_string(), i as i64 + 1, l)));
        expected.extend((0..4).map(|i| ("val/accuracy".to_string(), i as i64 + 1, 0.5 + i as f32 * 0.1)));
        assert_eq!(rows, expected, "python3 read:\n{stdout}\n{stderr}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
