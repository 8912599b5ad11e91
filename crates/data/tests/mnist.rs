//! Reading the bundled MNIST subset, other directories (raw files), and corrupt files.

use std::io::Write;
use std::path::{Path, PathBuf};

use soma_data::{Dataset, Mnist, MnistSplit, Normalization, encode_idx, load_split, read_idx};
use soma_device::Error;

/// A fresh, empty temporary directory for one test.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("soma-data-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// The message of a `Format` error, checking that it names `path`.
fn format_error(result: soma_device::Result<impl std::fmt::Debug>, path: &Path) -> String {
    match result {
        Err(Error::Format { path: p, msg }) => {
            assert_eq!(p, path.display().to_string());
            msg
        }
        other => panic!("expected a Format error naming {}, got {other:?}", path.display()),
    }
}

#[test]
fn reads_the_bundled_subset() {
    let mnist = Mnist::load_with(Mnist::default_dir(), Normalization::Raw).unwrap();
    assert_eq!(mnist.train.len(), 8000);
    assert_eq!(mnist.test.len(), 2000);
    for ds in [&mnist.train, &mnist.test] {
        assert_eq!(ds.feature_shape(), &[1, 28, 28]);
        assert_eq!(ds.feature_len(), 784);
        let mut counts = [0usize; 10];
        for &l in ds.labels() {
            assert!(l.fract() == 0.0 && (0.0..=9.0).contains(&l), "label {l}");
            counts[l as usize] += 1;
        }
        // Every digit is well represented (roughly a tenth each).
        assert!(counts.iter().all(|&c| c * 20 > ds.len()), "{counts:?}");
        let min = ds.features().iter().copied().fold(f32::INFINITY, f32::min);
        let max = ds.features().iter().copied().fold(f32::NEG_INFINITY, f32::max);
        assert_eq!((min, max), (0.0, 255.0));
        let mean = ds.features().iter().map(|&x| f64::from(x)).sum::<f64>() / ds.features().len() as f64 / 255.0;
        assert!((mean - 0.1307).abs() < 0.01, "mean pixel {mean}");
        assert_eq!(ds.background(), 0.0);
    }
    // A digit is mostly background with some ink, and its features are whole bytes.
    let first = mnist.train.get(0).unwrap();
    let ink = first.features.iter().filter(|&&x| x > 0.0).count();
    assert!((50..500).contains(&ink), "{ink} ink pixels");
    assert!(first.features.iter().all(|x| x.fract() == 0.0));
}

#[test]
fn default_load_is_normalised_with_the_mnist_mean_and_std() {
    let mnist = Mnist::load().unwrap();
    let raw = load_split(&Mnist::default_dir(), MnistSplit::Test, Normalization::Raw).unwrap();
    let (lo, hi) = (-0.1307 / 0.3081, (1.0 - 0.1307) / 0.3081);
    let min = mnist.test.features().iter().copied().fold(f32::INFINITY, f32::min);
    let max = mnist.test.features().iter().copied().fold(f32::NEG_INFINITY, f32::max);
    assert!((min - lo).abs() < 1e-5 && (max - hi).abs() < 1e-4, "{min} {max}");
    assert!((mnist.test.background() - lo).abs() < 1e-6);
    for (x, r) in mnist.test.features().iter().zip(raw.features()).step_by(97) {
        assert!((x - (r / 255.0 - 0.1307) / 0.3081).abs() < 1e-5);
    }
    assert_eq!(mnist.test.labels(), raw.labels());
    let unit = Mnist::load_with(Mnist::default_dir(), Normalization::UnitRange).unwrap();
    assert!(unit.train.features().iter().all(|x| (0.0..=1.0).contains(x)));
}

#[test]
fn reads_a_directory_of_raw_files() {
    let dir = temp_dir("raw");
    let image = |seed: u8| (0..12).map(|i| seed.wrapping_mul(31).wrapping_add(i)).collect::<Vec<u8>>();
    let train_images: Vec<u8> = (0..5).flat_map(image).collect();
    std::fs::write(dir.join("train-images-idx3-ubyte"), encode_idx(&[5, 3, 4], &train_images).unwrap()).unwrap();
    std::fs::write(dir.join("train-labels-idx1-ubyte"), encode_idx(&[5], &[3, 1, 4, 1, 5]).unwrap()).unwrap();
    // The test half gzipped, to mix both kinds in one directory.
    std::fs::write(dir.join("t10k-images-idx3-ubyte.gz"), gzip(&encode_idx(&[2, 3, 4], &[7; 24]).unwrap())).unwrap();
    std::fs::write(dir.join("t10k-labels-idx1-ubyte.gz"), gzip(&encode_idx(&[2], &[9, 0]).unwrap())).unwrap();
    let mnist = Mnist::load_with(&dir, Normalization::Raw).unwrap();
    assert_eq!(mnist.train.len(), 5);
    assert_eq!(mnist.train.feature_shape(), &[1, 3, 4]);
    assert_eq!(mnist.train.labels(), &[3.0, 1.0, 4.0, 1.0, 5.0]);
    let third = mnist.train.get(2).unwrap();
    assert_eq!(third.features.iter().map(|&x| x as u8).collect::<Vec<_>>(), image(2));
    assert_eq!(mnist.test.labels(), &[9.0, 0.0]);
    assert!(mnist.test.features().iter().all(|&x| x == 7.0));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn bad_files_give_errors_naming_the_file() {
    let dir = temp_dir("bad");
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let good = encode_idx(&[2, 2, 2], &[1, 2, 3, 4, 5, 6, 7, 8]).unwrap();

    let p = write("bad-magic.idx", &[0x12, 0x34, 0x08, 0x03, 0, 0, 0, 1]);
    assert!(format_error(read_idx(&p), &p).contains("bad magic number 0x12340803"));

    let p = write("truncated.idx", &good[..good.len() - 3]);
    assert!(format_error(read_idx(&p), &p).contains("truncated"));

    let p = write("truncated-header.idx", &good[..9]);
    assert!(format_error(read_idx(&p), &p).contains("truncated"));

    let gz = gzip(&good);
    let p = write("truncated.idx.gz", &gz[..gz.len() / 2]);
    assert!(format_error(read_idx(&p), &p).contains("gzip"));

    let mut corrupt = gz.clone();
    let n = corrupt.len();
    corrupt[n - 6] ^= 0xff; // breaks the CRC in the gzip trailer
    let p = write("corrupt.idx.gz", &corrupt);
    assert!(format_error(read_idx(&p), &p).contains("gzip"));

    let p = write("truncated-payload.gz", &gzip(&good[..good.len() - 1]));
    assert!(format_error(read_idx(&p), &p).contains("truncated"));

    // A small file that would inflate far past what its header declares: reading stops one byte
    // after the declared data, so it is refused without inflating the rest.
    let mut bomb = encode_idx(&[1], &[5]).unwrap();
    bomb.resize(bomb.len() + (64 << 20), 0);
    let p = write("bomb.idx.gz", &gzip(&bomb));
    assert!(std::fs::metadata(&p).unwrap().len() < 1 << 20);
    assert!(format_error(read_idx(&p), &p).contains("bytes after the 1 data bytes of dimensions [1]"));

    match read_idx(dir.join("missing.idx")) {
        Err(Error::Io { path, .. }) => assert!(path.ends_with("missing.idx")),
        other => panic!("expected an Io error, got {other:?}"),
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn gzip_members_and_zero_padding_are_read_as_python_reads_them() {
    let dir = temp_dir("members");
    let file = encode_idx(&[2, 3], &[1, 2, 3, 4, 5, 6]).unwrap();
    // Two members (header and data compressed apart) with zero bytes between them, then 512 zero
    // bytes of block padding (Python: gzip.decompress(gz(a) + bytes(10) + gz(b)) == a + b).
    let mut bytes = gzip(&file[..7]);
    bytes.extend([0; 10]);
    bytes.extend(gzip(&file[7..]));
    bytes.extend([0; 512]);
    let p = dir.join("two-members.idx.gz");
    std::fs::write(&p, &bytes).unwrap();
    assert_eq!(read_idx(&p).unwrap().data, vec![1, 2, 3, 4, 5, 6]);

    // Anything but zeros after the members is still corrupt.
    bytes.push(1);
    std::fs::write(&p, &bytes).unwrap();
    assert!(format_error(read_idx(&p), &p).contains("gzip"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn load_split_checks_its_normalisation() {
    let bad = Normalization::MeanStd { mean: 0.5, std: 0.0 };
    let err = load_split(&Mnist::default_dir(), MnistSplit::Test, bad).unwrap_err().to_string();
    assert!(err.contains("finite std > 0"), "{err}");
}

#[test]
fn mnist_checks_dimensions_labels_and_counts() {
    let dir = temp_dir("dims");
    let images = dir.join("train-images-idx3-ubyte");
    let labels = dir.join("train-labels-idx1-ubyte");
    std::fs::write(dir.join("t10k-images-idx3-ubyte"), encode_idx(&[1, 2, 2], &[0; 4]).unwrap()).unwrap();
    std::fs::write(dir.join("t10k-labels-idx1-ubyte"), encode_idx(&[1], &[0]).unwrap()).unwrap();

    // Images with two dimensions instead of three.
    std::fs::write(&images, encode_idx(&[3, 4], &[0; 12]).unwrap()).unwrap();
    std::fs::write(&labels, encode_idx(&[3], &[0, 1, 2]).unwrap()).unwrap();
    assert!(format_error(Mnist::load_from(&dir), &images).contains("wrong dimensions [3, 4]"));

    // Labels with two dimensions.
    std::fs::write(&images, encode_idx(&[3, 2, 2], &[0; 12]).unwrap()).unwrap();
    std::fs::write(&labels, encode_idx(&[3, 1], &[0, 1, 2]).unwrap()).unwrap();
    assert!(format_error(Mnist::load_from(&dir), &labels).contains("wrong dimensions [3, 1]"));

    // Fewer labels than images.
    std::fs::write(&labels, encode_idx(&[2], &[0, 1]).unwrap()).unwrap();
    assert!(format_error(Mnist::load_from(&dir), &labels).contains("2 labels for 3 images"));

    // A label that is not a digit.
    std::fs::write(&labels, encode_idx(&[3], &[0, 12, 2]).unwrap()).unwrap();
    assert!(format_error(Mnist::load_from(&dir), &labels).contains("label 12 at index 1"));

    // A missing file names what was looked for.
    std::fs::remove_file(&labels).unwrap();
    let err = Mnist::load_from(&dir).unwrap_err().to_string();
    assert!(err.contains("train-labels-idx1-ubyte") && err.contains("not found"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}
