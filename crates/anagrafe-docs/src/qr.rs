//! The contrassegno's QR code, drawn as SVG for the template.

use crate::DocError;

pub mod corpus;

/// Longest text a contrassegno may carry: the URL plus the signed payload stay inside a
/// version-15 code at level M (77 modules a side).
pub const MAX_TEXT: usize = 400;

/// Printed size of one module, in millimetres: 0.5 mm is three device pixels of a 150-dpi scan
/// and well above what a phone's camera resolves at reading distance (`docs/certificates.md`).
pub const MODULE_MM: f64 = 0.5;

/// Quiet zone around the code, in modules (ISO/IEC 18004 asks for four).
pub const QUIET_MODULES: usize = 4;

/// The contrassegno's image: a PNG and its printed side.
#[derive(Debug, Clone)]
pub struct QrImage {
    /// PNG, `MODULE_PX` pixels per module, quiet zone included.
    pub png: Vec<u8>,
    /// Printed side in millimetres, quiet zone included ([`MODULE_MM`] per module).
    pub side_mm: f64,
}

/// The QR code of `text` as a PNG image, `MODULE_PX` pixels per module, with the standard
/// four-module quiet zone, and its printed side. A raster costs the layout far less than an SVG with one path per
/// module; drawn at several pixels per module it stays readable when a viewer or printer scales
/// it to a resolution that is not a whole multiple of the modules (a 150-dpi rendering gives
/// about 2.7 device pixels per module).
pub fn png(text: &str) -> Result<QrImage, DocError> {
    if text.len() > MAX_TEXT {
        return Err(DocError::Layout(format!("QR text longer than {MAX_TEXT} bytes")));
    }
    let code =
        fast_qr::QRBuilder::new(text.as_bytes()).ecl(fast_qr::ECL::M).build().map_err(|e| DocError::Layout(format!("QR code: {e:?}")))?;
    let width = code.size;
    let quiet = QUIET_MODULES;
    let side = ((width + 2 * quiet) * MODULE_PX) as u32;
    let mut img = image::GrayImage::from_pixel(side, side, image::Luma([255]));
    for y in 0..width {
        for x in 0..width {
            if code[y][x].value() {
                for dy in 0..MODULE_PX {
                    for dx in 0..MODULE_PX {
                        img.put_pixel(((x + quiet) * MODULE_PX + dx) as u32, ((y + quiet) * MODULE_PX + dy) as u32, image::Luma([0]));
                    }
                }
            }
        }
    }
    let mut out = Vec::with_capacity(1024);
    image::DynamicImage::ImageLuma8(img)
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .map_err(|e| DocError::Layout(format!("QR image: {e}")))?;
    Ok(QrImage { png: out, side_mm: (width + 2 * quiet) as f64 * MODULE_MM })
}

/// Pixels per module of the QR image given to the layout.
const MODULE_PX: usize = 4;

/// Largest upload accepted for decoding.
pub const MAX_UPLOAD_BYTES: usize = 6 * 1024 * 1024;
/// Largest image accepted, in pixels per side and in total.
pub const MAX_SIDE: u32 = 8000;
/// Largest image accepted, in pixels.
pub const MAX_PIXELS: u64 = 24_000_000;
/// Larger images are scaled down to this many pixels on the longer side before the search: a
/// phone's 12-Mpx photo of an A4 page keeps about 6 pixels per module, and the search stays
/// under half a second (docs/benchmarks.md).
const SEARCH_SIDE: u32 = 3200;

/// Why an uploaded image gave no contrassegno.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    /// Not PNG or JPEG, or corrupt.
    #[error("the file is not a readable PNG or JPEG image")]
    NotAnImage,
    /// Over the size or pixel limits.
    #[error("the image is too large (at most {MAX_UPLOAD_BYTES} bytes and {MAX_PIXELS} pixels)")]
    TooLarge,
    /// No QR code could be read.
    #[error("no QR code could be read in the image; try a sharper, straighter photo")]
    NoCode,
}

/// Decodes the QR codes in a PNG or JPEG image (a photo or scan of a printed certificate) and
/// returns the text of the first one that reads. The dimensions are checked from the header
/// before any pixel is decoded, and decoding runs under memory limits, so a hostile file is
/// refused quickly.
pub fn decode(bytes: &[u8]) -> Result<String, DecodeError> {
    use image::ImageReader;
    if bytes.len() > MAX_UPLOAD_BYTES {
        return Err(DecodeError::TooLarge);
    }
    let format = image::guess_format(bytes).map_err(|_| DecodeError::NotAnImage)?;
    if !matches!(format, image::ImageFormat::Png | image::ImageFormat::Jpeg) {
        return Err(DecodeError::NotAnImage);
    }
    let reader = ImageReader::with_format(std::io::Cursor::new(bytes), format);
    let (w, h) = reader.into_dimensions().map_err(|_| DecodeError::NotAnImage)?;
    if w == 0 || h == 0 {
        return Err(DecodeError::NotAnImage);
    }
    if w > MAX_SIDE || h > MAX_SIDE || u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Err(DecodeError::TooLarge);
    }
    let mut reader = ImageReader::with_format(std::io::Cursor::new(bytes), format);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(160 * 1024 * 1024);
    reader.limits(limits);
    let img = reader.decode().map_err(|e| match e {
        image::ImageError::Limits(_) => DecodeError::TooLarge,
        _ => DecodeError::NotAnImage,
    })?;
    let mut grey = img.into_luma8();
    let longest = grey.width().max(grey.height());
    if longest > SEARCH_SIDE {
        let scale = f64::from(SEARCH_SIDE) / f64::from(longest);
        let (nw, nh) =
            ((f64::from(grey.width()) * scale).round().max(1.0) as u32, (f64::from(grey.height()) * scale).round().max(1.0) as u32);
        grey = image::imageops::resize(&grey, nw, nh, image::imageops::FilterType::Triangle);
    }
    search(grey).map(|(text, _)| text).ok_or(DecodeError::NoCode)
}

/// The first QR code rxing finds in `img` (trying harder: every row, both polarities), with
/// the centres of its three finder patterns.
fn search(img: image::GrayImage) -> Option<(String, Vec<(f32, f32)>)> {
    let (w, h) = (img.width(), img.height());
    let mut hints = rxing::DecodeHints { TryHarder: Some(true), ..Default::default() };
    let found = rxing::helpers::detect_in_luma_with_hints(img.into_raw(), w, h, Some(rxing::BarcodeFormat::QR_CODE), &mut hints).ok()?;
    let points = found.getPoints().iter().map(|p| (p.x, p.y)).collect();
    Some((found.getText().to_owned(), points))
}

/// Where a code lies in a rendering of a page: its text and the box of its finder patterns'
/// centres (left, top, right, bottom, in pixels), which lie inside its modules. For the tests
/// that measure the printed code's place; uploads go through [`decode`].
pub fn locate(img: &image::GrayImage) -> Option<(String, [i32; 4])> {
    let (text, points) = search(img.clone())?;
    let finders = points.get(..3)?;
    let min = |f: fn(&(f32, f32)) -> f32| finders.iter().map(f).fold(f32::MAX, f32::min).round() as i32;
    let max = |f: fn(&(f32, f32)) -> f32| finders.iter().map(f).fold(f32::MIN, f32::max).round() as i32;
    Some((text, [min(|p| p.0), min(|p| p.1), max(|p| p.0), max(|p| p.1)]))
}

/// Modules a side of the code holding `text` (without the quiet zone).
pub fn modules_of(text: &str) -> Result<usize, DocError> {
    let code =
        fast_qr::QRBuilder::new(text.as_bytes()).ecl(fast_qr::ECL::M).build().map_err(|e| DocError::Layout(format!("QR code: {e:?}")))?;
    Ok(code.size)
}
