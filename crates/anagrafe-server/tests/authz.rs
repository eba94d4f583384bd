//! The authorisation matrix (issue 6): `authz-matrix.csv` says, for every route, what each kind
//! of caller gets; this test calls every route as every caller and compares. It also reads the
//! router's source and fails when a route has no row (or a row no route), so a new route cannot
//! be added without deciding who may call it.

mod common;

use anagrafe_domain::IdGenerator;
use anagrafe_server::auth::dev_idp::DevIdp;
use anagrafe_server::auth::oidc::OidcSettings;
use anagrafe_server::auth::{COOKIE, CSRF_HEADER, password};
use anagrafe_server::modi::client::Signer;
use anagrafe_server::{AppState, app};
use anagrafe_store::{IdIssuer, SqliteStore, Store};
use axum::body::Body;
use axum::http::Request;
use std::collections::BTreeSet;
use std::sync::Arc;
use tower::ServiceExt;

const CALLERS: [&str; 14] = [
    "anonymous",
    "citizen",
    "eu_citizen",
    "operator_first_factor",
    "registry_officer",
    "security_officer",
    "electoral_officer",
    "pa_top",
    "pa_admin",
    "pa_standard",
    "pa_standardps",
    "system_admin",
    "comune_client",
    "agency_client",
];

struct Row {
    method: String,
    path: String,
    expected: Vec<String>,
}

fn matrix() -> Vec<Row> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/authz-matrix.csv")).unwrap();
    let mut lines = text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty());
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(&header[2..], &CALLERS, "the matrix's columns");
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            assert_eq!(f.len(), 2 + CALLERS.len(), "{l}");
            for v in &f[2..] {
                assert!(["allow", "401", "403"].contains(v), "{l}: outcome {v}");
            }
            Row { method: f[0].into(), path: f[1].into(), expected: f[2..].iter().map(|s| s.to_string()).collect() }
        })
        .collect()
}

/// Every `(METHOD, path)` the router's source declares with `.route("PATH", method(…)…)`.
fn routes_in_source() -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    let mut stack = vec![std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/src"))];
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            stack.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        let src = std::fs::read_to_string(&p).unwrap();
        for chunk in src.split(".route(\"").skip(1) {
            let (path, rest) = chunk.split_once('"').unwrap();
            let call = &rest[..rest.find("))").map(|i| i + 2).unwrap_or(rest.len())];
            for m in ["get", "post", "put", "patch", "delete"] {
                if call.contains(&format!("{m}(")) {
                    out.insert((m.to_uppercase(), path.to_owned()));
                }
            }
        }
    }
    out
}

#[test]
fn every_route_has_a_row_and_every_row_a_route() {
    let declared = routes_in_source();
    let listed: BTreeSet<(String, String)> = matrix().into_iter().map(|r| (r.method, r.path)).collect();
    let missing: Vec<_> = declared.difference(&listed).collect();
    let stale: Vec<_> = listed.difference(&declared).collect();
    assert!(missing.is_empty(), "routes without a row in authz-matrix.csv: {missing:?}");
    assert!(stale.is_empty(), "rows naming no route: {stale:?}");
    assert!(declared.len() >= 38, "the source scan found {} routes", declared.len());
}

struct Env {
    router: axum::Router,
    store: Arc<dyn Store>,
    comune: Signer,
    agency: Signer,
    _dir: tempfile::TempDir,
}

/// The session a caller presents: kind, subject, second factor.
fn who(caller: &str) -> (&'static str, &'static str, bool) {
    match caller {
        "citizen" => ("citizen", "RSSMRA80A01H501U", true),
        "eu_citizen" => ("eu", "FR/IT/0123456789", true),
        "operator_first_factor" => ("operator", "first", false),
        "registry_officer" => ("operator", "officer", true),
        "security_officer" => ("operator", "security", true),
        "electoral_officer" => ("operator", "electoral", true),
        "pa_top" => ("operator", "pa-top", true),
        "pa_admin" => ("operator", "pa-admin", true),
        "pa_standard" => ("operator", "pa-standard", true),
        "pa_standardps" => ("operator", "pa-standardps", true),
        "system_admin" => ("operator", "sysadmin", true),
        other => panic!("no session for {other}"),
    }
}

async fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::connect(&format!("sqlite://{}", dir.path().join("t.db").display())).await.unwrap();
    s.migrate().await.unwrap();
    let store: Arc<dyn Store> = Arc::new(s);
    let pw = password::hash("una password lunga abbastanza".into(), password::Cost::TEST).await.unwrap();
    let operator = |u: &'static str, role: &'static str, scope: &'static str, totp: bool| {
        let (store, pw) = (store.clone(), pw.clone());
        async move { common::operator(&*store, u, role, scope, &pw, totp.then_some("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")).await }
    };
    operator("first", "registry_officer", "H501", false).await;
    operator("officer", "registry_officer", "H501", true).await;
    operator("security", "security_officer", "", true).await;
    operator("electoral", "electoral_officer", "H501", true).await;
    operator("pa-top", "pa_top", "inps", true).await;
    operator("pa-admin", "pa_admin", "inps", true).await;
    operator("pa-standard", "pa_standard", "inps", true).await;
    operator("pa-standardps", "pa_standardps", "polizia", true).await;
    operator("sysadmin", "system_admin", "", true).await;
    // The organisations of the public-body users' grants (the registry extracts, issue 19).
    for (code, kind) in [
        ("inps", anagrafe_domain::extract::OrganisationKind::ExternalBody),
        ("polizia", anagrafe_domain::extract::OrganisationKind::MunicipalOffice),
    ] {
        let today = chrono::Utc::now().date_naive();
        let org = anagrafe_store::ExtractOrg {
            id: 0,
            code: code.into(),
            comune: anagrafe_domain::Belfiore::parse("H501").unwrap(),
            name: code.into(),
            kind,
            convention_from: Some(today - chrono::Duration::days(1)),
            convention_to: Some(today + chrono::Duration::days(1)),
            types: vec![],
        };
        store.save_extract_org(&org, &anagrafe_store::WriteContext::cli("test")).await.unwrap();
    }
    let comune = common::api_client(&*store, "roma", "comune", Some("H501")).await.0;
    let agency = common::api_client(&*store, "agenzia", "revenue_agency", None).await.0;
    let mut state =
        AppState::new(store.clone()).with_issuer(IdIssuer { generator: IdGenerator::new(&[9u8; 16]), key_version: 1, high_water: None });
    state.auth.password_cost = password::Cost::TEST;
    // Every route as every caller from one address: far more than a person would send.
    state.limits.auth_per_minute = 100_000;
    state.limits.verify_per_minute = 100_000;
    state.limits.pages_per_minute = 100_000;
    state.limits.over_limit_delay_ms = 0;
    let pki = anagrafe_docs::SealIdentity::generate("Prova", chrono::Utc::now()).unwrap();
    let seal = anagrafe_docs::SealIdentity::from_pem(&pki.seal_key_pem, &pki.chain_pem).unwrap();
    state.certificates = Some(Arc::new(anagrafe_server::certificates::Certificates::new(seal, "http://127.0.0.1:9")));
    state.oidc = Arc::new(OidcSettings::new(
        vec![anagrafe_server::auth::oidc::Provider::development()],
        "http://127.0.0.1:9",
        Some(Arc::new(DevIdp::new(vec![]))),
    ));
    Env { router: app(state), store, comune, agency, _dir: dir }
}

fn concrete(path: &str) -> String {
    path.replace("{id_anpr}", "AB12345CV")
        .replace("{family_id}", "1")
        .replace("{username}", "nessuno")
        .replace("{id}", "2026-ABCDEFGHJK")
        .replace("{token}", "AAAAAAAAAAAAAAAAAAAAAAAA")
        .replace("{service}", "C030-servizioAccertamentoIdUnicoNazionale")
        .replace("{tag}", "0")
        .replace("{*name}", "anagrafe.css")
}

async fn outcome(e: &Env, method: &str, path: &str, caller: &str) -> (String, u16) {
    let path = concrete(path);
    let mut r = Request::builder().method(method).uri(&path);
    match caller {
        "anonymous" => {}
        "comune_client" | "agency_client" => {
            let signer = if caller == "comune_client" { &e.comune } else { &e.agency };
            let (digest, jws) = signer.sign(method, &path, b"", None).unwrap();
            r = r.header("digest", digest).header("agid-jwt-signature", jws);
        }
        other => {
            let (kind, subject, second_factor) = who(other);
            let (token, csrf) = common::session(&*e.store, kind, subject, second_factor).await;
            r = r.header("cookie", format!("{COOKIE}={token}")).header(CSRF_HEADER, csrf);
        }
    }
    // Bodies are empty: a route that lets the caller in answers 2xx or a 4xx about the request
    // itself; what matters here is who gets past the door.
    let status = e.router.clone().oneshot(r.body(Body::empty()).unwrap()).await.unwrap().status().as_u16();
    let class = match status {
        401 => "401",
        403 => "403",
        _ => "allow",
    };
    (class.to_owned(), status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_every_caller_as_the_matrix_says() {
    let e = env().await;
    let mut wrong = Vec::new();
    let rows = matrix();
    for row in &rows {
        for (i, caller) in CALLERS.iter().enumerate() {
            let (got, status) = outcome(&e, &row.method, &row.path, caller).await;
            if got != row.expected[i] {
                wrong.push(format!("{} {} as {caller}: expected {}, got HTTP {status}", row.method, row.path, row.expected[i]));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} calls differ from authz-matrix.csv:\n{}",
        wrong.len(),
        rows.len() * CALLERS.len(),
        wrong.join("\n")
    );
}
