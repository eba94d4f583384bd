//! What people upload to the verification page, made from a rendering of a printed page: a
//! scanner's skew, a phone photo (perspective, uneven light, a desk around it, blur, noise,
//! JPEG) and a screenshot of a PDF viewer. The decoder's tests and its measurement
//! (`examples/qr_compare.rs`, `docs/certificates.md`) use these on real renders of issued
//! certificates; nothing in the register calls them.

use image::{GrayImage, Luma, Rgb, RgbImage};
use rand::{Rng, SeedableRng, rngs::StdRng};

/// One kind of upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The page as a flatbed scanner gives it, slightly skewed, as PNG.
    Scan,
    /// A phone photo of the page on a desk, tilted, unevenly lit, as JPEG.
    Photo,
    /// A noisier photo from further away, more tilted, strongly compressed, as JPEG.
    PoorPhoto,
    /// A screenshot of a PDF viewer showing the lower half of the page, as PNG.
    Screenshot,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 4] = [Kind::Scan, Kind::Photo, Kind::PoorPhoto, Kind::Screenshot];

    /// A short name, for reports and file names.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Scan => "scan",
            Kind::Photo => "photo",
            Kind::PoorPhoto => "poor-photo",
            Kind::Screenshot => "screenshot",
        }
    }
}

/// The upload of kind `kind` made from `page` (a rendering of the whole page, 150 dpi or
/// more), varied by `seed`; returns the encoded file (PNG or JPEG).
pub fn upload(page: &GrayImage, kind: Kind, seed: u64) -> Vec<u8> {
    let mut rng = StdRng::seed_from_u64(seed);
    match kind {
        Kind::Scan => {
            let angle = rng.gen_range(-2.0..2.0f64).to_radians();
            png(&rotate(page, angle))
        }
        Kind::Photo => jpeg(&photo(page, &mut rng, 3000, 0.82, 0.06, 1, 6.0), 80),
        Kind::PoorPhoto => jpeg(&photo(page, &mut rng, 2000, 0.7, 0.10, 1, 14.0), 60),
        Kind::Screenshot => {
            // A viewer at a zoom that makes the page 1280 px wide, its lower half on screen.
            let w = 1280u32;
            let h = (f64::from(page.height()) * f64::from(w) / f64::from(page.width())) as u32;
            let scaled = image::imageops::resize(page, w, h, image::imageops::FilterType::Triangle);
            let mut screen = GrayImage::from_pixel(w + 120, 900, Luma([82]));
            let top = h.saturating_sub(840);
            for y in 0..840.min(h) {
                for x in 0..w {
                    screen.put_pixel(x + 60, y + 30, *scaled.get_pixel(x, top + y));
                }
            }
            png(&screen)
        }
    }
}

fn png(img: &GrayImage) -> Vec<u8> {
    let mut out = Vec::new();
    image::DynamicImage::ImageLuma8(img.clone())
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .expect("encoding a PNG in memory");
    out
}

fn jpeg(img: &RgbImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality).encode_image(img).expect("encoding a JPEG in memory");
    out
}

/// `page` turned by `angle` radians about its centre, white where nothing was.
fn rotate(page: &GrayImage, angle: f64) -> GrayImage {
    let (w, h) = (page.width() as f64, page.height() as f64);
    let (c, s) = (angle.cos(), angle.sin());
    let mut out = GrayImage::from_pixel(page.width(), page.height(), Luma([255]));
    for (x, y, px) in out.enumerate_pixels_mut() {
        let (dx, dy) = (x as f64 - w / 2.0, y as f64 - h / 2.0);
        let (sx, sy) = (c * dx + s * dy + w / 2.0, -s * dx + c * dy + h / 2.0);
        if let Some(v) = sample(page, sx, sy) {
            *px = Luma([v]);
        }
    }
    out
}

/// Bilinear sample of `img` at (x, y), or None outside it.
fn sample(img: &GrayImage, x: f64, y: f64) -> Option<u8> {
    if x < 0.0 || y < 0.0 || x > (img.width() - 1) as f64 || y > (img.height() - 1) as f64 {
        return None;
    }
    let (x0, y0) = (x.floor() as u32, y.floor() as u32);
    let (x1, y1) = ((x0 + 1).min(img.width() - 1), (y0 + 1).min(img.height() - 1));
    let (fx, fy) = (x - x0 as f64, y - y0 as f64);
    let p = |x, y| f64::from(img.get_pixel(x, y)[0]);
    let top = p(x0, y0) * (1.0 - fx) + p(x1, y0) * fx;
    let bottom = p(x0, y1) * (1.0 - fx) + p(x1, y1) * fx;
    Some((top * (1.0 - fy) + bottom * fy).round() as u8)
}

/// A phone photo `long_side` pixels high of `page` lying on a desk: the page fills about `fill`
/// of the frame's height, its corners moved by up to `tilt` of its size (perspective), lit
/// unevenly, blurred by a box of `blur` pixels, with noise of `noise` grey levels.
fn photo(page: &GrayImage, rng: &mut StdRng, long_side: u32, fill: f64, tilt: f64, blur: u32, noise: f64) -> RgbImage {
    let (fw, fh) = ((f64::from(long_side) * 0.75) as u32, long_side);
    let ph = f64::from(fh) * fill;
    let pw = ph * f64::from(page.width()) / f64::from(page.height());
    let (cx, cy) = (f64::from(fw) / 2.0 + rng.gen_range(-0.03..0.03) * f64::from(fw), f64::from(fh) / 2.0);
    let mut jitter = |x: f64, y: f64| (x + rng.gen_range(-tilt..tilt) * pw, y + rng.gen_range(-tilt..tilt) * ph);
    // Corners of the page in the photo: top-left, top-right, bottom-right, bottom-left.
    let quad = [
        jitter(cx - pw / 2.0, cy - ph / 2.0),
        jitter(cx + pw / 2.0, cy - ph / 2.0),
        jitter(cx + pw / 2.0, cy + ph / 2.0),
        jitter(cx - pw / 2.0, cy + ph / 2.0),
    ];
    let to_page = invert(square_to_quad(&quad));
    let (sw, sh) = (f64::from(page.width()), f64::from(page.height()));
    let desk = [rng.gen_range(90..140) as f64, rng.gen_range(70..110) as f64, rng.gen_range(50..80) as f64];
    let light_dir = rng.gen_range(0.0..std::f64::consts::TAU);
    let (lx, ly) = (light_dir.cos(), light_dir.sin());
    let warmth = [1.0, rng.gen_range(0.93..1.0), rng.gen_range(0.82..0.95)];
    let mut grey = GrayImage::new(fw, fh);
    let mut lit = vec![0f64; (fw * fh) as usize];
    for (x, y, px) in grey.enumerate_pixels_mut() {
        let (u, v, w) = apply(&to_page, f64::from(x), f64::from(y));
        let (u, v) = (u / w, v / w);
        let on_page = (0.0..=1.0).contains(&u) && (0.0..=1.0).contains(&v);
        let value = if on_page { sample(page, u * (sw - 1.0), v * (sh - 1.0)).unwrap_or(255) } else { 0 };
        *px = Luma([value]);
        // Light falls off across the frame, from one side to the other (a lamp, a window).
        let (nx, ny) = (f64::from(x) / f64::from(fw) - 0.5, f64::from(y) / f64::from(fh) - 0.5);
        let gradient = 0.78 + 0.22 * (nx * lx + ny * ly) * 2.0;
        lit[(y * fw + x) as usize] = if on_page { gradient } else { -gradient };
    }
    let blurred = box_blur(&grey, blur);
    let mut out = RgbImage::new(fw, fh);
    for (x, y, px) in out.enumerate_pixels_mut() {
        let l = lit[(y * fw + x) as usize];
        let n = rng.gen_range(-noise..=noise);
        let rgb = if l >= 0.0 {
            let v = f64::from(blurred.get_pixel(x, y)[0]);
            [0, 1, 2].map(|c| (v * l * warmth[c] + n).clamp(0.0, 255.0) as u8)
        } else {
            [0, 1, 2].map(|c| (desk[c] * -l + n).clamp(0.0, 255.0) as u8)
        };
        *px = Rgb(rgb);
    }
    out
}

/// Mean over a (2r+1)² box; r = 0 leaves the image as it is.
fn box_blur(img: &GrayImage, r: u32) -> GrayImage {
    if r == 0 {
        return img.clone();
    }
    let (w, h) = (img.width() as i64, img.height() as i64);
    let r = r as i64;
    let pass = |src: &GrayImage, horizontal: bool| {
        let mut out = GrayImage::new(src.width(), src.height());
        for y in 0..h {
            for x in 0..w {
                let (mut sum, mut n) = (0u32, 0u32);
                for d in -r..=r {
                    let (sx, sy) = if horizontal { (x + d, y) } else { (x, y + d) };
                    if (0..w).contains(&sx) && (0..h).contains(&sy) {
                        sum += u32::from(src.get_pixel(sx as u32, sy as u32)[0]);
                        n += 1;
                    }
                }
                out.put_pixel(x as u32, y as u32, Luma([(sum / n) as u8]));
            }
        }
        out
    };
    pass(&pass(img, true), false)
}

type Matrix = [[f64; 3]; 3];

/// The projective map taking the unit square's corners (0,0), (1,0), (1,1), (0,1) to `q`.
fn square_to_quad(q: &[(f64, f64); 4]) -> Matrix {
    let [(x0, y0), (x1, y1), (x2, y2), (x3, y3)] = *q;
    let (sx, sy) = (x0 - x1 + x2 - x3, y0 - y1 + y2 - y3);
    let (dx1, dx2, dy1, dy2) = (x1 - x2, x3 - x2, y1 - y2, y3 - y2);
    let den = dx1 * dy2 - dx2 * dy1;
    let g = (sx * dy2 - dx2 * sy) / den;
    let h = (dx1 * sy - sx * dy1) / den;
    [[x1 - x0 + g * x1, x3 - x0 + h * x3, x0], [y1 - y0 + g * y1, y3 - y0 + h * y3, y0], [g, h, 1.0]]
}

fn invert(m: Matrix) -> Matrix {
    let c = |r0: usize, c0: usize, r1: usize, c1: usize| m[r0][c0] * m[r1][c1] - m[r0][c1] * m[r1][c0];
    // The adjugate is the inverse up to a scale factor, which a projective map ignores.
    [
        [c(1, 1, 2, 2), -c(0, 1, 2, 2), c(0, 1, 1, 2)],
        [-c(1, 0, 2, 2), c(0, 0, 2, 2), -c(0, 0, 1, 2)],
        [c(1, 0, 2, 1), -c(0, 0, 2, 1), c(0, 0, 1, 1)],
    ]
}

fn apply(m: &Matrix, x: f64, y: f64) -> (f64, f64, f64) {
    (m[0][0] * x + m[0][1] * y + m[0][2], m[1][0] * x + m[1][1] * y + m[1][2], m[2][0] * x + m[2][1] * y + m[2][2])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_square_maps_to_its_quad_and_back() {
        let q = [(10.0, 20.0), (110.0, 25.0), (120.0, 160.0), (5.0, 150.0)];
        let m = square_to_quad(&q);
        for ((u, v), (x, y)) in [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)].into_iter().zip(q) {
            let (px, py, w) = apply(&m, u, v);
            assert!((px / w - x).abs() < 1e-9 && (py / w - y).abs() < 1e-9);
            let (bu, bv, bw) = apply(&invert(m), x, y);
            assert!((bu / bw - u).abs() < 1e-9 && (bv / bw - v).abs() < 1e-9);
        }
    }
}
