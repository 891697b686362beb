//! Image digest throughput: `ota_core::digest::ImageDigest` against bare `sha2` on the same bytes.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sha2::{Digest, Sha256};
use std::hint::black_box;

fn digest(c: &mut Criterion) {
    let image = fleet_ops_benches::image(256 * 1024);
    let mut g = c.benchmark_group("image_digest_256k");
    g.throughput(Throughput::Bytes(image.len() as u64));
    g.bench_function("baseline_sha2", |b| {
        b.iter(|| {
            let mut h = Sha256::new();
            for chunk in black_box(&image).chunks(4096) {
                h.update(chunk);
            }
            h.finalize()
        })
    });
    g.bench_function("ota_core_image_digest", |b| {
        b.iter(|| {
            let mut d = ota_core::digest::ImageDigest::new();
            for chunk in black_box(&image).chunks(4096) {
                d.update(chunk);
            }
            d.finalize()
        })
    });
    g.finish();
}

criterion_group!(benches, digest);
criterion_main!(benches);
