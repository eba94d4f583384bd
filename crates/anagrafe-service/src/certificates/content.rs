//! What each certificate says (CRT-1), computed from the record as of the issue date (or the
//! reference date of type 20), in Italian and the comune's second language (CRT-5).

use super::{CertError, Certificates};
use anagrafe_docs::model::{Document, Issuer, Row, Section, Table, Text};
use anagrafe_domain::certificate::{self, HeldResidence, HouseholdFacts, Stamp};
use anagrafe_domain::decode::DecodeTable;
use anagrafe_domain::{BirthPlace, Country, DatePrecision, Household, PartialDate, PersonRecord, RefData, Residence};
use anagrafe_store::{Store, StoreError};
use chrono::{DateTime, Datelike, NaiveDate, Utc};

/// Languages a certificate can carry besides Italian.
const LANGS: [&str; 4] = ["it", "de", "fr", "sl"];

/// Labels and fixed texts, in Italian, German, French and Slovenian.
const LABELS: &[(&str, [&str; 4])] = &[
    ("data", ["Dati anagrafici", "Meldedaten", "Données personnelles", "Osebni podatki"]),
    ("surname", ["Cognome", "Nachname", "Nom", "Priimek"]),
    ("name", ["Nome", "Vorname", "Prénom", "Ime"]),
    ("sex", ["Sesso", "Geschlecht", "Sexe", "Spol"]),
    ("birth_date", ["Data di nascita", "Geburtsdatum", "Date de naissance", "Datum rojstva"]),
    ("birth_place", ["Luogo di nascita", "Geburtsort", "Lieu de naissance", "Kraj rojstva"]),
    ("cf", ["Codice fiscale", "Steuernummer", "Code fiscal", "Davčna številka"]),
    ("id_anpr", ["ID ANPR", "ID ANPR", "ID ANPR", "ID ANPR"]),
    ("residence", ["Residenza", "Wohnsitz", "Résidence", "Prebivališče"]),
    ("address", ["Indirizzo", "Anschrift", "Adresse", "Naslov"]),
    ("comune", ["Comune", "Gemeinde", "Commune", "Občina"]),
    ("since", ["Dal", "Seit", "Depuis le", "Od"]),
    ("from", ["Dal", "Vom", "Du", "Od"]),
    ("to", ["Al", "Bis", "Au", "Do"]),
    ("citizenship", ["Cittadinanza", "Staatsbürgerschaft", "Nationalité", "Državljanstvo"]),
    ("citizenships", ["Cittadinanze", "Staatsbürgerschaften", "Nationalités", "Državljanstva"]),
    ("civil_status", ["Stato civile", "Familienstand", "État civil", "Zakonski stan"]),
    ("family", ["Famiglia anagrafica", "Meldefamilie", "Famille", "Družina"]),
    ("cohabitation", ["Convivenza anagrafica", "Lebensgemeinschaft", "Communauté", "Skupnost"]),
    ("member", ["Cognome e nome", "Nach- und Vorname", "Nom et prénom", "Priimek in ime"]),
    (
        "relation",
        ["Rapporto con l'intestatario", "Verhältnis zum Haushaltsvorstand", "Lien avec le chef de famille", "Razmerje do nosilca"],
    ),
    ("death", ["Dati di morte", "Sterbedaten", "Décès", "Podatki o smrti"]),
    ("death_date", ["Data di morte", "Sterbedatum", "Date du décès", "Datum smrti"]),
    ("death_place", ["Luogo di morte", "Sterbeort", "Lieu du décès", "Kraj smrti"]),
    ("cancellation", ["Cancellazione anagrafica", "Löschung aus dem Melderegister", "Radiation", "Izbris iz registra"]),
    ("cancel_date", ["Data di cancellazione", "Löschungsdatum", "Date de radiation", "Datum izbrisa"]),
    ("aire", ["Iscrizione all'AIRE", "Eintragung im AIRE", "Inscription à l'AIRE", "Vpis v AIRE"]),
    ("aire_comune", ["Comune di iscrizione AIRE", "AIRE-Gemeinde", "Commune d'inscription AIRE", "Občina vpisa AIRE"]),
    ("state", ["Stato estero", "Ausland", "État étranger", "Tuja država"]),
    ("locality", ["Località", "Ort", "Localité", "Kraj"]),
    ("consulate", ["Consolato", "Konsulat", "Consulat", "Konzulat"]),
    ("residences", ["Residenze", "Wohnsitze", "Résidences", "Prebivališča"]),
    ("as_of", ["Situazione alla data del", "Stand zum", "Situation à la date du", "Stanje na dan"]),
    ("status", ["Posizione anagrafica", "Meldestatus", "Situation", "Status"]),
    (
        "intro",
        [
            "L'ufficiale d'anagrafe, visti gli atti d'ufficio, certifica che:",
            "Der Meldebeamte bescheinigt aufgrund der Amtsakten:",
            "L'officier de l'état civil, vu les actes de l'office, certifie que :",
            "Matičar na podlagi uradnih listin potrjuje:",
        ],
    ),
    (
        "alive",
        [
            "la persona sopra indicata risulta in vita alla data di rilascio.",
            "die oben genannte Person ist am Ausstellungstag am Leben.",
            "la personne indiquée ci-dessus est en vie à la date de délivrance.",
            "je zgoraj navedena oseba na dan izdaje živa.",
        ],
    ),
    (
        "free",
        [
            "la persona sopra indicata è di stato libero.",
            "die oben genannte Person ist nicht verheiratet und lebt in keiner eingetragenen Lebenspartnerschaft.",
            "la personne indiquée ci-dessus est libre de tout lien matrimonial.",
            "zgoraj navedena oseba ni poročena niti v registrirani partnerski zvezi.",
        ],
    ),
    (
        "art40",
        [
            "Il presente certificato non può essere prodotto agli organi della pubblica amministrazione o ai privati gestori di pubblici servizi (art. 40 D.P.R. 445/2000).",
            "Diese Bescheinigung darf Organen der öffentlichen Verwaltung und privaten Betreibern öffentlicher Dienste nicht vorgelegt werden (Art. 40 DPR 445/2000).",
            "Le présent certificat ne peut être produit auprès des administrations publiques ni des gestionnaires privés de services publics (art. 40 D.P.R. 445/2000).",
            "Tega potrdila ni dovoljeno predložiti organom javne uprave ali zasebnim izvajalcem javnih storitev (čl. 40 O.P.R. 445/2000).",
        ],
    ),
    (
        "sealed",
        [
            "Documento sigillato elettronicamente dall'Anagrafe nazionale; la copia stampata si verifica con il contrassegno.",
            "Vom nationalen Melderegister elektronisch versiegeltes Dokument; die gedruckte Kopie wird mit dem Prüfzeichen überprüft.",
            "Document scellé électroniquement par le registre national ; la copie imprimée se vérifie au moyen du code.",
            "Dokument je elektronsko zapečatil nacionalni register; natisnjeno kopijo preverite s kodo.",
        ],
    ),
    ("valid_until", ["Valido fino al", "Gültig bis", "Valable jusqu'au", "Velja do"]),
    (
        "verify",
        [
            "Verifica dell'originale: inquadra il codice QR oppure carica la sua immagine su",
            "Überprüfung des Originals: QR-Code scannen oder sein Bild hochladen auf",
            "Vérification de l'original : scannez le code QR ou téléversez son image sur",
            "Preverjanje izvirnika: skenirajte kodo QR ali naložite njeno sliko na",
        ],
    ),
    ("combined", ["Certificato contestuale", "Kombinierte Bescheinigung", "Certificat combiné", "Združeno potrdilo"]),
];

/// Certificate titles by tab. 13 code.
const TITLES: [(u16, [&str; 4]); 20] = [
    (1, ["Certificato anagrafico di nascita", "Geburtsbescheinigung", "Certificat de naissance", "Potrdilo o rojstvu"]),
    (2, ["Certificato anagrafico di morte", "Sterbebescheinigung", "Certificat de décès", "Potrdilo o smrti"]),
    (3, ["Certificato anagrafico di matrimonio", "Heiratsbescheinigung", "Certificat de mariage", "Potrdilo o poroki"]),
    (4, ["Certificato di cancellazione anagrafica", "Bescheinigung über die Löschung", "Certificat de radiation", "Potrdilo o izbrisu"]),
    (5, ["Certificato di cittadinanza", "Staatsbürgerschaftsbescheinigung", "Certificat de nationalité", "Potrdilo o državljanstvu"]),
    (
        6,
        [
            "Certificato storico di cittadinanza",
            "Historische Staatsbürgerschaftsbescheinigung",
            "Certificat historique de nationalité",
            "Zgodovinsko potrdilo o državljanstvu",
        ],
    ),
    (7, ["Certificato di esistenza in vita", "Lebensbescheinigung", "Certificat de vie", "Potrdilo o življenju"]),
    (8, ["Certificato di residenza", "Wohnsitzbescheinigung", "Certificat de résidence", "Potrdilo o prebivališču"]),
    (
        9,
        [
            "Certificato storico di residenza",
            "Historische Wohnsitzbescheinigung",
            "Certificat historique de résidence",
            "Zgodovinsko potrdilo o prebivališču",
        ],
    ),
    (10, ["Certificato di residenza AIRE", "AIRE-Wohnsitzbescheinigung", "Certificat de résidence AIRE", "Potrdilo o prebivališču AIRE"]),
    (11, ["Certificato di stato civile", "Familienstandsbescheinigung", "Certificat d'état civil", "Potrdilo o zakonskem stanu"]),
    (12, ["Certificato di stato di famiglia", "Familienbogen", "Certificat de composition de la famille", "Potrdilo o družinskem stanju"]),
    (
        13,
        [
            "Certificato di stato di famiglia e di stato civile",
            "Familienbogen und Familienstand",
            "Certificat de famille et d'état civil",
            "Potrdilo o družinskem in zakonskem stanu",
        ],
    ),
    (
        14,
        [
            "Certificato di residenza in convivenza",
            "Wohnsitzbescheinigung in Lebensgemeinschaft",
            "Certificat de résidence en communauté",
            "Potrdilo o prebivališču v skupnosti",
        ],
    ),
    (
        15,
        ["Certificato di stato di famiglia AIRE", "AIRE-Familienbogen", "Certificat de famille AIRE", "Potrdilo o družinskem stanju AIRE"],
    ),
    (
        16,
        [
            "Certificato di stato di famiglia con rapporti di parentela",
            "Familienbogen mit Verwandtschaftsverhältnissen",
            "Certificat de famille avec liens de parenté",
            "Potrdilo o družinskem stanju s sorodstvenimi razmerji",
        ],
    ),
    (17, ["Certificato di stato libero", "Ledigenbescheinigung", "Certificat de célibat", "Potrdilo o samskem stanu"]),
    (
        18,
        [
            "Certificato anagrafico di unione civile",
            "Bescheinigung der eingetragenen Lebenspartnerschaft",
            "Certificat d'union civile",
            "Potrdilo o registrirani partnerski zvezi",
        ],
    ),
    (
        19,
        [
            "Certificato di contratto di convivenza",
            "Bescheinigung über den Lebensgemeinschaftsvertrag",
            "Certificat de contrat de cohabitation",
            "Potrdilo o pogodbi o skupnem življenju",
        ],
    ),
    (
        20,
        [
            "Certificato storico di residenza alla data",
            "Historische Wohnsitzbescheinigung zum Stichtag",
            "Certificat historique de résidence à une date",
            "Zgodovinsko potrdilo o prebivališču na dan",
        ],
    ),
];

/// Texts of a certificate in its languages.
pub(crate) struct Lang(Vec<usize>);

impl Lang {
    fn new(langs: &[String]) -> Self {
        Lang(langs.iter().filter_map(|l| LANGS.iter().position(|x| x == l)).collect())
    }
    fn pick(&self, texts: &[&str; 4]) -> Text {
        self.0.iter().map(|&i| texts[i].to_owned()).collect()
    }
    fn l(&self, key: &str) -> Text {
        match LABELS.iter().find(|(k, _)| *k == key) {
            Some((_, t)) => self.pick(t),
            None => vec![key.to_owned()],
        }
    }
    fn with(&self, key: &str, value: &str) -> Text {
        self.l(key).into_iter().map(|t| format!("{t} {value}")).collect()
    }
}

fn title_of(code: u16) -> &'static [&'static str; 4] {
    TITLES.iter().find(|(c, _)| *c == code).map_or(&TITLES[7].1, |(_, t)| t)
}

/// A certificate request: whom, which types, as of when, in which languages.
#[derive(Debug, Clone)]
pub struct Request {
    /// Internal id of the person.
    pub person_id: i64,
    /// Tab. 13 codes (several: a combined certificate).
    pub types: Vec<u16>,
    /// Reference date (type 20 only).
    pub reference_date: Option<NaiveDate>,
    /// Second language asked for (`it`: Italian only); `None`: the comune's own.
    pub lang: Option<String>,
    /// Asked by a former resident through eIDAS (EU-3): the birth certificate's own rules
    /// replace the checks of type 1.
    pub former_eu: bool,
}

/// A document ready to render, with what the register records about it.
pub(crate) struct Prepared {
    pub doc: Document,
    pub subject_cf: Option<String>,
    pub langs: Vec<String>,
}

fn store_refusal(e: StoreError, on: NaiveDate) -> CertError {
    match e {
        StoreError::NotFound(_) => CertError::Refused(certificate::Refusal {
            code: "EN042",
            reason: format!("Soggetto da certificare non presente in ANPR alla data del {}", dmy(on)),
        }),
        other => CertError::Store(other),
    }
}

/// The subject's record on `as_of`, their household on that date and its facts as the blocking
/// checks read them.
pub(crate) async fn subject_on(
    store: &dyn Store,
    person_id: i64,
    as_of: NaiveDate,
) -> Result<(anagrafe_store::PersonView, Option<anagrafe_store::FamilyView>, Option<HouseholdFacts>), CertError> {
    let view = store.person(person_id, Some(as_of)).await.map_err(|e| store_refusal(e, as_of))?;
    let family = match view.record.household {
        Some(Household::Family { family_id, .. } | Household::Cohabitation { family_id, .. }) => {
            Some(store.family(family_id, Some(as_of)).await.map_err(|e| store_refusal(e, as_of))?)
        }
        None => None,
    };
    let facts = family.as_ref().map(|f| HouseholdFacts {
        cohabitation: !matches!(f.kind, anagrafe_domain::HouseholdKind::Family),
        members: f.members.len(),
        has_head: f.members.iter().any(|m| m.relation == 1),
        relations: f.members.iter().map(|m| m.relation).collect(),
    });
    Ok((view, family, facts))
}

/// Checks the request against the record and builds the document.
pub(crate) async fn prepare(
    certs: &Certificates,
    store: &dyn Store,
    req: &Request,
    now: DateTime<Utc>,
    office: Option<anagrafe_domain::Belfiore>,
    stamp: Option<&Stamp>,
) -> Result<Prepared, CertError> {
    certificate::check_combination(&req.types).map_err(CertError::Refused)?;
    let today = anagrafe_domain::ops::italian_date(now);
    let as_of = match (req.types.as_slice(), req.reference_date) {
        ([20], Some(d)) if d <= today => d,
        ([20], Some(_)) => return Err(CertError::Field("reference_date", "is in the future".into())),
        ([20], None) => {
            return Err(CertError::Field("reference_date", "is required by the historical residence at a date (type 20)".into()));
        }
        (_, Some(_)) => return Err(CertError::Field("reference_date", "applies to type 20 only".into())),
        _ => today,
    };
    let (view, family, facts) = subject_on(store, req.person_id, as_of).await?;
    let r = &view.record;
    if req.former_eu {
        let history = store.history(view.id).await?;
        let held: Vec<HeldResidence> =
            history.residences.iter().map(|d| HeldResidence { comune: d.value.competent_comune(), from: d.from, to: d.to }).collect();
        certificate::check_former_birth(&req.types, r, &held, today, &RefData::current()).map_err(CertError::Refused)?;
    } else {
        for t in &req.types {
            certificate::check_subject(*t, r, facts.as_ref()).map_err(CertError::Refused)?;
        }
    }
    if let Some(s) = stamp {
        s.check().map_err(|e| {
            CertError::Field(if e.field == "stamp.code" { "stamp.code" } else { "stamp.description" }, e.reason.to_string())
        })?;
    }
    let refdata = RefData::current();
    let competent =
        refdata.comune_at(r.residence.competent_comune(), as_of).or_else(|| refdata.comune_history(r.residence.competent_comune()).last());
    let mut langs = vec!["it".to_owned()];
    match req.lang.as_deref() {
        None => {
            if let Some(second) = competent.and_then(certificate::second_language) {
                langs.push(second.to_owned());
            }
        }
        Some("it") => {}
        Some(l) if LANGS.contains(&l) => langs.push(l.to_owned()),
        Some(_) => return Err(CertError::Field("lang", "must be it, de, fr or sl".into())),
    }
    let lang = Lang::new(&langs);
    let office_comune = office.and_then(|c| refdata.comune_at(c, today));
    let office_text: Text = match office_comune {
        Some(c) => {
            let second = certificate::second_language(c).map(str::to_owned);
            langs
                .iter()
                .map(|l| match l.as_str() {
                    "it" => format!("Comune di {} - Ufficio anagrafe", c.name),
                    "de" if second.as_deref() == Some("de") => format!("Gemeinde {} - Meldeamt", c.alt_name.as_deref().unwrap_or(&c.name)),
                    "de" => format!("Gemeinde {} - Meldeamt", c.name),
                    "fr" => format!("Commune de {} - Bureau de l'état civil", c.alt_name.as_deref().unwrap_or(&c.name)),
                    _ => format!("Občina {} - Matični urad", c.alt_name.as_deref().unwrap_or(&c.name)),
                })
                .collect()
        }
        None => langs
            .iter()
            .map(|l| match l.as_str() {
                "it" => "Servizio online dell'Anagrafe nazionale".to_owned(),
                "de" => "Online-Dienst des nationalen Melderegisters".to_owned(),
                "fr" => "Service en ligne du registre national".to_owned(),
                _ => "Spletna storitev nacionalnega registra".to_owned(),
            })
            .collect(),
    };

    // Every fact the types need is read once, whatever the combination, then laid out.
    let history = if req.types.iter().any(|t| matches!(t, 4 | 6 | 9)) { Some(store.history(view.id).await?) } else { None };
    let mut members = Vec::new();
    if let Some(f) = family.as_ref().filter(|_| req.types.iter().any(|t| matches!(t, 12 | 13 | 15 | 16))) {
        for m in &f.members {
            let mv = if m.person_id == view.id { view.clone() } else { store.person(m.person_id, Some(as_of)).await? };
            members.push((mv, m.relation));
        }
    }
    let facts = Facts {
        record: r,
        cohabitation: family.as_ref().and_then(|f| match f.kind {
            anagrafe_domain::HouseholdKind::Cohabitation { specie } => Some(specie),
            _ => None,
        }),
        in_household: family.is_some(),
        residences: history.as_ref().map(|h| h.residences.as_slice()),
        citizenships: history.as_ref().map(|h| h.citizenships.as_slice()),
        members: members.iter().map(|(mv, rel)| (&mv.record, *rel)).collect(),
        as_of,
    };
    let mut sections = vec![generalita(&lang, r, &refdata)];
    let mut tables = Vec::new();
    let mut notes: Vec<Text> = Vec::new();
    for t in &req.types {
        type_content(*t, &lang, &refdata, &facts, &mut sections, &mut tables, &mut notes);
    }
    let title = if req.types.len() == 1 {
        lang.pick(title_of(req.types[0]))
    } else {
        let mut t = lang.l("combined");
        for (i, line) in t.iter_mut().enumerate() {
            let names: Vec<&str> = req.types.iter().map(|c| title_of(*c)[lang.0[i]]).collect();
            *line = format!("{line}: {}", names.join(", "));
        }
        t
    };
    if req.types != [20] && as_of != today {
        sections.push(Section { title: lang.l("as_of"), rows: vec![Row { label: lang.l("as_of"), value: dmy(as_of) }] });
    }
    notes.push(lang.l("art40"));
    let stamp_text = stamp.map(|s| vec![s.printed()]).unwrap_or_else(|| vec!["Imposta di bollo: da assolvere al rilascio.".to_owned()]);
    let local = anagrafe_domain::ops::italian_time(now);
    Ok(Prepared {
        doc: Document {
            langs: langs.clone(),
            ident: String::new(),
            issuer: Issuer {
                heading: certs.branding.heading.clone(),
                administration: certs.branding.administration.clone(),
                office: office_text,
            },
            title,
            intro: lang.l("intro"),
            sections,
            tables,
            notes,
            stamp: stamp_text,
            issued_at: now,
            issued_text: local.format("%d/%m/%Y %H:%M").to_string(),
            valid_until: None,
            number: None,
            verify_hint: None,
            preview: true,
        },
        subject_cf: r.generalita.codice_fiscale.map(|c| c.as_str().to_owned()),
        langs,
    })
}

/// Fills in what only an issued certificate carries.
pub(crate) fn finish(certs: &Certificates, doc: &mut Document, number: &str, expires_on: NaiveDate) {
    let lang = Lang::new(&doc.langs);
    doc.preview = false;
    doc.ident = number.to_owned();
    doc.number = Some(format!("Certificato n. {number}"));
    doc.valid_until = Some(lang.with("valid_until", &dmy(expires_on)));
    doc.verify_hint = Some(lang.with("verify", &format!("{}/verifica", certs.public_url.trim_end_matches('/'))));
    doc.notes.push(lang.l("sealed"));
}

/// What a registry extract (*visura*, VIS-10) prints besides the subject's data.
pub(crate) struct ExtractHeading<'a> {
    /// The comune whose register answers.
    pub comune: anagrafe_domain::Belfiore,
    /// "Visura di Residenza".
    pub title: &'a str,
    /// The certificate type (tab. 13) whose content it shows.
    pub cert_type: u16,
    /// "H501/2026/0000123".
    pub protocol: String,
    /// When it was issued.
    pub issued_at: DateTime<Utc>,
    /// Who asked, and for which organisation.
    pub requester: &'a str,
    pub organisation: &'a str,
    /// Who approved it, in words, when a mediator or silence did.
    pub mediator: Option<String>,
    /// The subject's registration in the comune: date and reason.
    pub registered: Option<(NaiveDate, String)>,
    /// The subject's cancellation from the register: date and reason.
    pub cancelled: Option<(NaiveDate, String)>,
}

/// The legal references an extract opens with (the INDAGOR example, `seeds/004`; the decree of
/// the President of the Council of Ministers on ANPR is n. 109 of 2013).
const EXTRACT_PREAMBLE: [&str; 6] = [
    "Vista l'Anagrafe nazionale della popolazione residente (ANPR), disciplinata dall'art. 62 del d.lgs. 82/2005 e successive modificazioni;",
    "visti i d.P.C.M. 109/2013 e 194/2014;",
    "visti la legge 1228/1954 e il d.P.R. 223/1989;",
    "vista la legge 241/1990, in particolare l'art. 3-bis (uso della telematica) e l'art. 18 (autocertificazione);",
    "visto il d.P.R. 445/2000, in particolare gli artt. 43 (accertamenti d'ufficio), 71 (modalità dei controlli) e 72 (responsabilità in materia di accertamenti d'ufficio),",
    "risultano dall'Anagrafe i seguenti dati:",
];

/// What the extract's holder may do with it.
const EXTRACT_VALUE: [&str; 2] = [
    "Il presente documento anagrafico digitale è rilasciato alle pubbliche amministrazioni e ai gestori di pubblici servizi (art. 1, comma 1, lett. o), d.P.R. 445/2000 e art. 1, comma 2, d.lgs. 165/2001) e ha valore probatorio di riproduzione informatica ai sensi dell'art. 2712 del codice civile.",
    "Non è un certificato: non è soggetto all'imposta di bollo e non reca contrassegno. È sigillato elettronicamente dall'Anagrafe nazionale; il sigillo si verifica sul file PDF originale.",
];

/// Lays out a registry extract: the subject's data as [`type_content`] gives them for the
/// certificate type it shows, the cancellation when the subject is cancelled, and the extract's
/// own particulars. Italian only; no stamp duty, no contrassegno.
pub(crate) fn extract_document(certs: &Certificates, h: &ExtractHeading<'_>, facts: &Facts<'_>) -> Document {
    let refdata = RefData::current();
    let langs = vec!["it".to_owned()];
    let lang = Lang::new(&langs);
    let it = |s: &str| vec![s.to_owned()];
    let row = |label: &str, value: String| Row { label: it(label), value };
    let r = facts.record;
    let mut data = generalita(&lang, r, &refdata);
    data.rows.push(row("Soggetto AIRE", if r.status == anagrafe_domain::RegisterStatus::Aire { "Sì" } else { "No" }.to_owned()));
    let mut sections = vec![data];
    let mut tables = Vec::new();
    let mut notes: Vec<Text> = Vec::new();
    let residence_since = facts.residences.and_then(|h| h.last()).map(|d| dmy(d.from));
    let mut registration_rows = Vec::new();
    if let Some((on, why)) = &h.registered {
        registration_rows.push(row("Data iscrizione", dmy(*on)));
        registration_rows.push(row("Motivo", why.clone()));
    }
    match &h.cancelled {
        Some((on, why)) => {
            sections.push(Section {
                title: it("Risulta cancellato/a con i seguenti dati"),
                rows: vec![row("Data", dmy(*on)), row("Motivo", why.clone())],
            });
            let mut rows = vec![row("Indirizzo", residence_line(&refdata, &r.residence, facts.as_of))];
            if let Some(since) = &residence_since {
                rows.push(row("Data decorrenza", since.clone()));
            }
            rows.extend(registration_rows);
            sections.push(Section { title: it("Sino alla data di cancellazione risulta iscritto/a con i seguenti dati"), rows });
            // The residence types would repeat the last address as if it held.
            if !matches!(h.cert_type, 8 | 10) {
                type_content(h.cert_type, &lang, &refdata, facts, &mut sections, &mut tables, &mut notes);
            }
        }
        None => {
            type_content(h.cert_type, &lang, &refdata, facts, &mut sections, &mut tables, &mut notes);
            if matches!(h.cert_type, 8 | 10) {
                if let Some(since) = residence_since {
                    registration_rows.insert(0, row("Data decorrenza", since));
                }
                if !registration_rows.is_empty() {
                    sections.push(Section { title: it("Iscrizione anagrafica"), rows: registration_rows });
                }
            }
        }
    }
    let local = anagrafe_domain::ops::italian_time(h.issued_at);
    let mut particulars = vec![
        row("Data", local.format("%d/%m/%Y %H:%M").to_string()),
        row("Protocollo ANPR", h.protocol.clone()),
        row("Richiesto da", h.requester.to_owned()),
        row("Organizzazione", h.organisation.to_owned()),
    ];
    if let Some(m) = &h.mediator {
        particulars.push(row("Mediatore ANPR", m.clone()));
    }
    sections.push(Section { title: it("Estremi della visura"), rows: particulars });
    notes.extend(EXTRACT_VALUE.iter().map(|n| it(n)));
    let office = match refdata.comune_at(h.comune, facts.as_of).or_else(|| refdata.comune_history(h.comune).last()) {
        Some(c) => format!("Comune di {}", c.name),
        None => format!("Comune {}", h.comune),
    };
    Document {
        langs,
        ident: format!("visura-{}", h.protocol.replace('/', "-")),
        issuer: Issuer {
            heading: certs.branding.heading.clone(),
            administration: certs.branding.administration.clone(),
            office: it(&office),
        },
        title: it(h.title),
        intro: EXTRACT_PREAMBLE.iter().map(|l| (*l).to_owned()).collect(),
        sections,
        tables,
        notes,
        stamp: Vec::new(),
        issued_at: h.issued_at,
        issued_text: local.format("%d/%m/%Y %H:%M").to_string(),
        valid_until: None,
        number: Some(format!("Protocollo ANPR {}", h.protocol)),
        verify_hint: None,
        preview: false,
    }
}

/// What a certificate's or an extract's content is made of, read once from the register (or,
/// for an extract, from what was kept when it was issued).
pub(crate) struct Facts<'a> {
    pub record: &'a PersonRecord,
    /// The household is a cohabitation of this kind (tab. 27).
    pub cohabitation: Option<anagrafe_domain::decode::SpecieConvivenza>,
    /// The subject belongs to a family or cohabitation.
    pub in_household: bool,
    /// Residences, oldest first (the historical types and the cancellation's date).
    pub residences: Option<&'a [anagrafe_store::Dated<Residence>]>,
    /// Citizenships, oldest first (the historical citizenship).
    pub citizenships: Option<&'a [anagrafe_store::Dated<Country>]>,
    /// The household's members as of the date, with their relation to the head.
    pub members: Vec<(&'a PersonRecord, u16)>,
    pub as_of: NaiveDate,
}

/// Lays out what type `t` adds to the certificate.
pub(crate) fn type_content(
    t: u16,
    lang: &Lang,
    refdata: &RefData,
    facts: &Facts<'_>,
    sections: &mut Vec<Section>,
    tables: &mut Vec<Table>,
    notes: &mut Vec<Text>,
) {
    let (r, as_of) = (facts.record, facts.as_of);
    let row = |k: &str, v: String| Row { label: lang.l(k), value: v };
    match t {
        1 => {} // the birth data are in the personal data section
        2 => {
            if let Some(d) = &r.death {
                let place = d.place.map(|p| place_name(refdata, p, d.date.first_day())).unwrap_or_default();
                let place = match &d.locality {
                    Some(l) if !place.is_empty() => format!("{l} ({place})"),
                    Some(l) => l.to_string(),
                    None => place,
                };
                sections
                    .push(Section { title: lang.l("death"), rows: vec![row("death_date", partial(&d.date)), row("death_place", place)] });
            }
        }
        4 => {
            let closed = facts.residences.and_then(|h| h.iter().filter_map(|d| d.to).max());
            sections.push(Section {
                title: lang.l("cancellation"),
                rows: vec![
                    row("cancel_date", closed.map(dmy).unwrap_or_default()),
                    row("residence", residence_line(refdata, &r.residence, as_of)),
                ],
            });
        }
        5 => sections
            .push(Section { title: lang.l("citizenship"), rows: vec![row("citizenship", citizenships(refdata, &r.citizenships, as_of))] }),
        6 => {
            let Some(h) = facts.citizenships else { return };
            tables.push(Table {
                title: lang.l("citizenships"),
                head: vec![lang.l("citizenship"), lang.l("from"), lang.l("to")],
                rows: h
                    .iter()
                    .map(|c| vec![citizenships(refdata, &[c.value], c.from), dmy(c.from), c.to.map(dmy).unwrap_or_default()])
                    .collect(),
            });
        }
        7 => notes.push(lang.l("alive")),
        8 | 14 | 20 => {
            let mut rows = vec![row("residence", residence_line(refdata, &r.residence, as_of))];
            if let Some(specie) = facts.cohabitation.filter(|_| t == 14) {
                rows.push(row("cohabitation", specie.description().to_owned()));
            }
            if t == 20 {
                rows.push(row("as_of", dmy(as_of)));
            }
            sections.push(Section { title: lang.l("residence"), rows });
        }
        9 => {
            let Some(h) = facts.residences else { return };
            tables.push(Table {
                title: lang.l("residences"),
                head: vec![lang.l("address"), lang.l("from"), lang.l("to")],
                rows: h
                    .iter()
                    .map(|d| vec![residence_line(refdata, &d.value, d.from), dmy(d.from), d.to.map(dmy).unwrap_or_default()])
                    .collect(),
            });
        }
        10 | 15 if t == 10 => {
            if let Residence::Abroad { address, aire_comune } = &r.residence {
                let mut rows = vec![
                    row("state", place_name(refdata, address.state, as_of)),
                    row("locality", address.locality.to_string()),
                    row(
                        "address",
                        [address.address.as_deref(), address.postcode.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(", "),
                    ),
                    row("aire_comune", place_name(refdata, *aire_comune, as_of)),
                ];
                if let Some(c) = &address.consulate {
                    rows.push(row("consulate", c.to_string()));
                }
                sections.push(Section { title: lang.l("aire"), rows });
            }
        }
        11 => sections
            .push(Section { title: lang.l("civil_status"), rows: vec![row("civil_status", r.civil_status.description().to_owned())] }),
        17 => {
            sections
                .push(Section { title: lang.l("civil_status"), rows: vec![row("civil_status", r.civil_status.description().to_owned())] });
            notes.push(lang.l("free"));
        }
        12 | 13 | 15 | 16 => {
            if !facts.in_household {
                return;
            }
            let mut head = vec![lang.l("member"), lang.l("birth_date"), lang.l("birth_place")];
            if t == 13 {
                head.push(lang.l("civil_status"));
            }
            if t == 15 || t == 16 {
                head.push(lang.l("relation"));
            }
            let mut rows = Vec::new();
            for (member, relation) in &facts.members {
                let g = &member.generalita;
                let mut cells =
                    vec![full_name(member), partial(&g.birth_date), birth_place(refdata, &g.birth_place, g.birth_date.first_day())];
                if t == 13 {
                    cells.push(member.civil_status.description().to_owned());
                }
                if t == 15 || t == 16 {
                    cells.push(
                        anagrafe_domain::decode::RelazioneParentela::from_code(*relation)
                            .map(|x| x.description().to_owned())
                            .unwrap_or_else(|| relation.to_string()),
                    );
                }
                rows.push(cells);
            }
            tables.push(Table { title: lang.l("family"), head, rows });
        }
        _ => {}
    }
}

pub(crate) fn generalita(lang: &Lang, r: &PersonRecord, refdata: &RefData) -> Section {
    let g = &r.generalita;
    let row = |k: &str, v: String| Row { label: lang.l(k), value: v };
    let mut rows = vec![
        row("surname", g.name.surname().unwrap_or("-").to_uppercase()),
        row("name", g.name.given().unwrap_or("-").to_uppercase()),
        row("sex", g.sex.as_str().to_owned()),
        row("birth_date", partial(&g.birth_date)),
        row("birth_place", birth_place(refdata, &g.birth_place, g.birth_date.first_day())),
    ];
    if let Some(cf) = g.codice_fiscale {
        rows.push(row("cf", cf.as_str().to_owned()));
    }
    if let Some(id) = r.id_anpr {
        rows.push(row("id_anpr", id.to_string()));
    }
    Section { title: lang.l("data"), rows }
}

fn full_name(r: &PersonRecord) -> String {
    let n = &r.generalita.name;
    [n.surname(), n.given()].into_iter().flatten().collect::<Vec<_>>().join(" ").to_uppercase()
}

/// `dd/mm/yyyy`, as Italian certificates print dates.
pub fn dmy(d: NaiveDate) -> String {
    format!("{:02}/{:02}/{:04}", d.day(), d.month(), d.year())
}

/// A possibly partial date as certificates print it (`dd/mm/yyyy`, `mm/yyyy` or `yyyy`).
pub fn partial(d: &PartialDate) -> String {
    let f = d.first_day();
    match d.precision() {
        DatePrecision::Day => dmy(f),
        DatePrecision::Month => format!("{:02}/{:04}", f.month(), f.year()),
        DatePrecision::Year => format!("{:04}", f.year()),
    }
}

/// A comune (with its province) or a foreign state, by its code, in words as of `on`.
pub fn place_name(refdata: &RefData, code: anagrafe_domain::Belfiore, on: NaiveDate) -> String {
    match refdata.place_at(code, on) {
        Ok(anagrafe_domain::Place::Comune(c)) => format!("{} ({})", c.name, c.province),
        Ok(p) => p.name().to_owned(),
        Err(_) => code.to_string(),
    }
}

/// A birthplace in words: the comune with its province, or the locality and the state.
pub fn birth_place(refdata: &RefData, p: &BirthPlace, on: NaiveDate) -> String {
    match p {
        BirthPlace::Comune { code } => place_name(refdata, *code, on),
        BirthPlace::Abroad { state, locality } => match locality {
            Some(l) => format!("{l} ({})", place_name(refdata, *state, on)),
            None => place_name(refdata, *state, on),
        },
    }
}

/// Citizenships in words, as certificates print them.
pub fn citizenships(refdata: &RefData, cs: &[Country], on: NaiveDate) -> String {
    cs.iter()
        .map(|c| match c {
            Country::Italia => "ITALIANA".to_owned(),
            Country::Foreign(z) => place_name(refdata, *z, on),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A residence on one line, in Italy or abroad with the AIRE comune.
pub fn residence_line(refdata: &RefData, r: &Residence, on: NaiveDate) -> String {
    match r {
        Residence::Italy(a) => {
            let mut s = format!("{} {}", a.species, a.toponym);
            if let Some(c) = &a.civic {
                s.push_str(&format!(" {c}"));
            }
            if let Some(i) = &a.internal {
                s.push_str(&format!(", {i}"));
            }
            if let Some(l) = &a.locality {
                s.push_str(&format!(", {l}"));
            }
            let cap = a.cap.map(|c| format!("{c} ")).unwrap_or_default();
            format!("{s} - {cap}{}", place_name(refdata, a.comune, on))
        }
        Residence::Abroad { address, aire_comune } => format!(
            "{}{} ({}) - AIRE {}",
            address.address.as_deref().map(|a| format!("{a}, ")).unwrap_or_default(),
            address.locality,
            place_name(refdata, address.state, on),
            place_name(refdata, *aire_comune, on)
        ),
    }
}
