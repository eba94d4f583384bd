//! A plain PDF of a few lines of text, with an optional grey-scale image: the registration
//! declaration the adult members of a family sign (EU-4) — digitally, or by hand on a printout
//! whose scan goes back into the file as an image. Written directly with lopdf (no layout
//! engine): Helvetica, one A4 page.

use lopdf::{Dictionary, Document, Object, Stream};

/// A grey-scale image: width, height and one byte per pixel.
pub type GreyImage<'a> = (u32, u32, &'a [u8]);

/// The PDF of `lines` (Latin-1 text), with `image` drawn under them when given.
pub fn text_pdf(lines: &[&str], image: Option<GreyImage<'_>>) -> Vec<u8> {
    let mut doc = Document::with_version("1.7");
    let pages_id = doc.new_object_id();
    let mut font = Dictionary::new();
    font.set("Type", Object::Name(b"Font".to_vec()));
    font.set("Subtype", Object::Name(b"Type1".to_vec()));
    font.set("BaseFont", Object::Name(b"Helvetica".to_vec()));
    font.set("Encoding", Object::Name(b"WinAnsiEncoding".to_vec()));
    let font_id = doc.add_object(font);
    let mut fonts = Dictionary::new();
    fonts.set("F1", Object::Reference(font_id));
    let mut resources = Dictionary::new();
    resources.set("Font", Object::Dictionary(fonts));
    let mut content = b"BT /F1 11 Tf 14 TL 56 780 Td".to_vec();
    for line in lines {
        let latin1: Vec<u8> = line.chars().map(|c| if (c as u32) < 256 { c as u8 } else { b'?' }).collect();
        let mut escaped = Vec::new();
        for b in latin1 {
            if matches!(b, b'(' | b')' | b'\\') {
                escaped.push(b'\\');
            }
            escaped.push(b);
        }
        content.extend_from_slice(b" (");
        content.extend_from_slice(&escaped);
        content.extend_from_slice(b") Tj T*");
    }
    content.extend_from_slice(b" ET");
    if let Some((w, h, pixels)) = image {
        let mut img = Dictionary::new();
        img.set("Type", Object::Name(b"XObject".to_vec()));
        img.set("Subtype", Object::Name(b"Image".to_vec()));
        img.set("Width", Object::Integer(i64::from(w)));
        img.set("Height", Object::Integer(i64::from(h)));
        img.set("ColorSpace", Object::Name(b"DeviceGray".to_vec()));
        img.set("BitsPerComponent", Object::Integer(8));
        let img_id = doc.add_object(Stream::new(img, pixels.to_vec()));
        let mut xobjects = Dictionary::new();
        xobjects.set("Firma", Object::Reference(img_id));
        resources.set("XObject", Object::Dictionary(xobjects));
        content.extend_from_slice(b" q 200 0 0 60 56 300 cm /Firma Do Q");
    }
    let content_id = doc.add_object(Stream::new(Dictionary::new(), content));
    let mut page = Dictionary::new();
    page.set("Type", Object::Name(b"Page".to_vec()));
    page.set("Parent", Object::Reference(pages_id));
    page.set("MediaBox", Object::Array(vec![0.into(), 0.into(), 595.into(), 842.into()]));
    page.set("Contents", Object::Reference(content_id));
    page.set("Resources", Object::Dictionary(resources));
    let page_id = doc.add_object(page);
    let mut pages = Dictionary::new();
    pages.set("Type", Object::Name(b"Pages".to_vec()));
    pages.set("Kids", Object::Array(vec![Object::Reference(page_id)]));
    pages.set("Count", Object::Integer(1));
    doc.objects.insert(pages_id, Object::Dictionary(pages));
    let mut catalog = Dictionary::new();
    catalog.set("Type", Object::Name(b"Catalog".to_vec()));
    catalog.set("Pages", Object::Reference(pages_id));
    let catalog_id = doc.add_object(catalog);
    doc.trailer.set("Root", Object::Reference(catalog_id));
    let mut out = Vec::new();
    // Writing to memory does not fail.
    let _ = doc.save_to(&mut out);
    out
}
