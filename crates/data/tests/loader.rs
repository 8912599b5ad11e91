//! The DataLoader: coverage per epoch, seeded shuffling, drop_last, layouts, augmentation, upload.

use soma_data::{DataLoader, Dataset, HostBatch, InMemoryDataset, InputLayout, Mnist, RandomShift, train_val_split};
use soma_device::Device;

/// `n` samples of `[1, 2, 2]` whose features all equal the sample's index and whose label is `index % 10`.
fn indexed(n: usize) -> InMemoryDataset {
    let features = (0..n).flat_map(|i| [i as f32; 4]).collect();
    let labels = (0..n).map(|i| (i % 10) as f32).collect();
    InMemoryDataset::new(features, labels, [1, 2, 2]).unwrap()
}

fn host_batches(loader: &DataLoader<&InMemoryDataset>, epoch: u64) -> Vec<HostBatch> {
    loader.host_epoch(epoch).collect::<soma_device::Result<_>>().unwrap()
}

fn visit_order(loader: &DataLoader<&InMemoryDataset>, epoch: u64) -> Vec<usize> {
    host_batches(loader, epoch).into_iter().flat_map(|b| b.indices).collect()
}

#[test]
fn every_sample_once_per_epoch_with_matching_features_and_labels() {
    let ds = indexed(103);
    let loader = DataLoader::new(&ds, 10, &Device::cpu()).unwrap().shuffle(5);
    assert_eq!(loader.num_batches(), 11);
    assert_eq!(loader.num_samples(), 103);
    for epoch in 0..3 {
        let batches = host_batches(&loader, epoch);
        assert_eq!(batches.len(), 11);
        assert!(batches[..10].iter().all(|b| b.len() == 10));
        assert_eq!(batches[10].len(), 3);
        let mut seen: Vec<usize> = Vec::new();
        for b in &batches {
            assert_eq!(b.input_shape, vec![b.len(), 4]);
            for (k, &i) in b.indices.iter().enumerate() {
                assert_eq!(&b.inputs[k * 4..k * 4 + 4], &[i as f32; 4]);
                assert_eq!(b.labels[k], (i % 10) as f32);
            }
            seen.extend(&b.indices);
        }
        seen.sort();
        assert_eq!(seen, (0..103).collect::<Vec<_>>());
    }
}

#[test]
fn shuffling_is_reproducible_by_seed_and_differs_between_seeds_and_epochs() {
    let ds = indexed(200);
    let device = Device::cpu();
    let a = DataLoader::new(&ds, 32, &device).unwrap().shuffle(1);
    let a_again = DataLoader::new(&ds, 32, &device).unwrap().shuffle(1);
    let b = DataLoader::new(&ds, 32, &device).unwrap().shuffle(2);
    let plain = DataLoader::new(&ds, 32, &device).unwrap();
    assert_eq!(visit_order(&a, 0), visit_order(&a_again, 0));
    assert_eq!(visit_order(&a, 3), visit_order(&a_again, 3));
    assert_ne!(visit_order(&a, 0), visit_order(&b, 0));
    assert_ne!(visit_order(&a, 0), visit_order(&a, 1));
    assert_ne!(visit_order(&a, 0), (0..200).collect::<Vec<_>>());
    assert_eq!(visit_order(&plain, 0), (0..200).collect::<Vec<_>>());
    assert_eq!(visit_order(&plain, 4), (0..200).collect::<Vec<_>>());
}

#[test]
fn drop_last_drops_only_a_partial_last_batch() {
    let ds = indexed(103);
    let device = Device::cpu();
    let loader = DataLoader::new(&ds, 10, &device).unwrap().shuffle(9).drop_last(true);
    assert_eq!((loader.num_batches(), loader.num_samples()), (10, 100));
    let batches = host_batches(&loader, 0);
    assert_eq!(batches.len(), 10);
    assert!(batches.iter().all(|b| b.len() == 10));
    let mut seen = visit_order(&loader, 0);
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 100);
    // With drop_last the kept samples are the first 100 of the same shuffled order.
    assert_eq!(visit_order(&loader, 0), loader.order(0)[..100].to_vec());

    let exact = indexed(100);
    let loader = DataLoader::new(&exact, 10, &device).unwrap().drop_last(true);
    assert_eq!(loader.num_batches(), 10);
    let small = indexed(7);
    let loader = DataLoader::new(&small, 10, &device).unwrap().drop_last(true);
    assert_eq!(loader.num_batches(), 0);
    assert_eq!(loader.host_epoch(0).count(), 0);
    assert!(DataLoader::new(&small, 0, &device).is_err());
}

#[test]
fn image_layout_and_device_batches() {
    let ds = indexed(10);
    let device = Device::cpu();
    let loader = DataLoader::new(&ds, 4, &device).unwrap().layout(InputLayout::Image);
    let batches: Vec<_> = loader.epoch(0).collect::<soma_device::Result<_>>().unwrap();
    assert_eq!(batches.len(), 3);
    assert_eq!(batches[0].inputs.dims(), &[4, 1, 2, 2]);
    assert_eq!(batches[0].labels.dims(), &[4]);
    assert_eq!(batches[2].inputs.dims(), &[2, 1, 2, 2]);
    assert_eq!(batches[2].labels.to_vec().unwrap(), vec![8.0, 9.0]);
    assert_eq!(batches[1].inputs.to_vec().unwrap()[..4], [4.0; 4]);
}

#[test]
fn mnist_batches_have_the_usual_shapes() {
    let mnist = Mnist::load().unwrap();
    let device = Device::cpu();
    let flat = DataLoader::new(&mnist.test, 64, &device).unwrap().shuffle(3);
    let first = flat.epoch(0).next().unwrap().unwrap();
    assert_eq!(first.inputs.dims(), &[64, 784]);
    assert_eq!(first.labels.dims(), &[64]);
    let labels = first.labels.to_vec().unwrap();
    assert!(labels.iter().all(|l| (0.0..=9.0).contains(l) && l.fract() == 0.0));
    let expected: Vec<f32> = first.indices.iter().map(|&i| mnist.test.labels()[i]).collect();
    assert_eq!(labels, expected);
    let image = DataLoader::new(&mnist.test, 32, &device).unwrap().layout(InputLayout::Image);
    assert_eq!(image.epoch(0).next().unwrap().unwrap().inputs.dims(), &[32, 1, 28, 28]);
    assert_eq!(image.num_batches(), 63);
}

#[test]
fn augmentation_shifts_images_reproducibly_and_fills_with_the_background() {
    // One 5x5 image with a single bright pixel in the centre; background -1.
    let mut img = vec![-1.0; 25];
    img[12] = 1.0;
    let features: Vec<f32> = (0..50).flat_map(|_| img.clone()).collect();
    let ds = InMemoryDataset::new(features, vec![0.0; 50], [1, 5, 5]).unwrap().with_background(-1.0);
    let device = Device::cpu();
    let loader = DataLoader::new(&ds, 50, &device).unwrap().augment(RandomShift::new(1, 4)).unwrap();
    let batch = host_batches(&loader, 0).remove(0);
    let mut offsets = std::collections::HashSet::new();
    for sample in batch.inputs.chunks(25) {
        // Still exactly one bright pixel (a shift by 1 never pushes the centre out) on background.
        assert_eq!(sample.iter().filter(|&&x| x == 1.0).count(), 1);
        assert_eq!(sample.iter().filter(|&&x| x == -1.0).count(), 24);
        let p = sample.iter().position(|&x| x == 1.0).unwrap();
        let (dr, dc) = (p as isize / 5 - 2, p as isize % 5 - 2);
        assert!(dr.abs() <= 1 && dc.abs() <= 1);
        offsets.insert((dr, dc));
    }
    assert!(offsets.len() >= 5, "only {} distinct shifts", offsets.len());
    assert_eq!(host_batches(&loader, 0)[0].inputs, batch.inputs);
    assert_ne!(host_batches(&loader, 1)[0].inputs, batch.inputs);
    // Flat features are not images.
    let flat = InMemoryDataset::new(vec![0.0; 4], vec![0.0], [4]).unwrap();
    assert!(DataLoader::new(&flat, 1, &device).unwrap().augment(RandomShift::new(1, 0)).is_err());
}

#[test]
fn loaders_work_on_split_subsets() {
    let ds = indexed(100);
    let (train, val) = train_val_split(&ds, 0.2, 11).unwrap();
    assert_eq!((train.len(), val.len()), (80, 20));
    let loader = DataLoader::new(&val, 8, &Device::cpu()).unwrap();
    let batches: Vec<HostBatch> = loader.host_epoch(0).collect::<soma_device::Result<_>>().unwrap();
    assert_eq!(batches.iter().map(|b| b.len()).sum::<usize>(), 20);
    // Batch indices are positions in the subset; the features come from the base dataset.
    let first = &batches[0];
    assert_eq!(first.inputs[0], val.indices()[0] as f32);
}

#[test]
fn indices_past_the_end_are_errors() {
    let ds = indexed(3);
    // 1 << 62 times 4 features wraps to 0 in a usize.
    for i in [3, 1 << 60, 1 << 62, usize::MAX] {
        assert_eq!(ds.get(i).unwrap_err().to_string(), format!("dataset.get: index {i} out of range for 3 samples"));
        assert!(ds.select(&[0, i]).is_err());
        assert!(ds.sample_features(i).is_none());
    }
    let huge = InMemoryDataset::new(vec![], vec![], [1 << 32, 1 << 32]).unwrap_err();
    assert_eq!(huge.to_string(), "InMemoryDataset::new: feature shape [4294967296, 4294967296] is too large");
}
