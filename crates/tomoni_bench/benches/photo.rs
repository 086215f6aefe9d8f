//! Photos together on a 12-megapixel photo (`cargo xtask bench photo`): where the time goes
//! besides rendering — decoding the JPEG, finding the people (segmentation and pose on 2
//! threads), compositing a companion-sized layer with the people on top, encoding the JPEG.
//! The photo is the public-domain astronaut scaled to 4000 × 3000 (real pixels, a real person);
//! the layer is a plain silhouette of the size a companion has in such a photo.
#![expect(missing_docs, reason = "criterion_group! generates undocumented functions")]

use criterion::{Criterion, criterion_group, criterion_main};
use std::time::Duration;

fn bench(c: &mut Criterion) {
    let src = tomoni_photo::model_dir().join("test-photos/astronaut.png");
    if !tomoni_photo::people::models_ready() || !src.is_file() {
        eprintln!("photo bench: models not set up (cargo xtask deps); skipped");
        return;
    }
    let small = image::open(&src).unwrap().to_rgb8();
    let big = image::imageops::resize(&small, 4000, 3000, image::imageops::FilterType::Triangle);
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90).encode_image(&big).unwrap();
    let path = std::env::temp_dir().join("tomoni-bench-12mp.jpg");
    std::fs::write(&path, &jpeg).unwrap();
    let mut finder = tomoni_photo::people::Finder::load(2).unwrap();
    let people = finder.find(&big).unwrap();
    assert_eq!(people.len(), 1, "the astronaut is one person");
    let camera = tomoni_photo::camera::load(&path).unwrap().camera;
    let layer = image::RgbaImage::from_fn(1100, 2000, |x, y| {
        let inside = ((x as f32 - 550.0) / 400.0).powi(2) + ((y as f32 - 1000.0) / 980.0).powi(2) < 1.0;
        image::Rgba([90, 100, 160, if inside { 255 } else { 0 }])
    });
    let m = tomoni_photo::composite::estimate(&big);
    let out = std::env::temp_dir().join("tomoni-bench-out.jpg");

    let mut g = c.benchmark_group("photo 12 MP");
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    g.bench_function("decode (load, EXIF, upright)", |b| b.iter(|| tomoni_photo::camera::load(&path).unwrap()));
    g.bench_function("find people (2 threads)", |b| b.iter(|| finder.find(&big).unwrap()));
    g.bench_function("match light", |b| b.iter(|| tomoni_photo::composite::estimate(&big)));
    g.bench_function("light direction (outlines)", |b| {
        b.iter(|| tomoni_photo::light::estimate(&big, &people, &camera))
    });
    g.bench_function("composite 1100x2000 layer", |b| {
        b.iter(|| tomoni_photo::composite::composite(&big, &layer, (2400, 900), &people, m))
    });
    g.bench_function("encode JPEG with EXIF and XMP (4:4:4 original)", |b| {
        b.iter(|| tomoni_photo::composite::write_jpeg(&big, &jpeg, &out, None).unwrap())
    });
    // A camera's JPEG keeps its colour at half resolution, and so does the result.
    let camera_like = {
        let mut bytes = Vec::new();
        let mut e = jpeg_encoder::Encoder::new(&mut bytes, 90);
        e.set_sampling_factor(jpeg_encoder::SamplingFactor::F_2_2);
        e.encode(big.as_raw(), big.width() as u16, big.height() as u16, jpeg_encoder::ColorType::Rgb).unwrap();
        bytes
    };
    g.bench_function("encode JPEG with EXIF and XMP (4:2:0 original)", |b| {
        b.iter(|| tomoni_photo::composite::write_jpeg(&big, &camera_like, &out, None).unwrap())
    });
    // The same pixels (4:2:0) encoded as one band and as a band per core (the same bytes).
    for bands in [1, tomoni_photo::composite::cores()] {
        g.bench_function(format!("encode pixels 4:2:0 in {bands} band(s)"), |b| {
            b.iter(|| tomoni_photo::composite::encode_in_bands(big.as_raw(), 4000, 3000, true, bands).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
