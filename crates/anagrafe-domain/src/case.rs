//! Citizens' requests as **cases** the competent comune works to an outcome (CIT-9): a kind,
//! an applicant, the data of the request, its attachments, a state machine with a deadline and a
//! history of steps. The EU citizens' registration request (EU-4) and their application for the
//! additional electoral lists (CIT-4) are the first kinds; the residence declaration (CIT-5), the
//! rectification (CIT-6) and the electoral rectification (CIT-3) are meant to be further kinds
//! of the same engine, with their own data and their own checklist.
//!
//! Everything here is pure: what a step does to a case ([`next_state`]), which documents a
//! request needs ([`requirements`]), whether an uploaded file is acceptable ([`sniff`]). The
//! store keeps a case and its steps; the use-case layer (`anagrafe-service`'s `cases`) reads
//! the facts, asks these functions and has the store write the outcome with its trace entry.

use crate::why::Why;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// What a case asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseKind {
    /// A citizen of another EU state asks to be registered with the family being formed (EU-4).
    EuRegistration,
    /// A citizen of another EU state resident in Italy applies for the additional electoral
    /// lists (CIT-4).
    EuElectoralList,
}

impl CaseKind {
    /// Every kind.
    pub const ALL: [CaseKind; 2] = [CaseKind::EuRegistration, CaseKind::EuElectoralList];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            CaseKind::EuRegistration => "eu_registration",
            CaseKind::EuElectoralList => "eu_electoral_list",
        }
    }

    /// Inverse of [`CaseKind::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Days the comune has, from submission, to decide. A registration (DPR 223/1989 art. 18-bis
    /// with DL 5/2012 art. 5): 45 days, after which silence confirms it. An application for
    /// the additional lists: 30 days — the register's own term, as neither d.lgs. 197/1996 nor
    /// DL 408/1994 sets one for the comune's answer; documented as such in `docs/cases.md`.
    pub fn days_to_decide(self) -> i64 {
        match self {
            CaseKind::EuRegistration => 45,
            CaseKind::EuElectoralList => 30,
        }
    }

    /// Which office decides the kind: the registry office, or the electoral office.
    pub fn electoral(self) -> bool {
        matches!(self, CaseKind::EuElectoralList)
    }
}

/// Where a case stands. The names are ANPR's: *presentata*, *in lavorazione*, *accolta*,
/// *respinta*, *irricevibile*.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseState {
    /// Being filled in by the citizen: no comune sees it yet.
    Draft,
    /// Submitted by the citizen, not yet taken up.
    Submitted,
    /// The comune verified the documents and sent the start-of-procedure communication.
    InProgress,
    /// Accepted: what was asked was done.
    Accepted,
    /// Rejected, with reasons.
    Rejected,
    /// Not admissible (incomplete, not the comune's, not the person's), with reasons.
    Inadmissible,
}

impl CaseState {
    /// Every state.
    pub const ALL: [CaseState; 6] =
        [CaseState::Draft, CaseState::Submitted, CaseState::InProgress, CaseState::Accepted, CaseState::Rejected, CaseState::Inadmissible];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            CaseState::Draft => "draft",
            CaseState::Submitted => "submitted",
            CaseState::InProgress => "in_progress",
            CaseState::Accepted => "accepted",
            CaseState::Rejected => "rejected",
            CaseState::Inadmissible => "inadmissible",
        }
    }

    /// Inverse of [`CaseState::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// An outcome was given: no step changes the case any more.
    pub fn closed(self) -> bool {
        matches!(self, CaseState::Accepted | CaseState::Rejected | CaseState::Inadmissible)
    }
}

/// What one step of the comune (or of the applicant, for the submission) does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum CaseAction {
    /// The document `document` is found valid or not (with the reason in the step's note).
    VerifyDocument {
        /// The document's id within the case.
        document: i64,
        /// Valid.
        valid: bool,
    },
    /// The start-of-procedure communication (*comunicazione di avvio del procedimento*) to
    /// the people concerned: the case is taken up.
    StartProcedure,
    /// What was asked is granted.
    Accept,
    /// What was asked is refused (a note gives the reasons).
    Reject,
    /// The request cannot be received (a note gives the reasons).
    DeclareInadmissible,
    /// A note on the file, changing nothing.
    Note,
}

impl CaseAction {
    /// The stored name of the step.
    pub fn name(&self) -> &'static str {
        match self {
            CaseAction::VerifyDocument { .. } => "verify_document",
            CaseAction::StartProcedure => "start_procedure",
            CaseAction::Accept => "accept",
            CaseAction::Reject => "reject",
            CaseAction::DeclareInadmissible => "declare_inadmissible",
            CaseAction::Note => "note",
        }
    }
}

/// A document's standing in the case, as the step rule sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocumentStanding {
    /// The document's id.
    pub id: i64,
    /// `None` until the comune verifies it; then valid or not.
    pub verified: Option<bool>,
}

/// What the step rule reads of a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseFacts<'a> {
    /// The state now.
    pub state: CaseState,
    /// The case's documents.
    pub documents: &'a [DocumentStanding],
    /// Requirements of the checklist no document meets.
    pub missing: usize,
}

/// The state a case is in after `action` with `note`, or why the step is refused.
///
/// The documents are verified before the procedure starts (EU-5: "in caso di esito positivo
/// delle verifiche … comunicazione di avvio"); a refusal or an inadmissibility needs reasons;
/// a closed case takes no step, not even a note.
pub fn next_state(facts: &CaseFacts<'_>, action: &CaseAction, note: &str) -> Result<CaseState, Why> {
    use CaseState::*;
    if facts.state.closed() {
        return Err(Why::new("case-closed").arg("state", facts.state.as_str()));
    }
    if facts.state == Draft {
        return Err(Why::new("case-not-submitted"));
    }
    let reasons = || if note.trim().is_empty() { Err(Why::new("case-reasons-required")) } else { Ok(()) };
    match action {
        CaseAction::VerifyDocument { document, .. } => {
            if !facts.documents.iter().any(|d| d.id == *document) {
                return Err(Why::new("case-no-such-document").arg("document", document));
            }
            Ok(facts.state)
        }
        CaseAction::StartProcedure => {
            if facts.state != Submitted {
                return Err(Why::new("case-already-started"));
            }
            if facts.missing > 0 {
                return Err(Why::new("case-documents-missing").arg("count", facts.missing));
            }
            let unverified = facts.documents.iter().filter(|d| d.verified.is_none()).count();
            if unverified > 0 {
                return Err(Why::new("case-documents-unverified").arg("count", unverified));
            }
            if facts.documents.iter().any(|d| d.verified == Some(false)) {
                return Err(Why::new("case-documents-invalid"));
            }
            Ok(InProgress)
        }
        CaseAction::Accept => {
            if facts.state != InProgress {
                return Err(Why::new("case-not-started"));
            }
            Ok(Accepted)
        }
        CaseAction::Reject => {
            if facts.state != InProgress {
                return Err(Why::new("case-not-started"));
            }
            reasons()?;
            Ok(Rejected)
        }
        CaseAction::DeclareInadmissible => {
            reasons()?;
            Ok(Inadmissible)
        }
        CaseAction::Note => {
            reasons()?;
            Ok(facts.state)
        }
    }
}

/// The day the comune must decide by: `days_to_decide` calendar days after submission.
pub fn due_date(kind: CaseKind, submitted: NaiveDate) -> NaiveDate {
    submitted + chrono::Duration::days(kind.days_to_decide())
}

/// Why an EU citizen is entitled to reside (d.lgs. 30/2007 art. 7), which decides the
/// documents the registration needs (art. 9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Grounds {
    /// Employed or self-employed in Italy (art. 7 c. 1 a).
    Worker,
    /// Sufficient resources for self and family, and health insurance (art. 7 c. 1 b).
    SelfSufficient,
    /// Enrolled at a school or university, with resources and health insurance (art. 7 c. 1 c).
    Student,
    /// Family member of an EU citizen who resides by one of the grounds above (art. 7 c. 1 d).
    FamilyMember,
}

impl Grounds {
    /// Every ground.
    pub const ALL: [Grounds; 4] = [Grounds::Worker, Grounds::SelfSufficient, Grounds::Student, Grounds::FamilyMember];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Grounds::Worker => "worker",
            Grounds::SelfSufficient => "self_sufficient",
            Grounds::Student => "student",
            Grounds::FamilyMember => "family_member",
        }
    }

    /// Inverse of [`Grounds::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A kind of evidence a case may need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Evidence {
    /// A valid identity document or passport of the member.
    IdentityDocument,
    /// Proof of employment or self-employment (contract, payslip, chamber of commerce entry).
    Employment,
    /// Proof of sufficient resources (d.lgs. 30/2007 art. 9 c. 3 b, c).
    Resources,
    /// Health insurance covering every risk in Italy (or the EHIC / S1 form).
    HealthInsurance,
    /// Enrolment at a school, university or training course.
    Enrolment,
    /// Proof of the family relationship with the EU citizen who resides (art. 9 c. 5).
    FamilyRelationship,
    /// The registration declaration signed by the adult members (the decree's *modulo di
    /// dichiarazione anagrafica*).
    SignedDeclaration,
}

impl Evidence {
    /// Every kind of evidence.
    pub const ALL: [Evidence; 7] = [
        Evidence::IdentityDocument,
        Evidence::Employment,
        Evidence::Resources,
        Evidence::HealthInsurance,
        Evidence::Enrolment,
        Evidence::FamilyRelationship,
        Evidence::SignedDeclaration,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Evidence::IdentityDocument => "identity_document",
            Evidence::Employment => "employment",
            Evidence::Resources => "resources",
            Evidence::HealthInsurance => "health_insurance",
            Evidence::Enrolment => "enrolment",
            Evidence::FamilyRelationship => "family_relationship",
            Evidence::SignedDeclaration => "signed_declaration",
        }
    }

    /// Inverse of [`Evidence::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The EU once-only technical system can supply it (Reg. (EU) 2018/1724 art. 14): evidence a
    /// member state's authority issues. The signed declaration is the citizen's own.
    pub fn once_only(self) -> bool {
        !matches!(self, Evidence::SignedDeclaration | Evidence::IdentityDocument)
    }
}

/// One line of a case's checklist: a kind of evidence, for one member (by index in the
/// request) or for the whole request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Requirement {
    /// What is needed.
    pub evidence: Evidence,
    /// Whose: the member's index (0 = the applicant), or `None` for the request as a whole.
    pub member: Option<u16>,
}

/// The checklist of a registration request (d.lgs. 30/2007 art. 9): an identity document of
/// every member; by the applicant's grounds, proof of work, or of resources and health
/// insurance (and enrolment, for a student); for each member other than the applicant, proof
/// of the family relationship; the declaration signed by the adults when the family has more
/// than one adult.
pub fn requirements(grounds: Grounds, members: &[MemberFacts]) -> Vec<Requirement> {
    let mut out = Vec::new();
    for (i, _) in members.iter().enumerate() {
        out.push(Requirement { evidence: Evidence::IdentityDocument, member: Some(i as u16) });
    }
    let whole = |evidence| Requirement { evidence, member: None };
    match grounds {
        Grounds::Worker => out.push(whole(Evidence::Employment)),
        Grounds::SelfSufficient => out.extend([whole(Evidence::Resources), whole(Evidence::HealthInsurance)]),
        Grounds::Student => out.extend([whole(Evidence::Enrolment), whole(Evidence::Resources), whole(Evidence::HealthInsurance)]),
        Grounds::FamilyMember => out.push(Requirement { evidence: Evidence::FamilyRelationship, member: Some(0) }),
    }
    for (i, _) in members.iter().enumerate().skip(1) {
        out.push(Requirement { evidence: Evidence::FamilyRelationship, member: Some(i as u16) });
    }
    if members.iter().filter(|m| m.adult).count() > 1 {
        out.push(whole(Evidence::SignedDeclaration));
    }
    out
}

/// What the checklist reads of a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberFacts {
    /// Of age on the day of the request.
    pub adult: bool,
}

/// The file types a case accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MediaType {
    /// `application/pdf` (PAdES-signed or not).
    #[serde(rename = "application/pdf")]
    Pdf,
    /// `image/jpeg` (a scan or photo).
    #[serde(rename = "image/jpeg")]
    Jpeg,
    /// `image/png`.
    #[serde(rename = "image/png")]
    Png,
}

impl MediaType {
    /// The MIME type.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaType::Pdf => "application/pdf",
            MediaType::Jpeg => "image/jpeg",
            MediaType::Png => "image/png",
        }
    }

    /// Inverse of [`MediaType::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        [MediaType::Pdf, MediaType::Jpeg, MediaType::Png].into_iter().find(|m| m.as_str() == s)
    }

    /// The usual file extension.
    pub fn extension(self) -> &'static str {
        match self {
            MediaType::Pdf => "pdf",
            MediaType::Jpeg => "jpg",
            MediaType::Png => "png",
        }
    }
}

/// The largest attachment a case takes (5 MiB: a multi-page scan at 300 dpi).
pub const MAX_ATTACHMENT_BYTES: usize = 5 * 1024 * 1024;
/// The most attachments one case holds.
pub const MAX_ATTACHMENTS: usize = 30;
/// The largest image, in pixels on a side (a bigger one is a decompression bomb, not a scan).
pub const MAX_IMAGE_SIDE: u32 = 12_000;

/// What a file is, read from its bytes (never from its name or the type a browser claims), or
/// why it is refused: empty, too large, not one of the accepted types, an image of absurd size,
/// a PDF that is encrypted or carries active content (JavaScript, launch actions, embedded
/// files). It reads headers only: a hostile file is refused in microseconds.
pub fn sniff(bytes: &[u8]) -> Result<MediaType, Why> {
    if bytes.is_empty() {
        return Err(Why::new("file-empty"));
    }
    if bytes.len() > MAX_ATTACHMENT_BYTES {
        return Err(Why::new("file-too-large").arg("max", MAX_ATTACHMENT_BYTES / (1024 * 1024)));
    }
    if bytes.starts_with(b"%PDF-1.") || bytes.starts_with(b"%PDF-2.") {
        let tail = &bytes[bytes.len().saturating_sub(1024)..];
        if !contains(tail, b"%%EOF") {
            return Err(Why::new("file-pdf-truncated"));
        }
        for (marker, what) in [
            (&b"/JavaScript"[..], "JavaScript"),
            (b"/JS ", "JavaScript"),
            (b"/JS(", "JavaScript"),
            (b"/Launch", "Launch"),
            (b"/EmbeddedFile", "EmbeddedFile"),
            (b"/RichMedia", "RichMedia"),
        ] {
            if contains(bytes, marker) {
                return Err(Why::new("file-pdf-active").arg("what", what));
            }
        }
        if contains(bytes, b"/Encrypt") {
            return Err(Why::new("file-pdf-encrypted"));
        }
        return Ok(MediaType::Pdf);
    }
    if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a]) {
        if bytes.len() < 24 || &bytes[12..16] != b"IHDR" {
            return Err(Why::new("file-image-broken"));
        }
        let w = u32::from_be_bytes([bytes[16], bytes[17], bytes[18], bytes[19]]);
        let h = u32::from_be_bytes([bytes[20], bytes[21], bytes[22], bytes[23]]);
        return image_size(w, h).map(|_| MediaType::Png);
    }
    if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        let (w, h) = jpeg_size(bytes).ok_or_else(|| Why::new("file-image-broken"))?;
        return image_size(w, h).map(|_| MediaType::Jpeg);
    }
    Err(Why::new("file-type"))
}

fn image_size(w: u32, h: u32) -> Result<(), Why> {
    if w == 0 || h == 0 {
        return Err(Why::new("file-image-broken"));
    }
    if w > MAX_IMAGE_SIDE || h > MAX_IMAGE_SIDE {
        return Err(Why::new("file-image-too-big").arg("max", MAX_IMAGE_SIDE));
    }
    Ok(())
}

/// The width and height in a JPEG's first start-of-frame marker.
fn jpeg_size(b: &[u8]) -> Option<(u32, u32)> {
    let mut i = 2;
    while i + 9 < b.len() {
        if b[i] != 0xff {
            return None;
        }
        let marker = b[i + 1];
        if marker == 0xff {
            i += 1;
            continue;
        }
        let len = u16::from_be_bytes([b[i + 2], b[i + 3]]) as usize;
        // SOF0…SOF15 except DHT (C4), JPG (C8) and DAC (CC).
        if (0xc0..=0xcf).contains(&marker) && ![0xc4, 0xc8, 0xcc].contains(&marker) {
            let h = u16::from_be_bytes([b[i + 5], b[i + 6]]) as u32;
            let w = u16::from_be_bytes([b[i + 7], b[i + 8]]) as u32;
            return Some((w, h));
        }
        if len < 2 {
            return None;
        }
        i += 2 + len;
    }
    None
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(state: CaseState, docs: &[DocumentStanding], missing: usize) -> CaseFacts<'_> {
        CaseFacts { state, documents: docs, missing }
    }

    #[test]
    fn a_case_goes_from_submitted_to_an_outcome_only_through_its_steps() {
        let ok = [DocumentStanding { id: 1, verified: Some(true) }];
        let open = [DocumentStanding { id: 1, verified: None }];
        let bad = [DocumentStanding { id: 1, verified: Some(false) }];
        let s = CaseState::Submitted;
        assert_eq!(next_state(&facts(s, &ok, 0), &CaseAction::StartProcedure, ""), Ok(CaseState::InProgress));
        assert_eq!(next_state(&facts(s, &open, 0), &CaseAction::StartProcedure, "").unwrap_err().key(), "case-documents-unverified");
        assert_eq!(next_state(&facts(s, &bad, 0), &CaseAction::StartProcedure, "").unwrap_err().key(), "case-documents-invalid");
        assert_eq!(next_state(&facts(s, &ok, 1), &CaseAction::StartProcedure, "").unwrap_err().key(), "case-documents-missing");
        assert_eq!(next_state(&facts(s, &ok, 0), &CaseAction::Accept, "").unwrap_err().key(), "case-not-started");
        let p = CaseState::InProgress;
        assert_eq!(next_state(&facts(p, &ok, 0), &CaseAction::Accept, ""), Ok(CaseState::Accepted));
        assert_eq!(next_state(&facts(p, &ok, 0), &CaseAction::Reject, " ").unwrap_err().key(), "case-reasons-required");
        assert_eq!(next_state(&facts(p, &ok, 0), &CaseAction::Reject, "no resources"), Ok(CaseState::Rejected));
        assert_eq!(next_state(&facts(s, &open, 3), &CaseAction::DeclareInadmissible, "not ours"), Ok(CaseState::Inadmissible));
        assert_eq!(next_state(&facts(p, &ok, 0), &CaseAction::StartProcedure, "").unwrap_err().key(), "case-already-started");
        assert_eq!(
            next_state(&facts(s, &open, 0), &CaseAction::VerifyDocument { document: 2, valid: true }, "").unwrap_err().key(),
            "case-no-such-document"
        );
        assert_eq!(next_state(&facts(CaseState::Draft, &ok, 0), &CaseAction::Note, "x").unwrap_err().key(), "case-not-submitted");
        for closed in [CaseState::Accepted, CaseState::Rejected, CaseState::Inadmissible] {
            assert_eq!(next_state(&facts(closed, &ok, 0), &CaseAction::Note, "late").unwrap_err().key(), "case-closed");
        }
    }

    #[test]
    fn the_checklist_follows_the_grounds_and_the_family() {
        let adult = MemberFacts { adult: true };
        let child = MemberFacts { adult: false };
        let r = requirements(Grounds::Worker, &[adult, child]);
        let has = |e, m| r.contains(&Requirement { evidence: e, member: m });
        assert!(has(Evidence::IdentityDocument, Some(0)) && has(Evidence::IdentityDocument, Some(1)));
        assert!(has(Evidence::Employment, None) && has(Evidence::FamilyRelationship, Some(1)));
        assert!(!has(Evidence::SignedDeclaration, None), "one adult signs by submitting");
        let r = requirements(Grounds::Student, &[adult, adult]);
        assert!(r.contains(&Requirement { evidence: Evidence::SignedDeclaration, member: None }));
        assert!(r.contains(&Requirement { evidence: Evidence::HealthInsurance, member: None }));
        assert_eq!(r.len(), 2 + 3 + 1 + 1);
    }

    #[test]
    fn files_are_judged_by_their_bytes() {
        assert_eq!(sniff(b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"), Ok(MediaType::Pdf));
        assert_eq!(sniff(b"%PDF-1.7\n<</S/JavaScript/JS(app.alert(1))>>\n%%EOF").unwrap_err().key(), "file-pdf-active");
        assert_eq!(sniff(b"%PDF-1.7\n<</Encrypt 5 0 R>>\n%%EOF").unwrap_err().key(), "file-pdf-encrypted");
        assert_eq!(sniff(b"%PDF-1.7\n1 0 obj").unwrap_err().key(), "file-pdf-truncated");
        assert_eq!(sniff(b"MZ\x90\x00 an executable").unwrap_err().key(), "file-type");
        assert_eq!(sniff(b"").unwrap_err().key(), "file-empty");
        assert_eq!(sniff(&vec![b'%'; MAX_ATTACHMENT_BYTES + 1]).unwrap_err().key(), "file-too-large");
        let mut png = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13];
        png.extend_from_slice(b"IHDR");
        png.extend_from_slice(&800u32.to_be_bytes());
        png.extend_from_slice(&600u32.to_be_bytes());
        assert_eq!(sniff(&png), Ok(MediaType::Png));
        png[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        assert_eq!(sniff(&png).unwrap_err().key(), "file-image-too-big");
        // A JPEG: SOI, an APP0 of 16 bytes, SOF0 with height 480 and width 640.
        let mut jpg = vec![0xff, 0xd8, 0xff, 0xe0, 0, 16];
        jpg.extend_from_slice(&[0; 14]);
        jpg.extend_from_slice(&[0xff, 0xc0, 0, 17, 8, 0x01, 0xe0, 0x02, 0x80, 3]);
        jpg.extend_from_slice(&[0; 12]);
        assert_eq!(sniff(&jpg), Ok(MediaType::Jpeg));
        assert_eq!(sniff(&[0xff, 0xd8, 0xff, 0x00]).unwrap_err().key(), "file-image-broken");
    }

    #[test]
    fn names_round_trip() {
        for k in CaseKind::ALL {
            assert_eq!(CaseKind::parse(k.as_str()), Some(k));
        }
        for s in CaseState::ALL {
            assert_eq!(CaseState::parse(s.as_str()), Some(s));
        }
        for e in Evidence::ALL {
            assert_eq!(Evidence::parse(e.as_str()), Some(e));
        }
        for g in Grounds::ALL {
            assert_eq!(Grounds::parse(g.as_str()), Some(g));
        }
        assert_eq!(due_date(CaseKind::EuRegistration, NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()).to_string(), "2027-01-15");
    }
}
