//! E-services for public bodies (issue 4): the ModI flow (client assertion → voucher →
//! tracking evidence → integrity signature), the e-services' answers, the refusals that must
//! leave nothing but the refusal in the trace, replays of an operation id, the by-ID regime
//! and the call limits. SQLite always; PostgreSQL too when `ANAGRAFE_TEST_DATABASE_URL` is set.

mod common;

use anagrafe_domain::IdGenerator;
use anagrafe_domain::ops::{HouseholdChoice, Operation};
use anagrafe_server::modi::client::generate_key_pair;
use anagrafe_server::pdnd::security::client::BodySigner;
use anagrafe_server::pdnd::security::{self, VoucherClaims};
use anagrafe_server::pdnd::{Pdnd, PdndSettings, eservice_by_code};
use anagrafe_server::{AppState, app};
use anagrafe_store::{IdIssuer, PdndClient, PdndKey, PdndPurpose, Store, WriteContext};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use std::sync::Arc;
use tower::ServiceExt;

struct Env {
    router: axum::Router,
    store: Arc<dyn Store>,
    body: BodySigner,
    register_key: String,
    settings: PdndSettings,
    /// (internal id, codice fiscale, ID ANPR) of the residents.
    people: Vec<(i64, String, String)>,
    _dir: Option<tempfile::TempDir>,
    pg: Option<(String, String)>,
}

impl Env {
    async fn done(self) {
        drop(self.router);
        drop(self.store);
        common::drop_pg(self.pg).await;
    }
}

/// The purpose the test body holds for an e-service.
fn purpose_of(code: &str) -> String {
    format!("p-{}", code.to_ascii_lowercase())
}

async fn env(
    store: Arc<dyn Store>,
    dir: Option<tempfile::TempDir>,
    pg: Option<(String, String)>,
    settings: PdndSettings,
    per_second: i64,
) -> Env {
    let issuer = IdIssuer { generator: IdGenerator::new(&[5u8; 16]), key_version: 1, high_water: None };
    let date = chrono::NaiveDate::from_ymd_opt(1990, 4, 12).unwrap();
    let mut people = Vec::new();
    let mut family = None;
    for n in 0..3u64 {
        let mut r = anagrafe_testkit::registration(n + 40, "H501", "H501", date);
        if let Some(f) = family {
            r.household = HouseholdChoice::Join { family_id: f, relation: 3 };
        }
        let applied = store.apply(&Operation::Register(Box::new(r)), &WriteContext::cli("test"), &issuer, None).await.unwrap();
        family = family.or(applied.family_id);
        let id = applied.id_anpr.unwrap();
        let (pid, _) = store.find_by_id_anpr(&id).await.unwrap().unwrap();
        let cf = store.person(pid, None).await.unwrap().record.generalita.codice_fiscale.unwrap().to_string();
        people.push((pid, cf, id.to_string()));
    }
    let (private, public) = generate_key_pair();
    let client = PdndClient {
        client_id: "ente-1".into(),
        name: "Ente di prova".into(),
        keys: vec![PdndKey { kid: "k1".into(), public_key_pem: public, revoked: false }],
        purposes: anagrafe_server::pdnd::ESERVICES
            .iter()
            .map(|e| PdndPurpose {
                purpose_id: purpose_of(e.code),
                eservice: e.code.into(),
                description: "prova".into(),
                daily_quota: 1000,
                per_second,
                revoked: false,
            })
            .collect(),
        revoked: false,
        public_security: false,
    };
    store.save_pdnd_client(&client, &WriteContext::cli("test")).await.unwrap();
    let (register_key, _) = generate_key_pair();
    let mut state = AppState::new(store.clone()).with_register_key(&register_key).unwrap();
    state.pdnd = Arc::new(Pdnd::new(settings.clone()));
    Env {
        router: app(state),
        store,
        body: BodySigner::new("ente-1", "k1", &private).unwrap(),
        register_key,
        settings,
        people,
        _dir: dir,
        pg,
    }
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    json: Value,
}

async fn send(e: &Env, req: Request<Body>) -> Reply {
    let resp = e.router.clone().oneshot(req).await.unwrap();
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    Reply { status: parts.status, headers: parts.headers, json: serde_json::from_slice(&bytes).unwrap_or(Value::Null) }
}

fn audience(e: &Env, code: &str) -> String {
    e.settings.audience(&eservice_by_code(code).unwrap())
}

/// A voucher from the embedded token endpoint for the e-service's purpose, bound to `evidence`.
async fn voucher(e: &Env, purpose: &str, evidence: &str) -> String {
    let assertion = e.body.client_assertion(&e.settings.token_audience, purpose, Some(evidence)).unwrap();
    let form = format!(
        "grant_type=client_credentials&client_id=ente-1&client_assertion_type={}&client_assertion={assertion}",
        security::ASSERTION_TYPE.replace(':', "%3A")
    );
    let r = send(
        e,
        Request::post("/pdnd/token.oauth2").header("content-type", "application/x-www-form-urlencoded").body(Body::from(form)).unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.json["token_type"], "Bearer");
    r.json["access_token"].as_str().unwrap().to_owned()
}

fn request(code: &str, op: &str, criteri: Value) -> Value {
    json!({
        "idOperazioneClient": op,
        "criteriRicerca": criteri,
        "datiRichiesta": { "dataRiferimentoRichiesta": anagrafe_domain::ops::italian_today().to_string(), "motivoRichiesta": "prot. 2026/123", "casoUso": code }
    })
}

/// Headers of a complete call: voucher, tracking evidence, digest, signature.
struct Call {
    path: String,
    bearer: String,
    evidence: String,
    digest: String,
    signature: String,
    body: Vec<u8>,
}

async fn call(e: &Env, code: &str, body: &Value) -> Call {
    let es = eservice_by_code(code).unwrap();
    let purpose = purpose_of(code);
    let aud = audience(e, code);
    let evidence = e.body.tracking_evidence(&aud, &purpose, "utente-42", "postazione-7", "substantial").unwrap();
    let bearer = voucher(e, &purpose, &evidence).await;
    let body = serde_json::to_vec(body).unwrap();
    let (digest, signature) = e.body.integrity(&aud, &body, "application/json").unwrap();
    Call { path: format!("/pdnd/{}/v1/anpr-service-e002", es.segment()), bearer, evidence, digest, signature, body }
}

fn http(c: &Call) -> Request<Body> {
    Request::post(&c.path)
        .header("authorization", format!("Bearer {}", c.bearer))
        .header("agid-jwt-trackingevidence", &c.evidence)
        .header("agid-jwt-signature", &c.signature)
        .header("digest", &c.digest)
        .header("content-type", "application/json")
        .body(Body::from(c.body.clone()))
        .unwrap()
}

async fn trace_len(e: &Env) -> usize {
    e.store.audit_entries(0, 100_000).await.unwrap().len()
}

#[tokio::test]
async fn a_public_body_gets_the_id_anpr_by_codice_fiscale_traced_and_replayed() {
    for (store, dir, pg) in common::stores().await {
        let e = env(store, dir, pg, PdndSettings::default(), 100).await;
        let (pid, cf, id) = e.people[0].clone();
        let c = call(&e, "C030", &request("C030", "op-1", json!({ "codiceFiscale": cf }))).await;
        let r = send(&e, http(&c)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.json);
        assert_eq!(r.json["listaSoggetti"]["datiSoggetto"][0]["identificativi"]["idANPR"], id);
        // SEC-6: C030 answers the ID and nothing else.
        assert_eq!(r.json["listaSoggetti"]["datiSoggetto"][0].as_object().unwrap().len(), 1);
        let last = e.store.audit_entries(0, 100_000).await.unwrap().pop().unwrap();
        assert_eq!((last.entry.operation.as_str(), last.entry.outcome.as_str()), ("pdnd.C030", "ok"));
        assert_eq!(last.entry.actor, "pdnd:ente-1");
        assert_eq!(last.entry.subject_person, Some(pid));
        let d: Value = serde_json::from_str(&last.entry.detail).unwrap();
        assert_eq!(d["purposeId"], "p-c030");
        assert_eq!(d["motivoRichiesta"], "prot. 2026/123");
        assert_eq!(d["tracking"]["userID"], "utente-42");
        assert_eq!(d["tracking"]["userLocation"], "postazione-7");
        assert_eq!(d["tracking"]["LoA"], "substantial");
        assert_eq!(d["withheld_from_subject"], false);
        // The same operation id with a fresh signature: the first answer again.
        let again = call(&e, "C030", &request("C030", "op-1", json!({ "codiceFiscale": cf }))).await;
        let r2 = send(&e, http(&again)).await;
        assert_eq!(r2.status, StatusCode::OK);
        assert_eq!(r2.headers["idempotent-replay"], "true");
        assert_eq!(r2.json, r.json);
        // The same id for another request, or another e-service, is refused.
        let other = call(&e, "C030", &request("C030", "op-1", json!({ "codiceFiscale": e.people[1].1 }))).await;
        assert_eq!(send(&e, http(&other)).await.status, StatusCode::CONFLICT);
        let elsewhere = call(&e, "C001", &request("C001", "op-1", json!({ "codiceFiscale": cf }))).await;
        let r3 = send(&e, http(&elsewhere)).await;
        assert_eq!(r3.json["listaErrori"][0]["codiceErroreAnomalia"], "EN079");
        assert!(e.store.verify_audit_chain().await.unwrap().is_intact());
        e.done().await;
    }
}

/// Each refusal is problem+json, leaves exactly one trace entry (the refusal) and keeps no
/// answer for the operation id.
async fn refused_alone(e: &Env, req: Request<Body>, status: StatusCode, op: &str) -> Value {
    let before = trace_len(e).await;
    let r = send(e, req).await;
    assert_eq!(r.status, status, "{}", r.json);
    assert_eq!(r.headers["content-type"], "application/problem+json");
    assert!(r.json["listaErrori"][0]["codiceErroreAnomalia"].is_string(), "{}", r.json);
    assert_eq!(trace_len(e).await, before + 1, "only the refusal is traced");
    let last = e.store.audit_entries(before as i64, 10).await.unwrap().pop().unwrap();
    assert!(last.entry.outcome.starts_with("refused"), "{:?}", last.entry);
    assert!(e.store.pdnd_answer("ente-1", op).await.unwrap().is_none(), "no answer kept");
    r.json
}

#[tokio::test]
async fn calls_without_voucher_with_bad_signature_altered_body_replayed_jti_or_wrong_purpose_are_refused() {
    for (store, dir, pg) in common::stores().await {
        let e = env(store, dir, pg, PdndSettings::default(), 100).await;
        let cf = e.people[0].1.clone();
        let body = request("C030", "op-r", json!({ "codiceFiscale": cf }));
        // No voucher.
        let c = call(&e, "C030", &body).await;
        let mut req = http(&c);
        req.headers_mut().remove("authorization");
        refused_alone(&e, req, StatusCode::UNAUTHORIZED, "op-r").await;
        // A signature made with another key under the body's kid.
        let (other, _) = generate_key_pair();
        let impostor = BodySigner::new("ente-1", "k1", &other).unwrap();
        let (digest, bad) = impostor.integrity(&audience(&e, "C030"), &c.body, "application/json").unwrap();
        refused_alone(&e, http(&Call { signature: bad, digest, ..call(&e, "C030", &body).await }), StatusCode::UNAUTHORIZED, "op-r").await;
        // An altered body.
        let mut altered = call(&e, "C030", &body).await;
        altered.body = serde_json::to_vec(&request("C030", "op-r", json!({ "codiceFiscale": e.people[1].1 }))).unwrap();
        refused_alone(&e, http(&altered), StatusCode::BAD_REQUEST, "op-r").await;
        // A voucher from no one the register trusts.
        let mut forged = call(&e, "C030", &body).await;
        forged.bearer = forged.bearer.replace('.', ".x");
        refused_alone(&e, http(&forged), StatusCode::UNAUTHORIZED, "op-r").await;
        // A replayed jti: the first use answers, the second is refused.
        let once = call(&e, "C030", &request("C030", "op-j", json!({ "codiceFiscale": cf }))).await;
        assert_eq!(send(&e, http(&once)).await.status, StatusCode::OK);
        let mut replay = http(&once);
        // (another operation id would not help: the body is signed)
        replay.headers_mut().insert("x-request-id", "replay-1".parse().unwrap());
        let before = trace_len(&e).await;
        let r = send(&e, replay).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.json);
        assert_eq!(trace_len(&e).await, before + 1);
        // A voucher for a purpose not authorised for this e-service (C030's purpose on C021),
        // as the national platform could issue it.
        let c21 = call(&e, "C021", &request("C021", "op-p", json!({ "codiceFiscale": cf }))).await;
        let now = chrono::Utc::now().timestamp();
        let claims = VoucherClaims {
            iss: e.settings.issuer.clone(),
            aud: audience(&e, "C021"),
            sub: "ente-1".into(),
            client_id: "ente-1".into(),
            purpose_id: "p-c030".into(),
            jti: "v-1".into(),
            iat: now,
            nbf: Some(now),
            exp: now + 60,
            digest: Some(security::DigestClaim::of(&c21.evidence)),
        };
        let signer = anagrafe_server::modi::client::Signer::new(anagrafe_server::REGISTER_KID, "", &e.register_key).unwrap();
        let wrong = signer.sign_claims(Some("at+jwt"), &claims).unwrap();
        refused_alone(&e, http(&Call { bearer: wrong, ..c21 }), StatusCode::FORBIDDEN, "op-p").await;
        // A tracking evidence other than the one the voucher was issued for.
        let mut te = call(&e, "C030", &body).await;
        te.evidence = e.body.tracking_evidence(&audience(&e, "C030"), "p-c030", "someone-else", "x", "low").unwrap();
        refused_alone(&e, http(&te), StatusCode::UNAUTHORIZED, "op-r").await;
        // The token endpoint refuses a purpose of no one's.
        let assertion = e.body.client_assertion(&e.settings.token_audience, "p-unknown", None).unwrap();
        let form = format!(
            "grant_type=client_credentials&client_id=ente-1&client_assertion_type={}&client_assertion={assertion}",
            security::ASSERTION_TYPE
        );
        let r = send(&e, Request::post("/pdnd/token.oauth2").body(Body::from(form)).unwrap()).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert!(e.store.verify_audit_chain().await.unwrap().is_intact());
        e.done().await;
    }
}

#[tokio::test]
async fn bad_requests_name_the_field_with_anpr_codes() {
    let (store, dir, pg) = common::sqlite_only().await;
    let e = env(store, dir, pg, PdndSettings::default(), 100).await;
    let cf = e.people[0].1.clone();
    let mut no_motive = request("C030", "op-m", json!({ "codiceFiscale": cf }));
    no_motive["datiRichiesta"].as_object_mut().unwrap().remove("motivoRichiesta");
    let r = send(&e, http(&call(&e, "C030", &no_motive).await)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json["listaErrori"][0]["codiceErroreAnomalia"], "EN081");
    assert_eq!(r.json["listaErrori"][0]["campoErroreAnomalia"], "datiRichiesta.motivoRichiesta");
    let mut future = request("C030", "op-f", json!({ "codiceFiscale": cf }));
    future["datiRichiesta"]["dataRiferimentoRichiesta"] = json!("2999-01-01");
    let r = send(&e, http(&call(&e, "C030", &future).await)).await;
    assert_eq!(r.json["listaErrori"][0]["codiceErroreAnomalia"], "EHR09");
    let r = send(&e, http(&call(&e, "C030", &request("C030", "op-x", json!({ "codiceFiscale": "RSSMRA80A01H501X" }))).await)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.json);
    assert_eq!(r.json["listaErrori"][0]["campoErroreAnomalia"], "criteriRicerca.codiceFiscale");
    let r = send(&e, http(&call(&e, "C030", &request("C030", "op-n", json!({ "codiceFiscale": "RSSMRA80A01H501U" }))).await)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.json["listaErrori"][0]["codiceErroreAnomalia"], "EN133");
    let r = send(&e, http(&call(&e, "C030", &json!({ "criteriRicerca": [] })).await)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.headers["content-type"], "application/problem+json");
    e.done().await;
}

#[tokio::test]
async fn the_e_services_answer_from_the_record_as_of_the_date() {
    for (store, dir, pg) in common::stores().await {
        let e = env(store, dir, pg, PdndSettings::default(), 100).await;
        let (pid, cf, id) = e.people[0].clone();
        let g = e.store.person(pid, None).await.unwrap().record.generalita;
        // C030 by personal data.
        let by_data = json!({ "cognome": g.name.surname().unwrap().to_uppercase(), "nome": g.name.given(), "sesso": g.sex.as_str(),
                              "datiNascita": { "dataEvento": "1990-04-12" } });
        let r = send(&e, http(&call(&e, "C030", &request("C030", "d-1", by_data.clone())).await)).await;
        assert_eq!(r.json["listaSoggetti"]["datiSoggetto"][0]["identificativi"]["idANPR"], id, "{}", r.json);
        let mut partial = by_data.clone();
        partial["datiNascita"] = json!({ "dataEvento": "1990-01-01", "senzaGiornoMese": "S" });
        let r = send(&e, http(&call(&e, "C030", &request("C030", "d-2", partial)).await)).await;
        assert_eq!(r.json["listaSoggetti"]["datiSoggetto"][0]["identificativi"]["idANPR"], id, "{}", r.json);
        let mut wrong = by_data;
        wrong["sesso"] = json!(if g.sex.as_str() == "M" { "F" } else { "M" });
        assert_eq!(send(&e, http(&call(&e, "C030", &request("C030", "d-3", wrong)).await)).await.status, StatusCode::NOT_FOUND);
        // C001: personal data and residence.
        let r = send(&e, http(&call(&e, "C001", &request("C001", "n-1", json!({ "idANPR": id }))).await)).await;
        let s = &r.json["listaSoggetti"]["datiSoggetto"][0];
        assert_eq!(s["generalita"]["codiceFiscale"]["codFiscale"], cf, "{}", r.json);
        assert_eq!(s["residenza"][0]["indirizzo"]["comune"]["nomeComune"], "ROMA");
        assert_eq!(s["residenza"][0]["indirizzo"]["toponimo"]["denominazioneToponimo"], "del Banco");
        // C021: the family, every member with the bond.
        let r = send(&e, http(&call(&e, "C021", &request("C021", "f-1", json!({ "codiceFiscale": cf }))).await)).await;
        let members = r.json["listaSoggetti"]["datiSoggetto"].as_array().unwrap().clone();
        assert_eq!(members.len(), 3, "{}", r.json);
        assert_eq!(members[0]["legameSoggetto"]["codiceLegame"], "1");
        assert!(members.iter().all(|m| m["identificativi"]["idANPR"].is_string() && m.get("residenza").is_none()));
        // Before the family existed there was no record.
        let mut old = request("C021", "f-2", json!({ "codiceFiscale": cf }));
        old["datiRichiesta"]["dataRiferimentoRichiesta"] = json!("1980-01-01");
        assert_eq!(send(&e, http(&call(&e, "C021", &old).await)).await.status, StatusCode::NOT_FOUND);
        // C004: a declared death the register does not hold.
        let mut death = request("C004", "v-1", json!({ "idANPR": id }));
        death["verifica"] = json!({ "datiDecesso": { "dataEvento": "2020-01-01" } });
        let r = send(&e, http(&call(&e, "C004", &death).await)).await;
        assert_eq!(r.json["listaSoggetti"]["datiSoggetto"][0]["infoSoggettoEnte"][0]["valore"], "N", "{}", r.json);
        // C031: is the ID valid, and do these data match it?
        let mut v = request("C031", "i-1", json!({ "idANPR": id }));
        v["verifica"] = json!({ "generalita": { "cognome": g.name.surname(), "sesso": g.sex.as_str(), "dataNascita": "1990-04-12" } });
        let r = send(&e, http(&call(&e, "C031", &v).await)).await;
        let info = &r.json["listaSoggetti"]["datiSoggetto"][0]["infoSoggettoEnte"];
        assert_eq!((info[0]["chiave"].as_str(), info[0]["valore"].as_str()), (Some("ID ANPR valido"), Some("S")), "{}", r.json);
        assert_eq!((info[1]["chiave"].as_str(), info[1]["valore"].as_str()), (Some("Dati validi"), Some("S")));
        v["idOperazioneClient"] = json!("i-2");
        v["verifica"]["generalita"]["cognome"] = json!("Altro");
        let r = send(&e, http(&call(&e, "C031", &v).await)).await;
        assert_eq!(r.json["listaSoggetti"]["datiSoggetto"][0]["infoSoggettoEnte"][1]["valore"], "N");
        let r = send(&e, http(&call(&e, "C031", &request("C031", "i-3", json!({ "idANPR": "AA00000AA" }))).await)).await;
        assert_eq!(r.json["listaSoggetti"]["datiSoggetto"][0]["infoSoggettoEnte"][0]["valore"], "N");
        e.done().await;
    }
}

#[tokio::test]
async fn the_by_id_regime_refuses_other_criteria_except_on_c030() {
    let (store, dir, pg) = common::sqlite_only().await;
    let e = env(store, dir, pg, PdndSettings { id_only: true, ..Default::default() }, 100).await;
    let (_, cf, id) = e.people[0].clone();
    let r = send(&e, http(&call(&e, "C001", &request("C001", "a-1", json!({ "codiceFiscale": cf }))).await)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json["listaErrori"][0]["codiceErroreAnomalia"], "EN053");
    assert_eq!(send(&e, http(&call(&e, "C001", &request("C001", "a-2", json!({ "idANPR": id }))).await)).await.status, StatusCode::OK);
    assert_eq!(
        send(&e, http(&call(&e, "C030", &request("C030", "a-3", json!({ "codiceFiscale": cf }))).await)).await.status,
        StatusCode::OK
    );
    e.done().await;
}

#[tokio::test]
async fn a_purpose_past_its_rate_gets_429_with_retry_after() {
    let (store, dir, pg) = common::sqlite_only().await;
    let e = env(store, dir, pg, PdndSettings::default(), 2).await;
    let cf = e.people[0].1.clone();
    let mut calls = Vec::new();
    for i in 0..3 {
        calls.push(call(&e, "C030", &request("C030", &format!("l-{i}"), json!({ "codiceFiscale": cf }))).await);
    }
    // Three calls in the same second: the third is over the rate (two per second). Retried
    // across a second boundary the rate may have room again, so look for one 429 in a burst.
    let mut statuses = Vec::new();
    for c in &calls {
        let r = send(&e, http(c)).await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            assert!(r.headers.contains_key("retry-after"));
        }
        statuses.push(r.status);
    }
    let mut more = 0;
    while !statuses.contains(&StatusCode::TOO_MANY_REQUESTS) && more < 5 {
        let c = call(&e, "C030", &request("C030", &format!("m-{more}"), json!({ "codiceFiscale": cf }))).await;
        let c2 = call(&e, "C030", &request("C030", &format!("n-{more}"), json!({ "codiceFiscale": cf }))).await;
        let c3 = call(&e, "C030", &request("C030", &format!("o-{more}"), json!({ "codiceFiscale": cf }))).await;
        for c in [c, c2, c3] {
            statuses.push(send(&e, http(&c)).await.status);
        }
        more += 1;
    }
    assert!(statuses.contains(&StatusCode::TOO_MANY_REQUESTS), "{statuses:?}");
    e.done().await;
}

/// Most public bodies' keys on the national platform are RSA: their tokens are RS256.
#[tokio::test]
async fn a_body_with_an_rsa_key_signs_rs256_as_on_the_national_platform() {
    use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
    let (store, dir, pg) = common::sqlite_only().await;
    let mut e = env(store, dir, pg, PdndSettings::default(), 100).await;
    let private = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
    let public_pem = rsa::RsaPublicKey::from(&private).to_public_key_pem(LineEnding::LF).unwrap();
    let private_pem = private.to_pkcs8_pem(LineEnding::LF).unwrap().to_string();
    let mut client = e.store.pdnd_client("ente-1").await.unwrap().unwrap();
    client.keys.push(PdndKey { kid: "rsa-1".into(), public_key_pem: public_pem, revoked: false });
    e.store.save_pdnd_client(&client, &WriteContext::cli("test")).await.unwrap();
    e.body = BodySigner::new("ente-1", "rsa-1", &private_pem).unwrap();
    let (_, cf, id) = e.people[0].clone();
    let c = call(&e, "C030", &request("C030", "rsa-op", json!({ "codiceFiscale": cf }))).await;
    assert!(jsonwebtoken::decode_header(&c.signature).unwrap().alg == jsonwebtoken::Algorithm::RS256);
    let r = send(&e, http(&c)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.json["listaSoggetti"]["datiSoggetto"][0]["identificativi"]["idANPR"], id);
    e.done().await;
}

/// A public-security body's calls are traced like any other, marked as withheld from the
/// person's own view; the mark follows the body's registration on both backends.
#[tokio::test]
async fn a_public_security_bodys_calls_are_traced_and_marked_withheld_from_the_person() {
    for (store, dir, pg) in common::stores().await {
        let e = env(store, dir, pg, PdndSettings::default(), 100).await;
        let mut client = e.store.pdnd_client("ente-1").await.unwrap().unwrap();
        assert!(!client.public_security);
        client.public_security = true;
        e.store.save_pdnd_client(&client, &WriteContext::cli("test")).await.unwrap();
        assert!(e.store.pdnd_client("ente-1").await.unwrap().unwrap().public_security, "kept by the store");
        let (pid, cf, _) = e.people[0].clone();
        let c = call(&e, "C030", &request("C030", "ps-1", json!({ "codiceFiscale": cf }))).await;
        assert_eq!(send(&e, http(&c)).await.status, StatusCode::OK);
        let last = e.store.audit_entries(0, 100_000).await.unwrap().pop().unwrap();
        assert_eq!((last.entry.operation.as_str(), last.entry.subject_person), ("pdnd.C030", Some(pid)));
        let d: Value = serde_json::from_str(&last.entry.detail).unwrap();
        assert_eq!(d["withheld_from_subject"], true, "{d}");
        e.done().await;
    }
}

/// Every e-service answers its own question from the record, and only with the parts its
/// contract names.
#[tokio::test]
async fn every_e_service_answers_its_own_question() {
    let (store, dir, pg) = common::sqlite_only().await;
    let e = env(store, dir, pg, PdndSettings::default(), 1000).await;
    let (pid, cf, id) = e.people[0].clone();
    let g = e.store.person(pid, None).await.unwrap().record.generalita;
    let others: Vec<String> = e.people.iter().map(|p| p.1.clone()).collect();
    let mut n = 0;
    let mut ask = async |code: &str, verifica: Option<Value>| -> Value {
        n += 1;
        let mut body = request(code, &format!("all-{n}"), json!({ "idANPR": id }));
        if let Some(v) = verifica {
            body["verifica"] = v;
        }
        let r = send(&e, http(&call(&e, code, &body).await)).await;
        assert_eq!(r.status, StatusCode::OK, "{code}: {}", r.json);
        r.json["listaSoggetti"]["datiSoggetto"][0].clone()
    };
    let yes = |s: &Value| s["infoSoggettoEnte"][0]["valore"].as_str().unwrap().to_owned();
    let keys = |s: &Value| s.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    // Verifications: yes or no, nothing else.
    let s = ask("C003", Some(json!({ "generalita": { "codiceFiscale": cf, "cognome": g.name.surname() } }))).await;
    assert_eq!((yes(&s), keys(&s)), ("S".into(), vec!["infoSoggettoEnte".to_owned()]));
    assert_eq!(yes(&ask("C003", Some(json!({ "generalita": { "cognome": "Altro" } }))).await), "N");
    assert_eq!(yes(&ask("C005", None).await), "N", "a celibe is not married");
    assert_eq!(yes(&ask("C006", Some(json!({ "cittadinanza": [{ "codiceStato": "100" }] }))).await), "S");
    assert_eq!(yes(&ask("C006", Some(json!({ "cittadinanza": [{ "codiceStato": "215" }] }))).await), "N");
    assert_eq!(yes(&ask("C007", None).await), "S");
    let home = json!({ "indirizzo": { "comune": { "nomeComune": "Roma" }, "toponimo": { "denominazioneToponimo": "DEL BANCO" }, "numeroCivico": { "numero": "41" } } });
    assert_eq!(yes(&ask("C008", Some(json!({ "residenza": home }))).await), "S");
    let elsewhere = json!({ "residenza": [{ "indirizzo": { "comune": { "nomeComune": "Milano" } } }] });
    assert_eq!(yes(&ask("C008", Some(elsewhere)).await), "N");
    let all: Vec<Value> = others.iter().map(|c| json!({ "codiceFiscale": c })).collect();
    assert_eq!(yes(&ask("C009", Some(json!({ "statoFamiglia": all }))).await), "S");
    assert_eq!(yes(&ask("C009", Some(json!({ "statoFamiglia": [{ "codiceFiscale": cf }] }))).await), "N");
    assert_eq!(yes(&ask("C010", None).await), "S");
    assert_eq!(yes(&ask("C011", None).await), "N");
    assert_eq!(yes(&ask("C014", None).await), "N");
    // Accertamento: the data.
    let s = ask("C015", None).await;
    assert_eq!(keys(&s), vec!["generalita".to_owned(), "identificativi".into()]);
    assert_eq!(s["generalita"]["codiceFiscale"]["codFiscale"], cf);
    let s = ask("C016", None).await;
    assert_eq!(keys(&s), vec!["identificativi".to_owned()], "alive: no death data");
    let s = ask("C017", None).await;
    assert_eq!((yes(&s), s["infoSoggettoEnte"][1]["dettaglio"].as_str()), ("N".into(), Some("1")));
    let s = ask("C018", None).await;
    assert_eq!(s["cittadinanza"], json!([{ "codiceStato": "100", "descrizioneStato": "ITALIA" }]));
    assert_eq!(yes(&ask("C019", None).await), "S");
    let s = ask("C020", None).await;
    assert_eq!(s["residenza"][0]["indirizzo"]["numeroCivico"]["numero"], "41");
    assert!(s.get("cittadinanza").is_none());
    assert_eq!(yes(&ask("C022", None).await), "S");
    assert_eq!(yes(&ask("C023", None).await), "N");
    assert_eq!(yes(&ask("C026", None).await), "N");
    let s = ask("C029", None).await;
    assert_eq!(
        keys(&s),
        vec!["cittadinanza".to_owned(), "generalita".into(), "identificativi".into(), "infoSoggettoEnte".into(), "residenza".into()]
    );
    let s = ask("C033", None).await;
    assert!(s.get("datiDecesso").is_none() && s["residenza"].is_array());
    // A verification without what it verifies names the missing field.
    let r = send(&e, http(&call(&e, "C008", &request("C008", "miss-1", json!({ "idANPR": id }))).await)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json["listaErrori"][0]["campoErroreAnomalia"], "verifica.residenza");
    e.done().await;
}

/// Kept answers hold personal data: past their retention they are deleted (traced), and the
/// operation id is then answered anew rather than replayed.
#[tokio::test]
async fn kept_answers_are_deleted_after_their_retention() {
    for (store, dir, pg) in common::stores().await {
        let e = env(store, dir, pg, PdndSettings::default(), 100).await;
        let cf = e.people[0].1.clone();
        assert_eq!(
            send(&e, http(&call(&e, "C030", &request("C030", "ret-1", json!({ "codiceFiscale": cf }))).await)).await.status,
            StatusCode::OK
        );
        assert!(e.store.pdnd_answer("ente-1", "ret-1").await.unwrap().is_some());
        let now = anagrafe_store::now_ms();
        // Within the retention nothing goes.
        assert_eq!(anagrafe_server::pdnd::purge_answers(&*e.store, &e.settings, now).await.unwrap(), 0);
        let short = PdndSettings { answer_retention_days: 0, ..e.settings.clone() };
        assert_eq!(anagrafe_server::pdnd::purge_answers(&*e.store, &short, now + 1).await.unwrap(), 1);
        assert!(e.store.pdnd_answer("ente-1", "ret-1").await.unwrap().is_none());
        let last = e.store.audit_entries(0, 100_000).await.unwrap().pop().unwrap();
        assert_eq!((last.entry.operation.as_str(), last.entry.outcome.as_str()), ("pdnd.answers_purged", "ok"));
        let again = send(&e, http(&call(&e, "C030", &request("C030", "ret-1", json!({ "codiceFiscale": cf }))).await)).await;
        assert_eq!(again.status, StatusCode::OK);
        assert!(again.headers.get("idempotent-replay").is_none(), "answered anew");
        e.done().await;
    }
}

/// INT-2: the served OpenAPI document describes every e-service of the catalogue, and every
/// path it describes is served.
#[tokio::test]
async fn the_openapi_document_describes_every_e_service() {
    let (store, dir, pg) = common::sqlite_only().await;
    let e = env(store, dir, pg, PdndSettings::default(), 100).await;
    let r = send(&e, Request::get("/pdnd/openapi.json").body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::OK);
    let paths = r.json["paths"].as_object().unwrap();
    for es in anagrafe_server::pdnd::ESERVICES {
        for (p, m) in [("anpr-service-e002", "post"), ("status", "get")] {
            let path = format!("/{}/v1/{p}", es.segment());
            assert!(paths.get(&path).and_then(|x| x.get(m)).is_some(), "{m} {path} missing from /pdnd/openapi.json");
        }
    }
    assert_eq!(paths.len(), anagrafe_server::pdnd::ESERVICES.len() * 2 + 1, "a path the server does not have");
    // Every e-service path is routed: without a voucher, 401 (never 404/405).
    for path in paths.keys().filter(|p| p.contains("/v1/")) {
        let method = if path.ends_with("/status") { "GET" } else { "POST" };
        let r = send(&e, Request::builder().method(method).uri(format!("/pdnd{path}")).body(Body::empty()).unwrap()).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{method} {path}");
    }
    e.done().await;
}

/// Production: vouchers come from the national platform, signed RS256 with a key of its JWKS;
/// the register reads the key set from the configured URL, and its own token endpoint is off.
#[tokio::test]
async fn production_vouchers_are_verified_against_the_platforms_key_set() {
    use base64::Engine;
    use rsa::pkcs8::{EncodePrivateKey, LineEnding};
    use rsa::traits::PublicKeyParts;
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let platform = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
    let public = rsa::RsaPublicKey::from(&platform);
    let jwks = json!({ "keys": [{ "kty": "RSA", "kid": "platform-1", "use": "sig", "alg": "RS256",
        "n": b64(&public.n().to_bytes_be()), "e": b64(&public.e().to_bytes_be()) }] });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let served = axum::Router::new().route("/.well-known/jwks.json", axum::routing::get(move || async move { axum::Json(jwks) }));
    tokio::spawn(async move { axum::serve(listener, served).await.unwrap() });
    let settings = PdndSettings {
        issuer: "interop.pagopa.it".into(),
        jwks_url: Some(format!("http://{addr}/.well-known/jwks.json")),
        ..Default::default()
    };
    let (store, dir, pg) = common::sqlite_only().await;
    let e = env(store, dir, pg, settings, 100).await;
    let (_, cf, id) = e.people[0].clone();
    // The embedded token endpoint is off.
    let r = send(&e, Request::post("/pdnd/token.oauth2").body(Body::from("grant_type=client_credentials")).unwrap()).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let aud = audience(&e, "C030");
    let evidence = e.body.tracking_evidence(&aud, "p-c030", "utente-42", "postazione-7", "substantial").unwrap();
    let now = chrono::Utc::now().timestamp();
    let claims = VoucherClaims {
        iss: "interop.pagopa.it".into(),
        aud: aud.clone(),
        sub: "ente-1".into(),
        client_id: "ente-1".into(),
        purpose_id: "p-c030".into(),
        jti: "platform-voucher-1".into(),
        iat: now,
        nbf: Some(now),
        exp: now + 600,
        digest: Some(security::DigestClaim::of(&evidence)),
    };
    let sign = |kid: &str| {
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        h.kid = Some(kid.into());
        let pem = platform.to_pkcs8_pem(LineEnding::LF).unwrap();
        jsonwebtoken::encode(&h, &claims, &jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap()).unwrap()
    };
    let body = serde_json::to_vec(&request("C030", "prod-1", json!({ "codiceFiscale": cf }))).unwrap();
    let (digest, signature) = e.body.integrity(&aud, &body, "application/json").unwrap();
    let mk = |bearer: String, signature: String, digest: String| Call {
        path: "/pdnd/C030-servizioAccertamentoIdUnicoNazionale/v1/anpr-service-e002".into(),
        bearer,
        evidence: evidence.clone(),
        digest,
        signature,
        body: body.clone(),
    };
    let r = send(&e, http(&mk(sign("platform-1"), signature, digest))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.json["listaSoggetti"]["datiSoggetto"][0]["identificativi"]["idANPR"], id);
    // A voucher under a kid the platform does not publish is refused.
    let (digest, signature) = e.body.integrity(&aud, &body, "application/json").unwrap();
    let r = send(&e, http(&mk(sign("platform-unknown"), signature, digest))).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.json);
    e.done().await;
}
