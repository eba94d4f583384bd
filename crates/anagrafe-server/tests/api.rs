//! The comuni's web services over HTTP, in process: signatures (REG-5, SEC-1), idempotency,
//! competence (REG-6), field errors, notifications and the Agency's outbox.

mod common;

use anagrafe_domain::IdGenerator;
use anagrafe_server::modi::client::{Signer, generate_key_pair};
use anagrafe_server::{AppState, DEFAULT_AUDIENCE, app};
use anagrafe_store::{IdIssuer, SqliteStore, Store, WriteContext};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use std::sync::Arc;
use tower::ServiceExt;

struct Api {
    router: axum::Router,
    store: Arc<dyn Store>,
    roma: Signer,
    milano: Signer,
    agency: Signer,
    roma_key: String,
    _dir: tempfile::TempDir,
}

async fn client(store: &dyn Store, id: &str, role: &str, comune: Option<&str>) -> (Signer, String) {
    common::api_client(store, id, role, comune).await
}

async fn api() -> Api {
    api_with(|_| {}).await
}

async fn api_with(tune: impl FnOnce(&mut AppState)) -> Api {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::connect(&format!("sqlite://{}", dir.path().join("t.db").display())).await.unwrap();
    s.migrate().await.unwrap();
    let store: Arc<dyn Store> = Arc::new(s);
    let (roma, roma_key) = client(&*store, "roma", "comune", Some("H501")).await;
    let (milano, _) = client(&*store, "milano", "comune", Some("F205")).await;
    let (agency, _) = client(&*store, "agenzia", "revenue_agency", None).await;
    let mut state =
        AppState::new(store.clone()).with_issuer(IdIssuer { generator: IdGenerator::new(&[3u8; 16]), key_version: 1, high_water: None });
    tune(&mut state);
    Api { router: app(state), store, roma, milano, agency, roma_key, _dir: dir }
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    json: Value,
}

async fn send(api: &Api, req: Request<Body>) -> Reply {
    let resp = api.router.clone().oneshot(req).await.unwrap();
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    Reply { status: parts.status, headers: parts.headers, json: serde_json::from_slice(&bytes).unwrap_or(Value::Null) }
}

fn signed(signer: &Signer, method: &str, path: &str, body: &[u8]) -> Request<Body> {
    let ct = (!body.is_empty()).then_some("application/json");
    let (digest, jws) = signer.sign(method, path, body, ct).unwrap();
    let mut r = Request::builder().method(method).uri(path).header("digest", digest).header("agid-jwt-signature", jws);
    if let Some(ct) = ct {
        r = r.header("content-type", ct);
    }
    r.body(Body::from(body.to_vec())).unwrap()
}

fn birth(op: &str, surname: &str) -> Vec<u8> {
    json!({
        "client_op_id": op,
        "reason": "1",
        "effective_date": "2025-02-03",
        "name": { "surname": surname, "given": "Elisa" },
        "sex": "F",
        "birth_date": "2025-02-03",
        "birth_place": { "kind": "comune", "code": "F205" },
        "citizenships": [{ "kind": "italia" }],
        "civil_status": "CelibeNubile",
        "residence": { "kind": "italy", "comune": "H501", "species": "VIA", "toponym": "Nazionale", "civic": "10" },
        "household": { "kind": "new", "household": { "kind": "family" } }
    })
    .to_string()
    .into_bytes()
}

/// Audit entries and persons, to prove a refusal wrote nothing else.
async fn counts(api: &Api) -> (usize, u64) {
    (api.store.audit_entries(0, 100_000).await.unwrap().len(), api.store.count_persons().await.unwrap())
}

async fn assert_refused_leaving_only_the_refusal(api: &Api, req: Request<Body>, status: StatusCode) -> Value {
    let (audit, persons) = counts(api).await;
    let r = send(api, req).await;
    assert_eq!(r.status, status, "{}", r.json);
    assert_eq!(r.headers["content-type"], "application/problem+json");
    assert_eq!(counts(api).await, (audit + 1, persons), "only the refusal is traced");
    let last = api.store.audit_entries(audit as i64, 10).await.unwrap().pop().unwrap();
    assert_eq!(last.entry.outcome, "refused");
    r.json
}

#[tokio::test]
async fn a_signed_registration_returns_the_new_id_and_a_replay_returns_the_first_answer() {
    let api = api().await;
    let body = birth("op-1", "Bruno");
    let first = send(&api, signed(&api.roma, "POST", "/api/v1/persons", &body)).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.json);
    let id = first.json["id_anpr"].as_str().unwrap().to_owned();
    // Same operation id and body, new signature: the first answer, nothing written again.
    let (audit, persons) = counts(&api).await;
    let again = send(&api, signed(&api.roma, "POST", "/api/v1/persons", &body)).await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(again.json, first.json);
    assert_eq!(again.headers["idempotent-replay"], "true");
    assert_eq!(counts(&api).await, (audit, persons));
    // The same body under the same id sent for another record is another request: 409.
    let other = send(&api, signed(&api.roma, "POST", "/api/v1/persons", &birth("op-2", "Brunelli"))).await.json["id_anpr"]
        .as_str()
        .unwrap()
        .to_owned();
    let cs = json!({ "client_op_id": "cs-1", "effective_date": "2025-05-05", "civil_status": "Coniugato" }).to_string();
    let first_cs = send(&api, signed(&api.roma, "POST", &format!("/api/v1/persons/{id}/civil-status"), cs.as_bytes())).await;
    assert_eq!(first_cs.status, StatusCode::OK, "{}", first_cs.json);
    let elsewhere = send(&api, signed(&api.roma, "POST", &format!("/api/v1/persons/{other}/civil-status"), cs.as_bytes())).await;
    assert_eq!(elsewhere.status, StatusCode::CONFLICT, "{}", elsewhere.json);
    // Same id, another body: 409 naming the field.
    let other = send(&api, signed(&api.roma, "POST", "/api/v1/persons", &birth("op-1", "Brunetti"))).await;
    assert_eq!(other.status, StatusCode::CONFLICT);
    assert_eq!(other.json["errors"][0]["field"], "client_op_id");
    // The record reads back, as of today and (not found) before the birth.
    let read = send(&api, signed(&api.roma, "GET", &format!("/api/v1/persons/{id}"), b"")).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.json);
    assert_eq!(read.json["record"]["generalita"]["name"]["surname"], "Bruno");
    let before = send(&api, signed(&api.roma, "GET", &format!("/api/v1/persons/{id}?as_of=2025-01-01"), b"")).await;
    assert_eq!(before.status, StatusCode::NOT_FOUND);
    // Milano, the comune of birth, finds the notification in its feed.
    let feed = send(&api, signed(&api.milano, "GET", "/api/v1/notifications?after=0", b"")).await;
    assert_eq!(feed.json["items"][0]["kind"], "nascita_registrata_altrove");
    assert_eq!(feed.json["items"][0]["payload"]["id_anpr"], id);
    let next = feed.json["next"].as_i64().unwrap();
    let empty = send(&api, signed(&api.milano, "GET", &format!("/api/v1/notifications?after={next}"), b"")).await;
    assert_eq!(empty.json["items"], json!([]));
    // The Agency's gateway reads its outbox; a comune may not.
    let out = send(&api, signed(&api.agency, "GET", "/api/v1/revenue-agency/outbox", b"")).await;
    assert_eq!(out.json["items"][0]["kind"], "attribuzione_cf");
    assert_eq!(send(&api, signed(&api.roma, "GET", "/api/v1/revenue-agency/outbox", b"")).await.status, StatusCode::FORBIDDEN);
    assert!(api.store.verify_audit_chain().await.unwrap().first_bad.is_none());
}

#[tokio::test]
async fn a_person_is_found_by_personal_data_and_the_history_lists_the_events_oldest_first() {
    let api = api().await;
    let id = send(&api, signed(&api.roma, "POST", "/api/v1/persons", &birth("op-1", "Bruno"))).await.json["id_anpr"]
        .as_str()
        .unwrap()
        .to_owned();
    let find = |q: &str| signed(&api.roma, "GET", &format!("/api/v1/persons?{q}"), b"");
    // The full date, the month, the year; with the place of birth by name or code.
    for q in [
        "surname=bruno&given_name=ELISA&sex=F&birth_date=2025-02-03",
        "surname=Bruno&given_name=Elisa&sex=F&birth_date=2025-02&birth_place=Milano",
        "surname=Bruno&given_name=Elisa&sex=F&birth_date=2025&birth_place=F205",
    ] {
        let r = send(&api, find(q)).await;
        assert_eq!(r.status, StatusCode::OK, "{q}: {}", r.json);
        assert_eq!(r.json["persons"].as_array().map(Vec::len), Some(1), "{q}");
        assert_eq!(r.json["persons"][0]["id_anpr"], id.as_str());
    }
    for q in [
        "surname=Bruno&given_name=Elisa&sex=M&birth_date=2025-02-03",
        "surname=Bruno&given_name=Elisa&sex=F&birth_date=2025-02-04",
        "surname=Bruno&given_name=Elisa&sex=F&birth_date=2025&birth_place=H501",
    ] {
        assert_eq!(send(&api, find(q)).await.json["persons"], json!([]), "{q}");
    }
    // Bad searches name the parameter; nothing is traced as a read.
    for (q, field) in [
        ("surname=Bruno&given_name=Elisa&birth_date=2025", "sex"),
        ("surname=Bruno&sex=F&birth_date=2025", "given_name"),
        ("surname=Bruno&given_name=Elisa&sex=F&birth_date=2025-13", "birth_date"),
        ("surname=Bruno&given_name=Elisa&sex=F&birth_date=2025&birth_place=Atlantide", "birth_place"),
        ("codice_fiscale=BRNLSE25B43F205X&surname=Bruno", "codice_fiscale"),
        ("", "codice_fiscale"),
    ] {
        let (audit, _) = counts(&api).await;
        let r = send(&api, find(q)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q}: {}", r.json);
        assert_eq!(r.json["errors"][0]["field"], field, "{q}: {}", r.json);
        assert_eq!(counts(&api).await.0, audit, "{q}: a refused search reads nothing");
    }
    // The history: the registration, then a move within Rome, oldest first, traced as a read.
    let mv = json!({ "client_op_id": "mv-1", "effective_date": "2025-06-01",
        "residence": { "kind": "italy", "comune": "H501", "species": "VIA", "toponym": "Appia", "civic": "2" } });
    let moved = send(&api, signed(&api.roma, "POST", &format!("/api/v1/persons/{id}/residence"), mv.to_string().as_bytes())).await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.json);
    let (audit, _) = counts(&api).await;
    let h = send(&api, signed(&api.milano, "GET", &format!("/api/v1/persons/{id}/history"), b"")).await;
    assert_eq!(h.status, StatusCode::OK, "{}", h.json);
    let kinds: Vec<_> = h.json["events"].as_array().unwrap().iter().map(|e| (e["kind"].clone(), e["effective_date"].clone())).collect();
    assert_eq!(kinds, vec![(json!("iscrizione"), json!("2025-02-03")), (json!("residenza"), json!("2025-06-01"))]);
    assert_eq!(h.json["events"][0]["comune"], "H501");
    let res = h.json["residences"].as_array().unwrap();
    assert_eq!(res.len(), 2);
    assert_eq!((&res[0]["from"], &res[0]["to"], &res[1]["to"]), (&json!("2025-02-03"), &json!("2025-06-01"), &Value::Null));
    assert_eq!(res[1]["value"]["toponym"], "Appia");
    let traced = api.store.audit_entries(audit as i64, 10).await.unwrap();
    assert_eq!(traced.iter().map(|e| e.entry.operation.as_str()).collect::<Vec<_>>(), vec!["person.history"]);
    assert_eq!(send(&api, signed(&api.agency, "GET", &format!("/api/v1/persons/{id}/history"), b"")).await.status, StatusCode::FORBIDDEN);
    assert_eq!(send(&api, signed(&api.roma, "GET", "/api/v1/persons/AB12345CV/history", b"")).await.status, StatusCode::NOT_FOUND);
    let extra = send(&api, signed(&api.roma, "GET", &format!("/api/v1/persons/{id}/history?as_of=2025-01-01"), b"")).await;
    assert_eq!(extra.status, StatusCode::BAD_REQUEST, "the history takes no parameter");
}

/// Each client of the web services has its calls per minute (issue 18, item 7): past them `429`
/// with `Retry-After`, counted after the signature (nobody can spend another's allowance), in
/// memory or shared through the database; another comune is not slowed.
#[tokio::test]
async fn a_client_over_its_calls_per_minute_gets_429_and_another_client_does_not() {
    for shared in [false, true] {
        let api = api_with(|s| {
            s.limits.api_per_minute = 3;
            s.limits.shared_api_counts = shared;
        })
        .await;
        for _ in 0..3 {
            assert_eq!(send(&api, signed(&api.roma, "GET", "/api/v1/notifications", b"")).await.status, StatusCode::OK);
        }
        let r = send(&api, signed(&api.roma, "GET", "/api/v1/notifications", b"")).await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "shared {shared}: {}", r.json);
        assert_eq!(r.headers["content-type"], "application/problem+json");
        let wait: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=60).contains(&wait));
        assert!(r.json["detail"].as_str().unwrap().contains("more than 3 calls"), "{}", r.json);
        assert_eq!(send(&api, signed(&api.milano, "GET", "/api/v1/notifications", b"")).await.status, StatusCode::OK);
        // An unsigned call naming nobody spends nobody's allowance.
        assert_eq!(send(&api, Request::get("/api/v1/notifications").body(Body::empty()).unwrap()).await.status, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn an_unsigned_request_is_refused_with_401_and_writes_nothing() {
    let api = api().await;
    let req = Request::post("/api/v1/persons").header("content-type", "application/json").body(Body::from(birth("op-u", "Neri"))).unwrap();
    let p = assert_refused_leaving_only_the_refusal(&api, req, StatusCode::UNAUTHORIZED).await;
    assert!(p["detail"].as_str().unwrap().contains("Agid-JWT-Signature"));
}

#[tokio::test]
async fn a_tampered_body_is_refused_with_400_and_writes_nothing() {
    let api = api().await;
    let body = birth("op-t", "Neri");
    let req = signed(&api.roma, "POST", "/api/v1/persons", &body);
    let (parts, _) = req.into_parts();
    let tampered = Request::from_parts(parts, Body::from(birth("op-t", "Nerone")));
    let p = assert_refused_leaving_only_the_refusal(&api, tampered, StatusCode::BAD_REQUEST).await;
    assert_eq!(p["errors"][0]["field"], "Digest");
}

#[tokio::test]
async fn a_replayed_signature_is_refused_with_401_and_writes_nothing() {
    let api = api().await;
    let body = birth("op-r", "Neri");
    let (digest, jws) = api.roma.sign("POST", "/api/v1/persons", &body, Some("application/json")).unwrap();
    let make = || {
        Request::post("/api/v1/persons")
            .header("content-type", "application/json")
            .header("digest", &digest)
            .header("agid-jwt-signature", &jws)
            .body(Body::from(body.clone()))
            .unwrap()
    };
    assert_eq!(send(&api, make()).await.status, StatusCode::CREATED);
    let p = assert_refused_leaving_only_the_refusal(&api, make(), StatusCode::UNAUTHORIZED).await;
    assert!(p["detail"].as_str().unwrap().contains("jti"));
    // A signature first used on a request that was refused is spent too.
    let bad = br#"{"client_op_id":"op-bad"}"#.to_vec();
    let (digest, jws) = api.roma.sign("POST", "/api/v1/persons", &bad, Some("application/json")).unwrap();
    let make_bad = || {
        Request::post("/api/v1/persons")
            .header("content-type", "application/json")
            .header("digest", &digest)
            .header("agid-jwt-signature", &jws)
            .body(Body::from(bad.clone()))
            .unwrap()
    };
    assert_eq!(send(&api, make_bad()).await.status, StatusCode::BAD_REQUEST);
    assert_refused_leaving_only_the_refusal(&api, make_bad(), StatusCode::UNAUTHORIZED).await;
    // So is one used on a read.
    let (d2, j2) = api.roma.sign("GET", "/api/v1/notifications", b"", None).unwrap();
    let read =
        || Request::get("/api/v1/notifications").header("digest", &d2).header("agid-jwt-signature", &j2).body(Body::empty()).unwrap();
    assert_eq!(send(&api, read()).await.status, StatusCode::OK);
    assert_refused_leaving_only_the_refusal(&api, read(), StatusCode::UNAUTHORIZED).await;
}

#[tokio::test]
async fn signatures_for_another_audience_by_an_unknown_key_or_expired_are_refused() {
    let api = api().await;
    let wrong_aud = Signer::new("roma", "someone-else", &api.roma_key).unwrap();
    assert_refused_leaving_only_the_refusal(
        &api,
        signed(&wrong_aud, "POST", "/api/v1/persons", &birth("a", "X")),
        StatusCode::UNAUTHORIZED,
    )
    .await;
    // A key that is not the one registered for the client.
    let (other_key, _) = generate_key_pair();
    let impostor = Signer::new("roma", DEFAULT_AUDIENCE, &other_key).unwrap();
    assert_refused_leaving_only_the_refusal(&api, signed(&impostor, "POST", "/api/v1/persons", &birth("b", "X")), StatusCode::UNAUTHORIZED)
        .await;
    // A revoked client is refused from the next request on.
    let mut milano = api.store.api_client("milano").await.unwrap().unwrap();
    milano.revoked = true;
    api.store.save_api_client(&milano, &WriteContext::cli("test")).await.unwrap();
    assert_refused_leaving_only_the_refusal(&api, signed(&api.milano, "GET", "/api/v1/notifications", b""), StatusCode::UNAUTHORIZED).await;
    let ghost = Signer::new("nobody", DEFAULT_AUDIENCE, &other_key).unwrap();
    assert_refused_leaving_only_the_refusal(&api, signed(&ghost, "POST", "/api/v1/persons", &birth("c", "X")), StatusCode::UNAUTHORIZED)
        .await;
    // Expired: signed by hand an hour ago.
    let body = birth("d", "X");
    let digest = anagrafe_server::modi::digest_header(&body);
    let then = chrono::Utc::now().timestamp() - 3600;
    let claims = anagrafe_server::modi::SignatureClaims {
        iss: "roma".into(),
        aud: DEFAULT_AUDIENCE.into(),
        iat: then,
        exp: then + 60,
        jti: "old".into(),
        htm: "POST".into(),
        htu: "/api/v1/persons".into(),
        signed_headers: vec![
            serde_json::Map::from_iter([("digest".to_owned(), Value::from(digest.clone()))]),
            serde_json::Map::from_iter([("content-type".to_owned(), Value::from("application/json"))]),
        ],
    };
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some("roma".into());
    let jws = jsonwebtoken::encode(&header, &claims, &jsonwebtoken::EncodingKey::from_ec_pem(api.roma_key.as_bytes()).unwrap()).unwrap();
    let req = Request::post("/api/v1/persons")
        .header("content-type", "application/json")
        .header("digest", digest)
        .header("agid-jwt-signature", jws)
        .body(Body::from(body))
        .unwrap();
    let p = assert_refused_leaving_only_the_refusal(&api, req, StatusCode::UNAUTHORIZED).await;
    assert!(p["detail"].as_str().unwrap().contains("expired"), "{p}");
}

#[tokio::test]
async fn a_client_the_server_already_knows_is_judged_by_the_registry_as_it_is_now() {
    // The server keeps the clients it met with their parsed keys; a new key or a revocation
    // made elsewhere (here: straight in the store, as `anagrafe api add-client` or
    // `revoke-client` from another process would) must take effect on the very next request.
    let api = api().await;
    let feed = "/api/v1/notifications";
    assert_eq!(send(&api, signed(&api.milano, "GET", feed, b"")).await.status, StatusCode::OK);
    let (new_private, new_public) = generate_key_pair();
    let mut milano = api.store.api_client("milano").await.unwrap().unwrap();
    milano.public_key_pem = new_public;
    api.store.save_api_client(&milano, &WriteContext::cli("test")).await.unwrap();
    // The old key no longer speaks for the client, even though the server met it.
    assert_refused_leaving_only_the_refusal(&api, signed(&api.milano, "GET", feed, b""), StatusCode::UNAUTHORIZED).await;
    let rekeyed = Signer::new("milano", DEFAULT_AUDIENCE, &new_private).unwrap();
    assert_eq!(send(&api, signed(&rekeyed, "GET", feed, b"")).await.status, StatusCode::OK, "the new key is accepted at once");
    // Moved to another comune: the next request acts for the new one.
    milano.comune = Some(anagrafe_domain::Belfiore::parse("H501").unwrap());
    api.store.save_api_client(&milano, &WriteContext::cli("test")).await.unwrap();
    let r = send(&api, signed(&rekeyed, "POST", "/api/v1/persons", &birth("moved-1", "Spostata"))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    let last = api.store.audit_entries(0, 100_000).await.unwrap().pop().unwrap();
    assert_eq!(last.entry.actor, "client:milano");
    // Revoked: refused from the next request on, with only the refusal traced.
    milano.revoked = true;
    api.store.save_api_client(&milano, &WriteContext::cli("test")).await.unwrap();
    let p = assert_refused_leaving_only_the_refusal(&api, signed(&rekeyed, "GET", feed, b""), StatusCode::UNAUTHORIZED).await;
    assert!(p["detail"].as_str().unwrap().contains("revoked"), "{p}");
}

#[tokio::test]
async fn a_signature_cannot_be_moved_to_another_record_or_read() {
    let api = api().await;
    let a = send(&api, signed(&api.roma, "POST", "/api/v1/persons", &birth("op-a", "Primo"))).await.json["id_anpr"]
        .as_str()
        .unwrap()
        .to_owned();
    let b = send(&api, signed(&api.roma, "POST", "/api/v1/persons", &birth("op-b", "Secondo"))).await.json["id_anpr"]
        .as_str()
        .unwrap()
        .to_owned();
    // A cancellation signed for A, sent to B's path.
    let cancel = json!({ "client_op_id": "c-a", "reason": 6, "effective_date": "2025-06-01" }).to_string();
    let (parts, body) = signed(&api.roma, "POST", &format!("/api/v1/persons/{a}/cancellation"), cancel.as_bytes()).into_parts();
    let mut moved = Request::from_parts(parts, body);
    *moved.uri_mut() = format!("/api/v1/persons/{b}/cancellation").parse().unwrap();
    let p = assert_refused_leaving_only_the_refusal(&api, moved, StatusCode::UNAUTHORIZED).await;
    assert!(p["detail"].as_str().unwrap().contains("htu"), "{p}");
    // A read signed for one query, sent with another.
    let (parts, body) = signed(&api.roma, "GET", &format!("/api/v1/persons/{a}"), b"").into_parts();
    let mut other = Request::from_parts(parts, body);
    *other.uri_mut() = format!("/api/v1/persons/{a}?as_of=2025-03-01").parse().unwrap();
    assert_refused_leaving_only_the_refusal(&api, other, StatusCode::UNAUTHORIZED).await;
}

#[tokio::test]
async fn a_comune_cannot_act_on_another_comunes_record() {
    let api = api().await;
    let created = send(&api, signed(&api.roma, "POST", "/api/v1/persons", &birth("op-c", "Gialli"))).await;
    let id = created.json["id_anpr"].as_str().unwrap();
    let cancel = json!({ "client_op_id": "x", "reason": 6, "effective_date": "2025-06-01" }).to_string();
    let r = send(&api, signed(&api.milano, "POST", &format!("/api/v1/persons/{id}/cancellation"), cancel.as_bytes())).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.json);
    // Registering into Roma is Roma's: Milano is refused.
    let r = send(&api, signed(&api.milano, "POST", "/api/v1/persons", &birth("op-m", "Viola"))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Roma may cancel it.
    let r = send(&api, signed(&api.roma, "POST", &format!("/api/v1/persons/{id}/cancellation"), cancel.as_bytes())).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
}

#[tokio::test]
async fn bad_data_get_problem_json_naming_the_field_and_write_nothing() {
    let api = api().await;
    let cases: Vec<(Value, &str, StatusCode)> = vec![
        (json!({ "reason": "1" }), "client_op_id", StatusCode::BAD_REQUEST),
        (json!({ "client_op_id": "e1", "reason": "1", "effective_date": "2025-13-01" }), "effective_date", StatusCode::BAD_REQUEST),
        (
            {
                let mut v: Value = serde_json::from_slice(&birth("e2", "Rossi")).unwrap();
                v["name"]["surname"] = json!("R0ssi");
                v
            },
            "name",
            StatusCode::BAD_REQUEST,
        ),
        (
            {
                let mut v: Value = serde_json::from_slice(&birth("e3", "Rossi")).unwrap();
                v["residence"]["comune"] = json!("Z999");
                v
            },
            "residence.comune",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            {
                let mut v: Value = serde_json::from_slice(&birth("e4", "Rossi")).unwrap();
                v["effective_date"] = json!("2025-02-10");
                v
            },
            "effective_date",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            // The same citizenship twice was a 500 from the store's unique key (issue 17).
            {
                let mut v: Value = serde_json::from_slice(&birth("e7", "Rossi")).unwrap();
                v["citizenships"] = json!([{ "kind": "italia" }, { "kind": "italia" }]);
                v
            },
            "citizenships[1]",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            {
                let mut v: Value = serde_json::from_slice(&birth("e5", "Rossi")).unwrap();
                v["unexpected"] = json!(1);
                v
            },
            "unexpected",
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (body, field, status) in cases {
        let (_, persons) = counts(&api).await;
        let r = send(&api, signed(&api.roma, "POST", "/api/v1/persons", body.to_string().as_bytes())).await;
        assert_eq!(r.status, status, "{field}: {}", r.json);
        assert_eq!(r.headers["content-type"], "application/problem+json");
        let named = r.json["errors"].as_array().unwrap().iter().any(|e| e["field"].as_str().unwrap().contains(field))
            || r.json["detail"].as_str().unwrap().contains(field);
        assert!(named, "{field} not named: {}", r.json);
        assert_eq!(counts(&api).await.1, persons);
    }
    // Dates PostgreSQL cannot hold are refused before they reach it.
    let mut v: Value = serde_json::from_slice(&birth("e6", "Rossi")).unwrap();
    v["effective_date"] = json!("-5000-01-01");
    let r = send(&api, signed(&api.roma, "POST", "/api/v1/persons", v.to_string().as_bytes())).await;
    assert!(r.status.is_client_error(), "{}", r.json);
    let some_id = anagrafe_domain::IdAnpr::from_index(5).unwrap();
    let r = send(&api, signed(&api.roma, "GET", &format!("/api/v1/persons/{some_id}?as_of=-5000-01-01"), b"")).await;
    assert_eq!(r.json["errors"][0]["field"], "as_of");
    // A bad ID in the path, a bad as_of, a bad cursor: 400s naming them.
    assert_eq!(send(&api, signed(&api.roma, "GET", "/api/v1/persons/AB123", b"")).await.json["errors"][0]["field"], "id_anpr");
    let r = send(&api, signed(&api.roma, "GET", "/api/v1/notifications?after=-1", b"")).await;
    assert_eq!(r.json["errors"][0]["field"], "after");
    let r = send(&api, signed(&api.roma, "GET", "/api/v1/notifications?after=abc", b"")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json["errors"][0]["field"], "query");
}

#[tokio::test]
async fn the_openapi_document_describes_every_api_route() {
    let api = api().await;
    let r = send(&api, Request::get("/api/openapi.json").body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::OK);
    let paths = r.json["paths"].as_object().expect("paths");
    for (path, methods) in anagrafe_server::api::ROUTES {
        let p = paths.get(*path).unwrap_or_else(|| panic!("{path} missing from openapi.json"));
        for m in *methods {
            assert!(p.get(*m).is_some(), "{m} {path} missing from openapi.json");
        }
    }
    // Every listed route is served: unsigned, it is refused (401), never unknown (404/405).
    for (path, methods) in anagrafe_server::api::ROUTES {
        let concrete = path.replace("{id_anpr}", "AB12345CD").replace("{family_id}", "1").replace("{id}", "2026-ABCDEFGHJK");
        for m in *methods {
            let r = send(&api, Request::builder().method(m.to_uppercase().as_str()).uri(&concrete).body(Body::empty()).unwrap()).await;
            let expected = match *path {
                "/api/openapi.json" => StatusCode::OK,
                "/api/register-key" => StatusCode::NOT_FOUND,
                _ => StatusCode::UNAUTHORIZED,
            };
            assert_eq!(r.status, expected, "{m} {path}");
        }
    }
    let documented: usize = paths.values().map(|p| p.as_object().unwrap().keys().filter(|k| *k != "parameters").count()).sum();
    let routed: usize = anagrafe_server::api::ROUTES.iter().map(|(_, m)| m.len()).sum();
    assert_eq!(documented, routed, "openapi.json documents a route the server does not have");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_are_pushed_signed_by_the_register_and_retried_after_a_failure() {
    use anagrafe_server::push::{PushPacing, round};
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let api = api().await;
    // Milano's software listens; its first answer is a failure.
    let received: Arc<Mutex<Vec<(axum::http::HeaderMap, axum::body::Bytes)>>> = Arc::default();
    let calls = Arc::new(AtomicUsize::new(0));
    let (r2, c2) = (received.clone(), calls.clone());
    let hook = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| async move {
            if c2.fetch_add(1, Ordering::SeqCst) == 0 {
                return StatusCode::SERVICE_UNAVAILABLE;
            }
            r2.lock().unwrap().push((headers, body));
            StatusCode::NO_CONTENT
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, hook).await.unwrap() });
    api.store.set_push_url("milano", Some(&format!("http://{addr}/hook")), &WriteContext::cli("test")).await.unwrap();
    // A child born in Milano is registered in Roma: Milano is notified.
    let created = send(&api, signed(&api.roma, "POST", "/api/v1/persons", &birth("op-p", "Azzurri"))).await;
    let id = created.json["id_anpr"].as_str().unwrap().to_owned();
    let (register_key, _) = generate_key_pair();
    let state = AppState::new(api.store.clone()).with_register_key(&register_key).unwrap();
    let pacing = PushPacing { every: std::time::Duration::from_millis(10), backoff: std::time::Duration::from_millis(100), batch: 100 };
    round(&state, pacing).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1, "first attempt");
    round(&state, pacing).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1, "not retried before the backoff");
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    round(&state, pacing).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2, "retried after the backoff");
    round(&state, pacing).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2, "delivered once: the cursor moved on");
    let (headers, body) = received.lock().unwrap().pop().unwrap();
    let doc: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(doc["items"][0]["kind"], "nascita_registrata_altrove");
    assert_eq!(doc["items"][0]["payload"]["id_anpr"], id);
    // Milano verifies the push with the register's published key.
    let published = send(&api, Request::get("/api/register-key").body(Body::empty()).unwrap()).await;
    assert_eq!(published.status, StatusCode::NOT_FOUND, "this router's state has no key");
    let pem = state.register_signer.as_ref().unwrap().public_key_pem().to_owned();
    let served = app(state.clone()).oneshot(Request::get("/api/register-key").body(Body::empty()).unwrap()).await.unwrap();
    let served = served.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(served, pem.as_bytes());
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    v.set_audience(&["milano"]);
    v.set_issuer(&[anagrafe_server::REGISTER_KID]);
    let jws = headers["agid-jwt-signature"].to_str().unwrap();
    let claims = jsonwebtoken::decode::<anagrafe_server::modi::SignatureClaims>(
        jws,
        &jsonwebtoken::DecodingKey::from_ec_pem(pem.as_bytes()).unwrap(),
        &v,
    )
    .expect("the push verifies with the register's key")
    .claims;
    assert_eq!(headers["digest"], anagrafe_server::modi::digest_header(&body));
    assert_eq!(claims.signed_headers[0]["digest"], headers["digest"].to_str().unwrap());
}

/// An operator with a session (both factors unless `second_factor` is false); returns the
/// cookie and CSRF headers to send.
async fn officer(api: &Api, username: &str, role: &str, scope: &str, second_factor: bool) -> [(String, String); 2] {
    common::operator(&*api.store, username, role, scope, common::NO_PASSWORD, second_factor.then_some("JBSWY3DPEHPK3PXP")).await;
    let (token, csrf) = common::session(&*api.store, "operator", username, second_factor).await;
    [("cookie".into(), format!("{}={token}", anagrafe_server::auth::COOKIE)), ("x-csrf-token".into(), csrf)]
}

fn at_the_office(headers: &[(String, String); 2], method: &str, path: &str, body: &[u8]) -> Request<Body> {
    let mut r = Request::builder().method(method).uri(path).header("content-type", "application/json");
    for (k, v) in headers {
        r = r.header(k.as_str(), v.as_str());
    }
    r.body(Body::from(body.to_vec())).unwrap()
}

#[tokio::test]
async fn a_registry_officer_acts_for_their_own_comune_only() {
    let api = api().await;
    let roma = officer(&api, "ufficiale-roma", "registry_officer", "H501", true).await;
    let milano = officer(&api, "ufficiale-milano", "registry_officer", "F205", true).await;
    // The Roma officer registers a birth in Roma at the counter: traced as the officer.
    let r = send(&api, at_the_office(&roma, "POST", "/api/v1/persons", &birth("off-1", "Neri"))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    let id = r.json["id_anpr"].as_str().unwrap().to_owned();
    let last = api.store.audit_entries(0, 100_000).await.unwrap().pop().unwrap().entry;
    assert_eq!((last.actor.as_str(), last.auth_mode.as_str()), ("operator:ufficiale-roma", "password+totp"));
    // The Milano officer cannot cancel Roma's resident, nor register into Roma.
    let cancel = json!({ "client_op_id": "off-x", "reason": 6, "effective_date": "2025-06-01" }).to_string();
    let path = format!("/api/v1/persons/{id}/cancellation");
    assert_eq!(send(&api, at_the_office(&milano, "POST", &path, cancel.as_bytes())).await.status, StatusCode::FORBIDDEN);
    assert_eq!(send(&api, at_the_office(&milano, "POST", "/api/v1/persons", &birth("off-2", "Rosa"))).await.status, StatusCode::FORBIDDEN);
    // Without the CSRF token, nothing; without the second factor or the role, nothing.
    let no_csrf = [roma[0].clone(), ("x-csrf-token".to_owned(), "wrong".to_owned())];
    assert_eq!(send(&api, at_the_office(&no_csrf, "POST", &path, cancel.as_bytes())).await.status, StatusCode::FORBIDDEN);
    let first = officer(&api, "solo-password", "registry_officer", "H501", false).await;
    assert_eq!(send(&api, at_the_office(&first, "POST", &path, cancel.as_bytes())).await.status, StatusCode::FORBIDDEN);
    let security = officer(&api, "sicurezza", "security_officer", "", true).await;
    assert_eq!(send(&api, at_the_office(&security, "POST", &path, cancel.as_bytes())).await.status, StatusCode::FORBIDDEN);
    // Roma's officer may.
    let r = send(&api, at_the_office(&roma, "POST", &path, cancel.as_bytes())).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
}

/// Issue 19, REG-1: a comune's software records an identity card, renews it and reports the new
/// one stolen through the web services; bad data name their field and write nothing; the
/// history lists every document with how it ended.
#[tokio::test]
async fn a_comune_records_renews_and_ends_identity_documents_through_the_web_services() {
    let api = api().await;
    let id =
        send(&api, signed(&api.roma, "POST", "/api/v1/persons", &birth("d-0", "Carli"))).await.json["id_anpr"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/persons/{id}/documents");
    let card = |op: &str, number: &str, issued: &str, renews: Option<&str>| {
        let mut v = json!({ "client_op_id": op, "kind": "cie", "number": number, "issued_on": issued, "expires_on": "2035-02-03" });
        if let Some(r) = renews {
            v["renews"] = json!(r);
        }
        v.to_string().into_bytes()
    };
    let first = send(&api, signed(&api.roma, "POST", &path, &card("d-1", "CA00001AA", "2025-02-10", None))).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.json);
    let again = send(&api, signed(&api.roma, "POST", &path, &card("d-1", "CA00001AA", "2025-02-10", None))).await;
    assert_eq!((again.status, &again.headers["idempotent-replay"]), (StatusCode::CREATED, &"true".parse().unwrap()));
    // Another comune is not competent; the body's mistakes name their field.
    let r = send(&api, signed(&api.milano, "POST", &path, &card("d-2", "CA00002AA", "2025-03-01", Some("CA00001AA")))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.json);
    for (body, field, status) in [
        (
            json!({ "client_op_id": "d-3", "kind": "patente", "number": "AB1234567", "issued_on": "2025-03-01" }),
            "kind",
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({ "client_op_id": "d-4", "kind": "cie", "number": "CA00002AA", "issued_on": "2025-03-01" }),
            "expires_on",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "client_op_id": "d-5", "kind": "passaporto", "number": "Y/1", "issued_on": "2025-03-01" }),
            "number",
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({ "client_op_id": "d-6", "kind": "permesso_soggiorno", "permit_kind": 1, "number": "I00000009", "issued_on": "2025-03-01", "expires_on": "2027-03-01" }),
            "kind",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "client_op_id": "d-7", "kind": "cie", "number": "CA00002AA", "issued_on": "2025-03-01", "expires_on": "2035-03-01" }),
            "renews",
            StatusCode::CONFLICT,
        ),
    ] {
        let r = assert_refused_or_unread(&api, signed(&api.roma, "POST", &path, body.to_string().as_bytes()), status).await;
        assert_eq!(r["errors"][0]["field"], field, "{r}");
    }
    let renewed = send(&api, signed(&api.roma, "POST", &path, &card("d-8", "CA00002AA", "2025-03-01", Some("CA-00001-AA")))).await;
    assert_eq!(renewed.status, StatusCode::CREATED, "{}", renewed.json);
    let end = |op: &str, reason: &str| json!({ "client_op_id": op, "ended_on": "2025-04-01", "reason": reason }).to_string().into_bytes();
    let r = send(&api, signed(&api.roma, "POST", &format!("{path}/CA00002AA/end"), &end("d-9", "renewed"))).await;
    assert_eq!((r.status, r.json["errors"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("reason")), "{}", r.json);
    let r = send(&api, signed(&api.roma, "POST", &format!("{path}/CA00009ZZ/end"), &end("d-10", "stolen"))).await;
    assert_eq!((r.status, r.json["errors"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("number")), "{}", r.json);
    let stolen = send(&api, signed(&api.roma, "POST", &format!("{path}/ca00002aa/end"), &end("d-11", "stolen"))).await;
    assert_eq!(stolen.status, StatusCode::OK, "{}", stolen.json);
    let read = send(&api, signed(&api.roma, "GET", &format!("/api/v1/persons/{id}"), b"")).await;
    assert_eq!(read.json["record"]["documents"], json!([]), "{}", read.json);
    let history = send(&api, signed(&api.roma, "GET", &format!("/api/v1/persons/{id}/history"), b"")).await;
    let ends: Vec<Value> =
        history.json["documents"].as_array().unwrap().iter().map(|d| json!([d["number"], d["ended"]["reason"]])).collect();
    assert_eq!(ends, [json!(["CA00001AA", "renewed"]), json!(["CA00002AA", "stolen"])], "{}", history.json);
    assert!(api.store.verify_audit_chain().await.unwrap().first_bad.is_none());
}

/// A refused write: problem+json, and nothing written but (for a refusal the register decides)
/// the refusal's own trace entry.
async fn assert_refused_or_unread(api: &Api, req: Request<Body>, status: StatusCode) -> Value {
    let (audit, persons) = counts(api).await;
    let r = send(api, req).await;
    assert_eq!(r.status, status, "{}", r.json);
    assert_eq!(r.headers["content-type"], "application/problem+json");
    let (after, persons_after) = counts(api).await;
    assert_eq!(persons_after, persons);
    assert!(after <= audit + 1, "at most the refusal is traced");
    if after == audit + 1 {
        assert_eq!(api.store.audit_entries(audit as i64, 10).await.unwrap().pop().unwrap().entry.outcome, "refused");
    }
    r.json
}

/// Issue 20, EU-5: a registration request submitted by an EU citizen is worked to the end by
/// the comune's software through the signed web services alone — list, detail, each document,
/// its verification, the start of the procedure, the acceptance that registers the family —
/// idempotent by operation id, refused to another comune, with field errors named.
#[tokio::test]
async fn a_case_is_worked_to_the_end_through_the_web_services() {
    use anagrafe_domain::case::{Evidence, Grounds};
    use anagrafe_domain::eu::{Declared, EidasId, EidasPerson, Member, RegistrationRequest};
    use anagrafe_domain::person::BirthPlace;
    use anagrafe_domain::refdata::RefData;
    use anagrafe_domain::text::{EmailAddress, Line};
    use anagrafe_domain::{Belfiore, PersonName, Sex};
    use anagrafe_service::cases::{CaseDesk, CodeMailer, EuDesk, LocalTaxRegistry, Upload};
    use anagrafe_service::{Principal, Registry, ServiceResult, SystemClock};

    #[derive(Debug, Default)]
    struct Kept(std::sync::Mutex<Option<String>>);
    #[async_trait::async_trait]
    impl CodeMailer for Kept {
        async fn send_code(&self, _to: &str, code: &str) -> ServiceResult<()> {
            *self.0.lock().unwrap() = Some(code.to_owned());
            Ok(())
        }
    }
    let api = api().await;
    let clock = Arc::new(SystemClock);
    let fra = RefData::current().stati().iter().find(|s| s.iso3.as_deref() == Some("FRA")).unwrap().code;
    let person = EidasPerson {
        id: EidasId::parse("FR/IT/998877").unwrap(),
        family_name: "Martin".into(),
        given_name: "Claire".into(),
        birth_date: "1988-01-15".parse().unwrap(),
    };
    let kept = Arc::new(Kept::default());
    let eu = EuDesk::new(api.store.clone(), clock.clone(), Arc::new(LocalTaxRegistry::new(api.store.clone())), kept.clone());
    let who = Principal::eu_citizen("FR/IT/998877", None, "oidc:eidas", 2, "req-eu".into());
    eu.logged_in(&person).await.unwrap();
    let email = EmailAddress::new("claire@example.eu").unwrap();
    eu.declare(&who, Declared { codice_fiscale: None, sex: Sex::F, birth_place: BirthPlace::Abroad { state: fra, locality: None }, email })
        .await
        .unwrap();
    let code = kept.0.lock().unwrap().clone().unwrap();
    eu.confirm(&who, &code).await.unwrap();
    let registry = Registry::new(api.store.clone(), None, clock.clone());
    let desk = CaseDesk::new(api.store.clone(), clock.clone(), registry);
    let member = Member {
        name: PersonName::new(Some("Martin"), Some("Claire")).unwrap(),
        sex: Sex::F,
        birth_date: person.birth_date,
        birth_place: BirthPlace::Abroad { state: fra, locality: None },
        citizenship: fra,
        codice_fiscale: None,
        relation: 1,
        signature: None,
    };
    let request = RegistrationRequest {
        members: vec![member],
        comune: Belfiore::parse("H501").unwrap(),
        species: Line::new("VIA").unwrap(),
        street: Line::new("Nazionale").unwrap(),
        civic: Some(Line::new("5").unwrap()),
        arrival_date: "2026-11-02".parse().unwrap(),
        provenance: fra,
        grounds: Grounds::Student,
    };
    let id = desk.start_registration(&who, request).await.unwrap();
    let pdf = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n".to_vec();
    for (evidence, member) in
        [(Evidence::IdentityDocument, Some(0)), (Evidence::Enrolment, None), (Evidence::Resources, None), (Evidence::HealthInsurance, None)]
    {
        let up = Upload { evidence, member, filename: "scan.pdf".into(), bytes: pdf.clone() };
        desk.attach(&who, id, up).await.unwrap();
    }
    let protocol = desk.submit(&who, id).await.unwrap();
    // The list and the detail, for Rome only.
    let list = send(&api, signed(&api.roma, "GET", "/api/v1/cases", b"")).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.json);
    assert_eq!(list.json["items"][0]["protocol"], json!(protocol.to_string()));
    assert_eq!(send(&api, signed(&api.milano, "GET", "/api/v1/cases", b"")).await.json["items"], json!([]));
    let path = format!("/api/v1/cases/{id}");
    assert_eq!(send(&api, signed(&api.milano, "GET", &path, b"")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(send(&api, signed(&api.agency, "GET", &path, b"")).await.status, StatusCode::FORBIDDEN);
    let detail = send(&api, signed(&api.roma, "GET", &path, b"")).await;
    assert_eq!(detail.json["state"], "submitted", "{}", detail.json);
    assert_eq!(detail.json["data"]["grounds"], "student");
    let docs: Vec<i64> = detail.json["documents"].as_array().unwrap().iter().map(|d| d["id"].as_i64().unwrap()).collect();
    assert_eq!(docs.len(), 4);
    let href = detail.json["documents"][0]["href"].as_str().unwrap().to_owned();
    let file = api.router.clone().oneshot(signed(&api.roma, "GET", &href, b"")).await.unwrap();
    assert_eq!(file.headers()["content-type"], "application/pdf");
    assert_eq!(file.headers()["x-content-sha256"].to_str().unwrap(), detail.json["documents"][0]["sha256"].as_str().unwrap());
    assert_eq!(file.into_body().collect().await.unwrap().to_bytes().as_ref(), pdf.as_slice());
    // Steps: field errors, then the procedure, idempotent.
    let steps = format!("{path}/steps");
    let post = |body: Value| signed(&api.roma, "POST", &steps, body.to_string().as_bytes());
    for (body, field, status) in [
        (json!({ "action": "accept" }), "client_op_id", StatusCode::BAD_REQUEST),
        (json!({ "client_op_id": "s-0", "action": "approve" }), "action", StatusCode::BAD_REQUEST),
        (json!({ "client_op_id": "s-0", "action": "accept" }), "action", StatusCode::CONFLICT),
        (json!({ "client_op_id": "s-0", "action": "start_procedure" }), "action", StatusCode::CONFLICT),
        (json!({ "client_op_id": "s-0", "action": "verify_document", "document": 999_999, "valid": true }), "action", StatusCode::CONFLICT),
    ] {
        let r = send(&api, post(body)).await;
        assert_eq!((r.status, r.json["errors"][0]["field"].as_str()), (status, Some(field)), "{}", r.json);
    }
    for (i, doc) in docs.iter().enumerate() {
        let r = send(&api, post(json!({ "client_op_id": format!("v-{i}"), "action": "verify_document", "document": doc, "valid": true })))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    }
    let start = send(&api, post(json!({ "client_op_id": "avvio", "action": "start_procedure", "note": "comunicazione inviata" }))).await;
    assert_eq!((start.status, start.json["to"].as_str()), (StatusCode::CREATED, Some("in_progress")), "{}", start.json);
    let again = send(&api, post(json!({ "client_op_id": "avvio", "action": "start_procedure", "note": "comunicazione inviata" }))).await;
    assert_eq!((again.status, again.json["id"].clone()), (StatusCode::OK, start.json["id"].clone()));
    let other = send(&api, post(json!({ "client_op_id": "avvio", "action": "note", "note": "altro" }))).await;
    assert_eq!(other.status, StatusCode::CONFLICT, "{}", other.json);
    // Acceptance registers the applicant (immigration from abroad) and links the eIDAS identity.
    let accept = send(&api, post(json!({ "client_op_id": "esito", "action": "accept" }))).await;
    assert_eq!((accept.status, accept.json["to"].as_str()), (StatusCode::CREATED, Some("accepted")), "{}", accept.json);
    let pid = api.store.eu_profile("FR/IT/998877").await.unwrap().unwrap().person_id.expect("registered");
    let record = api.store.person(pid, None).await.unwrap().record;
    assert!(record.id_anpr.is_some() && record.generalita.codice_fiscale.is_some(), "an ID ANPR and a codice fiscale are given");
    let closed = send(&api, post(json!({ "client_op_id": "tardi", "action": "note", "note": "x" }))).await;
    assert_eq!((closed.status, closed.json["errors"][0]["code"].as_str()), (StatusCode::CONFLICT, Some("case-closed")), "{}", closed.json);
    assert!(api.store.verify_audit_chain().await.unwrap().first_bad.is_none());
}
