//! The contrassegno's QR code, drawn as SVG for the template.

use crate::DocError;
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

/// Longest text a contrassegno may carry: the URL plus the signed payload stay well inside a
/// version-15 code at level M, which still prints at 3.5 cm with modules over 0.4 mm.
pub const MAX_TEXT: usize = 400;

/// The QR code of `text` as an SVG image, one unit per module, with the standard quiet zone.
pub fn svg(text: &str) -> Result<String, DocError> {
    if text.len() > MAX_TEXT {
        return Err(DocError::Layout(format!("QR text longer than {MAX_TEXT} bytes")));
    }
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).map_err(|e| DocError::Layout(format!("QR code: {e}")))?;
    Ok(code.render::<svg::Color<'_>>().module_dimensions(1, 1).quiet_zone(true).build())
}

/// Largest upload accepted for decoding.
pub const MAX_UPLOAD_BYTES: usize = 6 * 1024 * 1024;
/// Largest image accepted, in pixels per side and in total.
pub const MAX_SIDE: u32 = 8000;
/// Largest image accepted, in pixels.
pub const MAX_PIXELS: u64 = 24_000_000;
/// Images are scaled down to at most this many pixels on the longer side before the search:
/// a QR code on a photo of a page stays readable and the search stays fast.
const WORK_SIDE: u32 = 1600;

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
    if grey.width().max(grey.height()) > WORK_SIDE {
        let scale = f64::from(WORK_SIDE) / f64::from(grey.width().max(grey.height()));
        let (nw, nh) =
            ((f64::from(grey.width()) * scale).round().max(1.0) as u32, (f64::from(grey.height()) * scale).round().max(1.0) as u32);
        grey = image::imageops::resize(&grey, nw, nh, image::imageops::FilterType::Triangle);
    }
    let (gw, gh) = (grey.width() as usize, grey.height() as usize);
    let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(gw, gh, |x, y| grey.as_raw()[y * gw + x]);
    for grid in prepared.detect_grids() {
        if let Ok((_, text)) = grid.decode() {
            return Ok(text);
        }
    }
    Err(DecodeError::NoCode)
}
