//! Citizens' login by OpenID Connect (issue 6): the whole flow against the development
//! provider over loopback (and against `oidc-provider-mock` when `ANAGRAFE_TEST_OIDC_MOCK` names
//! one: CI starts it), and ID tokens refused for the wrong issuer, audience, nonce, signature,
//! level of assurance or a missing codice fiscale.

mod common;

use anagrafe_domain::IdGenerator;
use anagrafe_domain::ops::{Operation, Registration};
use anagrafe_server::auth::dev_idp::{self, DevIdentity, DevIdp};
use anagrafe_server::auth::oidc::{OidcSettings, Provider, validate_id_token};
use anagrafe_server::{AppState, serve};
use anagrafe_store::{IdIssuer, SqliteStore, Store, WriteContext};
use serde_json::{Value, json};
use std::sync::Arc;

fn provider(issuer: &str) -> Provider {
    Provider {
        name: "dev".into(),
        issuer: issuer.into(),
        client_id: dev_idp::CLIENT_ID.into(),
        client_secret: None,
        scopes: "openid profile".into(),
        min_loa: 2,
    }
}

fn claims(iss: &str, nonce: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "iss": iss, "sub": "abc", "aud": dev_idp::CLIENT_ID, "iat": now, "exp": now + 300, "nonce": nonce,
        "acr": "https://www.spid.gov.it/SpidL2",
        "https://attributes.eid.gov.it/fiscal_number": "TINIT-RSSMRA80A01H501U",
    })
}

#[test]
fn id_tokens_are_refused_for_issuer_audience_nonce_signature_level_and_missing_code() {
    let idp = DevIdp::new(vec![]);
    let keys: jsonwebtoken::jwk::JwkSet = serde_json::from_value(idp.jwks()).unwrap();
    let iss = "http://127.0.0.1:1/dev-idp";
    let p = provider(iss);
    let ok = validate_id_token(&idp.sign(&claims(iss, "n1")), &keys, &p, "n1").unwrap();
    assert_eq!((ok.codice_fiscale.as_deref(), ok.loa), (Some("RSSMRA80A01H501U"), 2));
    let refused = |c: Value, nonce: &str| validate_id_token(&idp.sign(&c), &keys, &p, nonce).unwrap_err().to_string();
    assert!(refused(claims("http://evil.example", "n1"), "n1").contains("another issuer"));
    let mut c = claims(iss, "n1");
    c["aud"] = json!("someone-else");
    assert!(refused(c, "n1").contains("another client"));
    assert!(refused(claims(iss, "n1"), "n2").contains("nonce"));
    let mut c = claims(iss, "n1");
    c["exp"] = json!(chrono::Utc::now().timestamp() - 3600);
    assert!(refused(c, "n1").contains("expired"));
    let mut c = claims(iss, "n1");
    c["acr"] = json!("https://www.spid.gov.it/SpidL1");
    assert!(refused(c, "n1").contains("level of assurance 1"));
    let mut c = claims(iss, "n1");
    c.as_object_mut().unwrap().remove("https://attributes.eid.gov.it/fiscal_number");
    assert!(refused(c.clone(), "n1").contains("neither a codice fiscale nor an eIDAS"));
    // An eIDAS identity: the unique identifier and the minimum data set, no codice fiscale.
    c["person_identifier"] = json!("DE/IT/0123456789");
    assert!(refused(c.clone(), "n1").contains("minimum data set"));
    c["family_name"] = json!("Müller");
    c["given_name"] = json!("Anna");
    c["birthdate"] = json!("1990-04-05");
    c["acr"] = json!("http://eidas.europa.eu/LoA/substantial");
    let eu = validate_id_token(&idp.sign(&c), &keys, &p, "n1").unwrap();
    assert_eq!((eu.codice_fiscale, eu.loa), (None, 2));
    assert_eq!(eu.eidas.unwrap().person_identifier, "DE/IT/0123456789");
    // Signed by another key: under an unknown kid, and under the provider's own kid.
    let other = DevIdp::new(vec![]);
    let forged = other.sign(&claims(iss, "n1"));
    assert!(validate_id_token(&forged, &keys, &p, "n1").unwrap_err().to_string().contains("does not publish"));
    let genuine = idp.sign(&claims(iss, "n1"));
    let spliced = format!("{}.{}", genuine.split('.').next().unwrap(), forged.split_once('.').unwrap().1);
    assert!(validate_id_token(&spliced, &keys, &p, "n1").unwrap_err().to_string().contains("signature"));
    // Unsigned ("alg": "none") tokens are not even read.
    let none = format!("{}.{}.", base64url(r#"{"alg":"none"}"#), base64url(&claims(iss, "n1").to_string()));
    assert!(validate_id_token(&none, &keys, &p, "n1").is_err());
}

fn base64url(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

/// A register with one resident on a real port, its citizens' login pointed at `providers`
/// (the development provider when `None`). Returns the base URL, the store and the resident's
/// codice fiscale.
async fn served(providers: Option<Vec<Provider>>) -> (String, Arc<dyn Store>, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::connect(&format!("sqlite://{}", dir.path().join("t.db").display())).await.unwrap();
    s.migrate().await.unwrap();
    let store: Arc<dyn Store> = Arc::new(s);
    let r: Registration = serde_json::from_value(json!({
        "reason": "1", "effective_date": "2001-02-03",
        "name": { "surname": "Verdi", "given": "Giulia" }, "sex": "F", "birth_date": "2001-02-03",
        "birth_place": { "kind": "comune", "code": "H501" }, "citizenships": [{ "kind": "italia" }],
        "civil_status": "CelibeNubile",
        "residence": { "kind": "italy", "comune": "H501", "species": "VIA", "toponym": "Appia", "civic": "1" },
        "household": { "kind": "new", "household": { "kind": "family" } }
    }))
    .unwrap();
    let issuer = IdIssuer { generator: IdGenerator::new(&[5u8; 16]), key_version: 1, high_water: None };
    let mut ctx = WriteContext::cli("test");
    ctx.comune = Some(anagrafe_domain::Belfiore::parse("H501").unwrap());
    let applied = store.apply(&Operation::Register(Box::new(r)), &ctx, &issuer, None).await.unwrap();
    let cf = applied.codice_fiscale.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let dev = providers.is_none();
    let dev_provider = dev.then(|| {
        Arc::new(DevIdp::new(vec![
            DevIdentity { codice_fiscale: cf.clone(), given_name: "Giulia".into(), family_name: "Verdi".into(), eidas: None },
            DevIdentity {
                codice_fiscale: "BNCLRA70A41F205E".into(),
                given_name: "Lara".into(),
                family_name: "Bianchi".into(),
                eidas: None,
            },
            DevIdentity {
                codice_fiscale: String::new(),
                given_name: "Anna".into(),
                family_name: "Schmidt".into(),
                eidas: Some(anagrafe_server::auth::dev_idp::DevEidas { person_identifier: EU_ID.into(), birth_date: "1987-05-20".into() }),
            },
        ]))
    });
    let settings = OidcSettings::new(providers.unwrap_or_else(|| vec![provider(&dev_idp::issuer(&base))]), &base, dev_provider);
    let mut state =
        AppState::new(store.clone()).with_issuer(IdIssuer { generator: IdGenerator::new(&[6u8; 16]), key_version: 1, high_water: None });
    state.oidc = Arc::new(settings);
    state.eu_mailer = Some(Arc::new(KeptCodes));
    tokio::spawn(serve(listener, state, std::future::pending()));
    (base, store, cf, dir)
}

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

fn set_cookie(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers().get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).find_map(|c| {
        let first = c.split(';').next()?;
        let (k, v) = first.split_once('=')?;
        (k == name && !v.is_empty()).then(|| v.to_owned())
    })
}

fn location(r: &reqwest::Response) -> String {
    r.headers()["location"].to_str().unwrap().to_owned()
}

/// Starts a login; returns the provider's authorization URL and the flow cookie.
async fn start(c: &reqwest::Client, base: &str) -> (String, String) {
    let r = c.get(format!("{base}/auth/citizen/login")).send().await.unwrap();
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let flow = set_cookie(&r, "__Host-anagrafe-oidc").expect("the flow cookie");
    (location(&r), flow)
}

/// Comes back from the provider; returns the answer.
async fn back(c: &reqwest::Client, callback: &str, flow: &str) -> reqwest::Response {
    c.get(callback).header("cookie", format!("__Host-anagrafe-oidc={flow}")).send().await.unwrap()
}

/// Chooses an identity on the development provider's page; returns the callback URL.
async fn choose(c: &reqwest::Client, authorize: &str, cf: &str, loa: u8) -> String {
    let page = c.get(authorize).send().await.unwrap();
    let cookie = set_cookie(&page, "__Host-anagrafe-form").expect("the form's anti-CSRF cookie");
    let page = page.text().await.unwrap();
    assert!(page.contains(cf), "the page offers the identity");
    let token = page.split(r#"name="csrf" value=""#).nth(1).and_then(|r| r.split('"').next()).expect("the form's token").to_owned();
    let url = url::Url::parse(authorize).unwrap();
    let mut form: Vec<(String, String)> = url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    form.push(("identity".into(), cf.into()));
    form.push(("loa".into(), loa.to_string()));
    let post = format!("{}://{}{}", url.scheme(), url.host_str().unwrap(), url.port().map(|p| format!(":{p}")).unwrap_or_default());
    // Without the token (a post from another site): refused.
    let forged = c.post(format!("{post}{}", url.path())).form(&form).send().await.unwrap();
    assert_eq!(forged.status(), 400, "a post without the page's token chooses nobody");
    form.push(("csrf".into(), token));
    let r = c
        .post(format!("{post}{}", url.path()))
        .header("cookie", format!("__Host-anagrafe-form={cookie}"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    location(&r)
}

async fn me(c: &reqwest::Client, base: &str, session: &str) -> (u16, Value) {
    let r = c.get(format!("{base}/auth/citizen/me")).header("cookie", format!("__Host-anagrafe-session={session}")).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizen_logs_in_through_the_development_provider() {
    let (base, store, cf, _dir) = served(None).await;
    let c = client();
    let (authorize, flow) = start(&c, &base).await;
    assert!(authorize.contains("code_challenge_method=S256") && authorize.contains("nonce="), "{authorize}");
    let callback = choose(&c, &authorize, &cf, 2).await;
    let r = back(&c, &callback, &flow).await;
    assert_eq!(r.status(), 303);
    let session = set_cookie(&r, "__Host-anagrafe-session").expect("a session");
    let (status, who) = me(&c, &base, &session).await;
    assert_eq!(status, 200);
    assert_eq!(who["codice_fiscale"], cf.as_str());
    assert_eq!((who["loa"].as_i64(), who["auth_mode"].as_str()), (Some(2), Some("oidc:dev")));
    assert!(who["id_anpr"].is_string(), "{who}");
    let entry = store.audit_entries(0, 1000).await.unwrap().pop().unwrap().entry;
    assert_eq!((entry.operation.as_str(), entry.outcome.as_str(), entry.auth_mode.as_str()), ("citizen.login", "ok", "oidc:dev"));
    assert_eq!(entry.actor_cf.as_deref(), Some(cf.as_str()));
    let detail: Value = serde_json::from_str(&entry.detail).unwrap();
    assert_eq!((detail["loa"].as_i64(), detail["amr"].clone()), (Some(2), json!(["pwd", "otp"])), "level and method traced");
    // The same answer from the provider again: the login is single use.
    assert_eq!(back(&c, &callback, &flow).await.status(), 401);
    // Another browser (no flow cookie, or another one) cannot complete this login.
    let (authorize, _) = start(&c, &base).await;
    let (_, other) = start(&c, &base).await;
    let callback = choose(&c, &authorize, &cf, 2).await;
    assert_eq!(back(&c, &callback, &other).await.status(), 401);
    // Too low a level of assurance.
    let (authorize, flow) = start(&c, &base).await;
    let callback = choose(&c, &authorize, &cf, 1).await;
    let r = back(&c, &callback, &flow).await;
    // A page for the person in the browser, saying which level the reserved area needs (issue 17).
    assert_eq!(r.status(), 403);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let page = r.text().await.unwrap();
    assert!(page.contains("livello di sicurezza 1") && page.contains("almeno il livello 2") && page.contains("href=\"/accedi\""), "{page}");
    // A valid identity that is not in the register (CIT-1).
    let (authorize, flow) = start(&c, &base).await;
    let callback = choose(&c, &authorize, "BNCLRA70A41F205E", 2).await;
    assert_eq!(back(&c, &callback, &flow).await.status(), 403);
    // Logout needs the CSRF token, then ends the session.
    let r =
        c.post(format!("{base}/auth/citizen/logout")).header("cookie", format!("__Host-anagrafe-session={session}")).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let csrf = who["csrf_token"].as_str().unwrap();
    let r = c
        .post(format!("{base}/auth/citizen/logout"))
        .header("cookie", format!("__Host-anagrafe-session={session}"))
        .header("x-csrf-token", csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(me(&c, &base, &session).await.0, 401);
    assert!(store.verify_audit_chain().await.unwrap().first_bad.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizen_logs_in_through_a_third_party_provider() {
    let Ok(mock) = std::env::var("ANAGRAFE_TEST_OIDC_MOCK") else {
        eprintln!("SKIPPED: ANAGRAFE_TEST_OIDC_MOCK is not set (.ci/run starts oidc-provider-mock and sets it)");
        return;
    };
    let mock = mock.trim_end_matches('/').to_owned();
    let p = Provider {
        name: "mock".into(),
        issuer: mock.clone(),
        client_id: "anagrafe-test".into(),
        client_secret: Some("not-a-secret".into()),
        scopes: "openid profile".into(),
        min_loa: 2,
    };
    let (base, _store, cf, _dir) = served(Some(vec![p])).await;
    let c = client();
    let sub = format!("giulia-{}", rand::random::<u32>());
    let r = c
        .put(format!("{mock}/users/{sub}"))
        .json(&json!({ "https://attributes.eid.gov.it/fiscal_number": format!("TINIT-{cf}"), "acr": "https://www.spid.gov.it/SpidL2" }))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let (authorize, flow) = start(&c, &base).await;
    assert!(authorize.starts_with(&mock), "{authorize}");
    let r = c.post(&authorize).form(&[("sub", sub.as_str())]).send().await.unwrap();
    assert!(r.status().is_redirection(), "{}: {}", r.status(), r.text().await.unwrap());
    let callback = location(&r);
    let r = back(&c, &callback, &flow).await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let session = set_cookie(&r, "__Host-anagrafe-session").unwrap();
    let (status, who) = me(&c, &base, &session).await;
    assert_eq!((status, who["codice_fiscale"].as_str()), (200, Some(cf.as_str())));
    // The same user at too low a level is refused.
    c.put(format!("{mock}/users/{sub}"))
        .json(&json!({ "https://attributes.eid.gov.it/fiscal_number": format!("TINIT-{cf}"), "acr": "https://www.spid.gov.it/SpidL1" }))
        .send()
        .await
        .unwrap();
    let (authorize, flow) = start(&c, &base).await;
    let r = c.post(&authorize).form(&[("sub", sub.as_str())]).send().await.unwrap();
    let low = back(&c, &location(&r), &flow).await;
    assert_eq!(low.status(), 403);
    assert!(low.text().await.unwrap().contains("almeno il livello 2"), "the page says which level is needed");
}

/// The eIDAS identifier of the development provider's EU identity in these tests.
const EU_ID: &str = "DE/IT/8f3b2c9d71";

/// The e-mail confirmation codes "sent", by address.
static CODES: std::sync::Mutex<Vec<(String, String)>> = std::sync::Mutex::new(Vec::new());

#[derive(Debug)]
struct KeptCodes;

#[async_trait::async_trait]
impl anagrafe_service::cases::CodeMailer for KeptCodes {
    async fn send_code(&self, to: &str, code: &str) -> anagrafe_service::ServiceResult<()> {
        CODES.lock().unwrap().push((to.to_owned(), code.to_owned()));
        Ok(())
    }
}

/// Issue 20, EU-1, EU-2, SEC-4: a citizen of another EU state logs in through the development
/// provider's eIDAS identity, lands in the EU citizens' area, is refused once with a codice
/// fiscale that does not match and sees why, then validates the data by the e-mail code; every
/// trace entry of the session carries the eIDAS identifier.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_eu_citizen_logs_in_through_eidas_and_validates_the_data() {
    let (base, store, _cf, _dir) = served(None).await;
    let c = client();
    let (authorize, flow) = start(&c, &base).await;
    let callback = choose(&c, &authorize, EU_ID, 2).await;
    let r = back(&c, &callback, &flow).await;
    assert_eq!((r.status().as_u16(), location(&r).as_str()), (303, "/ue"));
    let session = set_cookie(&r, "__Host-anagrafe-session").expect("a session");
    let cookie = format!("__Host-anagrafe-session={session}");
    // Not a citizen session of the reserved area: that needs a record.
    assert_eq!(c.get(format!("{base}/area-personale")).header("cookie", &cookie).send().await.unwrap().status(), 401);
    let page = c.get(format!("{base}/ue")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    assert!(page.contains(EU_ID) && page.contains("Anna Schmidt") && page.contains("Convalida dei dati"), "{page}");
    let csrf = csrf_of(&page);
    // A codice fiscale of a man: refused, with the part that disagrees.
    let man = anagrafe_domain::CodiceFiscale::compute(&anagrafe_domain::CfInput {
        surname: "Schmidt",
        name: "Anna",
        sex: anagrafe_domain::Sex::M,
        birth_date: "1987-05-20".parse().unwrap(),
        birth_place: anagrafe_domain::Belfiore::parse("Z112").unwrap(),
    });
    let form = |cf: &str| {
        vec![
            ("csrf", csrf.clone()),
            ("codice_fiscale", cf.to_owned()),
            ("sesso", "F".into()),
            ("luogo_nascita", "Germania".into()),
            ("email", "anna@example.eu".into()),
        ]
    };
    let r = c.post(format!("{base}/ue/dati")).header("cookie", &cookie).form(&form(man.as_str())).send().await.unwrap();
    assert_eq!(r.status(), 422);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("Il codice fiscale non corrisponde ai dati anagrafici") && page.contains("non torna il sesso o il giorno di nascita"),
        "{page}"
    );
    let woman = anagrafe_domain::CodiceFiscale::compute(&anagrafe_domain::CfInput {
        surname: "Schmidt",
        name: "Anna",
        sex: anagrafe_domain::Sex::F,
        birth_date: "1987-05-20".parse().unwrap(),
        birth_place: anagrafe_domain::Belfiore::parse("Z112").unwrap(),
    });
    let r = c.post(format!("{base}/ue/dati")).header("cookie", &cookie).form(&form(woman.as_str())).send().await.unwrap();
    assert_eq!((r.status().as_u16(), location(&r).as_str()), (303, "/ue"));
    let code = CODES.lock().unwrap().iter().rev().find(|(to, _)| to == "anna@example.eu").unwrap().1.clone();
    let r = c
        .post(format!("{base}/ue/codice"))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str()), ("codice", code.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let page = c.get(format!("{base}/ue")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Nuova richiesta di iscrizione anagrafica"), "{page}");
    // Every entry of the EU citizen names the eIDAS identifier, the login's included.
    let entries = store.audit_entries(0, 10_000).await.unwrap();
    let mine: Vec<_> = entries.iter().filter(|e| e.entry.actor == format!("eidas:{EU_ID}")).collect();
    assert!(mine.len() >= 4, "{}", mine.len());
    assert!(mine.iter().all(|e| e.entry.eidas_id.as_deref() == Some(EU_ID)));
    assert!(mine.iter().any(|e| e.entry.operation == "citizen.login"));
    assert!(mine.iter().any(|e| e.entry.operation == "eu.validation" && e.entry.outcome == "refused"));
}

/// Logs the development provider's EU identity in; the session cookie and where it landed.
async fn eu_login(c: &reqwest::Client, base: &str) -> (String, String) {
    let (authorize, flow) = start(c, base).await;
    let callback = choose(c, &authorize, EU_ID, 2).await;
    let r = back(c, &callback, &flow).await;
    assert_eq!(r.status(), 303);
    let session = set_cookie(&r, "__Host-anagrafe-session").expect("a session");
    (format!("__Host-anagrafe-session={session}"), location(&r))
}

fn csrf_of(page: &str) -> String {
    page.split(r#"name="csrf" value=""#).nth(1).and_then(|r| r.split('"').next()).unwrap().to_owned()
}

/// Issue 20, EU-4, EU-5: the EU citizen asks to register self and a child from the pages,
/// attaches the documents (a file of the wrong type refused on its field), submits; the
/// comune's officer verifies each document, starts the procedure and accepts; the citizen's
/// next eIDAS login opens the reserved area on the new record, with its ID ANPR.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_eu_citizen_registers_with_a_child_and_the_comune_accepts_from_the_pages() {
    let (base, store, _cf, _dir) = served(None).await;
    let c = client();
    let (cookie, to) = eu_login(&c, &base).await;
    assert_eq!(to, "/ue");
    let csrf = csrf_of(&c.get(format!("{base}/ue")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap());
    let form =
        [("csrf", csrf.as_str()), ("codice_fiscale", ""), ("sesso", "F"), ("luogo_nascita", "Germania"), ("email", "anna.s@example.eu")];
    assert_eq!(c.post(format!("{base}/ue/dati")).header("cookie", &cookie).form(&form).send().await.unwrap().status(), 303);
    let code = CODES.lock().unwrap().iter().rev().find(|(to, _)| to == "anna.s@example.eu").unwrap().1.clone();
    let r = c
        .post(format!("{base}/ue/codice"))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str()), ("codice", code.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    // The request: Anna and her son, in Rome, workers' grounds.
    let page = c.get(format!("{base}/ue/richieste/nuova")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Componente 2"), "{page}");
    let de = "Z112";
    let form = [
        ("csrf", csrf.as_str()),
        ("sesso", "F"),
        ("cittadinanza", de),
        ("motivo", "worker"),
        ("comune", "Roma"),
        ("specie", "VIA"),
        ("via", "Merulana"),
        ("civico", "10"),
        ("arrivo", "2026-11-15"),
        ("provenienza", de),
        ("m1_cognome", "Schmidt"),
        ("m1_nome", "Paul"),
        ("m1_sesso", "M"),
        ("m1_nascita", "2018-03-02"),
        ("m1_luogo", "Germania"),
        ("m1_cittadinanza", de),
        ("m1_relazione", "3"),
    ];
    let r = c.post(format!("{base}/ue/richieste/nuova")).header("cookie", &cookie).form(&form).send().await.unwrap();
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let case = location(&r);
    let page = c.get(format!("{base}{case}")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    let lines: Vec<String> = page.split(r#"<option value=""#).skip(1).filter_map(|o| o.split('"').next().map(str::to_owned)).collect();
    assert_eq!(lines, ["identity_document-0", "identity_document-1", "employment-all", "family_relationship-1"], "the checklist");
    let upload = |line: &str, name: &str, bytes: Vec<u8>| {
        let b = "anagrafe-test-boundary";
        let mut body = Vec::new();
        for (k, v) in [("csrf", csrf.as_str()), ("documento", line)] {
            body.extend(format!("--{b}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n").into_bytes());
        }
        body.extend(format!("--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n").into_bytes());
        body.extend(bytes);
        body.extend(format!("\r\n--{b}--\r\n").into_bytes());
        c.post(format!("{base}{case}/allegati"))
            .header("cookie", cookie.clone())
            .header("content-type", format!("multipart/form-data; boundary={b}"))
            .body(body)
            .send()
    };
    let r = upload("employment-all", "virus.exe", b"MZ\x90\x00 not a document".to_vec()).await.unwrap();
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("Sono ammessi solo file PDF, JPEG o PNG."));
    // Too large (just over the 5 MiB an attachment may be, within what the body may carry, so
    // the whole request is read): 422, the field named.
    let mut big = b"%PDF-1.4\n".to_vec();
    big.resize(5 * 1024 * 1024 + 10_000, b' ');
    let r = upload("employment-all", "grande.pdf", big).await.unwrap();
    assert_eq!(r.status(), 422);
    let page = r.text().await.unwrap();
    assert!(page.contains(r##"href="#file""##) && page.contains("Il file supera"), "{page}");
    let pdf = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n".to_vec();
    for line in &lines {
        assert_eq!(upload(line, "documento.pdf", pdf.clone()).await.unwrap().status(), 303);
    }
    let r = c.post(format!("{base}{case}/trasmetti")).header("cookie", &cookie).form(&[("csrf", csrf.as_str())]).send().await.unwrap();
    let page = r.text().await.unwrap();
    assert!(page.contains("Richiesta trasmessa al comune con il protocollo H501/2026/0000001"), "{page}");
    // The registry officer of Rome works it at the desk.
    let pw = anagrafe_server::auth::password::hash("una password lunga abbastanza".into(), anagrafe_server::auth::password::Cost::TEST)
        .await
        .unwrap();
    common::operator(&*store, "ufficiale", "registry_officer", "H501", &pw, Some("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")).await;
    let (token, officer_csrf) = common::session(&*store, "operator", "ufficiale", true).await;
    let officer = format!("__Host-anagrafe-session={token}");
    let list = c.get(format!("{base}/ufficio/pratiche")).header("cookie", &officer).send().await.unwrap().text().await.unwrap();
    assert!(list.contains("H501/2026/0000001") && list.contains("Anna Schmidt"), "{list}");
    let id = case.rsplit('/').next().unwrap();
    let desk = format!("{base}/ufficio/pratiche/{id}");
    let page = c.get(&desk).header("cookie", &officer).send().await.unwrap().text().await.unwrap();
    let docs: Vec<String> =
        page.split(r#"name="documento" value=""#).skip(1).filter_map(|o| o.split('"').next().map(str::to_owned)).collect();
    assert_eq!(docs.len(), 4, "{page}");
    let step = |form: Vec<(&'static str, String)>| c.post(format!("{desk}/passi")).header("cookie", officer.clone()).form(&form).send();
    let r = step(vec![("csrf", officer_csrf.clone()), ("azione", "start_procedure".into()), ("nota", String::new())]).await.unwrap();
    assert_eq!(r.status(), 409);
    assert!(r.text().await.unwrap().contains("documenti non sono ancora stati verificati"));
    for d in &docs {
        let r =
            step(vec![("csrf", officer_csrf.clone()), ("azione", "valido".into()), ("documento", d.clone()), ("nota", "conforme".into())])
                .await
                .unwrap();
        assert_eq!(r.status(), 303);
    }
    for action in ["start_procedure", "accept"] {
        let r = step(vec![("csrf", officer_csrf.clone()), ("azione", action.into()), ("nota", String::new())]).await.unwrap();
        assert_eq!(r.status(), 303, "{action}");
    }
    let page = c.get(&desk).header("cookie", &officer).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("accolta") && page.contains("Richiesta accolta"), "{page}");
    // The next eIDAS login opens the reserved area on Anna's new record.
    let (cookie, to) = eu_login(&c, &base).await;
    assert_eq!(to, "/area-personale");
    let (status, who) = me(&c, &base, cookie.trim_start_matches("__Host-anagrafe-session=")).await;
    assert_eq!(status, 200);
    assert!(who["id_anpr"].is_string(), "{who}");
    let entries = store.audit_entries(0, 10_000).await.unwrap();
    let login = entries.iter().rev().find(|e| e.entry.operation == "citizen.login").unwrap();
    assert_eq!(login.entry.eidas_id.as_deref(), Some(EU_ID), "the reserved area's session still names the eIDAS identifier");
}
