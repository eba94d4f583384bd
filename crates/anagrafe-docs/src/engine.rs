//! The typst engine: one parsed template and the embedded fonts, shared by every render; each
//! document brings its own `data.json` and QR code as virtual files.

use crate::DocError;
use crate::model::Document;
use std::sync::LazyLock;
use typst::diag::{FileError, FileResult, SourceDiagnostic};
use typst::foundations::{Bytes, Datetime};
use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt, World};
use typst_layout::PagedDocument;
use typst_pdf::{PdfOptions, PdfStandard, PdfStandards, Timestamp};

const TEMPLATE: &str = include_str!("../templates/certificate.typ");
const DEFAULT_LOGO: &[u8] = include_bytes!("../assets/logo.svg");
/// Titillium Web regular and semibold: the template asks for no other face (bold resolves to
/// semibold), and every embedded face costs subsetting time in each export.
const FONTS: [&[u8]; 2] = [
    include_bytes!("../assets/fonts/titillium-web-v10-latin-ext_latin-regular.ttf"),
    include_bytes!("../assets/fonts/titillium-web-v10-latin-ext_latin-600.ttf"),
];

/// Fixed virtual paths: typst's file-id table is global and never shrinks, so every document
/// reuses the same four ids.
struct Ids {
    main: FileId,
    data: FileId,
    qr: FileId,
    logo: FileId,
}

static IDS: LazyLock<Ids> = LazyLock::new(|| {
    let id = |p: &str| RootedPath::new(VirtualRoot::Project, VirtualPath::new(p).expect("static path")).intern();
    Ids { main: id("/certificate.typ"), data: id("/data.json"), qr: id("/qr.png"), logo: id("/logo.svg") }
});

/// Branding and fonts, loaded once.
#[derive(Debug)]
pub struct Engine {
    library: LazyHash<Library>,
    book: LazyHash<FontBook>,
    fonts: Vec<Font>,
    source: Source,
    logo: Bytes,
}

/// One document being compiled: the shared engine plus its own data.
struct DocWorld<'a> {
    engine: &'a Engine,
    data: Bytes,
    qr: Option<Bytes>,
    today: Datetime,
}

impl World for DocWorld<'_> {
    fn library(&self) -> &LazyHash<Library> {
        &self.engine.library
    }
    fn book(&self) -> &LazyHash<FontBook> {
        &self.engine.book
    }
    fn main(&self) -> FileId {
        IDS.main
    }
    fn source(&self, id: FileId) -> FileResult<Source> {
        if id == IDS.main { Ok(self.engine.source.clone()) } else { Err(not_found(id)) }
    }
    fn file(&self, id: FileId) -> FileResult<Bytes> {
        if id == IDS.data {
            Ok(self.data.clone())
        } else if id == IDS.logo {
            Ok(self.engine.logo.clone())
        } else if id == IDS.qr {
            self.qr.clone().ok_or_else(|| not_found(id))
        } else if id == IDS.main {
            Ok(Bytes::from_string(self.engine.source.clone()))
        } else {
            Err(not_found(id))
        }
    }
    fn font(&self, index: usize) -> Option<Font> {
        self.engine.fonts.get(index).cloned()
    }
    fn today(&self, _offset: Option<typst::foundations::Duration>) -> Option<Datetime> {
        Some(self.today)
    }
}

fn not_found(id: FileId) -> FileError {
    FileError::NotFound(id.get().vpath().get_without_slash().into())
}

impl Default for Engine {
    fn default() -> Self {
        Self::new(None)
    }
}

impl Engine {
    /// Loads the fonts and the template; `logo` (SVG) replaces the built-in issuer logo.
    pub fn new(logo: Option<Vec<u8>>) -> Self {
        let fonts: Vec<Font> = FONTS.iter().flat_map(|b| Font::iter(Bytes::new(*b))).collect();
        let book = FontBook::from_fonts(&fonts);
        Self {
            library: LazyHash::new(Library::default()),
            book: LazyHash::new(book),
            fonts,
            source: Source::new(IDS.main, TEMPLATE.to_owned()),
            logo: Bytes::new(logo.unwrap_or_else(|| DEFAULT_LOGO.to_vec())),
        }
    }

    /// Renders `doc` as a PDF/A-2b file. `qr`, when given, is the text of the contrassegno
    /// printed on every page; a preview has none and carries the ANTEPRIMA watermark instead.
    pub fn render(&self, doc: &Document, qr: Option<&str>) -> Result<Vec<u8>, DocError> {
        if doc.preview && qr.is_some() {
            return Err(DocError::Layout("a preview carries no QR code".into()));
        }
        #[derive(serde::Serialize)]
        struct Data<'a> {
            #[serde(flatten)]
            doc: &'a Document,
            /// The contrassegno's printed side (mm, quiet zone included), if it has one.
            qr: Option<f64>,
        }
        let qr = qr.map(crate::qr::png).transpose()?;
        let data = serde_json::to_vec(&Data { doc, qr: qr.as_ref().map(|q| q.side_mm) }).map_err(|e| DocError::Layout(e.to_string()))?;
        let qr = qr.map(|q| Bytes::new(q.png));
        let at = doc.issued_at;
        let today = Datetime::from_ymd(at.year_ce().1 as i32, at.month() as u8, at.day() as u8)
            .ok_or_else(|| DocError::Layout("issue date out of range".into()))?;
        let world = DocWorld { engine: self, data: Bytes::new(data), qr, today };
        let compiled = typst::compile::<PagedDocument>(&world).output;
        // The memo cache grows with every document otherwise; what the last four documents did
        // not use goes, the template, fonts and library stay warm (docs/benchmarks.md).
        comemo::evict(4);
        let document = compiled.map_err(|e| DocError::Layout(diagnostics(&e)))?;
        let stamp = Datetime::from_ymd_hms(
            at.year_ce().1 as i32,
            at.month() as u8,
            at.day() as u8,
            at.hour() as u8,
            at.minute() as u8,
            at.second() as u8,
        )
        .ok_or_else(|| DocError::Layout("issue time out of range".into()))?;
        let options = PdfOptions {
            ident: typst::foundations::Smart::Custom(doc.ident.clone()),
            creator: typst::foundations::Smart::Custom(Some("Anagrafe".into())),
            timestamp: Some(Timestamp::new_utc(stamp)),
            standards: PdfStandards::new(&[PdfStandard::A_2b]).map_err(|e| DocError::Layout(e.message().to_string()))?,
            ..PdfOptions::default()
        };
        typst_pdf::pdf(&document, &options).map_err(|e| DocError::Layout(diagnostics(&e)))
    }
}

use chrono::{Datelike, Timelike};

fn diagnostics(errors: &[SourceDiagnostic]) -> String {
    errors.iter().map(|d| d.message.to_string()).collect::<Vec<_>>().join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every character a field of the register may hold, and its capital (certificates print
    /// names and some values in capitals), has a glyph in both faces: PDF/A refuses a document
    /// with a character no font draws, so a missing glyph would make a stored record's
    /// certificate fail (issue 17, item 14).
    #[test]
    fn the_fonts_draw_every_character_the_register_accepts() {
        let fonts: Vec<Font> = FONTS.iter().flat_map(|b| Font::iter(Bytes::new(*b))).collect();
        assert_eq!(fonts.len(), 2);
        let accepted = (0..0x3000u32)
            .filter_map(char::from_u32)
            .filter(|&c| anagrafe_domain::text::allowed_char(c) || anagrafe_domain::text::email_char(c));
        let mut missing = Vec::new();
        for c in accepted {
            for shown in std::iter::once(c).chain(c.to_uppercase()) {
                if shown != ' ' && fonts.iter().any(|f| !f.info().coverage.contains(shown as u32)) {
                    missing.push(format!("{c} ({shown}, U+{:04X})", shown as u32));
                }
            }
        }
        assert!(missing.is_empty(), "no glyph for {missing:?}");
        // The check sees a missing glyph: one of the letters the register leaves out for it.
        assert!(fonts.iter().any(|f| !f.info().coverage.contains('ŉ' as u32)));
    }
}
