//! The training utilities' files, read back independently: the CSV as text, the PNGs through a
//! full decoder (chunks, zlib, every filter type), the TensorBoard events through Python's
//! `tensorboard` package (`pip install tensorboard`; the test fails, never skips, without it).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use soma::train::{CSV_HEADER, EpochMetrics, MetricsLogger, plot_curves, plot_xy};

/// A fresh, empty temporary folder for one test.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("soma-train-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A decoded 8-bit RGB PNG.
struct Image {
    width: usize,
    height: usize,
    rgb: Vec<u8>,
}

impl Image {
    fn pixel(&self, x: usize, y: usize) -> [u8; 3] {
        let i = (y * self.width + x) * 3;
        [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
    }

    fn count(&self, pred: impl Fn([u8; 3]) -> bool) -> usize {
        self.rgb.chunks_exact(3).filter(|p| pred([p[0], p[1], p[2]])).count()
    }
}

/// Decodes an 8-bit truecolour, non-interlaced PNG, checking the signature and chunk CRCs.
fn decode_png(path: &Path) -> Image {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(bytes.len() > 8 && bytes[..8] == *b"\x89PNG\r\n\x1a\n", "{}: not a PNG", path.display());
    let (mut pos, mut idat, mut header, mut ended) = (8, Vec::new(), None, false);
    while pos + 12 <= bytes.len() {
        let len = u32::from_be_bytes(bytes[pos..pos + 4].try_into().unwrap()) as usize;
        let (kind, data) = (&bytes[pos + 4..pos + 8], &bytes[pos + 8..pos + 8 + len]);
        let crc = u32::from_be_bytes(bytes[pos + 8 + len..pos + 12 + len].try_into().unwrap());
        assert_eq!(crc, crc32(&bytes[pos + 4..pos + 8 + len]), "bad CRC in chunk {}", String::from_utf8_lossy(kind));
        match kind {
            b"IHDR" => header = Some(data.to_vec()),
            b"IDAT" => idat.extend_from_slice(data),
            b"IEND" => ended = true,
            _ => {}
        }
        pos += 12 + len;
    }
    assert!(ended && pos == bytes.len(), "PNG must end with IEND");
    let header = header.expect("PNG without IHDR");
    let width = u32::from_be_bytes(header[0..4].try_into().unwrap()) as usize;
    let height = u32::from_be_bytes(header[4..8].try_into().unwrap()) as usize;
    assert_eq!(&header[8..13], &[8, 2, 0, 0, 0], "expected 8-bit RGB, no interlace");

    let mut raw = Vec::new();
    flate2::read::ZlibDecoder::new(&idat[..]).read_to_end(&mut raw).unwrap();
    let stride = width * 3;
    assert_eq!(raw.len(), height * (stride + 1));
    let mut rgb = vec![0u8; height * stride];
    for y in 0..height {
        let filter = raw[y * (stride + 1)];
        for x in 0..stride {
            let v = raw[y * (stride + 1) + 1 + x];
            let a = if x >= 3 { rgb[y * stride + x - 3] } else { 0 };
            let b = if y > 0 { rgb[(y - 1) * stride + x] } else { 0 };
            let c = if x >= 3 && y > 0 { rgb[(y - 1) * stride + x - 3] } else { 0 };
            let predicted = match filter {
                0 => 0,
                1 => a,
                2 => b,
                3 => ((u16::from(a) + u16::from(b)) / 2) as u8,
                4 => {
                    let p = i16::from(a) + i16::from(b) - i16::from(c);
                    let (pa, pb, pc) = ((p - i16::from(a)).abs(), (p - i16::from(b)).abs(), (p - i16::from(c)).abs());
                    if pa <= pb && pa <= pc {
                        a
                    } else if pb <= pc {
                        b
                    } else {
                        c
                    }
                }
                f => panic!("unknown PNG filter {f}"),
            };
            rgb[y * stride + x] = v.wrapping_add(predicted);
        }
    }
    Image { width, height, rgb }
}

/// CRC-32 (IEEE), bit by bit: independent of the crate's table-driven one.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

const BLUE: [u8; 3] = [31, 119, 180]; // the first series
const ORANGE: [u8; 3] = [255, 127, 14]; // the second series

/// Pixels close to `color` (anti-aliasing blends line edges).
fn near(color: [u8; 3]) -> impl Fn([u8; 3]) -> bool {
    move |p| p.iter().zip(color).all(|(a, b)| a.abs_diff(b) <= 8)
}

/// A scalar as TensorBoard read it.
#[derive(Debug)]
struct Scalar {
    tag: String,
    step: i64,
    value: f32,
    wall_time: f64,
}

/// Reads every scalar in `dir` with Python's `tensorboard` EventAccumulator; also returns the
/// file version it found.
fn read_with_tensorboard(dir: &Path) -> (String, Vec<Scalar>) {
    let script = r#"
import sys
try:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
except ImportError as e:
    print("IMPORT-ERROR", e)
    sys.exit(3)
acc = EventAccumulator(sys.argv[1], size_guidance={"scalars": 0})
acc.Reload()
print("file_version", acc.file_version)
for tag in sorted(acc.Tags()["scalars"]):
    for e in acc.Scalars(tag):
        print(tag, e.step, repr(e.value), repr(e.wall_time))
"#;
    let output = Command::new("python3").arg("-c").arg(script).arg(dir).output().unwrap_or_else(|e| {
        panic!("this test needs python3 with the `tensorboard` package (pip install tensorboard): python3: {e}")
    });
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_ne!(
        output.status.code(),
        Some(3),
        "this test needs Python's `tensorboard` package: run `pip install tensorboard` ({stdout})"
    );
    assert!(output.status.success(), "python3 failed reading {}:\n{stdout}\n{stderr}", dir.display());
    let mut lines = stdout.lines();
    let version = lines.next().and_then(|l| l.strip_prefix("file_version ")).expect("no file_version line").to_string();
    let scalars = lines
        .map(|l| {
            let parts: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(parts.len(), 4, "unexpected line {l:?}");
            Scalar {
                tag: parts[0].to_string(),
                step: parts[1].parse().unwrap(),
                value: parts[2].parse().unwrap(),
                wall_time: parts[3].parse().unwrap(),
            }
        })
        .collect();
    (version, scalars)
}

fn epochs() -> [EpochMetrics; 3] {
    [
        EpochMetrics { epoch: 1, train_loss: 2.25, val_loss: 1.5, val_accuracy: 0.625, seconds: 3.5 },
        EpochMetrics { epoch: 2, train_loss: 0.8125, val_loss: f32::NAN, val_accuracy: 0.8, seconds: 3.25 },
        EpochMetrics { epoch: 3, train_loss: 0.1, val_loss: 0.3, val_accuracy: 0.9375, seconds: 12.0 },
    ]
}

#[test]
fn metrics_csv_has_the_header_and_one_row_per_epoch_after_each_epoch() {
    let dir = temp_dir("csv");
    let mut log = MetricsLogger::in_dir(&dir).unwrap();
    assert_eq!(log.csv_path(), dir.join("metrics.csv"));
    assert_eq!(CSV_HEADER, "epoch,train_loss,val_loss,val_accuracy,seconds");
    let expected = [
        "epoch,train_loss,val_loss,val_accuracy,seconds\n",
        "1,2.25,1.5,0.625,3.5\n",
        "2,0.8125,,0.8,3.25\n", // not measured: an empty field
        "3,0.1,0.3,0.9375,12\n",
    ];
    assert_eq!(std::fs::read_to_string(log.csv_path()).unwrap(), expected[0]);
    for (i, m) in epochs().into_iter().enumerate() {
        log.log(m).unwrap();
        // On disk after every epoch, not only at the end.
        assert_eq!(std::fs::read_to_string(log.csv_path()).unwrap(), expected[..i + 2].concat());
    }
    assert_eq!(log.rows().len(), 3);
    drop(log);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn metrics_plot_is_a_decodable_png_with_both_loss_curves() {
    let dir = temp_dir("plot");
    let mut log = MetricsLogger::in_dir(&dir).unwrap();
    for m in epochs() {
        log.log(m).unwrap();
    }
    assert_eq!(log.plot_path(), dir.join("curves.png"));
    let image = decode_png(&log.plot_path());
    assert_eq!((image.width, image.height), (1280, 480), "two 640 x 480 panels");
    assert_eq!(image.pixel(0, 0), [255, 255, 255]);
    let (blue, orange) = (image.count(near(BLUE)), image.count(near(ORANGE)));
    assert!(blue > 200 && orange > 50, "curves not drawn: {blue} blue, {orange} orange pixels");
    let dark = image.count(|p| p.iter().all(|&c| c < 100));
    assert!(dark > 500, "no axes or text: {dark} dark pixels");
    drop(log);
    // A new run in the same folder does not leave the old run's curves beside its empty CSV.
    let log = MetricsLogger::in_dir(&dir).unwrap();
    assert!(!log.plot_path().exists());
    drop(log);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn tensorboard_reads_the_logged_metrics_back() {
    let dir = temp_dir("tensorboard");
    let before = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    let mut log = MetricsLogger::in_dir(&dir).unwrap();
    for m in epochs() {
        log.log(m).unwrap();
        // Flushed every epoch: readable while the logger is still open.
    }
    let name = log.events_path().file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("events.out.tfevents."), "{name}");
    let (version, scalars) = read_with_tensorboard(&dir);
    assert_eq!(version, "2.0", "the first record must carry file_version brain.Event:2");
    let got: Vec<(&str, i64, f32)> = scalars.iter().map(|s| (s.tag.as_str(), s.step, s.value)).collect();
    let expected = vec![
        ("accuracy/val", 1, 0.625),
        ("accuracy/val", 2, 0.8),
        ("accuracy/val", 3, 0.9375),
        ("loss/train", 1, 2.25),
        ("loss/train", 2, 0.8125),
        ("loss/train", 3, 0.1),
        ("loss/val", 1, 1.5), // epoch 2 had no validation loss (NaN): no point
        ("loss/val", 3, 0.3),
        ("time/epoch_seconds", 1, 3.5),
        ("time/epoch_seconds", 2, 3.25),
        ("time/epoch_seconds", 3, 12.0),
    ];
    assert_eq!(got, expected);
    let after = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    assert!(scalars.iter().all(|s| s.wall_time >= before - 1.0 && s.wall_time <= after + 1.0), "{scalars:?}");
    drop(log);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_diverged_loss_is_a_tensorboard_point_and_an_unmeasured_one_is_not() {
    let dir = temp_dir("diverged");
    let mut log = MetricsLogger::in_dir(&dir).unwrap();
    log.log(EpochMetrics { epoch: 1, train_loss: f32::INFINITY, val_loss: f32::NAN, val_accuracy: 0.1, seconds: 1.0 })
        .unwrap();
    assert_eq!(std::fs::read_to_string(log.csv_path()).unwrap(), format!("{CSV_HEADER}\n1,inf,,0.1,1\n"));
    let (_, scalars) = read_with_tensorboard(&dir);
    let got: Vec<(&str, f32)> = scalars.iter().map(|s| (s.tag.as_str(), s.value)).collect();
    assert_eq!(got, [("accuracy/val", 0.1), ("loss/train", f32::INFINITY), ("time/epoch_seconds", 1.0)]);
    drop(log);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_run_evaluated_on_the_test_split_is_labelled_so() {
    let dir = temp_dir("held_out");
    let mut log = MetricsLogger::in_dir(&dir).unwrap().held_out("test").unwrap();
    let header = "epoch,train_loss,test_loss,test_accuracy,seconds\n";
    assert_eq!(std::fs::read_to_string(log.csv_path()).unwrap(), header);
    log.log(epochs()[0]).unwrap();
    assert_eq!(std::fs::read_to_string(log.csv_path()).unwrap(), format!("{header}1,2.25,1.5,0.625,3.5\n"));
    let (_, scalars) = read_with_tensorboard(&dir);
    let tags: Vec<&str> = scalars.iter().map(|s| s.tag.as_str()).collect();
    assert_eq!(tags, ["accuracy/test", "loss/test", "loss/train", "time/epoch_seconds"]);
    drop(log);
    let err = MetricsLogger::in_dir(&dir).unwrap().held_out("Test set").unwrap_err();
    assert!(err.to_string().starts_with("MetricsLogger::held_out: split name"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn plot_curves_and_plot_xy_write_decodable_pngs() {
    let dir = temp_dir("curves");
    let sgd: Vec<f32> = (0..100).map(|i| 2.0 * (-(i as f32) / 30.0).exp()).collect();
    let adam: Vec<f32> = (0..100).map(|i| 2.0 / (1.0 + i as f32)).collect();
    let path = dir.join("nested/loss.png");
    plot_curves(&path, "loss", &[("sgd", &sgd), ("adam", &adam)]).unwrap();
    let image = decode_png(&path);
    assert_eq!((image.width, image.height), (640, 480));
    assert!(image.count(near(BLUE)) > 200 && image.count(near(ORANGE)) > 200);

    let target: Vec<(f32, f32)> = (0..=64).map(|i| (i as f32 / 8.0, (i as f32 / 8.0).sin())).collect();
    let fitted: Vec<(f32, f32)> = target.iter().map(|&(x, y)| (x, 0.9 * y)).collect();
    let path = dir.join("fit.png");
    plot_xy(&path, "sin(x)", &[("target", &target), ("fitted", &fitted)]).unwrap();
    let image = decode_png(&path);
    assert_eq!((image.width, image.height), (640, 480));
    assert!(image.count(near(BLUE)) > 200 && image.count(near(ORANGE)) > 200);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn run_names_are_plain_folder_names() {
    for bad in ["", ".", "..", "a/b", "../up", "a\\b"] {
        assert!(MetricsLogger::new(bad).is_err(), "{bad:?} accepted");
    }
}
