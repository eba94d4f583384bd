//! The contrassegno's QR code, drawn as SVG for the template.

use crate::DocError;

/// Longest text a contrassegno may carry: the URL plus the signed payload stay well inside a
/// version-15 code at level M, which still prints at 3.5 cm with modules over 0.4 mm.
pub const MAX_TEXT: usize = 400;

/// The QR code of `text` as a PNG image, `MODULE_PX` pixels per module, with the standard
/// four-module quiet zone. A raster costs the layout far less than an SVG with one path per
/// module; drawn at several pixels per module it stays readable when a viewer or printer scales
/// it to a resolution that is not a whole multiple of the modules (a 150-dpi rendering gives
/// about 2.7 device pixels per module).
pub fn png(text: &str) -> Result<Vec<u8>, DocError> {
    if text.len() > MAX_TEXT {
        return Err(DocError::Layout(format!("QR text longer than {MAX_TEXT} bytes")));
    }
    let code =
        fast_qr::QRBuilder::new(text.as_bytes()).ecl(fast_qr::ECL::M).build().map_err(|e| DocError::Layout(format!("QR code: {e:?}")))?;
    let width = code.size;
    let quiet = 4;
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
    Ok(out)
}

/// Pixels per module of the QR image given to the layout.
const MODULE_PX: usize = 4;

/// Largest upload accepted for decoding.
pub const MAX_UPLOAD_BYTES: usize = 6 * 1024 * 1024;
/// Largest image accepted, in pixels per side and in total.
pub const MAX_SIDE: u32 = 8000;
/// Largest image accepted, in pixels.
pub const MAX_PIXELS: u64 = 24_000_000;
/// The search runs first on the image scaled to this many pixels on the longer side (fast, and
/// enough for a code that fills a good part of the photo), then, if nothing was found, on the
/// image at up to `FULL_SIDE` (a small code in a large photo).
const QUICK_SIDE: u32 = 1024;
const FULL_SIDE: u32 = 2400;

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
    let grey = img.into_luma8();
    let longest = grey.width().max(grey.height());
    let mut sides = vec![QUICK_SIDE.min(longest)];
    if longest > QUICK_SIDE {
        sides.push(FULL_SIDE.min(longest));
    }
    for side in sides {
        let scaled;
        let view = if side < longest {
            let scale = f64::from(side) / f64::from(longest);
            let (nw, nh) =
                ((f64::from(grey.width()) * scale).round().max(1.0) as u32, (f64::from(grey.height()) * scale).round().max(1.0) as u32);
            scaled = image::imageops::resize(&grey, nw, nh, image::imageops::FilterType::Triangle);
            &scaled
        } else {
            &grey
        };
        let (gw, gh) = (view.width() as usize, view.height() as usize);
        let raw = view.as_raw();
        let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(gw, gh, |x, y| raw[y * gw + x]);
        for grid in prepared.detect_grids() {
            if let Ok((_, text)) = grid.decode() {
                return Ok(text);
            }
        }
    }
    Err(DecodeError::NoCode)
}
