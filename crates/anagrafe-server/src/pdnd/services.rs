//! What each e-service answers (SEC-6: only the fields its contract names), from the person's
//! record as of `dataRiferimentoRichiesta`.

use super::contract::*;
use super::security::{TrackingClaims, VoucherClaims};
use super::{Eservice, err, ko, record};
use crate::AppState;
use anagrafe_domain::decode::{DecodeTable, StatoCivile};
use anagrafe_domain::{BirthPlace, CodiceFiscale, IdAnpr, PartialDate, RefData, Residence};
use anagrafe_service::{ServiceError, lookup};
use anagrafe_store::{AuditEntry, CallRecord, GeneralitaQuery, PdndAnswer, PdndClient, PdndPurpose, PersonView, SpentJti, StoreError};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{Datelike, NaiveDate};

/// A call that passed the ModI checks.
pub(crate) struct Call<'a> {
    pub state: &'a AppState,
    pub es: Eservice,
    pub client: &'a PdndClient,
    pub purpose: &'a PdndPurpose,
    pub voucher: &'a VoucherClaims,
    pub tracking: &'a TrackingClaims,
    pub body: &'a [u8],
    pub jti: SpentJti,
}

/// Longest `idOperazioneClient` and `motivoRichiesta` accepted.
const MAX_ID_OP: usize = 64;
const MAX_MOTIVO: usize = 256;

/// An answer that is not a `RispostaE002OK`: status and errors.
struct Ko(StatusCode, Vec<ErroreAnomalia>);

fn bad(code: &str, text: impl Into<String>, field: &str) -> Ko {
    Ko(StatusCode::BAD_REQUEST, vec![err(code, text, Some(field))])
}

/// Reads, checks, answers and records a call.
pub(crate) async fn answer(call: Call<'_>) -> Response {
    let mut de = serde_json::Deserializer::from_slice(call.body);
    let parsed = serde_path_to_error::deserialize::<_, RichiestaE002>(&mut de)
        .map_err(|e| format!("{}: {}", e.path(), e.inner()))
        .and_then(|r| de.end().map(|()| r).map_err(|e| e.to_string()));
    let req: RichiestaE002 = match parsed {
        Ok(r) => r,
        Err(e) => {
            return reject(
                &call,
                "",
                Ko(StatusCode::BAD_REQUEST, vec![err("AG400", format!("the body is not a RichiestaE002: {e}"), None)]),
            )
            .await;
        }
    };
    let id_op = match req.id_operazione_client.as_deref().map(str::trim) {
        Some(v)
            if !v.is_empty() && v.len() <= MAX_ID_OP && v.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) =>
        {
            v.to_owned()
        }
        Some(v) if !v.is_empty() => {
            let why = format!("idOperazioneClient must be 1 to {MAX_ID_OP} letters, digits, '-', '_' or '.'");
            return reject(&call, "", bad("AG400", why, "idOperazioneClient")).await;
        }
        _ => return reject(&call, "", bad("EN081", "Campo idOperazioneClient obbligatorio assente", "idOperazioneClient")).await,
    };
    let request_sha256 = super::body_sha256(call.body);
    // A replay of an operation id is found when its answer cannot be kept twice (see `record`).
    let (status, body, subject, outcome) = match run(&call, &req).await {
        Ok((ok, subject)) => {
            let body = serde_json::to_string(&ok).unwrap_or_default();
            (StatusCode::OK, body, subject, "ok".to_owned())
        }
        Err(Ko(status, errors)) => {
            let outcome = format!("ko:{}", errors.first().map(|e| e.codice_errore_anomalia.as_str()).unwrap_or(""));
            let (status, body) = ko(status, errors);
            (status, body, None, outcome)
        }
    };
    let motivo = req.dati_richiesta.as_ref().and_then(|d| d.motivo_richiesta.clone());
    let date = req.dati_richiesta.as_ref().and_then(|d| d.data_riferimento_richiesta.as_deref());
    let mut e = entry(&call, &id_op, motivo.as_deref(), date, &outcome);
    if let Some((pid, cf)) = subject {
        e.subject_person = Some(pid);
        e.subject_cf = cf;
    }
    let answer = PdndAnswer {
        client_id: call.client.client_id.clone(),
        id_operazione_client: id_op,
        eservice: call.es.code.to_owned(),
        request_sha256,
        status: status.as_u16() as i16,
        body: body.clone(),
    };
    record(call.state, &call.es, &e, CallRecord { answer: Some(answer), jti: Some(call.jti.clone()) }, status, body).await
}

/// A request that cannot be answered for what it is (no operation id to keep an answer
/// under): traced, and the signature spent, all the same.
async fn reject(call: &Call<'_>, id_op: &str, ko_: Ko) -> Response {
    let Ko(status, errors) = ko_;
    let outcome = format!("ko:{}", errors.first().map(|e| e.codice_errore_anomalia.as_str()).unwrap_or(""));
    let e = entry(call, id_op, None, None, &outcome);
    let (status, body) = ko(status, errors);
    record(call.state, &call.es, &e, CallRecord { answer: None, jti: Some(call.jti.clone()) }, status, body).await
}

/// The trace entry of an answered call (SEC-4): who, which e-service and purpose, why, the
/// tracking evidence, and the outcome.
fn entry(call: &Call<'_>, id_op: &str, motivo: Option<&str>, date: Option<&str>, outcome: &str) -> AuditEntry {
    let mut e = AuditEntry {
        request_id: crate::middleware::current_request_id().unwrap_or_default(),
        actor: format!("pdnd:{}", call.client.client_id),
        actor_cf: None,
        eidas_id: None,
        auth_mode: "pdnd_modi".into(),
        operation: format!("pdnd.{}", call.es.code),
        outcome: outcome.to_owned(),
        subject_person: None,
        subject_cf: None,
        detail: String::new(),
    };
    e.detail = serde_json::json!({
        "public_body": call.client.name,
        "eservice": call.es.code,
        "purposeId": call.purpose.purpose_id,
        "withheld_from_subject": call.client.public_security,
        "motivoRichiesta": motivo,
        "dataRiferimentoRichiesta": date,
        "idOperazioneClient": id_op,
        "voucher_jti": call.voucher.jti,
        "tracking": { "userID": call.tracking.user_id, "userLocation": call.tracking.user_location, "LoA": call.tracking.loa, "jti": call.tracking.jti },
    })
    .to_string();
    e
}

/// The checked request: reference date and who it is about.
struct Checked {
    date: NaiveDate,
    subject: Subject,
}

enum Subject {
    Id(String),
    Cf(CodiceFiscale),
    Data(GeneralitaQuery),
}

fn flag(v: &Option<String>) -> bool {
    v.as_deref().is_some_and(|s| s.eq_ignore_ascii_case("S"))
}

fn check(call: &Call<'_>, req: &RichiestaE002, state: &AppState) -> Result<Checked, Ko> {
    let dati = req.dati_richiesta.as_ref().ok_or_else(|| bad("EN081", "Campo datiRichiesta obbligatorio assente", "datiRichiesta"))?;
    let caso = dati.caso_uso.as_deref().map(str::trim).filter(|s| !s.is_empty());
    match caso {
        None => return Err(bad("EN081", "Campo casoUso obbligatorio assente", "datiRichiesta.casoUso")),
        Some(c) if !c.eq_ignore_ascii_case(call.es.code) => {
            return Err(bad("AG400", format!("casoUso {c} is not this e-service ({})", call.es.code), "datiRichiesta.casoUso"));
        }
        _ => {}
    }
    match dati.motivo_richiesta.as_deref().map(str::trim) {
        None | Some("") => return Err(bad("EN081", "Campo motivoRichiesta obbligatorio assente", "datiRichiesta.motivoRichiesta")),
        Some(m) if m.chars().count() > MAX_MOTIVO => {
            return Err(bad("AG400", format!("motivoRichiesta is longer than {MAX_MOTIVO} characters"), "datiRichiesta.motivoRichiesta"));
        }
        _ => {}
    }
    let today = state.clock.today();
    let date = match dati.data_riferimento_richiesta.as_deref() {
        None | Some("") => {
            return Err(bad("EN081", "Campo dataRiferimentoRichiesta obbligatorio assente", "datiRichiesta.dataRiferimentoRichiesta"));
        }
        Some(d) => match NaiveDate::parse_from_str(d, "%Y-%m-%d") {
            Ok(d) if d <= today && d.year() >= 1800 => d,
            _ => {
                return Err(bad(
                    "EHR09",
                    format!("Data richiesta {d} errata o non compatibile con la data di sistema {today}"),
                    "datiRichiesta.dataRiferimentoRichiesta",
                ));
            }
        },
    };
    let c = req.criteri_ricerca.clone().ok_or_else(|| bad("EN081", "Campo criteriRicerca obbligatorio assente", "criteriRicerca"))?;
    let nonempty = |v: &Option<String>| v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
    let by_data = nonempty(&c.cognome).is_some() || nonempty(&c.nome).is_some() || c.dati_nascita.is_some() || nonempty(&c.sesso).is_some();
    let id = nonempty(&c.id_anpr);
    let cf = nonempty(&c.codice_fiscale);
    // IDN-4: in the by-ID regime every e-service but C030 takes the ID ANPR alone.
    if state.pdnd.settings.id_only && call.es.code != "C030" && (id.is_none() || cf.is_some() || by_data) {
        return Err(bad(
            "EN053",
            "Servizio non attivo con i parametri di ricerca impostati: la consultazione avviene per solo idANPR",
            "criteriRicerca",
        ));
    }
    let subject = if let Some(id) = id {
        if call.es.code == "C030" {
            return Err(bad("AG400", "C030 finds the ID ANPR: search by codiceFiscale or by personal data", "criteriRicerca.idANPR"));
        }
        Subject::Id(id)
    } else if let Some(cf) = cf {
        Subject::Cf(CodiceFiscale::parse(&cf).map_err(|e| bad("AG400", format!("codiceFiscale {e}"), "criteriRicerca.codiceFiscale"))?)
    } else if by_data {
        Subject::Data(generalita_query(&c)?)
    } else {
        return Err(bad("EN132", "Campi obbligatori non valorizzati: idANPR, codiceFiscale o dati anagrafici", "criteriRicerca"));
    };
    Ok(Checked { date, subject })
}

/// The personal-data criteria: surname (or `senzaCognome`), name (or `senzaNome`), sex and the
/// birth date (with the partial-date flags), optionally the place of birth.
fn generalita_query(c: &CriteriRicerca) -> Result<GeneralitaQuery, Ko> {
    let text = |v: &Option<String>| v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
    let surname = match (text(&c.cognome), flag(&c.senza_cognome)) {
        (Some(s), false) => Some(s),
        (None, true) => None,
        (Some(_), true) => return Err(bad("AG400", "cognome and senzaCognome exclude each other", "criteriRicerca.senzaCognome")),
        (None, false) => return Err(bad("EN081", "Campo cognome obbligatorio assente", "criteriRicerca.cognome")),
    };
    let given_name = match (text(&c.nome), flag(&c.senza_nome)) {
        (Some(s), false) => Some(s),
        (None, true) => None,
        (Some(_), true) => return Err(bad("AG400", "nome and senzaNome exclude each other", "criteriRicerca.senzaNome")),
        (None, false) => return Err(bad("EN081", "Campo nome obbligatorio assente", "criteriRicerca.nome")),
    };
    for (v, field) in [(&surname, "criteriRicerca.cognome"), (&given_name, "criteriRicerca.nome")] {
        if v.as_ref().is_some_and(|s| s.chars().count() > 150) {
            return Err(bad("AG400", "is longer than 150 characters", field));
        }
    }
    let sex = match text(&c.sesso).as_deref().map(str::to_ascii_uppercase).as_deref() {
        Some(s @ ("M" | "F")) => s.to_owned(),
        Some(_) => return Err(bad("AG400", "sesso is M or F", "criteriRicerca.sesso")),
        None => return Err(bad("EN081", "Campo sesso obbligatorio assente", "criteriRicerca.sesso")),
    };
    let nascita = c.dati_nascita.clone().unwrap_or_default();
    let raw = text(&nascita.data_evento)
        .ok_or_else(|| bad("EN081", "Campo dataEvento obbligatorio assente", "criteriRicerca.datiNascita.dataEvento"))?;
    let day = NaiveDate::parse_from_str(&raw, "%Y-%m-%d")
        .ok()
        .filter(|d| d.year() >= 1800)
        .ok_or_else(|| bad("AG400", "dataEvento is a date YYYY-MM-DD", "criteriRicerca.datiNascita.dataEvento"))?;
    let (from, to) = if flag(&nascita.senza_giorno_mese) {
        (NaiveDate::from_ymd_opt(day.year(), 1, 1), NaiveDate::from_ymd_opt(day.year(), 12, 31))
    } else if flag(&nascita.senza_giorno) {
        let first = NaiveDate::from_ymd_opt(day.year(), day.month(), 1);
        (first, first.and_then(|f| f.checked_add_months(chrono::Months::new(1))).and_then(|n| n.pred_opt()))
    } else {
        (Some(day), Some(day))
    };
    let (Some(born_from), Some(born_to)) = (from, to) else {
        return Err(bad("AG400", "dataEvento is out of range", "criteriRicerca.datiNascita.dataEvento"));
    };
    let refdata = RefData::current();
    let place = nascita.luogo_nascita.as_ref();
    let birth_place = match (place.and_then(|p| p.comune.as_ref()), place.and_then(|p| p.localita.as_ref())) {
        (Some(comune), _) if text(&comune.codice_istat).is_some() => {
            let istat = text(&comune.codice_istat).unwrap_or_default();
            let found =
                refdata.comuni().iter().find(|k| k.istat.to_string() == istat && k.valid_on(born_from)).map(|k| k.belfiore.to_string());
            Some(found.ok_or_else(|| {
                bad(
                    "AG400",
                    format!("no comune with ISTAT code {istat} on the birth date"),
                    "criteriRicerca.datiNascita.luogoNascita.comune.codiceIstat",
                )
            })?)
        }
        (Some(comune), _) if text(&comune.nome_comune).is_some() => {
            let name = text(&comune.nome_comune).unwrap_or_default();
            let found = refdata.place_by_name(&name, born_from).map(|p| p.code().to_string());
            Some(found.map_err(|_| {
                bad("AG400", format!("no comune {name} on the birth date"), "criteriRicerca.datiNascita.luogoNascita.comune.nomeComune")
            })?)
        }
        (_, Some(loc)) if text(&loc.codice_stato).is_some() => {
            let istat = text(&loc.codice_stato).unwrap_or_default();
            let found = refdata.stato_by_istat(&istat).map(|s| s.code.to_string());
            Some(found.ok_or_else(|| {
                bad("AG400", format!("no state with ISTAT code {istat}"), "criteriRicerca.datiNascita.luogoNascita.localita.codiceStato")
            })?)
        }
        _ => None,
    };
    Ok(GeneralitaQuery { surname, given_name, sex, born_from, born_to, birth_place })
}

/// The service's subject for the door's criteria (`AG400` for an ID ANPR that is none).
fn lookup_subject(subject: &Subject) -> Result<lookup::Subject, Ko> {
    Ok(match subject {
        Subject::Id(raw) => {
            lookup::Subject::Id(IdAnpr::parse(raw).map_err(|e| bad("AG400", format!("idANPR {e}"), "criteriRicerca.idANPR"))?)
        }
        Subject::Cf(cf) => lookup::Subject::Cf(*cf),
        Subject::Data(q) => lookup::Subject::Data(q.clone()),
    })
}

/// The subject's internal id and record as of the date, or the KO that says why not.
async fn find(state: &AppState, checked: &Checked) -> Result<PersonView, Ko> {
    let subject = lookup_subject(&checked.subject)?;
    only_one(state.lookup().persons(&subject, checked.date).await.map_err(internal)?)
}

/// C030's path: the subject's internal id, ID ANPR and (when searched by it) codice fiscale,
/// without reading the whole record.
async fn find_id(state: &AppState, checked: &Checked) -> Result<(i64, String, Option<String>), Ko> {
    if let Subject::Id(_) = &checked.subject {
        return Err(bad("AG400", "C030 finds the ID ANPR: search by codiceFiscale or by personal data", "criteriRicerca.idANPR"));
    }
    let subject = lookup_subject(&checked.subject)?;
    only_one(state.lookup().ids(&subject, checked.date).await.map_err(internal)?)
}

/// The register could not answer (500): the cause is logged by the error type, not sent.
fn internal(e: impl Into<ServiceError>) -> Ko {
    Ko(StatusCode::INTERNAL_SERVER_ERROR, vec![err("AG500", format!("the register could not answer ({})", short(&e.into())), None)])
}

/// The one subject the criteria found: 404 EN133 for none, 400 EN095 for several.
fn only_one<T>(mut found: Vec<T>) -> Result<T, Ko> {
    match found.len() {
        0 => Err(Ko(
            StatusCode::NOT_FOUND,
            vec![err("EN133", "Nessun soggetto trovato per i parametri di ricerca forniti", Some("criteriRicerca"))],
        )),
        1 => Ok(found.remove(0)),
        _ => Err(Ko(
            StatusCode::BAD_REQUEST,
            vec![err(
                "EN095",
                "La richiesta per dati di un soggetto ha individuato piu' cittadini: restringere i parametri della ricerca",
                Some("criteriRicerca"),
            )],
        )),
    }
}

/// A store error in words without personal data (the cause is logged by the error type).
fn short(e: &ServiceError) -> &'static str {
    match e {
        ServiceError::Internal(source) if matches!(source.downcast_ref::<StoreError>(), Some(StoreError::Database(_))) => "database",
        _ => "store",
    }
}

fn ok_one(soggetto: DatiSoggetto) -> RispostaOk {
    ok_many(vec![soggetto])
}

fn ok_many(dati_soggetto: Vec<DatiSoggetto>) -> RispostaOk {
    RispostaOk {
        id_operazione_anpr: crate::middleware::current_request_id().unwrap_or_default(),
        lista_soggetti: ListaSoggetti { dati_soggetto },
        lista_anomalie: Vec::new(),
    }
}

type Answered = (RispostaOk, Option<(i64, Option<String>)>);

async fn run(call: &Call<'_>, req: &RichiestaE002) -> Result<Answered, Ko> {
    let state = call.state;
    let checked = check(call, req, state)?;
    if call.es.code == "C031" {
        return verify_id(state, &checked, req).await;
    }
    if call.es.code == "C030" {
        let (pid, id, cf) = find_id(state, &checked).await?;
        return Ok((ok_one(DatiSoggetto { identificativi: Some(Identificativi { id_anpr: id }), ..Default::default() }), Some((pid, cf))));
    }
    let view = find(state, &checked).await?;
    let subject = Some((view.id, view.record.generalita.codice_fiscale.as_ref().map(|c| c.to_string())));
    let on = checked.date;
    let r = &view.record;
    let id = || Some(identificativi(&view));
    let one = |d: DatiSoggetto| Ok::<_, Ko>(ok_one(d));
    let yes_no = |chiave: &str, yes: bool| DatiSoggetto { info_soggetto_ente: Some(vec![info(chiave, yes)]), ..Default::default() };
    let alive = r.death.is_none();
    let answer = match call.es.code {
        // Accertamento: the data the contract names.
        "C001" => one(DatiSoggetto {
            generalita: Some(generalita(&view)),
            residenza: Some(vec![residenza(&r.residence, on)]),
            identificativi: id(),
            ..Default::default()
        }),
        "C015" => one(DatiSoggetto { generalita: Some(generalita(&view)), identificativi: id(), ..Default::default() }),
        "C016" => one(DatiSoggetto { identificativi: id(), dati_decesso: death(&view), ..Default::default() }),
        "C017" | "C022" | "C023" | "C026" => {
            let (chiave, yes) = match call.es.code {
                "C017" => ("matrimonio", r.civil_status == StatoCivile::Coniugato),
                "C022" => ("stato libero", free(r.civil_status)),
                "C023" => ("vedovanza", r.civil_status == StatoCivile::Vedovo),
                _ => ("unione civile", r.civil_status == StatoCivile::UnitoCivilmente),
            };
            one(DatiSoggetto {
                identificativi: id(),
                info_soggetto_ente: Some(vec![info(chiave, yes), civil_status(r.civil_status)]),
                ..Default::default()
            })
        }
        "C018" => one(DatiSoggetto { identificativi: id(), cittadinanza: Some(citizenships(&r.citizenships)), ..Default::default() }),
        "C019" => one(DatiSoggetto {
            identificativi: id(),
            dati_decesso: death(&view),
            info_soggetto_ente: Some(vec![info("esistenza in vita", alive)]),
            ..Default::default()
        }),
        "C020" | "C033" => one(DatiSoggetto {
            generalita: Some(generalita(&view)),
            residenza: Some(vec![residenza(&r.residence, on)]),
            identificativi: id(),
            dati_decesso: if call.es.code == "C020" { death(&view) } else { None },
            ..Default::default()
        }),
        "C021" => family(state, &view, on).await,
        "C029" => one(DatiSoggetto {
            generalita: Some(generalita(&view)),
            cittadinanza: Some(citizenships(&r.citizenships)),
            residenza: Some(vec![residenza(&r.residence, on)]),
            identificativi: id(),
            dati_decesso: death(&view),
            info_soggetto_ente: Some(vec![civil_status(r.civil_status)]),
            ..Default::default()
        }),
        // Verifica: yes or no on what the body declares.
        "C003" => {
            let g = req
                .verifica
                .as_ref()
                .and_then(|v| v.generalita.as_ref())
                .ok_or_else(|| bad("EN081", "Campo verifica.generalita obbligatorio assente", "verifica.generalita"))?;
            one(yes_no("verifica generalita", generalita_match(&view, g)))
        }
        "C004" => one(DatiSoggetto { info_soggetto_ente: Some(vec![death_check(&view, req)?]), ..Default::default() }),
        "C005" => one(yes_no("stato di matrimonio", r.civil_status == StatoCivile::Coniugato)),
        "C006" => {
            let declared = req.verifica.as_ref().and_then(|v| v.cittadinanza.as_ref()).filter(|c| !c.is_empty());
            let declared =
                declared.ok_or_else(|| bad("EN081", "Campo verifica.cittadinanza obbligatorio assente", "verifica.cittadinanza"))?;
            let held: Vec<String> = citizenships(&r.citizenships).into_iter().filter_map(|c| c.codice_stato).collect();
            let yes = declared.iter().all(|c| c.codice_stato.as_ref().is_some_and(|code| held.contains(&code.trim().to_owned())));
            one(yes_no("verifica cittadinanza", yes))
        }
        "C007" => one(yes_no("esistenza in vita", alive)),
        "C008" => {
            let declared = req
                .verifica
                .as_ref()
                .and_then(|v| v.residenza.as_ref())
                .ok_or_else(|| bad("EN081", "Campo verifica.residenza obbligatorio assente", "verifica.residenza"))?;
            one(yes_no("verifica residenza", residence_match(&r.residence, declared, on)?))
        }
        "C009" => {
            let declared = req.verifica.as_ref().and_then(|v| v.stato_famiglia.as_ref()).filter(|m| !m.is_empty());
            let declared =
                declared.ok_or_else(|| bad("EN081", "Campo verifica.statoFamiglia obbligatorio assente", "verifica.statoFamiglia"))?;
            one(yes_no("verifica stato di famiglia", household_match(state, &view, declared, on).await?))
        }
        "C010" => one(yes_no("stato libero", free(r.civil_status))),
        "C011" => one(yes_no("vedovanza", r.civil_status == StatoCivile::Vedovo)),
        "C014" => one(yes_no("unione civile", r.civil_status == StatoCivile::UnitoCivilmente)),
        other => return Err(Ko(StatusCode::NOT_FOUND, vec![err("AG404", format!("{other} is not offered"), None)])),
    }?;
    Ok((answer, subject))
}

/// A yes/no answer.
fn info(chiave: &str, yes: bool) -> InfoSoggettoEnte {
    InfoSoggettoEnte {
        id: "1".into(),
        chiave: chiave.into(),
        valore: Some(if yes { "S" } else { "N" }.into()),
        valore_testo: None,
        valore_data: None,
        dettaglio: None,
    }
}

/// The civil status (tab. 01) as a text answer, its code in `dettaglio`.
fn civil_status(s: StatoCivile) -> InfoSoggettoEnte {
    InfoSoggettoEnte {
        id: "2".into(),
        chiave: "stato civile".into(),
        valore: None,
        valore_testo: Some(s.description().to_owned()),
        valore_data: None,
        dettaglio: Some(s.code().to_string()),
    }
}

/// Free to marry or to form a civil union (*stato libero*).
fn free(s: StatoCivile) -> bool {
    !matches!(s, StatoCivile::Coniugato | StatoCivile::UnitoCivilmente | StatoCivile::NonClassificabileIgnotoC)
}

fn citizenships(list: &[anagrafe_domain::Country]) -> Vec<Cittadinanza> {
    list.iter()
        .map(|c| match c {
            anagrafe_domain::Country::Italia => Cittadinanza { codice_stato: Some("100".into()), descrizione_stato: Some("ITALIA".into()) },
            anagrafe_domain::Country::Foreign(code) => {
                let st = RefData::current().stato(*code).map(|s| (s.istat.clone(), s.name.clone()));
                Cittadinanza { codice_stato: st.as_ref().map(|s| s.0.clone()), descrizione_stato: st.map(|s| s.1) }
            }
        })
        .collect()
}

fn death(view: &PersonView) -> Option<DatiEvento> {
    view.record.death.as_ref().map(|d| {
        let (data, senza_giorno, senza_giorno_mese) = date_flags(&d.date);
        DatiEvento {
            data_evento: data,
            senza_giorno,
            senza_giorno_mese,
            luogo_evento: d.place.map(|p| LuogoNascita { comune: Some(comune(p, d.date.first_day())), ..Default::default() }),
        }
    })
}

/// C008: every part of the declared address the body gives must be the record's (comune by
/// ISTAT code or name, postcode, kind and name of the street, number); an address abroad
/// matches by state.
fn residence_match(r: &Residence, declared: &serde_json::Value, on: NaiveDate) -> Result<bool, Ko> {
    let d = match declared {
        serde_json::Value::Array(a) => a.first().cloned().unwrap_or_default(),
        other => other.clone(),
    };
    let text = |v: &serde_json::Value| v.as_str().map(|s| s.trim().to_uppercase()).filter(|s| !s.is_empty());
    let ind = &d["indirizzo"];
    let estera = &d["localitaEstera"];
    if ind.is_null() && estera.is_null() {
        return Err(bad("EN081", "Campo verifica.residenza.indirizzo obbligatorio assente", "verifica.residenza.indirizzo"));
    }
    Ok(match r {
        Residence::Italy(a) => {
            if ind.is_null() {
                return Ok(false);
            }
            let c = comune(a.comune, on);
            let same =
                |declared: Option<String>, recorded: Option<String>| declared.is_none_or(|d| recorded.map(|r| r.to_uppercase()) == Some(d));
            let any = [
                &ind["comune"]["codiceIstat"],
                &ind["comune"]["nomeComune"],
                &ind["cap"],
                &ind["toponimo"]["denominazioneToponimo"],
                &ind["numeroCivico"]["numero"],
            ]
            .iter()
            .any(|v| text(v).is_some());
            any && same(text(&ind["comune"]["codiceIstat"]), c.codice_istat)
                && same(text(&ind["comune"]["nomeComune"]), c.nome_comune)
                && same(text(&ind["cap"]), a.cap.as_ref().map(|c| c.to_string()))
                && same(text(&ind["toponimo"]["specie"]), Some(a.species.to_string()))
                && same(text(&ind["toponimo"]["denominazioneToponimo"]), Some(a.toponym.to_string()))
                && same(text(&ind["numeroCivico"]["numero"]), a.civic.as_ref().map(|c| c.to_string()))
        }
        Residence::Abroad { address, .. } => {
            let code = text(&estera["indirizzoEstero"]["localita"]["codiceStato"]).or_else(|| text(&estera["codiceStato"]));
            code.is_some() && code == RefData::current().stato(address.state).map(|s| s.istat.clone())
        }
    })
}

/// C009: the declared members (by codice fiscale or ID ANPR) are exactly the household's on
/// the date.
async fn household_match(state: &AppState, view: &PersonView, declared: &[MembroDichiarato], on: NaiveDate) -> Result<bool, Ko> {
    let Some(h) = view.record.household else { return Ok(false) };
    let members: Vec<(Option<String>, Option<String>)> = state
        .lookup()
        .household(h, on)
        .await
        .map_err(internal)?
        .into_iter()
        .map(|(m, v)| (v.and_then(|v| v.record.generalita.codice_fiscale.map(|c| c.to_string())), m.id_anpr.map(|i| i.to_string())))
        .collect();
    if declared.len() != members.len() {
        return Ok(false);
    }
    Ok(declared.iter().all(|d| {
        let cf = d.codice_fiscale.as_deref().map(|s| s.trim().to_uppercase());
        let id = d.id_anpr.as_deref().map(|s| s.trim().to_uppercase());
        (cf.is_some() || id.is_some())
            && members.iter().any(|(mcf, mid)| {
                cf.as_ref().is_none_or(|c| mcf.as_ref() == Some(c)) && id.as_ref().is_none_or(|i| mid.as_ref() == Some(i))
            })
    }))
}

fn identificativi(view: &PersonView) -> Identificativi {
    Identificativi { id_anpr: view.record.id_anpr.as_ref().map(|i| i.to_string()).unwrap_or_default() }
}

fn s() -> Option<String> {
    Some("S".into())
}

fn date_flags(d: &PartialDate) -> (Option<String>, Option<String>, Option<String>) {
    use anagrafe_domain::date::DatePrecision;
    let first = d.first_day().format("%Y-%m-%d").to_string();
    match d.precision() {
        DatePrecision::Day => (Some(first), None, None),
        DatePrecision::Month => (Some(first), s(), None),
        DatePrecision::Year => (Some(first), None, s()),
    }
}

fn comune(code: anagrafe_domain::Belfiore, on: NaiveDate) -> TipoComune {
    let refdata = RefData::current();
    match refdata.comune_at(code, on).or_else(|| refdata.comune_history(code).last()) {
        Some(c) => TipoComune {
            nome_comune: Some(c.name.clone()),
            codice_istat: Some(c.istat.to_string()),
            sigla_provincia_istat: Some(c.province.clone()),
            descrizione_localita: None,
        },
        None => TipoComune::default(),
    }
}

fn stato(code: anagrafe_domain::Belfiore, locality: Option<String>) -> TipoLocalita {
    let refdata = RefData::current();
    let st = refdata.stato(code);
    TipoLocalita {
        descrizione_localita: locality,
        descrizione_stato: st.map(|s| s.name.clone()),
        codice_stato: st.map(|s| s.istat.clone()),
        provincia_contea: None,
    }
}

/// The personal data in force on the view's date.
fn generalita(view: &PersonView) -> Generalita {
    let g = &view.record.generalita;
    let (data, senza_giorno, senza_giorno_mese) = date_flags(&g.birth_date);
    let luogo = match &g.birth_place {
        BirthPlace::Comune { code } => LuogoNascita { comune: Some(comune(*code, g.birth_date.first_day())), ..Default::default() },
        BirthPlace::Abroad { state, locality } => {
            LuogoNascita { localita: Some(stato(*state, locality.as_ref().map(|l| l.to_string()))), ..Default::default() }
        }
    };
    Generalita {
        codice_fiscale: g.codice_fiscale.as_ref().map(|c| TipoCodiceFiscale {
            cod_fiscale: c.to_string(),
            validita_cf: anagrafe_domain::decode::DecodeTable::code(g.cf_validation).to_string(),
        }),
        cognome: g.name.surname().map(str::to_owned),
        senza_cognome: g.name.surname().is_none().then(s).flatten(),
        nome: g.name.given().map(str::to_owned),
        senza_nome: g.name.given().is_none().then(s).flatten(),
        sesso: Some(g.sex.as_str().to_owned()),
        data_nascita: data,
        senza_giorno,
        senza_giorno_mese,
        luogo_nascita: Some(luogo),
        soggetto_aire: matches!(view.record.residence, Residence::Abroad { .. }).then(s).flatten(),
    }
}

fn residenza(r: &Residence, on: NaiveDate) -> Residenza {
    match r {
        Residence::Italy(a) => Residenza {
            tipo_indirizzo: Some("1".into()),
            indirizzo: Some(Indirizzo {
                cap: a.cap.as_ref().map(|c| c.to_string()),
                comune: Some(comune(a.comune, on)),
                frazione: a.locality.as_ref().map(|l| l.to_string()),
                toponimo: Some(Toponimo { specie: Some(a.species.to_string()), denominazione_toponimo: Some(a.toponym.to_string()) }),
                numero_civico: a.civic.as_ref().map(|n| NumeroCivico {
                    numero: Some(n.to_string()),
                    civico_interno: a.internal.as_ref().map(|i| serde_json::json!({ "interno1": i })),
                }),
            }),
            ..Default::default()
        },
        Residence::Abroad { address, .. } => {
            let st = stato(address.state, None);
            Residenza {
                tipo_indirizzo: Some("1".into()),
                localita_estera: Some(serde_json::json!({
                    "indirizzoEstero": {
                        "cap": address.postcode,
                        "localita": { "descrizioneLocalita": address.locality, "descrizioneStato": st.descrizione_stato, "codiceStato": st.codice_stato },
                        "toponimo": { "denominazione": address.address },
                    },
                    "consolato": address.consulate.as_ref().map(|c| serde_json::json!({ "codiceConsolato": c })),
                })),
                ..Default::default()
            }
        }
    }
}

/// C021: the household on the date, every member with personal data, ID and bond.
async fn family(state: &AppState, view: &PersonView, on: NaiveDate) -> Result<RispostaOk, Ko> {
    let Some(household) = view.record.household else {
        return Err(Ko(
            StatusCode::NOT_FOUND,
            vec![err("EN137", "non risulta ne' una famiglia ne' una convivenza associata a questo soggetto", None)],
        ));
    };
    let tipo = match household {
        anagrafe_domain::Household::Family { .. } => "1",
        anagrafe_domain::Household::Cohabitation { .. } => "2",
    };
    let mut out = Vec::new();
    for (i, (m, member)) in state.lookup().household(household, on).await.map_err(internal)?.into_iter().enumerate() {
        let Some(member) = member else { continue };
        out.push(DatiSoggetto {
            generalita: Some(generalita(&member)),
            identificativi: member.record.id_anpr.as_ref().map(|_| identificativi(&member)),
            legame_soggetto: Some(LegameSoggetto {
                tipo_legame: Some(tipo.into()),
                codice_legame: Some(m.relation.to_string()),
                progressivo_componente: Some((i + 1).to_string()),
                data_decorrenza: None,
            }),
            ..Default::default()
        });
    }
    Ok(ok_many(out))
}

/// C004: does the register hold the declared death (date, and place when declared)?
fn death_check(view: &PersonView, req: &RichiestaE002) -> Result<InfoSoggettoEnte, Ko> {
    let declared = req
        .verifica
        .as_ref()
        .and_then(|v| v.dati_decesso.as_ref())
        .ok_or_else(|| bad("EN081", "Campo verifica.datiDecesso obbligatorio assente", "verifica.datiDecesso"))?;
    let raw = declared
        .data_evento
        .as_deref()
        .ok_or_else(|| bad("EN081", "Campo dataEvento obbligatorio assente", "verifica.datiDecesso.dataEvento"))?;
    let date = NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map_err(|_| bad("AG400", "dataEvento is a date YYYY-MM-DD", "verifica.datiDecesso.dataEvento"))?;
    let recorded = view.record.death.as_ref();
    let date_ok = recorded.is_some_and(|d| {
        let (first, precision) = (d.date.first_day(), d.date.precision());
        use anagrafe_domain::date::DatePrecision::*;
        match precision {
            Day => first == date,
            Month => first.year() == date.year() && first.month() == date.month(),
            Year => first.year() == date.year(),
        }
    });
    let declared_place = declared.luogo_evento.as_ref().and_then(|l| l.comune.as_ref()).and_then(|c| c.codice_istat.clone());
    let place_ok = match (declared_place, recorded.and_then(|d| d.place)) {
        (None, _) => true,
        (Some(istat), Some(code)) => comune(code, date).codice_istat.as_deref() == Some(istat.as_str()),
        (Some(_), None) => false,
    };
    Ok(info("verifica dichiarazione di decesso", date_ok && place_ok))
}

/// C031: is this ID ANPR valid (*ID ANPR valido*), and, when personal data are declared in
/// `verifica.generalita`, do they match the ID's record (*Dati validi*)? See `docs/pdnd.md`.
async fn verify_id(state: &AppState, checked: &Checked, req: &RichiestaE002) -> Result<Answered, Ko> {
    let Subject::Id(raw) = &checked.subject else {
        return Err(bad("EN081", "Campo idANPR obbligatorio assente", "criteriRicerca.idANPR"));
    };
    let view = match IdAnpr::parse(raw) {
        Ok(id) => state.lookup().valid_id(&id, checked.date).await.map_err(internal)?,
        Err(_) => None,
    };
    let mut list = vec![info("ID ANPR valido", view.is_some())];
    if let Some(g) = req.verifica.as_ref().and_then(|v| v.generalita.as_ref()) {
        let mut second = info("Dati validi", view.as_ref().is_some_and(|v| generalita_match(v, g)));
        second.id = "2".into();
        list.push(second);
    }
    let subject = view.as_ref().map(|v| (v.id, v.record.generalita.codice_fiscale.as_ref().map(|c| c.to_string())));
    Ok((ok_one(DatiSoggetto { info_soggetto_ente: Some(list), ..Default::default() }), subject))
}

/// Every declared item must equal the record's (names without regard to case).
fn generalita_match(view: &PersonView, g: &VerificaGeneralita) -> bool {
    let r = &view.record.generalita;
    let same = |declared: &Option<String>, recorded: Option<&str>, without: &Option<String>| match (declared.as_deref(), flag(without)) {
        (Some(d), _) => recorded.is_some_and(|r| r.eq_ignore_ascii_case(d.trim())),
        (None, true) => recorded.is_none(),
        (None, false) => true,
    };
    let cf_ok =
        g.codice_fiscale.as_deref().is_none_or(|c| r.codice_fiscale.as_ref().is_some_and(|rc| rc.as_str().eq_ignore_ascii_case(c.trim())));
    let sex_ok = g.sesso.as_deref().is_none_or(|s| r.sex.as_str().eq_ignore_ascii_case(s.trim()));
    let date_ok = g.data_nascita.as_deref().is_none_or(|d| {
        let (first, _, _) = date_flags(&r.birth_date);
        first.as_deref() == Some(d.trim())
    });
    let declared_any =
        g.codice_fiscale.is_some() || g.cognome.is_some() || g.nome.is_some() || g.sesso.is_some() || g.data_nascita.is_some();
    declared_any
        && cf_ok
        && sex_ok
        && date_ok
        && same(&g.cognome, r.name.surname(), &g.senza_cognome)
        && same(&g.nome, r.name.given(), &g.senza_nome)
}
