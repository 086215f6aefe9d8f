//! On real photos (scikit-image's public-domain astronaut and CC0 cameraman, cached by
//! `cargo xtask`): the person is found with keypoints where a person marked them by eye on a
//! grid (tuning data, not held out: see docs/photo.md); neither photo shows feet, so placement
//! asks where to stand. Bad files get their name and what is wrong.

use glam::Vec2;
use std::path::{Path, PathBuf};
use tomoni_photo::people::{Finder, kp, models_ready};
use tomoni_photo::place::{Side, place};

fn ready() -> bool {
    let ok = models_ready() && photo("astronaut.png").is_file();
    assert!(ok || std::env::var_os("TOMONI_TEST_PHOTO").is_none(), "the photo models are not set up");
    ok
}

fn photo(name: &str) -> PathBuf {
    tomoni_photo::model_dir().join("test-photos").join(name)
}

fn tmp(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("photo");
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

/// Marked by eye on the 512 × 512 pictures, pixels: (keypoint, where, how far off is wrong).
/// 25 px is 5 % of the picture: a face point off by that much is on the wrong feature.
const ASTRONAUT: &[(usize, [f32; 2], f32)] = &[
    (kp::NOSE, [224.0, 124.0], 25.0),
    (kp::LEFT_EYE, [246.0, 104.0], 25.0),
    (kp::RIGHT_EYE, [204.0, 104.0], 25.0),
    // The joints under the bulky suit, a head's width and a half apart about the chin line
    // (first marked on the suit's outline, 40 px further out: that is not where a shoulder is).
    (kp::LEFT_SHOULDER, [305.0, 225.0], 45.0),
    (kp::RIGHT_SHOULDER, [140.0, 225.0], 45.0),
];
const CAMERAMAN: &[(usize, [f32; 2], f32)] = &[(kp::NOSE, [250.0, 170.0], 25.0)];

#[test]
fn people_in_real_photos_are_found_where_they_are() {
    if !ready() {
        return;
    }
    let mut finder = Finder::load(2).unwrap();
    for (name, marks) in [("astronaut.png", ASTRONAUT), ("camera.png", CAMERAMAN)] {
        let p = tomoni_photo::camera::load(&photo(name)).unwrap();
        let people = finder.find(&p.image).unwrap();
        assert_eq!(people.len(), 1, "{name}: {} people", people.len());
        let person = &people[0];
        for &(i, at, tol) in marks {
            let k = person.keypoints[i];
            let off = k.at().distance(Vec2::from(at));
            assert!(off < tol, "{name}: keypoint {i} at ({:.0}, {:.0}), marked at {at:?}: {off:.0} px off", k.x, k.y);
        }
        // The mask: the face is the person, the top corners are not.
        let nose = person.keypoints[kp::NOSE];
        assert!(person.mask_at(nose.x, nose.y) > 0.8, "{name}: the face is not in the mask");
        assert!(person.mask_at(8.0, 8.0) < 0.2 && person.mask_at(503.0, 8.0) < 0.2, "{name}: a corner is in the mask");
        // Their feet are out of the picture: no floor to stand on, and the message says what to do.
        assert!(person.feet().is_none(), "{name}: feet found in a photo that shows none");
        let e = place(&p.camera, Some(person), &[], 1.6, Side::Auto).unwrap_err().to_string();
        assert!(e.contains("feet") && e.contains("--place"), "{e}");
    }
}

#[test]
fn a_photo_without_people_finds_nobody() {
    if !ready() {
        return;
    }
    // The sky and the grass of the cameraman's photo, with him cropped out.
    let p = tomoni_photo::camera::load(&photo("camera.png")).unwrap();
    let crop = image::imageops::crop_imm(&p.image, 330, 0, 182, 512).to_image();
    let people = Finder::load(2).unwrap().find(&crop).unwrap();
    assert!(people.is_empty(), "found {} people in an empty field", people.len());
}

#[test]
fn bad_files_are_named_with_what_is_wrong() {
    let text = tmp("notes.jpg");
    std::fs::write(&text, "these are not pixels").unwrap();
    let e = tomoni_photo::camera::load(&text).unwrap_err().to_string();
    assert!(e.contains("notes.jpg") && e.contains("not an image"), "{e}");

    // A PNG whose header says 10000 × 10000: refused before a byte of it is decoded.
    let huge = tmp("huge.png");
    let mut png = Vec::new();
    png.extend_from_slice(b"\x89PNG\r\n\x1a\n");
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(b"IHDR");
    ihdr.extend_from_slice(&10_000u32.to_be_bytes());
    ihdr.extend_from_slice(&10_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    png.extend_from_slice(&13u32.to_be_bytes());
    png.extend_from_slice(&ihdr);
    png.extend_from_slice(&crc32(&ihdr).to_be_bytes());
    for chunk in [&b"IDAT"[..], &b"IEND"[..]] {
        png.extend_from_slice(&0u32.to_be_bytes());
        png.extend_from_slice(chunk);
        png.extend_from_slice(&crc32(chunk).to_be_bytes());
    }
    std::fs::write(&huge, &png).unwrap();
    let e = tomoni_photo::camera::load(&huge).unwrap_err().to_string();
    assert!(e.contains("huge.png") && e.contains("100 megapixels"), "{e}");

    // A JPEG cut off half way.
    let img = image::RgbImage::from_fn(640, 480, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 90]));
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90).encode_image(&img).unwrap();
    let cut = tmp("cut.jpg");
    std::fs::write(&cut, &jpeg[..jpeg.len() / 2]).unwrap();
    let e = tomoni_photo::camera::load(&cut).unwrap_err().to_string();
    assert!(e.contains("cut.jpg"), "{e}");
}

/// PNG's CRC-32.
fn crc32(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
        }
    }
    !c
}

/// A TIFF block (as EXIF carries) with IFD0 holding Orientation and an Exif IFD holding
/// FocalLengthIn35mmFilm, little-endian.
fn exif_block(orientation: u16, focal_35mm: u16) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(b"II*\0");
    b.extend_from_slice(&8u32.to_le_bytes());
    let entry = |b: &mut Vec<u8>, tag: u16, kind: u16, value: u32| {
        b.extend_from_slice(&tag.to_le_bytes());
        b.extend_from_slice(&kind.to_le_bytes());
        b.extend_from_slice(&1u32.to_le_bytes());
        b.extend_from_slice(&value.to_le_bytes());
    };
    // IFD0 at 8: two entries, then the next-IFD offset (0); the Exif IFD follows at 8+2+24+4.
    b.extend_from_slice(&2u16.to_le_bytes());
    entry(&mut b, 0x0112, 3, u32::from(orientation));
    entry(&mut b, 0x8769, 4, 38);
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    entry(&mut b, 0xA405, 3, u32::from(focal_35mm));
    b.extend_from_slice(&0u32.to_le_bytes());
    b
}

#[test]
fn the_lens_and_orientation_come_from_exif_and_the_result_keeps_it_marked_as_a_composite() {
    use img_parts::ImageEXIF;
    // 60 × 40 pixels, left half red: stored sideways with orientation 6 (turn 90° clockwise).
    let img =
        image::RgbImage::from_fn(
            60,
            40,
            |x, _| if x < 30 { image::Rgb([220, 20, 20]) } else { image::Rgb([20, 20, 220]) },
        );
    let mut raw = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut raw, 95).encode_image(&img).unwrap();
    let mut jpeg = img_parts::jpeg::Jpeg::from_bytes(raw.into()).unwrap();
    jpeg.set_exif(Some(exif_block(6, 50).into()));
    let path = tmp("sideways.jpg");
    jpeg.encoder().write_to(std::fs::File::create(&path).unwrap()).unwrap();

    let p = tomoni_photo::camera::load(&path).unwrap();
    assert_eq!((p.camera.width, p.camera.height), (40, 60), "not turned upright");
    assert_eq!(p.orientation, 6);
    // Turned clockwise, the red left half is now on top.
    assert!(p.image.get_pixel(20, 5)[0] > 150 && p.image.get_pixel(20, 55)[2] > 150);
    assert_eq!(p.camera.focal_35mm, 50.0);
    assert_eq!(p.camera.source, tomoni_photo::camera::LensSource::Exif35mm);
    // 50 mm on a 3:2 frame seen upright: 2·atan(36/2/50) = 39.6° vertically (here the frame is
    // 2:3, the diagonal the same, so the long side's angle).
    assert!((p.camera.fov_y().to_degrees() - 39.6).abs() < 0.5, "{}", p.camera.fov_y().to_degrees());

    let out = tmp("kept.jpg");
    tomoni_photo::composite::write_jpeg(&p.image, &std::fs::read(&path).unwrap(), &out, None).unwrap();
    let written = std::fs::read(&out).unwrap();
    let back = tomoni_photo::camera::load(&out).unwrap();
    // The lens is kept; the orientation now says upright (the pixels are).
    assert_eq!(back.camera.focal_35mm, 50.0);
    assert_eq!(back.orientation, 1);
    assert_eq!((back.camera.width, back.camera.height), (40, 60));
    let text = String::from_utf8_lossy(&written);
    assert!(text.contains("Iptc4xmpExt:DigitalSourceType") && text.contains("compositeSynthetic"), "no XMP marker");
    assert!(!text.contains("photoshop:Credit"), "no credit asked for, none written");
    // An avatar whose licence asks for credit: the credit line names it, escaped as XML.
    tomoni_photo::composite::write_jpeg(&p.image, &written, &out, Some("“Lune” by A & B")).unwrap();
    let text = String::from_utf8_lossy(&std::fs::read(&out).unwrap()).to_string();
    assert!(text.contains("photoshop:Credit=\"avatar “Lune” by A &amp; B\""), "no credit line in the XMP");
}

/// The sampling factors (horizontal × 16 + vertical) of a JPEG's three components.
fn sampling(jpeg: &[u8]) -> Vec<u8> {
    let jpeg = img_parts::jpeg::Jpeg::from_bytes(jpeg.to_vec().into()).unwrap();
    let frame = jpeg.segments().iter().find(|s| s.marker() == img_parts::jpeg::markers::SOF0).expect("a baseline JPEG");
    let c = frame.contents();
    (0..c[5] as usize).map(|i| c[6 + 3 * i + 1]).collect()
}

#[test]
fn the_result_keeps_the_colour_resolution_the_photo_had() {
    // A camera's JPEG stores colour at half resolution (4:2:0): so is the result, which loses
    // nothing the photo had and encodes 40 % faster. A PNG or a 4:4:4 JPEG keeps full colour.
    let img = image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([(x * 4) as u8, (y * 5) as u8, ((x + y) * 2) as u8]));
    let camera_like = {
        let mut bytes = Vec::new();
        let mut e = jpeg_encoder::Encoder::new(&mut bytes, 90);
        e.set_sampling_factor(jpeg_encoder::SamplingFactor::F_2_2);
        e.encode(img.as_raw(), 64, 48, jpeg_encoder::ColorType::Rgb).unwrap();
        bytes
    };
    assert_eq!(sampling(&camera_like), [0x22, 0x11, 0x11]);
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).unwrap();
    let out = tmp("sampling.jpg");
    for (original, want) in [(&camera_like, [0x22, 0x11, 0x11]), (&png, [0x11, 0x11, 0x11])] {
        tomoni_photo::composite::write_jpeg(&img, original, &out, None).unwrap();
        let written = std::fs::read(&out).unwrap();
        assert_eq!(sampling(&written), want);
        // And it is the picture: within a JPEG's error of the pixels given.
        let back = image::load_from_memory(&written).unwrap().to_rgb8();
        let worst = img.pixels().zip(back.pixels()).flat_map(|(a, b)| (0..3).map(move |c| a[c].abs_diff(b[c]))).max();
        assert!(worst.unwrap() < 24, "{worst:?}");
    }
}

#[test]
fn the_light_is_read_off_the_people_and_turns_with_the_photo() {
    if !ready() {
        return;
    }
    // Held out: where the light comes from was judged by eye before the estimator first ran on
    // these (the astronaut's studio key from the left of the picture, soft; the cameraman's sun
    // from the right and the front); its thresholds were set on synthetic ellipsoids only.
    // Measured: astronaut −0.65 (mirrored +0.59), cameraman +1.0 (mirrored −0.69). A light
    // read from the wrong side, or no side at all, fails.
    let mut finder = Finder::load(2).unwrap();
    for (name, side) in [("astronaut.png", -1.0f32), ("camera.png", 1.0)] {
        let p = tomoni_photo::camera::load(&photo(name)).unwrap();
        let mirrored = image::imageops::flip_horizontal(&p.image);
        for (img, sign) in [(&p.image, side), (&mirrored, -side)] {
            let people = finder.find(img).unwrap();
            let light = tomoni_photo::light::estimate(img, &people, &p.camera);
            assert!(light.samples > 200, "{name}: {light:?}");
            assert!(light.side * sign > 0.3, "{name} (sign {sign}): {light:?}");
            // Above and in front of the person: the shadow falls behind, away from the light.
            assert!(light.from[1] > 0.5 && light.from[2] > 0.0 && light.from[0] * sign > 0.0, "{name}: {light:?}");
        }
    }
}

#[test]
fn the_grain_of_a_real_photo_is_measured_through_its_texture() {
    if !ready() {
        return;
    }
    // Held out (the estimator was set on a synthetic scene): the astronaut, with its flag,
    // suit and patches, plus Gaussian noise of a known σ. Noise adds in quadrature to the scan's
    // own (measured 1.5), so the truth is √(σ² + own²); within 20 %.
    let p = tomoni_photo::camera::load(&photo("astronaut.png")).unwrap();
    let own = tomoni_photo::composite::noise_sigma(&p.image);
    assert!(own < 3.0, "a clean scan measured σ {own}");
    let mut seed = 7u64;
    let mut uniform = move || {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        ((seed >> 40) as f32 + 1.0) / 16_777_217.0
    };
    for sigma in [4.0f32, 8.0] {
        let mut noisy = p.image.clone();
        for px in noisy.pixels_mut() {
            let n = (-2.0 * uniform().ln()).sqrt() * (std::f32::consts::TAU * uniform()).cos() * sigma;
            for c in 0..3 {
                px[c] = (f32::from(px[c]) + n).round().clamp(0.0, 255.0) as u8;
            }
        }
        let got = tomoni_photo::composite::noise_sigma(&noisy);
        let want = sigma.hypot(own);
        eprintln!("astronaut + σ {sigma}: measured {got:.2}, truth {want:.2}");
        assert!((got / want - 1.0).abs() < 0.2, "σ {sigma} added: measured {got:.2}, want {want:.2}");
    }
}

#[test]
fn beside_a_real_person_with_feet_the_companion_stands_on_their_floor_at_a_persons_size() {
    if !ready() {
        return;
    }
    // Held out: OpenCV's basketball1.png (Debian `opencv-doc`), two men playing catch in an
    // office; the one on the left stands whole, the other is cut by the frame at the hips. Marked
    // by eye before tomoni first ran on it: the left man's feet at (100, 468), his head's top at
    // y 85 (383 px tall). Nothing in tomoni was tuned on it.
    let p = tomoni_photo::camera::load(&photo("basketball1.png")).unwrap();
    let people = Finder::load(2).unwrap().find(&p.image).unwrap();
    assert_eq!(people.len(), 2, "{} people", people.len());
    let standing: Vec<_> = people.iter().filter(|q| q.feet().is_some()).collect();
    assert_eq!(standing.len(), 1, "the man cut at the hips has no feet to stand on");
    let man = standing[0];
    let feet = man.feet().unwrap();
    // A foot's length (25 px here) off is on the wrong part of the body.
    assert!(feet.distance(Vec2::new(100.0, 468.0)) < 25.0, "his feet found at {feet}");
    let other: Vec<_> = people.iter().filter(|q| q.feet().is_none()).collect();
    let placed = place(&p.camera, Some(man), &other, 1.70, Side::Auto).unwrap();
    eprintln!("basketball1: {placed:?}");
    let [x, y] = placed.feet_px;
    // On his floor at his depth: his row within 4 % of the picture (the mark is ±5 px on a
    // motion-blurred photo; a camera height or depth 15 % off moves it further).
    assert!((y - 468.0).abs() < 19.0, "the companion's feet on row {y:.0}, his on 468");
    // A 1.70 m companion beside a grown man at the same depth is within −15 %…+25 % of his
    // 383 px (men 1.55–1.95 m); drawn at the wrong depth it would be far off.
    let ratio = placed.height_px / 383.0;
    assert!((0.85..1.25).contains(&ratio), "{:.0} px tall beside his 383 ({ratio:.2})", placed.height_px);
    let h = placed.person_height.unwrap();
    assert!((1.55..1.95).contains(&h), "his height read as {h:.2} m");
    // Beside him on the free floor between the two men, a shoulder and a gap away, not on the
    // other man (whose left edge is at x ≈ 430).
    assert!(x > 100.0 + 0.45 * placed.px_per_m && x < 430.0, "the companion's feet at x {x:.0}");
}

#[test]
fn the_blur_of_a_real_photo_is_measured_from_its_edges() {
    if !ready() {
        return;
    }
    // Held out (the estimator was set on a synthetic scene): the astronaut, blurred by a known
    // σ. Her scan's own softness adds in quadrature; within 25 %.
    let p = tomoni_photo::camera::load(&photo("astronaut.png")).unwrap();
    let own = tomoni_photo::composite::blur_sigma(&p.image);
    for sigma in [1.5f32, 3.0] {
        let soft = image::imageops::blur(&p.image, sigma);
        let got = tomoni_photo::composite::blur_sigma(&soft);
        let want = sigma.hypot(own);
        eprintln!("astronaut blurred by σ {sigma}: measured {got:.2}, truth {want:.2}");
        assert!((got / want - 1.0).abs() < 0.25, "σ {sigma}: measured {got:.2}, want {want:.2}");
    }
}

/// Degrees between two colours taken as directions in RGB: the usual measure of a white
/// balance's error (a 3° error is hard to see; grey world's 15° on the astronaut is a cast).
fn angle(a: [f32; 3], b: [f32; 3]) -> f32 {
    let dot: f32 = (0..3).map(|c| a[c] * b[c]).sum();
    let len = |v: [f32; 3]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    (dot / (len(a) * len(b))).clamp(-1.0, 1.0).acos().to_degrees()
}

/// The photo with its light turned `gains` in linear light (a warmer or bluer lamp).
fn under(photo: &image::RgbImage, gains: [f32; 3]) -> image::RgbImage {
    use tomoni_photo::composite::{linear_to_srgb, srgb_to_linear};
    image::RgbImage::from_fn(photo.width(), photo.height(), |x, y| {
        let p = photo.get_pixel(x, y);
        image::Rgb([0, 1, 2].map(|c| linear_to_srgb(srgb_to_linear(p[c]) * gains[c])))
    })
}

/// Photos taken under a white light (as cameras balance them) must read as white, and a lamp's
/// colour laid over them must be found. The truth here is that these photos are neutral as
/// published, so the error against white is the estimator's. Tuned on the first four (the
/// near-neutral threshold, 20 %); the other nine were not looked at until it was chosen.
/// Grey world, the rule before, is off by 13–34° on the tuning photos and 1–25° on the others.
#[test]
fn the_light_of_colourful_photos_reads_white_and_a_lamps_colour_is_found() {
    if !ready() {
        return;
    }
    let tuned = ["astronaut.png", "coffee.png", "chelsea.png", "motorcycle_left.png"];
    let held_out = [
        "rocket.jpg",
        "messi5.jpg",
        "home.jpg",
        "building.jpg",
        "leuvenA.jpg",
        "rubberwhale1.png",
        "butterfly.jpg",
        "squirrel_cls.jpg",
        "smarties.png",
    ];
    let warm = [1.2, 1.0, 0.7];
    for (set, names) in [("tuned", &tuned[..]), ("held out", &held_out[..])] {
        let mut white = Vec::new();
        for name in names {
            let img = image::open(photo(name)).unwrap_or_else(|e| panic!("{name}: {e}")).to_rgb8();
            let e = angle(tomoni_photo::composite::illuminant(&img), [1.0; 3]);
            let lamp = angle(tomoni_photo::composite::illuminant(&under(&img, warm)), warm);
            eprintln!("{set:>8} {name:<20} white {e:4.1}°  under a warm lamp {lamp:4.1}°");
            // 10°: a third of coffee's grey-world error, two-thirds of the astronaut's.
            assert!(e < 10.0, "{name}: a white light read {e:.1}° off");
            white.push(e);
        }
        white.sort_by(f32::total_cmp);
        let median = (white[(white.len() - 1) / 2] + white[white.len() / 2]) / 2.0;
        eprintln!("{set}: median {median:.1}°");
        // Grey world's medians are 18.5° and 11°: 8° catches a return to it.
        assert!(median < 8.0, "{set}: median error {median:.1}°");
    }
    // A lamp's colour over the astronaut is found (grey world finds it too; the near-neutral
    // pixels must not lose it: the backdrop, orange under a warm lamp, still counts).
    let img = image::open(photo("astronaut.png")).unwrap().to_rgb8();
    let lamp = angle(tomoni_photo::composite::illuminant(&under(&img, warm)), warm);
    assert!(lamp < 6.0, "a warm lamp read {lamp:.1}° off");
}
