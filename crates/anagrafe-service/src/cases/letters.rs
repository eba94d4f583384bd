//! The register's letters about a case, laid out like its other internal documents: the
//! receipt of a submitted request with its protocol number (EU-4), the start-of-procedure
//! communication (*comunicazione di avvio del procedimento*, l. 241/1990 artt. 7-8) to everyone
//! concerned (EU-5), and the text of the outcome's e-mail. The wording is Italian, as the
//! register's letters are; the e-mails add an English line.

use super::CaseView;
use anagrafe_docs::model::{Document, Issuer, Row, Section, Table};
use anagrafe_domain::case::{CaseKind, CaseState, Evidence};
use anagrafe_domain::date::dmy;
use anagrafe_domain::refdata::RefData;
use anagrafe_store::CaseStep;

fn it(s: &str) -> Vec<String> {
    vec![s.to_owned()]
}

use crate::report::italian_at as at;

/// What a case asks for, as a letter names it.
pub(crate) fn subject(kind: CaseKind) -> &'static str {
    match kind {
        CaseKind::EuRegistration => "Iscrizione anagrafica di cittadino dell'Unione europea e dei suoi familiari",
        CaseKind::EuElectoralList => "Iscrizione nelle liste elettorali aggiunte",
    }
}

fn evidence(e: Evidence) -> &'static str {
    match e {
        Evidence::IdentityDocument => "Documento d'identità o passaporto",
        Evidence::Employment => "Documentazione dell'attività lavorativa",
        Evidence::Resources => "Disponibilità di risorse economiche sufficienti",
        Evidence::HealthInsurance => "Assicurazione sanitaria",
        Evidence::Enrolment => "Iscrizione a un corso di studi o di formazione",
        Evidence::FamilyRelationship => "Documentazione del rapporto familiare",
        Evidence::SignedDeclaration => "Dichiarazione anagrafica firmata dai componenti maggiorenni",
    }
}

/// "Comune di Milano", from the reference data.
pub(crate) fn comune_name(v: &CaseView) -> String {
    let c = v.file.case.comune;
    let name = RefData::current().comune_history(c).last().map(|x| x.name.clone()).unwrap_or_else(|| c.to_string());
    format!("Comune di {name}")
}

/// What a letter says, before the register's frame.
struct Body {
    ident: String,
    title: &'static str,
    intro: String,
    sections: Vec<Section>,
    tables: Vec<Table>,
    notes: Vec<&'static str>,
}

fn frame(v: &CaseView, b: Body, now_ms: i64) -> Document {
    crate::report::Internal {
        ident: b.ident,
        issuer: Issuer {
            heading: "Anagrafe Nazionale della Popolazione Residente".into(),
            administration: comune_name(v),
            office: vec!["Ufficio anagrafe".into()],
        },
        title: it(b.title),
        intro: b.intro,
        sections: b.sections,
        tables: b.tables,
        notes: b.notes.into_iter().map(it).collect(),
    }
    .issued(now_ms)
}

fn protocol(v: &CaseView) -> String {
    v.file.case.protocol.map(|p| p.to_string()).unwrap_or_default()
}

/// The request's facts every letter repeats.
fn request_section(v: &CaseView) -> Section {
    let c = &v.file.case;
    let mut rows = vec![
        Row { label: it("Numero di protocollo"), value: protocol(v) },
        Row { label: it("Oggetto"), value: subject(c.kind).into() },
        Row { label: it("Presentata il"), value: c.submitted_at.map(at).unwrap_or_default() },
        Row { label: it("Richiedente"), value: c.applicant_name.clone() },
    ];
    if let Some(eidas) = c.applicant.strip_prefix("eidas:") {
        rows.push(Row { label: it("Identificativo eIDAS"), value: eidas.to_owned() });
    }
    if let Some(due) = c.due_on {
        rows.push(Row { label: it("Termine di conclusione del procedimento"), value: dmy(due) });
    }
    Section { title: it("Richiesta"), rows }
}

fn people(v: &CaseView) -> Option<Table> {
    let r = v.registration.as_ref()?;
    let relation = |code: u16| match code {
        1 => "Richiedente (intestatario)",
        2 => "Coniuge",
        3 => "Figlio/a",
        _ => "Familiare",
    };
    let rows = r
        .members
        .iter()
        .map(|m| {
            let name = [m.name.surname(), m.name.given()].into_iter().flatten().collect::<Vec<_>>().join(" ");
            vec![name, dmy(m.birth_date), relation(m.relation).to_owned()]
        })
        .collect();
    Some(Table { title: it("Persone interessate"), head: vec![it("Cognome e nome"), it("Data di nascita"), it("Rapporto")], rows })
}

/// The receipt of a submitted request: what was presented, when, under which protocol number,
/// with each file's fingerprint.
pub(crate) fn receipt(v: &CaseView, now_ms: i64) -> Document {
    let docs = Table {
        title: it("Documenti allegati"),
        head: vec![it("Documento"), it("File"), it("Impronta SHA-256"), it("Provenienza")],
        rows: v
            .file
            .documents
            .iter()
            .map(|d| {
                vec![
                    evidence(d.evidence).to_owned(),
                    d.filename.clone(),
                    d.sha256.chars().take(16).collect::<String>() + "…",
                    if d.source == "once_only" { "Sistema tecnico once-only UE".into() } else { "Caricato dal richiedente".into() },
                ]
            })
            .collect(),
    };
    let tables = people(v).into_iter().chain([docs]).collect();
    let body = Body {
        ident: format!("ricevuta-{}", v.file.case.id),
        title: "Ricevuta di presentazione della richiesta",
        intro: format!("L'Ufficio anagrafe del {} attesta di aver ricevuto la richiesta qui descritta.", comune_name(v)),
        sections: vec![request_section(v)],
        tables,
        notes: vec![
            "La ricevuta attesta la presentazione della richiesta e dei documenti elencati, non il suo esito.",
            "Lo stato della richiesta si segue dall'area dei servizi per i cittadini dell'Unione europea.",
        ],
    };
    frame(v, body, now_ms)
}

/// The start-of-procedure communication, from the step that started it.
pub(crate) fn communication(v: &CaseView, start: &CaseStep) -> Document {
    let mut s = request_section(v);
    let officer = start.actor.split_once(':').map_or(start.actor.as_str(), |(_, u)| u).to_owned();
    s.rows.extend([
        Row { label: it("Amministrazione competente"), value: format!("{} - Ufficio anagrafe", comune_name(v)) },
        Row { label: it("Avvio del procedimento"), value: at(start.at) },
        Row { label: it("Ufficio e responsabile del procedimento"), value: format!("Ufficio anagrafe - {officer}") },
        Row {
            label: it("Rimedi in caso di inerzia"),
            value:
                "Decorso il termine, si può chiedere l'intervento del titolare del potere sostitutivo (art. 2, comma 9-bis, legge 241/1990)"
                    .into(),
        },
        Row {
            label: it("Dove prendere visione degli atti"),
            value: "Ufficio anagrafe del comune; area dei servizi per i cittadini dell'Unione europea".into(),
        },
    ]);
    let mut notes = vec![];
    if v.file.case.kind == CaseKind::EuRegistration {
        notes.push(
            "Entro 45 giorni dalla dichiarazione l'ufficio accerta quanto dichiarato; decorso il termine senza comunicazione dei motivi ostativi, quanto dichiarato si considera conforme (art. 5 d.l. 5/2012).",
        );
    }
    if !start.note.is_empty() {
        s.rows.push(Row { label: it("Nota dell'ufficio"), value: start.note.clone() });
    }
    let body = Body {
        ident: format!("avvio-{}", v.file.case.id),
        title: "Comunicazione di avvio del procedimento",
        intro: "Ai sensi degli articoli 7 e 8 della legge 7 agosto 1990, n. 241, si comunica alle persone interessate l'avvio del procedimento relativo alla richiesta qui indicata.".into(),
        sections: vec![s],
        tables: people(v).into_iter().collect(),
        notes,
    };
    frame(v, body, start.at)
}

/// Subject and text of the e-mail telling the applicant the outcome of a decided case.
pub(crate) fn outcome_mail(v: &CaseView, to: CaseState, note: &str) -> (String, String) {
    let (it_word, en_word) = match to {
        CaseState::Accepted => ("accolta", "granted"),
        CaseState::Rejected => ("respinta", "refused"),
        _ => ("dichiarata irricevibile", "declared inadmissible"),
    };
    let p = protocol(v);
    let mut text = format!("La richiesta n. {p} ({}) presso il {} è stata {it_word}.\r\n", subject(v.file.case.kind), comune_name(v));
    if !note.is_empty() {
        text.push_str(&format!("Motivazione: {note}\r\n"));
    }
    text.push_str(&format!(
        "Il dettaglio è nell'area dei servizi per i cittadini dell'Unione europea.\r\n\r\nYour request no. {p} was {en_word}; the details are in the EU citizens' area of the register.\r\n"
    ));
    (format!("Esito della richiesta {p}"), text)
}
