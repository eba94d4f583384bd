//! The verification page reads what people upload (issue 17): a page laid out as a certificate
//! prints its contrassegno (0.5 mm modules, 12 mm from the bottom edge), rasterised at 150 and
//! 300 dpi as a scanner does, then scanned skewed, photographed on a desk, photographed badly,
//! captured from a screen. The real renders of issued certificates are checked the same way by
//! the server's `independent_validators_agree` (pdftoppm) and measured by `scripts/qr-corpus`.

use anagrafe_docs::qr::{self, corpus};
use image::{GrayImage, Luma};

const TEXT: &str = "https://anagrafe.example.it/verifica/Qe8Qbm9g0GH-dVGot1RaRNZH#eyJ2IjoxLCJpZCI6IjIwMjYtWTI4NkpLOVREQSIsInQiOls4LDEyXSwiaSI6IjIwMjYtMTEtMjMiLCJlIjoiMjAyNy0wNS0yMiIsImgiOiJ4YzNEZkNWREZHbHhtRkhjLWRGeFBvam9wQzBxVlIwVlRzUWl6bWRwVFVZIn0.C1uD1pwZtJXClRmsdOfn0BXOU05mL77bP98M_h2gEN4C2wYoF5JYsQaBYZpUD9miluSkVpSogjSIzKgnAgUM5g";

/// An A4 page at `dpi`: lines of "text" (dark bars) above, the contrassegno where the template
/// puts it, resampled to the page's resolution as a rasteriser would.
fn page(dpi: f64) -> GrayImage {
    let px = |mm: f64| (mm * dpi / 25.4).round() as u32;
    let mut p = GrayImage::from_pixel(px(210.0), px(297.0), Luma([255]));
    let mut seed = 7u32;
    for line in 0..40 {
        let y = px(40.0 + line as f64 * 5.0);
        let mut x = px(20.0);
        while x < px(150.0) {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let w = px(2.0) + (seed >> 16) % px(14.0);
            for yy in y..y + px(2.2) {
                for xx in x..(x + w).min(px(190.0)) {
                    p.put_pixel(xx, yy, Luma([30]));
                }
            }
            x += w + px(1.8);
        }
    }
    let q = qr::png(TEXT).unwrap();
    let code = image::load_from_memory(&q.png).unwrap().into_luma8();
    let side = px(q.side_mm);
    let code = image::imageops::resize(&code, side, side, image::imageops::FilterType::Triangle);
    let (left, top) = (px(18.0), px(297.0 - 12.0) - side);
    image::imageops::replace(&mut p, &code, i64::from(left), i64::from(top));
    p
}

fn png(img: &GrayImage) -> Vec<u8> {
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png).unwrap();
    out
}

#[test]
fn the_printed_code_has_half_millimetre_modules_and_a_quiet_zone() {
    let q = qr::png(TEXT).unwrap();
    let img = image::load_from_memory(&q.png).unwrap().into_luma8();
    let modules = f64::from(img.width()) / 4.0;
    assert_eq!(q.side_mm, modules * qr::MODULE_MM);
    // Four white modules on every side.
    let quiet = 4 * qr::QUIET_MODULES as u32;
    for (x, y, p) in img.enumerate_pixels() {
        if x < quiet || y < quiet || x >= img.width() - quiet || y >= img.height() - quiet {
            assert_eq!(p[0], 255, "quiet zone at {x},{y}");
        }
    }
}

#[test]
fn a_full_page_scan_at_150_and_300_dpi_reads() {
    for dpi in [150.0, 300.0] {
        assert_eq!(qr::decode(&png(&page(dpi))).as_deref(), Ok(TEXT), "{dpi} dpi");
    }
}

/// The poor photo (about 2.3 pixels per module, JPEG at 60) is measured, not required: no
/// candidate reads it reliably (docs/benchmarks.md); the page asks for a closer photo.
#[test]
fn scans_photos_and_screenshots_read() {
    let page = page(200.0);
    for kind in [corpus::Kind::Scan, corpus::Kind::Photo, corpus::Kind::Screenshot] {
        for seed in 0..2 {
            let upload = corpus::upload(&page, kind, seed);
            assert!(upload.len() < qr::MAX_UPLOAD_BYTES, "{} {seed}: {} bytes", kind.name(), upload.len());
            assert_eq!(qr::decode(&upload).as_deref(), Ok(TEXT), "{} {seed}", kind.name());
        }
    }
}

#[test]
fn images_without_a_code_are_refused() {
    let blank = GrayImage::from_pixel(2000, 2000, Luma([255]));
    assert_eq!(qr::decode(&png(&blank)), Err(qr::DecodeError::NoCode));
    let mut noise = GrayImage::new(1500, 1500);
    let mut s = 1u32;
    for p in noise.pixels_mut() {
        s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        *p = Luma([(s >> 24) as u8]);
    }
    assert_eq!(qr::decode(&png(&noise)), Err(qr::DecodeError::NoCode));
    assert_eq!(qr::decode(b"not an image"), Err(qr::DecodeError::NotAnImage));
}
