//! Putting the rendered companion into the photo (its layer carries its shadows, drawn by the
//! shadow catcher: black at their opacity, so laying it over darkens the floor): its colours
//! brought to the photo's white balance and exposure, its edges to the photo's blur and its
//! pixels given the photo's grain, and the people kept on top where they overlap it; then a
//! JPEG of the same size that keeps the photo's EXIF and says it is a composite (XMP
//! `Iptc4xmpExt:DigitalSourceType`).

use crate::PhotoError;
use crate::people::Person;
use image::{RgbImage, RgbaImage};
use std::path::Path;

/// IPTC's term for a picture combining a real photo with rendered (synthetic) elements.
pub const DIGITAL_SOURCE_TYPE: &str = "http://cv.iptc.org/newscodes/digitalsourcetype/compositeSynthetic";

/// How the layer was matched to the photo (reported by `tomoni photo`).
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Match {
    /// Per-channel gains for white balance ([`illuminant`], limited to ±20 %).
    pub white: [f32; 3],
    /// Exposure gain (limited to 0.6–1.25).
    pub exposure: f32,
    /// How much of its colour the companion keeps: 0 in a black-and-white photo, 1 in an
    /// ordinary colour one (a photo's mean chroma of 0.08 or more).
    pub saturation: f32,
    /// The photo's grain: its sensor noise, σ in 8-bit levels ([`noise_sigma`]), given to the
    /// companion's pixels too, so it is not the one clean thing in a grainy photo.
    pub noise: f32,
    /// The photo's blur: σ of a Gaussian, pixels ([`blur_sigma`]); the companion is softened
    /// to match, so it is not the one sharp thing in a soft or shaken photo.
    pub blur: f32,
}

/// The photo's white balance and exposure relative to a neutral, mid-grey scene.
pub fn estimate(photo: &RgbImage) -> Match {
    estimate_with_blur(photo, blur_sigma(photo))
}

/// [`estimate`] for a photo whose blur ([`blur_sigma`]) was read already (`tomoni photo` reads
/// it first: it decides how the companion is drawn).
pub fn estimate_with_blur(photo: &RgbImage, blur: f32) -> Match {
    let s = sample(photo);
    let grey = (s.mean[0] + s.mean[1] + s.mean[2]) / 3.0;
    let white = illuminant_of(&s).map(|m| m.clamp(0.8, 1.2));
    // A mid-grey scene averages 0.18 linear; a darker room dims the companion, but only so far
    // (the avatar is lit by its own lights, already about right for an indoor photo).
    let exposure = (grey / 0.18).sqrt().clamp(0.6, 1.25);
    let saturation = (s.chroma / 0.08).clamp(0.0, 1.0);
    Match { white, exposure, saturation, noise: noise_sigma(photo), blur }
}

/// The colour of the photo's light, as gains about 1 (their mean is 1; red above blue is a
/// warm light), unlimited: see [`illuminant_of`].
pub fn illuminant(photo: &RgbImage) -> [f32; 3] {
    illuminant_of(&sample(photo))
}

/// What [`estimate`] reads off a photo, on a sparse grid of its pixels.
struct Sample {
    /// Linear mean of every sampled pixel.
    mean: [f32; 3],
    /// Linear mean of the near-neutral ones ([`NEUTRAL`]), and how many of the samples they are.
    neutral: [f32; 3],
    neutral_share: f32,
    /// Mean chroma, (max − min) / 255.
    chroma: f32,
}

/// A pixel is near-neutral when its channels lie within 20 % of its brightest, in sRGB, and
/// it is neither near black nor clipped. Whites, greys, concrete, paper and skies in
/// shade are: what a photographer's grey card stands in for.
const NEUTRAL: f32 = 0.2;

fn sample(photo: &RgbImage) -> Sample {
    let mut sum = [0.0f64; 3];
    let mut neutral = [0.0f64; 3];
    let (mut n, mut k, mut chroma) = (0.0f64, 0.0f64, 0.0f64);
    // Every 7th pixel of every 7th row: a 12-megapixel photo in a quarter-million samples.
    for y in (0..photo.height()).step_by(7) {
        for x in (0..photo.width()).step_by(7) {
            let p = photo.get_pixel(x, y);
            let lin = [0, 1, 2].map(|c| f64::from(srgb_to_linear(p[c])));
            let (lo, hi) = (p.0.iter().min().copied().unwrap_or(0), p.0.iter().max().copied().unwrap_or(0));
            for c in 0..3 {
                sum[c] += lin[c];
            }
            if hi > 25 && hi < 250 && f32::from(hi - lo) < NEUTRAL * f32::from(hi) {
                for c in 0..3 {
                    neutral[c] += lin[c];
                }
                k += 1.0;
            }
            chroma += f64::from(hi - lo) / 255.0;
            n += 1.0;
        }
    }
    let n1 = n.max(1.0);
    Sample {
        mean: sum.map(|s| (s / n1) as f32),
        neutral: neutral.map(|s| (s / k.max(1.0)) as f32),
        neutral_share: (k / n1) as f32,
        chroma: (chroma / n1) as f32,
    }
}

/// The light's colour: the mean of the near-neutral pixels, for a grey thing shows the light
/// as it is; the whole photo's mean (grey world) only when under 1 % of it is near-neutral.
/// Grey world reads a colourful scene as a coloured light: the astronaut's orange suit and
/// flag made a white light 15° warm and washed the companion's face (docs/photo.md measures
/// both on photos it was not tuned on).
fn illuminant_of(s: &Sample) -> [f32; 3] {
    let m = if s.neutral_share >= 0.01 { s.neutral } else { s.mean };
    let grey = (m[0] + m[1] + m[2]) / 3.0;
    m.map(|c| c / grey.max(1e-4))
}

/// A pixel's grey level, 0–255 (the mean of its channels: what grain and blur are measured on).
fn grey(p: &image::Rgb<u8>) -> f32 {
    (f32::from(p[0]) + f32::from(p[1]) + f32::from(p[2])) / 3.0
}

/// A render's own edge: antialiased, about half a pixel soft.
const RENDER_BLUR: f32 = 0.5;

/// The photo's blur, σ of a Gaussian in pixels, from its strongest edges (Hu & de Haan 2006):
/// blurring again by a known σₐ lowers a step edge's steepest gradient by
/// √(σ² + σₐ²) / σ, so the ratio measured gives σ. The median over the steepest 2 % of a
/// central region (at most 1024 × 1024) ignores the few edges that are sharper or softer than
/// the photo (a focused face, a blurred background).
pub fn blur_sigma(photo: &RgbImage) -> f32 {
    use image::{ImageBuffer, Luma};
    const SIGMA_A: f32 = 1.5;
    let (w, h) = photo.dimensions();
    let (cw, ch) = (w.min(1024), h.min(1024));
    if cw < 16 || ch < 16 {
        return 0.0;
    }
    let (x0, y0) = ((w - cw) / 2, (h - ch) / 2);
    let grey: ImageBuffer<Luma<f32>, Vec<f32>> =
        ImageBuffer::from_fn(cw, ch, |x, y| Luma([grey(photo.get_pixel(x0 + x, y0 + y))]));
    let again = image::imageops::blur(&grey, SIGMA_A);
    let grad = |im: &ImageBuffer<Luma<f32>, Vec<f32>>, x: u32, y: u32| {
        let gx = im.get_pixel(x + 1, y)[0] - im.get_pixel(x - 1, y)[0];
        let gy = im.get_pixel(x, y + 1)[0] - im.get_pixel(x, y - 1)[0];
        0.5 * gx.hypot(gy)
    };
    // Edges well inside the region (the re-blur's border is not the photo's).
    let m = 6;
    let mut edges: Vec<(f32, u32, u32)> = Vec::new();
    for y in m..ch - m {
        for x in m..cw - m {
            let g = grad(&grey, x, y);
            // Steeper than any sensor noise: 8 levels a pixel.
            if g > 8.0 {
                edges.push((g, x, y));
            }
        }
    }
    if edges.len() < 50 {
        return 0.0;
    }
    edges.sort_by(|a, b| b.0.total_cmp(&a.0));
    let top = &edges[..(edges.len() / 50).max(50).min(edges.len())];
    let mut ratios: Vec<f32> = top.iter().map(|&(g, x, y)| g / grad(&again, x, y).max(1e-3)).collect();
    let mid = ratios.len() / 2;
    let (_, r, _) = ratios.select_nth_unstable_by(mid, f32::total_cmp);
    if *r <= 1.0 + 1e-3 {
        return 8.0;
    }
    // A one-pixel step, sampled and differenced, already reads as σ 0.84: that much is the
    // measurement's own, not the photo's (measured on the unit test's sharp scene).
    let seen = (SIGMA_A / (*r * *r - 1.0).sqrt()).min(8.0);
    (seen * seen - 0.84 * 0.84).max(0.0).sqrt()
}

/// `layer` in premultiplied alpha (sRGB levels × alpha, and alpha, 0–255), softened by a
/// Gaussian of `sigma` pixels when that is worth doing: premultiplied, its edge blends into
/// transparency, not into a dark fringe. The blur is `image`'s (the same kernel: OpenCV's size
/// rule, edges clamped; a unit test holds them together) on every core: on one it was 0.23 s
/// of a 6-megapixel box's composite.
fn premultiplied(layer: &RgbaImage, sigma: f32) -> Layer {
    let (w, h) = (layer.width() as usize, layer.height() as usize);
    let mut px = vec![[0.0f32; 4]; w * h];
    rows_in_parallel(&mut px, w, |y, row| {
        for (x, out) in row.iter_mut().enumerate() {
            let p = layer.get_pixel(x as u32, y as u32);
            let a = f32::from(p[3]) / 255.0;
            *out = [f32::from(p[0]) * a, f32::from(p[1]) * a, f32::from(p[2]) * a, f32::from(p[3])];
        }
    });
    let mut spans: Vec<Span> = px.chunks(w.max(1)).map(span_of).collect();
    if sigma > 0.3 && w > 0 && h > 0 {
        let kernel = gaussian_kernel(sigma);
        let r = kernel.len() / 2;
        let tap = |acc: &mut [f32; 4], p: &[f32; 4], k: f32| {
            for c in 0..4 {
                acc[c] += p[c] * k;
            }
        };
        // Only where the companion is, `r` wider: outside, every tap is a transparent zero.
        let widen = |s: Span| s.map(|(lo, hi)| (lo.saturating_sub(r), (hi + r).min(w - 1)));
        let mut across = vec![[0.0f32; 4]; w * h];
        rows_in_parallel(&mut across, w, |y, row| {
            let Some((lo, hi)) = widen(spans[y]) else { return };
            let src = &px[y * w..(y + 1) * w];
            for (x, out) in row.iter_mut().enumerate().take(hi + 1).skip(lo) {
                let mut acc = [0.0; 4];
                for (i, &k) in kernel.iter().enumerate() {
                    tap(&mut acc, &src[(x + i).saturating_sub(r).min(w - 1)], k);
                }
                *out = acc;
            }
        });
        let across_spans: Vec<Span> = spans.iter().map(|&s| widen(s)).collect();
        // Down the columns: a row takes what the `r` rows either side of it reach.
        spans = (0..h).map(|y| union(&across_spans[y.saturating_sub(r)..(y + r + 1).min(h)])).collect();
        rows_in_parallel(&mut px, w, |y, row| {
            row.fill([0.0; 4]);
            let Some((lo, hi)) = spans[y] else { return };
            for (x, out) in row.iter_mut().enumerate().take(hi + 1).skip(lo) {
                let mut acc = [0.0; 4];
                for (i, &k) in kernel.iter().enumerate() {
                    tap(&mut acc, &across[(y + i).saturating_sub(r).min(h - 1) * w + x], k);
                }
                *out = acc;
            }
        });
    }
    Layer { w, px, spans }
}

/// The columns `lo..=hi` of a row outside which it is transparent (alpha 0), if any: a
/// companion fills a fraction of its box's width, and the blur and the composite skip the
/// rest.
type Span = Option<(usize, usize)>;

fn span_of(row: &[[f32; 4]]) -> Span {
    let lo = row.iter().position(|p| p[3] > 0.0)?;
    let hi = row.iter().rposition(|p| p[3] > 0.0)?;
    Some((lo, hi))
}

/// The least span holding all of `spans`.
fn union(spans: &[Span]) -> Span {
    spans.iter().flatten().fold(None, |acc: Span, &(lo, hi)| match acc {
        None => Some((lo, hi)),
        Some((a, b)) => Some((a.min(lo), b.max(hi))),
    })
}

/// A premultiplied layer (see [`premultiplied`]), row by row.
struct Layer {
    w: usize,
    px: Vec<[f32; 4]>,
    /// Each row's [`Span`]: transparent outside it.
    spans: Vec<Span>,
}

impl Layer {
    fn at(&self, x: u32, y: u32) -> [f32; 4] {
        self.px[y as usize * self.w + x as usize]
    }
}

/// `image`'s Gaussian kernel for `sigma` (`imageops::blur`): OpenCV's size rule, odd, at least
/// 3 taps, normalised.
fn gaussian_kernel(sigma: f32) -> Vec<f32> {
    let mut n = ((((sigma - 0.8) / 0.3) + 1.0) * 2.0 + 1.0).max(3.0) as usize;
    if n.is_multiple_of(2) {
        n += 1;
    }
    let mean = (n / 2) as f32;
    let k: Vec<f32> = (0..n).map(|x| (-0.5 * ((x as f32 - mean) / sigma).powi(2)).exp()).collect();
    let sum: f32 = k.iter().sum();
    k.into_iter().map(|v| v / sum).collect()
}

/// The threads a photo's pixel work is shared over: one per core, up to 8.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()).min(8)
}

/// Fills `px` (rows of `width`) by `f(y, row)`, the rows shared out over the cores in bands
/// of `BAND` rows dealt in turn: the companion fills the middle of its box, and halves (top to
/// one core, bottom to the other) left one core a third of the composite alone.
fn rows_in_parallel<T: Send>(px: &mut [T], width: usize, f: impl Fn(usize, &mut [T]) + Sync) {
    const BAND: usize = 16;
    if width == 0 {
        return;
    }
    let threads = cores();
    let mut shares: Vec<Vec<(usize, &mut [T])>> = (0..threads).map(|_| Vec::new()).collect();
    for (i, band) in px.chunks_mut(BAND * width).enumerate() {
        shares[i % threads].push((i, band));
    }
    std::thread::scope(|scope| {
        for share in shares {
            let f = &f;
            scope.spawn(move || {
                for (i, band) in share {
                    for (j, row) in band.chunks_mut(width).enumerate() {
                        f(i * BAND + j, row);
                    }
                }
            });
        }
    });
}

/// A photo's noise, σ in 8-bit levels (Immerkær 1996, made robust): the 3 × 3 mask
/// `[1 −2 1; −2 4 −2; 1 −2 1]` cancels smooth shading and straight edges, leaving noise of
/// σ·6; the median of its size, over every other pixel of every fifth row, ignores the textured
/// and edged half of a photo that the mean would count as noise.
pub fn noise_sigma(photo: &RgbImage) -> f32 {
    let (w, h) = photo.dimensions();
    if w < 3 || h < 3 {
        return 0.0;
    }
    let at = |x: u32, y: u32| grey(photo.get_pixel(x, y));
    let mut sizes = Vec::with_capacity(((w / 2) * (h / 5 + 1)) as usize);
    for y in (1..h - 1).step_by(5) {
        for x in (1..w - 1).step_by(2) {
            let c = 4.0 * at(x, y) - 2.0 * (at(x - 1, y) + at(x + 1, y) + at(x, y - 1) + at(x, y + 1))
                + at(x - 1, y - 1)
                + at(x + 1, y - 1)
                + at(x - 1, y + 1)
                + at(x + 1, y + 1);
            sizes.push(c.abs());
        }
    }
    let mid = sizes.len() / 2;
    let (_, median, _) = sizes.select_nth_unstable_by(mid, f32::total_cmp);
    // For Gaussian noise of σ, the mask's output has σ·6 (√36) and its size a median of
    // 0.6745 of that.
    *median / (0.6745 * 6.0)
}

/// Gaussian noise, σ 1, the same for the same pixel every run (a hash of its place).
fn grain_at(x: u32, y: u32) -> f32 {
    let mut z = (u64::from(x) << 32 | u64::from(y)).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    let u1 = ((z >> 40) as f32 + 1.0) / 16_777_217.0;
    let u2 = ((z & 0xFF_FFFF) as f32) / 16_777_216.0;
    (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
}

/// An sRGB level (0–255) as linear light (0–1): gains and means are taken in linear light.
pub fn srgb_to_linear(v: u8) -> f32 {
    let c = f32::from(v) / 255.0;
    if c <= 0.04045 { c / 12.92 } else { ((c + 0.055) / 1.055).powf(2.4) }
}

/// Linear light (clamped to 0–1) back to an sRGB level.
pub fn linear_to_srgb(c: f32) -> u8 {
    let c = c.clamp(0.0, 1.0);
    let s = if c <= 0.003_130_8 { c * 12.92 } else { 1.055 * c.powf(1.0 / 2.4) - 0.055 };
    (s * 255.0 + 0.5) as u8
}

/// [`srgb_to_linear`] and [`linear_to_srgb`] as tables: the composite converts every pixel of
/// a companion's box that may be six megapixels, and `powf` three times a pixel each way was
/// most of its time.
struct Srgb {
    to_linear: [f32; 256],
    /// `starts[k]`: the least linear value [`linear_to_srgb`] gives level `k + 1` (found by
    /// bisection on that very function, so the table agrees with it everywhere).
    starts: [f32; 255],
}

impl Srgb {
    fn get() -> &'static Srgb {
        static TABLES: std::sync::OnceLock<Srgb> = std::sync::OnceLock::new();
        TABLES.get_or_init(|| {
            let to_linear = std::array::from_fn(|v| srgb_to_linear(v as u8));
            let starts = std::array::from_fn(|k| {
                let (mut lo, mut hi) = (0.0f32, 1.0f32);
                for _ in 0..64 {
                    let mid = 0.5 * (lo + hi);
                    if usize::from(linear_to_srgb(mid)) > k { hi = mid } else { lo = mid }
                }
                hi
            });
            Srgb { to_linear, starts }
        })
    }

    fn encode(&self, c: f32) -> u8 {
        self.starts.partition_point(|&s| s <= c) as u8
    }
}

/// The photo with the companion (`layer`, its top-left at `at` in the photo) composited in.
pub fn composite(photo: &RgbImage, layer: &RgbaImage, at: (u32, u32), people: &[Person], m: Match) -> RgbImage {
    composite_scaled(photo, layer, [at.0, at.1, layer.width(), layer.height()], people, m)
}

/// The photo with the companion composited into its box `[x, y, width, height]` (photo
/// pixels). `layer` may be smaller than the box: drawn at the resolution the photo resolves
/// (see `tomoni photo`'s render scale), it is softened there and stretched over the box
/// bilinearly, which together blur it by the photo's σ, as a full-size layer is softened.
pub fn composite_scaled(photo: &RgbImage, layer: &RgbaImage, bx: [u32; 4], people: &[Person], m: Match) -> RgbImage {
    let mut out = photo.clone();
    composite_in_place(&mut out, layer, bx, people, m);
    out
}

/// [`composite_scaled`] into the photo itself: `tomoni photo` has no use for the photo
/// without the companion, and a copy of 12 megapixels is 36 MB of new pages, each zeroed by
/// the kernel on first touch (about 50 ms on these machines).
pub fn composite_in_place(out: &mut RgbImage, layer: &RgbaImage, bx: [u32; 4], people: &[Person], m: Match) {
    let (lw, lh) = layer.dimensions();
    if lw == 0 || lh == 0 || bx[2] == 0 || bx[3] == 0 {
        return;
    }
    let same = lw == bx[2] && lh == bx[3];
    // Layer pixels per photo pixel.
    let (sx, sy) = (lw as f32 / bx[2] as f32, lh as f32 / bx[3] as f32);
    // As soft as the photo: what it adds to the render's own half-pixel edge or, on a smaller
    // layer (drawn without multisampling: its edges are as sharp as its pixels, σ² 1/12), to
    // the bilinear stretch (a tent one layer pixel wide: σ² 1/6); in layer pixels.
    let s = sx.min(sy);
    let own = if same { RENDER_BLUR * RENDER_BLUR } else { 1.0 / 12.0 + 1.0 / 6.0 };
    let extra = ((m.blur * s).powi(2) - own).max(0.0).sqrt();
    let pre = premultiplied(layer, extra);
    draw(out, &pre, (lw, lh), bx, people, m);
}

/// [`composite_scaled`]'s second half: `pre` (premultiplied and softened, `lw` × `lh`) laid
/// over `out` in the box `bx`.
fn draw(out: &mut RgbImage, pre: &Layer, (lw, lh): (u32, u32), bx: [u32; 4], people: &[Person], m: Match) {
    let (w, h) = out.dimensions();
    let same = lw == bx[2] && lh == bx[3];
    let (sx, sy) = (lw as f32 / bx[2] as f32, lh as f32 / bx[3] as f32);
    let srgb = Srgb::get();
    let (x_end, y_end) = ((bx[0] + bx[2]).min(w), (bx[1] + bx[3]).min(h));
    if bx[0] >= x_end || bx[1] >= y_end {
        return;
    }
    let (x_start, y_start) = (bx[0], bx[1]);
    // The layer at a photo pixel, premultiplied: itself, or bilinear between layer pixels.
    let sample = |x: u32, y: u32| -> [f32; 4] {
        let (lx, ly) = (x - bx[0], y - bx[1]);
        if same {
            return pre.at(lx, ly);
        }
        let u = ((lx as f32 + 0.5) * sx - 0.5).clamp(0.0, (lw - 1) as f32);
        let v = ((ly as f32 + 0.5) * sy - 0.5).clamp(0.0, (lh - 1) as f32);
        let (x0, y0) = (u as u32, v as u32);
        let (x1, y1) = ((x0 + 1).min(lw - 1), (y0 + 1).min(lh - 1));
        let (fu, fv) = (u - x0 as f32, v - y0 as f32);
        let (a, b, c, d) = (pre.at(x0, y0), pre.at(x1, y0), pre.at(x0, y1), pre.at(x1, y1));
        std::array::from_fn(|i| (a[i] * (1.0 - fu) + b[i] * fu) * (1.0 - fv) + (c[i] * (1.0 - fu) + d[i] * fu) * fv)
    };
    let row_bytes = w as usize * 3;
    let rows = &mut out.as_mut()[y_start as usize * row_bytes..y_end as usize * row_bytes];
    // Rows in parallel: a six-megapixel box is most of `tomoni photo`'s time after the render.
    rows_in_parallel(rows, row_bytes, |j, row| {
        let y = y_start + j as u32;
        let ly = y - bx[1];
        // Only the columns whose layer pixels reach the companion (its rows' spans): the rest
        // of the box, most of it, is transparent.
        let span = if same {
            pre.spans[ly as usize]
        } else {
            // The layer rows `sample` reads, found the same way.
            let v = ((ly as f32 + 0.5) * sy - 0.5).clamp(0.0, (lh - 1) as f32);
            let y0 = v as usize;
            union(&[pre.spans[y0], pre.spans[(y0 + 1).min(lh as usize - 1)]])
        };
        let Some((lo, hi)) = span else { return };
        let (from, to) = if same {
            (bx[0] + lo as u32, bx[0] + hi as u32 + 1)
        } else {
            // `sample`'s left tap is ≥ lo − 1 from (lo − 0.5)/sx − 0.5 on, and ≤ hi below
            // (hi + 1.5)/sx − 0.5; a column more each side for rounding.
            let a = ((lo as f32 - 0.5) / sx - 0.5).floor() - 1.0;
            let b = ((hi as f32 + 1.5) / sx - 0.5).ceil() + 1.0;
            (bx[0] + a.max(0.0) as u32, bx[0] + b.max(0.0) as u32)
        };
        for x in from.max(x_start)..to.min(x_end) {
            let p = sample(x, y);
            if p[3] < 0.5 {
                continue;
            }
            // The people stand in front: their mask (feathered by the model's soft edge) wins.
            let (fx, fy) = (x as f32 + 0.5, y as f32 + 0.5);
            let front = people.iter().map(|q| q.mask_at(fx, fy)).fold(0.0f32, f32::max);
            let alpha = p[3] / 255.0;
            let a = alpha * (1.0 - smooth(front));
            if a <= 0.0 {
                continue;
            }
            // Un-premultiplied sRGB level, as the render wrote it.
            let level = |c: usize| srgb.to_linear[(p[c] / alpha).round().clamp(0.0, 255.0) as usize];
            let lin = [0, 1, 2].map(|c| level(c) * m.white[c] * m.exposure);
            let luma = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2];
            // The photo's grain over what was drawn (luminance grain, as a sensor's mostly is).
            let grain = grain_at(x, y) * m.noise * a;
            let px = &mut row[x as usize * 3..x as usize * 3 + 3];
            for c in 0..3 {
                let fg = luma + (lin[c] - luma) * m.saturation;
                let under = srgb.to_linear[usize::from(px[c])];
                let s = f32::from(srgb.encode(fg * a + under * (1.0 - a))) + grain;
                px[c] = s.round().clamp(0.0, 255.0) as u8;
            }
        }
    });
}

/// The model's soft mask edge, sharpened a little (0.3 → 0, 0.7 → 1) so a half-sure fringe
/// does not show the companion through the person.
fn smooth(m: f32) -> f32 {
    let t = ((m - 0.3) / 0.4).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// `text` safe inside an XML attribute.
fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Writes `img` as a JPEG (quality 92) with the EXIF of `original` (a JPEG's bytes; other
/// formats carry none over) and an XMP packet marking it a composite, with the avatar's author
/// `credit` where its licence asks for one.
pub fn write_jpeg(img: &RgbImage, original: &[u8], path: &Path, credit: Option<&str>) -> Result<(), PhotoError> {
    use img_parts::{ImageEXIF, jpeg::Jpeg};
    let bad = |why: String| PhotoError::Image { path: path.to_path_buf(), why };
    // `jpeg-encoder` (IJG-derived; the README carries the IJG's notice): with AVX2, a
    // 12-megapixel photo in about half the time of `image`'s encoder, and it can subsample.
    let (w, h) = (u16::try_from(img.width()), u16::try_from(img.height()));
    let (Ok(w), Ok(h)) = (w, h) else {
        return Err(bad(format!("{} × {} is larger than a JPEG can be", img.width(), img.height())));
    };
    let encoded = encode_in_bands(img.as_raw(), w, h, chroma_subsampled(original), cores())
        .map_err(|e| bad(format!("cannot encode: {e}")))?;
    let mut jpeg = Jpeg::from_bytes(encoded.into()).map_err(|e| bad(format!("cannot re-read: {e}")))?;
    if let Ok(src) = Jpeg::from_bytes(original.to_vec().into())
        && let Some(exif) = src.exif()
    {
        // The pixels are already upright: the EXIF keeps its camera and date, orientation 1.
        jpeg.set_exif(Some(upright(exif.to_vec()).into()));
    }
    let xmp = format!(
        "http://ns.adobe.com/xap/1.0/\0<?xpacket begin=\"\u{feff}\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>\
<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">\
<rdf:Description rdf:about=\"\" xmlns:Iptc4xmpExt=\"http://iptc.org/std/Iptc4xmpExt/2008-02-29/\" \
xmlns:xmp=\"http://ns.adobe.com/xap/1.0/\" Iptc4xmpExt:DigitalSourceType=\"{DIGITAL_SOURCE_TYPE}\" \
xmp:CreatorTool=\"tomoni\"{credit}/></rdf:RDF></x:xmpmeta><?xpacket end=\"w\"?>",
        // IPTC's credit line, for an avatar whose licence asks that its author be credited.
        credit = credit.map_or(String::new(), |c| format!(
            " xmlns:photoshop=\"http://ns.adobe.com/photoshop/1.0/\" photoshop:Credit=\"avatar {}\"",
            xml_escape(c)
        ))
    );
    let seg = img_parts::jpeg::JpegSegment::new_with_contents(img_parts::jpeg::markers::APP1, xmp.into_bytes().into());
    // After the EXIF segment (APP1 too, first by convention).
    let at = jpeg.segments().iter().position(|s| s.marker() == img_parts::jpeg::markers::APP1).map_or(0, |i| i + 1);
    jpeg.segments_mut().insert(at, seg);
    // Flushed before `Ok`: a `BufWriter` dropped unflushed swallows a full disk's error, and the
    // photo would be reported written while cut short. A failed file is removed.
    let fail = |e: std::io::Error| {
        let _ = std::fs::remove_file(path);
        bad(e.to_string())
    };
    let file = std::fs::File::create(path).map_err(|e| bad(e.to_string()))?;
    let mut w = std::io::BufWriter::new(file);
    jpeg.encoder().write_to(&mut w).map_err(fail)?;
    std::io::Write::flush(&mut w).map_err(fail)
}

/// JPEG quality of the composites.
const QUALITY: u8 = 92;

/// `rgb` (`w` × `h`) as a baseline JPEG (quality [`QUALITY`], colour at half resolution when
/// `subsampled`), with a restart marker after every row of MCUs, encoded as up to `bands`
/// horizontal bands side by side. A restart resets the coder's state, so each band is encoded
/// on its own (as a JPEG of its own height, every band but the last a multiple of 8 MCU rows
/// so the markers' numbers, counted mod 8, carry on) and the bands' entropy-coded data joined:
/// the bytes are the same as one encoder's with the same restart interval, for any `bands`.
/// On 2 cores a 12-megapixel photo took about half the time (one encoder: 0.35–0.45 s).
pub fn encode_in_bands(rgb: &[u8], w: u16, h: u16, subsampled: bool, bands: usize) -> Result<Vec<u8>, String> {
    let mcu = if subsampled { 16 } else { 8 };
    let per_row = u16::try_from(usize::from(w).div_ceil(mcu)).map_err(|_| "too wide".to_string())?;
    let rows = usize::from(h).div_ceil(mcu);
    // Bands of whole groups of 8 MCU rows, as even as that allows.
    let groups = rows.div_ceil(8);
    let bands = bands.clamp(1, groups.max(1));
    let mut edges: Vec<usize> = (0..=bands).map(|i| (groups * i / bands * 8 * mcu).min(usize::from(h))).collect();
    edges.dedup();
    let encode = |y0: usize, y1: usize| -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        let mut encoder = jpeg_encoder::Encoder::new(&mut out, QUALITY);
        encoder.set_sampling_factor(if subsampled {
            jpeg_encoder::SamplingFactor::F_2_2
        } else {
            jpeg_encoder::SamplingFactor::F_1_1
        });
        encoder.set_restart_interval(per_row);
        let stride = usize::from(w) * 3;
        let band = rgb.get(y0 * stride..y1 * stride).ok_or("fewer pixels than the size says")?;
        encoder.encode(band, w, (y1 - y0) as u16, jpeg_encoder::ColorType::Rgb).map_err(|e| e.to_string())?;
        Ok(out)
    };
    let parts: Vec<Result<Vec<u8>, String>> = std::thread::scope(|scope| {
        let tasks: Vec<_> = edges.windows(2).skip(1).map(|b| scope.spawn(move || encode(b[0], b[1]))).collect();
        let first = encode(edges[0], edges[1]);
        std::iter::once(first)
            .chain(tasks.into_iter().map(|t| t.join().unwrap_or_else(|_| Err("an encoder thread failed".into()))))
            .collect()
    });
    let mut out = Vec::new();
    for (i, part) in parts.into_iter().enumerate() {
        let part = part?;
        let start = scan_start(&part).ok_or("no scan in the encoder's output")?;
        // Every band's data ends before its EOI marker (FF D9).
        let end = part.len().checked_sub(2).filter(|&e| e >= start).ok_or("the encoder's output is cut short")?;
        if i == 0 {
            out.extend_from_slice(&part[..end]);
        } else {
            // The marker after the previous band's last interval: its number is the count of
            // intervals before it minus one, mod 8, and each band but the last holds 8k rows.
            out.extend_from_slice(&[0xFF, 0xD7]);
            out.extend_from_slice(&part[start..end]);
        }
    }
    out.extend_from_slice(&[0xFF, 0xD9]);
    // The first band's frame header gave its own height: the whole image's instead.
    let sof = frame_header(&out).ok_or("no frame header in the encoder's output")?;
    out[sof + 5..sof + 7].copy_from_slice(&h.to_be_bytes());
    Ok(out)
}

/// Where the entropy-coded data of a JPEG from `jpeg-encoder` starts (after its SOS segment).
fn scan_start(jpeg: &[u8]) -> Option<usize> {
    segment(jpeg, |m| m == 0xDA).map(|at| at + 2 + usize::from(u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]])))
}

/// Where a JPEG's baseline frame header (SOF0) starts.
fn frame_header(jpeg: &[u8]) -> Option<usize> {
    segment(jpeg, |m| m == 0xC0)
}

/// The offset of the first header segment whose marker `is`, walking the segments from SOI.
fn segment(jpeg: &[u8], is: impl Fn(u8) -> bool) -> Option<usize> {
    let mut at = 2;
    while at + 4 <= jpeg.len() {
        if jpeg[at] != 0xFF {
            return None;
        }
        if is(jpeg[at + 1]) {
            return (at + 7 <= jpeg.len()).then_some(at);
        }
        at += 2 + usize::from(u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]));
    }
    None
}

/// Whether `original` is a JPEG whose colour is stored at half resolution (4:2:0 or 4:2:2, as
/// cameras write): the result is then written so too, which loses nothing the photo had and
/// makes the encoding about 40 % faster. Anything else (a PNG, a 4:4:4 JPEG) keeps full colour.
fn chroma_subsampled(original: &[u8]) -> bool {
    let Ok(jpeg) = img_parts::jpeg::Jpeg::from_bytes(original.to_vec().into()) else { return false };
    // The frame header: precision, height, width, components, then (id, HV, table) each.
    let frame =
        jpeg.segments().iter().find(|s| matches!(s.marker(), 0xC0..=0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF));
    let Some(c) = frame.map(|f| f.contents()) else { return false };
    if c.len() < 6 + 3 * 3 || c[5] != 3 {
        return false;
    }
    let factors = |i: usize| c[6 + 3 * i + 1];
    let (luma, cb, cr) = (factors(0), factors(1), factors(2));
    let (h, v) = (|f: u8| f >> 4, |f: u8| f & 15);
    h(luma) > h(cb).max(h(cr)) || v(luma) > v(cb).max(v(cr))
}

/// The EXIF block with its orientation tag set to 1 (the pixels were turned upright).
fn upright(mut exif: Vec<u8>) -> Vec<u8> {
    // TIFF header: byte order, then IFD0's offset; each entry is 12 bytes, tag 0x0112.
    let le = exif.starts_with(b"II");
    let u16_at = |b: &[u8], i: usize| {
        if le { u16::from_le_bytes([b[i], b[i + 1]]) } else { u16::from_be_bytes([b[i], b[i + 1]]) }
    };
    let u32_at = |b: &[u8], i: usize| {
        let a = [b[i], b[i + 1], b[i + 2], b[i + 3]];
        if le { u32::from_le_bytes(a) } else { u32::from_be_bytes(a) }
    };
    if exif.len() < 8 {
        return exif;
    }
    let ifd = u32_at(&exif, 4) as usize;
    if ifd + 2 > exif.len() {
        return exif;
    }
    let n = usize::from(u16_at(&exif, ifd));
    for k in 0..n {
        let e = ifd + 2 + k * 12;
        if e + 12 > exif.len() {
            break;
        }
        if u16_at(&exif, e) == 0x0112 {
            let one = if le { 1u16.to_le_bytes() } else { 1u16.to_be_bytes() };
            exif[e + 8..e + 10].copy_from_slice(&one);
        }
    }
    exif
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scene with shading, edges and a patterned patch; `sigma` of Gaussian noise on it.
    fn scene(sigma: f32) -> RgbImage {
        RgbImage::from_fn(640, 480, |x, y| {
            let mut v = 60.0 + x as f32 * 0.2 + y as f32 * 0.1;
            if (200..400).contains(&x) && (100..300).contains(&y) {
                v += 70.0;
            }
            if x > 500 && y > 300 && (x / 3 + y / 3) % 2 == 0 {
                v += 40.0;
            }
            let v = (v + grain_at(x + 7, y + 11) * sigma).round().clamp(0.0, 255.0) as u8;
            image::Rgb([v, v, v])
        })
    }

    #[test]
    fn a_jpeg_encoded_in_bands_is_the_same_bytes_and_decodes_to_the_picture() {
        // Sizes that end mid-MCU, a band boundary's worth of rows and less than one group.
        for (w, h) in [(1001u16, 777u16), (640, 256), (333, 100)] {
            let img = RgbImage::from_fn(u32::from(w), u32::from(h), |x, y| {
                let v = 60.0 + x as f32 * 0.15 + y as f32 * 0.1 + grain_at(x, y) * 2.0;
                image::Rgb([v as u8, (255 - (v as u32 % 256)) as u8, ((x + 2 * y) / 5 % 180) as u8])
            });
            for subsampled in [false, true] {
                let one = encode_in_bands(img.as_raw(), w, h, subsampled, 1).unwrap();
                for bands in [2, 3, 5] {
                    let many = encode_in_bands(img.as_raw(), w, h, subsampled, bands).unwrap();
                    assert!(one == many, "{w}x{h} subsampled {subsampled}: {bands} bands differ from one");
                }
                let back = image::load_from_memory(&one).unwrap().to_rgb8();
                assert_eq!(back.dimensions(), img.dimensions());
                // Every row decoded near its source (a misplaced band or restart marker would
                // shift or garble whole rows): mean error per row under 6 levels.
                for y in 0..u32::from(h) {
                    let err: f32 = (0..u32::from(w))
                        .map(|x| {
                            (0..3)
                                .map(|c| (back.get_pixel(x, y)[c] as f32 - img.get_pixel(x, y)[c] as f32).abs())
                                .sum::<f32>()
                        })
                        .sum::<f32>()
                        / (3.0 * f32::from(w));
                    assert!(err < 6.0, "{w}x{h} subsampled {subsampled}: row {y} off by {err:.1} levels");
                }
            }
        }
    }

    #[test]
    fn the_layers_softening_is_images_blur_on_every_core() {
        // Edges, a transparent border and a soft alpha ramp: what a companion layer has.
        let layer = RgbaImage::from_fn(97, 61, |x, y| {
            let a = if x < 5 || y > 55 { 0 } else { ((x * 9 + y * 3) % 256) as u8 };
            image::Rgba([(x * 2) as u8, (y * 4) as u8, ((x ^ y) * 3) as u8, a])
        });
        for sigma in [0.9f32, 1.41, 2.7] {
            let ours = premultiplied(&layer, sigma);
            let unblurred = premultiplied(&layer, 0.0);
            let flat = image::ImageBuffer::<image::Rgba<f32>, Vec<f32>>::from_fn(97, 61, |x, y| {
                image::Rgba(unblurred.at(x, y))
            });
            let theirs = image::imageops::blur(&flat, sigma);
            let worst = (0..61u32)
                .flat_map(|y| (0..97u32).map(move |x| (x, y)))
                .flat_map(|(x, y)| (0..4).map(move |c| (x, y, c)))
                .map(|(x, y, c)| (ours.at(x, y)[c] - theirs.get_pixel(x, y)[c]).abs())
                .fold(0.0f32, f32::max);
            // Levels are 0–255: a hundredth of one is float rounding; a kernel one tap wider
            // or an edge mirrored instead of clamped is several levels.
            assert!(worst < 0.01, "σ {sigma}: {worst} levels from image's blur");
        }
    }

    #[test]
    fn the_photos_blur_is_measured_and_given_to_the_companion() {
        // Tuning data: the scene's edges, sharp and blurred by a known σ, read within 25 %.
        let sharp = scene(0.0);
        assert!(blur_sigma(&sharp) < 0.8, "a sharp scene read as σ {}", blur_sigma(&sharp));
        for sigma in [1.5f32, 3.0] {
            let soft = image::imageops::blur(&sharp, sigma);
            let got = blur_sigma(&soft);
            eprintln!("scene blurred by σ {sigma}: measured {got:.2}");
            assert!((got / sigma - 1.0).abs() < 0.25, "σ {sigma}: measured {got}");
        }
        // A hard-edged companion laid into a blurred photo gets a soft edge: its edge's
        // steepest step is lower, by about the photo's blur.
        let layer = RgbaImage::from_fn(100, 100, |x, _| image::Rgba([200, 200, 200, if x < 50 { 255 } else { 0 }]));
        let photo = RgbImage::from_pixel(200, 200, image::Rgb([20, 20, 20]));
        let step = |blur: f32| {
            let m = Match { white: [1.0; 3], exposure: 1.0, saturation: 1.0, noise: 0.0, blur };
            let out = composite(&photo, &layer, (50, 50), &[], m);
            (60..100)
                .map(|x| i32::from(out.get_pixel(x, 100)[0]) - i32::from(out.get_pixel(x + 1, 100)[0]))
                .max()
                .unwrap()
        };
        let (hard, soft) = (step(0.0), step(3.0));
        assert!(soft * 3 < hard, "the edge's steepest step: {hard} sharp, {soft} at σ 3");
    }

    /// A disc drawn as a renderer without multisampling draws it (each pixel in or out at its
    /// centre) at full size, and at 1.5/σ of it, stretched over the same box of a photo blurred
    /// by σ 3: the two composites agree, and the disc is where it was (its centroid). Measured:
    /// the same centroid, 11 levels at worst (the drawn edge's steps); stretched half a photo
    /// pixel off, 25 and 0.5 px; not softened, 125.
    #[test]
    fn a_smaller_layer_stretched_over_its_box_lands_where_the_full_size_one_does() {
        let (w, h) = (300u32, 240u32);
        let disc = |s: f32| {
            let (lw, lh) = ((w as f32 * s).ceil() as u32, (h as f32 * s).ceil() as u32);
            RgbaImage::from_fn(lw, lh, |x, y| {
                let (px, py) = ((x as f32 + 0.5) * w as f32 / lw as f32, (y as f32 + 0.5) * h as f32 / lh as f32);
                let inside = (px - 140.0).powi(2) + (py - 110.0).powi(2) < 80.0 * 80.0;
                image::Rgba([230, 200, 170, if inside { 255 } else { 0 }])
            })
        };
        let photo = RgbImage::from_pixel(400, 300, image::Rgb([30, 50, 70]));
        let m = Match { white: [1.0; 3], exposure: 1.0, saturation: 1.0, noise: 0.0, blur: 3.0 };
        let bx = [50, 30, w, h];
        let full = composite_scaled(&photo, &disc(1.0), bx, &[], m);
        let small = composite_scaled(&photo, &disc(0.5), bx, &[], m);
        let centroid = |img: &RgbImage| {
            let (mut sx, mut sy, mut n) = (0.0f64, 0.0f64, 0.0f64);
            for (x, y, p) in img.enumerate_pixels() {
                let k = f64::from(p[0]) - 30.0;
                (sx, sy, n) = (sx + k * f64::from(x), sy + k * f64::from(y), n + k);
            }
            (sx / n, sy / n)
        };
        let (a, b) = (centroid(&full), centroid(&small));
        let worst = full
            .pixels()
            .zip(small.pixels())
            .map(|(p, q)| (0..3).map(|c| p[c].abs_diff(q[c])).max().unwrap())
            .max()
            .unwrap();
        eprintln!("centroid {a:?} / {b:?}; worst {worst} levels");
        assert!((a.0 - b.0).abs() < 0.1 && (a.1 - b.1).abs() < 0.1, "the disc moved: {a:?} → {b:?}");
        assert!(worst <= 16, "worst difference {worst} levels");
    }

    #[test]
    fn skipping_the_transparent_columns_changes_no_pixel() {
        // A figure with soft edges, holes and a faint shadow off to one side, in a box on a
        // textured photo; drawn at full size and stretched from smaller and larger layers.
        let figure = |lw: u32, lh: u32| {
            RgbaImage::from_fn(lw, lh, |x, y| {
                let (u, v) = (x as f32 / lw as f32, y as f32 / lh as f32);
                let body = (u - 0.4).abs() < 0.12 + 0.05 * (v * 9.0).sin() && (0.1..0.9).contains(&v);
                let hole = (u - 0.4).abs() < 0.02 && (0.5..0.6).contains(&v);
                let shadow = v > 0.85 && (0.5..0.9).contains(&u);
                let a = if body && !hole {
                    255
                } else if shadow {
                    40
                } else if (u - 0.55).abs() < 0.01 && (0.2..0.7).contains(&v) {
                    128
                } else {
                    0
                };
                image::Rgba([(x * 7 % 256) as u8, (y * 5 % 256) as u8, 180, a])
            })
        };
        let photo =
            RgbImage::from_fn(420, 330, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8]));
        let m = Match { white: [1.05, 1.0, 0.95], exposure: 1.1, saturation: 1.0, noise: 1.5, blur: 0.0 };
        let bx = [37, 21, 301, 287];
        for (lw, lh) in [(301, 287), (173, 166), (410, 390)] {
            for sigma in [0.0f32, 1.4, 3.1] {
                let pre = premultiplied(&figure(lw, lh), sigma);
                assert!(pre.spans.iter().any(Option::is_none) || sigma > 0.0, "some rows are empty");
                let every = Layer { spans: vec![Some((0, lw as usize - 1)); lh as usize], ..pre };
                let pre = premultiplied(&figure(lw, lh), sigma);
                let (mut ours, mut all) = (photo.clone(), photo.clone());
                draw(&mut ours, &pre, (lw, lh), bx, &[], m);
                draw(&mut all, &every, (lw, lh), bx, &[], m);
                assert!(ours != photo, "{lw}x{lh} σ {sigma}: nothing drawn");
                assert!(ours == all, "{lw}x{lh} σ {sigma}: a pixel outside the spans was skipped");
            }
        }
    }

    #[test]
    fn the_tables_agree_with_the_formulas() {
        let t = Srgb::get();
        for v in 0..=255u8 {
            assert_eq!(t.to_linear[usize::from(v)], srgb_to_linear(v));
        }
        for i in -100..=1_100_000 {
            let c = i as f32 / 1_000_000.0;
            assert_eq!(t.encode(c), linear_to_srgb(c), "at {c}");
        }
        // Every level's own boundary, and the floats either side of it.
        for &b in &t.starts {
            for c in [b, f32::from_bits(b.to_bits() - 1), f32::from_bits(b.to_bits() + 1)] {
                assert_eq!(t.encode(c), linear_to_srgb(c), "at {c}");
            }
        }
    }

    #[test]
    fn the_photos_grain_is_measured_and_given_to_the_companion() {
        // A clean render measures (almost) no grain; σ 2, 5 and 10 are read within 20 %.
        assert!(noise_sigma(&scene(0.0)) < 0.8, "{}", noise_sigma(&scene(0.0)));
        for sigma in [2.0, 5.0, 10.0] {
            let got = noise_sigma(&scene(sigma));
            assert!((got / sigma - 1.0).abs() < 0.2, "σ {sigma}: measured {got}");
        }
        // The companion (a flat layer) laid into a grainy photo carries that grain; into a
        // clean one, none.
        let layer = RgbaImage::from_pixel(200, 200, image::Rgba([120, 100, 90, 255]));
        for sigma in [0.0, 6.0] {
            let photo = scene(sigma);
            let m = Match { white: [1.0; 3], exposure: 1.0, saturation: 1.0, noise: noise_sigma(&photo), blur: 0.0 };
            let out = composite(&photo, &layer, (20, 20), &[], m);
            let patch = image::imageops::crop_imm(&out, 20, 20, 200, 200).to_image();
            let got = noise_sigma(&patch);
            assert!((got - sigma).abs() < 0.2 * sigma.max(4.0), "σ {sigma}: the companion has {got}");
        }
    }

    /// A white-lit scene that is mostly orange with a grey card in it reads as white light (the
    /// card says so; grey world called it warm), and a scene with nothing grey falls back to
    /// grey world.
    #[test]
    fn the_light_is_read_off_what_is_grey_and_off_the_whole_photo_only_without_it() {
        let card = |x: u32, y: u32| x < 16 && y < 16;
        let scene = RgbImage::from_fn(64, 64, |x, y| {
            if card(x, y) { image::Rgb([128, 128, 128]) } else { image::Rgb([230, 110, 40]) }
        });
        let white = illuminant(&scene);
        assert!(white.iter().all(|w| (w - 1.0).abs() < 0.02), "grey card under white light: {white:?}");
        let no_card = RgbImage::from_pixel(64, 64, image::Rgb([230, 110, 40]));
        let warm = illuminant(&no_card);
        assert!(warm[0] > 1.5 && warm[2] < 0.2, "nothing grey: grey world's warm reading, got {warm:?}");
    }

    #[test]
    fn a_black_and_white_photo_takes_the_colour_out_and_a_dim_one_darkens() {
        let grey = RgbImage::from_fn(64, 64, |x, y| {
            let v = ((x * 3 + y * 5) % 200) as u8 + 20;
            image::Rgb([v, v, v])
        });
        let m = estimate(&grey);
        assert_eq!(m.saturation, 0.0);
        assert!(m.white.iter().all(|w| (w - 1.0).abs() < 1e-3));
        let colour =
            RgbImage::from_fn(
                64,
                64,
                |x, _| if x < 32 { image::Rgb([200, 60, 40]) } else { image::Rgb([40, 120, 200]) },
            );
        assert_eq!(estimate(&colour).saturation, 1.0);
        let dim = RgbImage::from_pixel(64, 64, image::Rgb([40, 40, 40]));
        let bright = RgbImage::from_pixel(64, 64, image::Rgb([200, 200, 200]));
        assert!(estimate(&dim).exposure < 0.8 && estimate(&bright).exposure > 1.1);
    }
}
