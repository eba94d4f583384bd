//! Certificates over HTTP, in process (issue 5): preview, stamp duty, issue, download, list,
//! the blocking checks with their codes, who may ask, bilingual certificates, the public
//! verification (captcha, QR upload, expired/deleted/unknown), and the trace of every access.
//! The sealed files are written under `target/cert-check/` for the external validators
//! (`scripts/check-certificates`: pyHanko, pdfsig, pdftoppm + zbarimg, pdftotext).

mod common;

use anagrafe_docs::payload::Payload;
use anagrafe_domain::decode::{RelazioneParentela, StatoCivile, StatoValidazioneCf};
use anagrafe_domain::{
    Belfiore, BirthPlace, CfInput, CodiceFiscale, Country, Generalita, Household, HouseholdKind, IdGenerator, ItalianAddress, PartialDate,
    PersonName, PersonRecord, RegisterStatus, Residence, Sex,
};
use anagrafe_server::certificates::Certificates;
use anagrafe_server::modi::client::Signer;
use anagrafe_server::{AppState, app};
use anagrafe_store::{IdIssuer, NewFamily, NewPerson, SqliteStore, Store, WriteContext};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use tower::ServiceExt;

struct Env {
    router: axum::Router,
    store: Arc<dyn Store>,
    roma: Signer,
    agency: Signer,
    oracle: Arc<Mutex<Vec<(String, String)>>>,
    ca_pem: String,
    outbox: std::path::PathBuf,
    anna: Person,
    mario: Person,
    gruber: Person,
    _dir: tempfile::TempDir,
}

#[derive(Clone)]
struct Person {
    id_anpr: String,
    cf: String,
    pid: i64,
}

const PUBLIC_URL: &str = "http://anagrafe.test";

fn date(s: &str) -> chrono::NaiveDate {
    s.parse().unwrap()
}

async fn person(
    store: &dyn Store,
    surname: &str,
    given: &str,
    sex: Sex,
    born: &str,
    comune: &str,
    household: Option<(i64, RelazioneParentela)>,
) -> i64 {
    let birth_place = Belfiore::parse("H501").unwrap();
    let birth_date = date(born);
    let cf = CodiceFiscale::compute(&CfInput { surname, name: given, sex, birth_date, birth_place });
    let p = NewPerson {
        record: PersonRecord {
            id_anpr: None,
            status: RegisterStatus::Resident,
            generalita: Generalita {
                name: PersonName::new(Some(surname), Some(given)).unwrap(),
                sex,
                birth_date: PartialDate::parse(born).unwrap(),
                birth_place: BirthPlace::Comune { code: birth_place },
                codice_fiscale: Some(cf),
                cf_validation: StatoValidazioneCf::DatiAnagraficiValidati,
            },
            citizenships: vec![Country::Italia],
            civil_status: StatoCivile::CelibeNubile,
            residence: Residence::Italy(ItalianAddress {
                comune: Belfiore::parse(comune).unwrap(),
                cap: None,
                species: anagrafe_testkit::line("VIA"),
                toponym: anagrafe_testkit::line("ROMA"),
                civic: Some(anagrafe_testkit::line("1")),
                internal: None,
                locality: None,
            }),
            household: household.map(|(family_id, relation)| Household::Family { family_id, relation }),
            documents: vec![],
            email: Some(anagrafe_testkit::line(format!("{given}.{surname}@mail.example.org").to_lowercase())),
            digital_domicile: None,
            death: None,
        },
        residence_since: date("2015-01-01"),
        civil_status_since: date(born),
        household_since: date("2015-01-01"),
        reason: "1".into(),
    };
    store.register_person(&p, &WriteContext::cli("test")).await.unwrap()
}

async fn load(store: &dyn Store, pid: i64) -> Person {
    let r = store.person(pid, None).await.unwrap().record;
    Person { id_anpr: r.id_anpr.unwrap().to_string(), cf: r.generalita.codice_fiscale.unwrap().as_str().to_owned(), pid }
}

async fn env() -> Env {
    env_limited(10_000).await
}

async fn env_limited(verify_per_minute: i64) -> Env {
    env_with(verify_per_minute, None).await
}

/// The test register; e-mail goes to `mail`, or to an outbox in the test's directory.
async fn env_with(verify_per_minute: i64, mail: Option<anagrafe_server::certificates::MailDelivery>) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::connect(&format!("sqlite://{}", dir.path().join("t.db").display())).await.unwrap();
    s.migrate().await.unwrap();
    let store: Arc<dyn Store> = Arc::new(s);
    let ctx = WriteContext::cli("test");
    let fam = store
        .create_family(
            &NewFamily { kind: HouseholdKind::Family, comune: Belfiore::parse("H501").unwrap(), name: None, formed_on: date("2015-01-01") },
            &ctx,
        )
        .await
        .unwrap();
    let anna = person(&*store, "Bianchi", "Anna", Sex::F, "1985-04-12", "H501", Some((fam, RelazioneParentela::IntestatarioScheda))).await;
    let _son = person(&*store, "Bianchi", "Luca", Sex::M, "2012-09-30", "H501", Some((fam, RelazioneParentela::FiglioFiglia))).await;
    let mario = person(&*store, "Verdi", "Mario", Sex::M, "1970-01-20", "H501", None).await;
    let gruber = person(&*store, "Gruber", "Maria", Sex::F, "1990-06-02", "A952", None).await;
    let issuer = IdIssuer { generator: IdGenerator::new(&[5u8; 16]), key_version: 1, high_water: None };
    store.assign_ids_initial(&issuer, &ctx).await.unwrap();
    let roma = common::api_client(&*store, "roma", "comune", Some("H501")).await.0;
    let agency = common::api_client(&*store, "agenzia", "revenue_agency", None).await.0;
    let pki = anagrafe_docs::SealIdentity::generate("Anagrafe di prova", chrono::Utc::now()).unwrap();
    let seal = anagrafe_docs::SealIdentity::from_pem(&pki.seal_key_pem, &pki.chain_pem).unwrap();
    let oracle = Arc::new(Mutex::new(Vec::new()));
    let mut certs = Certificates::new(seal, PUBLIC_URL);
    certs.captcha_oracle = Some(oracle.clone());
    let outbox = dir.path().join("outbox");
    certs.mail = Some(mail.unwrap_or_else(|| anagrafe_server::certificates::MailDelivery::Outbox(outbox.clone())));
    let mut state = AppState::new(store.clone()).with_issuer(issuer);
    state.certificates = Some(Arc::new(certs));
    state.limits.verify_per_minute = verify_per_minute;
    state.limits.over_limit_delay_ms = 0;
    Env {
        router: app(state),
        anna: load(&*store, anna).await,
        mario: load(&*store, mario).await,
        gruber: load(&*store, gruber).await,
        store,
        roma,
        agency,
        oracle,
        ca_pem: pki.ca_cert_pem,
        outbox,
        _dir: dir,
    }
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    bytes: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes).unwrap_or(Value::Null)
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

async fn send(e: &Env, req: Request<Body>) -> Reply {
    let resp = e.router.clone().oneshot(req).await.unwrap();
    let (parts, body) = resp.into_parts();
    Reply { status: parts.status, headers: parts.headers, bytes: body.collect().await.unwrap().to_bytes().to_vec() }
}

/// A citizen's session: cookie and CSRF token.
async fn citizen(e: &Env, p: &Person) -> (String, String) {
    common::session(&*e.store, "citizen", &p.cf, true).await
}

async fn as_citizen(e: &Env, s: &(String, String), method: &str, path: &str, body: Option<Value>) -> Reply {
    let r = Request::builder()
        .method(method)
        .uri(path)
        .header("cookie", format!("{}={}", anagrafe_server::auth::COOKIE, s.0))
        .header("x-csrf-token", &s.1)
        .header("content-type", "application/json");
    send(e, r.body(body.map(|b| Body::from(b.to_string())).unwrap_or_else(Body::empty)).unwrap()).await
}

async fn signed(e: &Env, signer: &Signer, method: &str, path: &str, body: Option<Value>) -> Reply {
    let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    let ct = (!bytes.is_empty()).then_some("application/json");
    let (digest, jws) = signer.sign(method, path, &bytes, ct).unwrap();
    let mut r = Request::builder().method(method).uri(path).header("digest", digest).header("agid-jwt-signature", jws);
    if let Some(ct) = ct {
        r = r.header("content-type", ct);
    }
    send(e, r.body(Body::from(bytes)).unwrap()).await
}

async fn audit_tail(e: &Env) -> anagrafe_store::AuditEntry {
    e.store.audit_entries(0, 100_000).await.unwrap().pop().unwrap().entry
}

async fn certificates_count(e: &Env, pid: i64) -> usize {
    e.store.certificates_of(pid).await.unwrap().len()
}

fn out_dir() -> std::path::PathBuf {
    let d = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/cert-check");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The typed-number flow: the number's captcha page, solved, confirmed.
async fn verify_number_with_captcha(e: &Env, number: &str) -> Reply {
    let q: String = url::form_urlencoded::byte_serialize(number.as_bytes()).collect();
    let page = send(e, Request::get(format!("/verifica/numero?n={q}")).body(Body::empty()).unwrap()).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    let html = page.text();
    let id = html.split("name=\"captcha\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let answer = e.oracle.lock().unwrap().iter().find(|(i, _)| *i == id).unwrap().1.clone();
    send(
        e,
        Request::post("/verifica/numero")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(format!("n={q}&captcha={id}&answer={answer}")))
            .unwrap(),
    )
    .await
}

/// The address of the original's download on a result page.
fn original_link(html: &str) -> String {
    html.split("href=\"/verifica/originale/")
        .nth(1)
        .map(|r| format!("/verifica/originale/{}", r.split('"').next().unwrap().replace("&amp;", "&")))
        .unwrap_or_default()
}

/// The verification flow a person follows: open the page, solve the captcha, confirm.
async fn verify_with_captcha(e: &Env, token: &str) -> Reply {
    let page = send(e, Request::get(format!("/verifica/{token}")).body(Body::empty()).unwrap()).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(!html.contains("Certificato n.") && !html.contains("Bianchi") && !html.contains("BIANCHI"), "nothing shown before the captcha");
    // An input without a type is drawn invisible by the theme until focused (issue 17).
    assert!(html.contains(r#"name="answer" type="text""#), "the captcha's answer field has a type");
    let id = html.split("name=\"captcha\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let answer = e.oracle.lock().unwrap().iter().find(|(i, _)| *i == id).unwrap().1.clone();
    let form = format!("captcha={id}&answer={answer}");
    send(
        e,
        Request::post(format!("/verifica/{token}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(form))
            .unwrap(),
    )
    .await
}

fn token_of(pdf: &[u8]) -> (String, String) {
    let (qr, _) = anagrafe_docs::payload::embedded(pdf).unwrap();
    let rest = qr.strip_prefix(&format!("{PUBLIC_URL}/verifica/")).unwrap();
    (rest.split('#').next().unwrap().to_owned(), qr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizen_previews_pays_issues_downloads_and_anyone_verifies_the_original() {
    let e = env().await;
    let s = citizen(&e, &e.anna).await;
    let body = json!({ "person": e.anna.id_anpr, "types": ["residenza", 12] });

    // Preview: a PDF, no seal, no QR, nothing stored; the access is traced.
    let preview = as_citizen(&e, &s, "POST", "/api/v1/certificates/preview", Some(body.clone())).await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.text());
    assert_eq!(preview.headers["content-type"], "application/pdf");
    assert!(anagrafe_docs::payload::embedded(&preview.bytes).is_none() && !preview.text().contains("/ByteRange"));
    assert_eq!(certificates_count(&e, e.anna.pid).await, 0);
    let t = audit_tail(&e).await;
    assert_eq!((t.operation.as_str(), t.outcome.as_str(), t.actor_cf.as_deref()), ("certificate.preview", "ok", Some(e.anna.cf.as_str())));
    std::fs::write(out_dir().join("preview.pdf"), &preview.bytes).unwrap();

    // Issue needs confirmation and a stamp.
    let r = as_citizen(&e, &s, "POST", "/api/v1/certificates", Some(body.clone())).await;
    assert_eq!((r.status, r.json()["errors"][0]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("confirm")));
    let mut issue = body.clone();
    issue["confirm"] = json!(true);
    let r = as_citizen(&e, &s, "POST", "/api/v1/certificates", Some(issue.clone())).await;
    assert_eq!((r.status, r.json()["errors"][0]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("stamp")));

    // Pay the stamp duty locally, then issue with that payment.
    let pay = as_citizen(&e, &s, "POST", "/api/v1/payments/stamp-duty", None).await;
    assert_eq!(pay.status, StatusCode::CREATED, "{}", pay.text());
    let payment = pay.json()["payment_id"].as_str().unwrap().to_owned();
    issue["stamp"] = json!({ "kind": "paid", "payment_id": payment });
    let r = as_citizen(&e, &s, "POST", "/api/v1/certificates", Some(issue.clone())).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let meta = r.json();
    assert_eq!(meta["types"], json!([8, 12]));
    assert_eq!(meta["langs"], json!(["it"]));
    let id = meta["id"].as_str().unwrap().to_owned();
    let t = audit_tail(&e).await;
    assert_eq!((t.operation.as_str(), t.outcome.as_str(), t.subject_person), ("certificate.issue", "ok", Some(e.anna.pid)));
    // The same payment does not pay twice; the refusal stores nothing.
    let again = as_citizen(&e, &s, "POST", "/api/v1/certificates", Some(issue)).await;
    assert_eq!((again.status, again.json()["errors"][0]["field"].as_str()), (StatusCode::CONFLICT, Some("stamp.payment_id")));
    assert_eq!(certificates_count(&e, e.anna.pid).await, 1);

    // Download and list.
    let pdf = as_citizen(&e, &s, "GET", &format!("/api/v1/certificates/{id}/pdf"), None).await;
    assert_eq!(pdf.status, StatusCode::OK);
    assert_eq!(pdf.headers["content-type"], "application/pdf");
    let list = as_citizen(&e, &s, "GET", "/api/v1/certificates", None).await;
    assert_eq!(list.json()["certificates"][0]["id"], json!(id));

    // The seal verifies with the CA alone; the payload agrees with the sealed content.
    let report = anagrafe_docs::verify::verify_pdf(&pdf.bytes, Some(&e.ca_pem)).unwrap();
    assert!(report.ok() && report.trusted == Some(true), "{report:?}");
    let payload: &Payload = report.payload.as_ref().unwrap();
    assert_eq!((payload.id.as_str(), payload.t.as_slice()), (id.as_str(), &[8u16, 12][..]));

    // A copy goes to the address on record (the outbox of the embedded mode), not to one typed.
    let mail = as_citizen(&e, &s, "POST", &format!("/api/v1/certificates/{id}/email"), None).await;
    assert_eq!(mail.status, StatusCode::ACCEPTED, "{}", mail.text());
    let eml = std::fs::read_dir(&e.outbox).unwrap().next().unwrap().unwrap().path();
    let eml = std::fs::read_to_string(eml).unwrap();
    assert!(eml.contains("To: <anna.bianchi@mail.example.org>") && eml.contains("Content-Type: application/pdf"));
    let b64: String =
        eml.split("Content-Transfer-Encoding: base64\r\n\r\n").nth(1).unwrap().split("--").next().unwrap().split_whitespace().collect();
    assert_eq!(base64::Engine::decode(&base64::engine::general_purpose::STANDARD, b64).unwrap(), pdf.bytes);
    let pec = as_citizen(&e, &s, "POST", &format!("/api/v1/certificates/{id}/email"), Some(json!({ "to": "digital_domicile" }))).await;
    assert_eq!((pec.status, pec.json()["errors"][0]["field"].as_str()), (StatusCode::CONFLICT, Some("to")));
    let typed = as_citizen(&e, &s, "POST", &format!("/api/v1/certificates/{id}/email"), Some(json!({ "to": "x@evil.example" }))).await;
    assert_eq!(typed.status, StatusCode::BAD_REQUEST);

    // Someone else cannot download it.
    let other = citizen(&e, &e.mario).await;
    assert_eq!(as_citizen(&e, &other, "GET", &format!("/api/v1/certificates/{id}/pdf"), None).await.status, StatusCode::FORBIDDEN);

    // Verification: the QR's URL, the captcha, then the byte-identical original.
    let (token, qr) = token_of(&pdf.bytes);
    let result = verify_with_captcha(&e, &token).await;
    assert_eq!(result.status, StatusCode::OK, "{}", result.text());
    let html = result.text();
    // First the result as a page: the status, what it certifies, its dates, never whose it is.
    assert!(html.contains(r#"id="result-status">valido<"#), "{html}");
    assert!(html.contains(&id) && html.contains("Certificato di residenza") && !html.contains("BIANCHI"), "{html}");
    let t = audit_tail(&e).await;
    assert_eq!((t.operation.as_str(), t.outcome.as_str(), t.subject_person), ("certificate.verify", "ok", Some(e.anna.pid)));
    // Then the byte-identical original, by the page's link, which works more than once.
    let link = original_link(&html);
    for _ in 0..2 {
        let original = send(&e, Request::get(&link).body(Body::empty()).unwrap()).await;
        assert_eq!((original.status, original.headers["content-type"].to_str().unwrap()), (StatusCode::OK, "application/pdf"));
        assert_eq!(original.bytes, pdf.bytes, "the verification returns the sealed original");
    }
    assert_eq!(audit_tail(&e).await.outcome, "original");
    // The link's key opens that certificate only, and not once changed.
    let other = link.replace(&id, "2026-ABCDEFGHJK");
    assert_eq!(send(&e, Request::get(&other).body(Body::empty()).unwrap()).await.status, StatusCode::GONE);
    let forged = format!("{}x", link);
    assert_eq!(send(&e, Request::get(&forged).body(Body::empty()).unwrap()).await.status, StatusCode::GONE);
    // Typed instead of scanned (case and spaces forgiven): the same answer.
    let typed = verify_number_with_captcha(&e, &format!(" {} ", id.to_lowercase())).await;
    assert_eq!(typed.status, StatusCode::OK, "{}", typed.text());
    assert!(typed.text().contains(r#"id="result-status">valido<"#));
    let bad = send(&e, Request::get("/verifica/numero?n=12345").body(Body::empty()).unwrap()).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.text().contains("anno, trattino e dieci caratteri"));
    let nobody = verify_number_with_captcha(&e, "2026-ABCDEFGHJK").await;
    assert_eq!(nobody.status, StatusCode::NOT_FOUND);
    assert!(nobody.text().contains("sconosciuto"));

    // A photo of the QR code, uploaded, leads to the same page.
    let png = qr_png(&qr);
    let up = upload(&e, &png).await;
    assert_eq!(up.status, StatusCode::SEE_OTHER, "{}", up.text());
    assert_eq!(up.headers["location"], format!("/verifica/{token}").as_str());

    let out = out_dir();
    std::fs::write(out.join("sealed.pdf"), &pdf.bytes).unwrap();
    std::fs::write(out.join("ca.pem"), &e.ca_pem).unwrap();
    std::fs::write(out.join("qr.txt"), &qr).unwrap();
}

/// A PNG of a QR code holding `text`, as a phone photo would crop it.
fn qr_png(text: &str) -> Vec<u8> {
    anagrafe_docs::qr::png(text).unwrap().png
}

/// The upload form's anti-CSRF token and its cookie, as the page gives them.
async fn upload_form(e: &Env) -> (String, String) {
    let home = send(e, Request::get("/verifica").body(Body::empty()).unwrap()).await;
    let cookie = home.headers["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let token = home.text().split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    (token, cookie)
}

async fn upload(e: &Env, bytes: &[u8]) -> Reply {
    let (token, cookie) = upload_form(e).await;
    upload_with(e, bytes, &token, Some(&cookie)).await
}

async fn upload_with(e: &Env, bytes: &[u8], token: &str, cookie: Option<&str>) -> Reply {
    let boundary = "XyZbOuNdArY";
    let mut body = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{token}\r\n").into_bytes();
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"qr\"; filename=\"qr.png\"\r\nContent-Type: image/png\r\n\r\n")
            .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let mut req = Request::post("/verifica").header("content-type", format!("multipart/form-data; boundary={boundary}"));
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    send(e, req.body(Body::from(body)).unwrap()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_or_unreadable_uploads_are_refused_quickly() {
    let e = env().await;
    // Without the form's token (a post from another site), or with another's: nothing is read.
    let png = qr_png("https://example.org/x");
    let (token, cookie) = upload_form(&e).await;
    assert_eq!(upload_with(&e, &png, &token, None).await.status, StatusCode::BAD_REQUEST);
    let (other, _) = upload_form(&e).await;
    assert_eq!(upload_with(&e, &png, &other, Some(&cookie)).await.status, StatusCode::BAD_REQUEST);
    let garbage = upload(&e, b"not an image at all").await;
    assert_eq!(garbage.status, StatusCode::UNPROCESSABLE_ENTITY);
    // A PNG header claiming 60000 x 60000 pixels: refused from the header, nothing decoded.
    let mut huge = Vec::new();
    image::DynamicImage::ImageLuma8(image::GrayImage::new(8, 8))
        .write_to(&mut std::io::Cursor::new(&mut huge), image::ImageFormat::Png)
        .unwrap();
    huge[16..20].copy_from_slice(&60_000u32.to_be_bytes());
    huge[20..24].copy_from_slice(&60_000u32.to_be_bytes());
    let crc = crc32(&huge[12..29]);
    huge[29..33].copy_from_slice(&crc.to_be_bytes());
    let started = std::time::Instant::now();
    let r = upload(&e, &huge).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().contains("troppo grande"), "{}", r.text());
    eprintln!("hostile header refused in {:?}", started.elapsed());
    // A readable image with a QR code of another site.
    let foreign = upload(&e, &qr_png("https://example.org/verifica/AAAAAAAAAAAAAAAAAAAAAAAA")).await;
    assert_eq!(foreign.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(anagrafe_docs::qr::decode(&qr_png("ciao")).unwrap(), "ciao");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn citizens_get_certificates_about_themselves_only_and_refusals_carry_anpr_codes() {
    let e = env().await;
    let s = citizen(&e, &e.mario).await;
    let before = e.store.audit_entries(0, 100_000).await.unwrap().len();
    let r = as_citizen(&e, &s, "POST", "/api/v1/certificates/preview", Some(json!({ "person": e.anna.id_anpr, "types": [8] }))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(e.store.audit_entries(0, 100_000).await.unwrap().len(), before + 1, "the attempt is traced");
    let t = audit_tail(&e).await;
    assert_eq!((t.outcome.as_str(), t.subject_person, t.subject_cf), ("refused:not-yours", None, None), "without naming Anna");
    // A resident asks for an AIRE certificate: EN164, traced as refused.
    let r = as_citizen(&e, &s, "POST", "/api/v1/certificates/preview", Some(json!({ "person": e.mario.id_anpr, "types": [10] }))).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.headers["content-type"], "application/problem+json");
    assert_eq!(r.json()["code"], "EN164");
    assert_eq!(audit_tail(&e).await.outcome, "refused:EN164");
    // Mario lives alone without a family: EN137; combined types that may not go together: EN153.
    let r = as_citizen(
        &e,
        &s,
        "POST",
        "/api/v1/certificates/preview",
        Some(json!({ "person": e.mario.id_anpr, "types": ["stato-di-famiglia"] })),
    )
    .await;
    assert_eq!(r.json()["code"], "EN137");
    let r = as_citizen(&e, &s, "POST", "/api/v1/certificates/preview", Some(json!({ "person": e.mario.id_anpr, "types": [8, 9] }))).await;
    assert_eq!(r.json()["code"], "EN153");
    // Bad input names its field.
    for (body, field) in [
        (json!({ "person": e.mario.id_anpr, "types": [] }), "types"),
        (json!({ "person": e.mario.id_anpr, "types": [42] }), "types[0]"),
        (json!({ "person": "nope", "types": [8] }), "person"),
        (json!({ "person": e.mario.id_anpr, "types": [20] }), "reference_date"),
        (json!({ "person": e.mario.id_anpr, "types": [8], "colour": "red" }), "colour"),
        (
            json!({ "person": e.mario.id_anpr, "types": [8], "confirm": true, "stamp": { "kind": "exempt", "code": 99 } }),
            "stamp.description",
        ),
        (
            json!({ "person": e.mario.id_anpr, "types": [8], "confirm": true, "stamp": { "kind": "exempt", "code": 99, "description": "x".repeat(257) } }),
            "stamp.description",
        ),
    ] {
        let path = if body.get("confirm").is_some() { "/api/v1/certificates" } else { "/api/v1/certificates/preview" };
        let r = as_citizen(&e, &s, "POST", path, Some(body.clone())).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.text());
        let named = r.json()["errors"][0]["field"].as_str().unwrap_or_default().to_owned();
        assert!(named == field || (field == "body" && named.is_empty()) || named.starts_with(field), "{body}: named {named}");
    }
    assert_eq!(certificates_count(&e, e.mario.pid).await, 0);
    // An exemption with its reason works without paying; the Agency cannot ask at all.
    let ok = as_citizen(
        &e,
        &s,
        "POST",
        "/api/v1/certificates",
        Some(json!({ "person": e.mario.id_anpr, "types": [7], "confirm": true, "stamp": { "kind": "exempt", "code": 99, "description": "uso pensionistico estero" } })),
    )
    .await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.text());
    let agency =
        signed(&e, &e.agency, "POST", "/api/v1/certificates/preview", Some(json!({ "person": e.mario.id_anpr, "types": [8] }))).await;
    assert_eq!(agency.status, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_office_issues_for_any_resident_and_south_tyrol_gets_german_too() {
    let e = env().await;
    let body = json!({ "person": e.gruber.id_anpr, "types": [8], "confirm": true, "stamp": { "kind": "exempt", "code": 3 } });
    let r = signed(&e, &e.roma, "POST", "/api/v1/certificates", Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.json()["langs"], json!(["it", "de"]), "a resident of Bolzano gets a bilingual certificate");
    let id = r.json()["id"].as_str().unwrap().to_owned();
    let pdf = signed(&e, &e.roma, "GET", &format!("/api/v1/certificates/{id}/pdf"), None).await;
    assert_eq!(pdf.status, StatusCode::OK);
    let (_, content) = anagrafe_docs::payload::embedded(&pdf.bytes).unwrap();
    let content: Value = serde_json::from_slice(&content).unwrap();
    assert_eq!(content["title"], json!(["Certificato di residenza", "Wohnsitzbescheinigung"]));
    assert!(content["issuer"]["office"][1].as_str().unwrap().contains("Gemeinde"));
    std::fs::write(out_dir().join("bilingual.pdf"), &pdf.bytes).unwrap();
    // Asked for Italian only, it is Italian only.
    let it = signed(
        &e,
        &e.roma,
        "POST",
        "/api/v1/certificates",
        Some(json!({ "person": e.gruber.id_anpr, "types": [8], "lang": "it", "confirm": true, "stamp": { "kind": "exempt", "code": 3 } })),
    )
    .await;
    assert_eq!(it.json()["langs"], json!(["it"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_deleted_and_unknown_certificates_say_so_after_the_captcha() {
    let e = env().await;
    let s = citizen(&e, &e.anna).await;
    let r = as_citizen(
        &e,
        &s,
        "POST",
        "/api/v1/certificates",
        Some(json!({ "person": e.anna.id_anpr, "types": [8], "confirm": true, "stamp": { "kind": "exempt", "code": 3 } })),
    )
    .await;
    let id = r.json()["id"].as_str().unwrap().to_owned();
    let pdf = as_citizen(&e, &s, "GET", &format!("/api/v1/certificates/{id}/pdf"), None).await.bytes;
    let (token, _) = token_of(&pdf);

    // A wrong answer: refused, and that captcha cannot be tried again.
    let page = send(&e, Request::get(format!("/verifica/{token}")).body(Body::empty()).unwrap()).await.text();
    let cid = page.split("name=\"captcha\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let wrong = send(
        &e,
        Request::post(format!("/verifica/{token}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(format!("captcha={cid}&answer=000000")))
            .unwrap(),
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!wrong.text().contains(&id));
    let answer = e.oracle.lock().unwrap().iter().find(|(i, _)| *i == cid).unwrap().1.clone();
    let reused = send(
        &e,
        Request::post(format!("/verifica/{token}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(format!("captcha={cid}&answer={answer}")))
            .unwrap(),
    )
    .await;
    assert_eq!(reused.status, StatusCode::UNPROCESSABLE_ENTITY, "a captcha is good once");

    // The accessible alternative works as well.
    let alt = send(&e, Request::get(format!("/verifica/{token}?alternativa=1")).body(Body::empty()).unwrap()).await.text();
    assert!(alt.contains("Quanto fa"));

    // Unknown token.
    let unknown = verify_with_captcha(&e, "AAAAAAAAAAAAAAAAAAAAAAAA").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(unknown.text().contains("Certificato inesistente"));

    // Seven months later the expiry job deletes it; the page says so and the owner gets 410.
    let later = anagrafe_service::FakeClock::at(chrono::Utc::now() + chrono::Duration::days(215));
    assert_eq!(anagrafe_service::certificates::expire(&*e.store, &later).await.unwrap(), 1);
    let gone = verify_with_captcha(&e, &token).await;
    assert_eq!(gone.status, StatusCode::GONE);
    assert!(gone.text().contains("scaduto ed è stato cancellato"), "{}", gone.text());
    assert!(gone.text().contains(r#"id="result-status">scaduto<"#), "{}", gone.text());
    let download = as_citizen(&e, &s, "GET", &format!("/api/v1/certificates/{id}/pdf"), None).await;
    assert_eq!(download.status, StatusCode::GONE);
    let listed = as_citizen(&e, &s, "GET", "/api/v1/certificates", None).await.json();
    assert_eq!(listed["certificates"][0]["available"], json!(false));
    assert!(e.store.verify_audit_chain().await.unwrap().first_bad.is_none());
}

/// CRC-32 (IEEE) as PNG chunks use it.
fn crc32(bytes: &[u8]) -> u32 {
    let mut c = 0xFFFF_FFFFu32;
    for b in bytes {
        c ^= u32::from(*b);
        for _ in 0..8 {
            c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
        }
    }
    !c
}

fn run(cmd: &str, args: &[&str], dir: &std::path::Path) -> (bool, String) {
    let out = std::process::Command::new(cmd).args(args).current_dir(dir).output().unwrap_or_else(|e| panic!("cannot run {cmd}: {e}"));
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// The acceptance checks with independent tools, when `ANAGRAFE_TEST_PDF_TOOLS` is set (`.ci/run`
/// installs them): pyHanko and poppler's pdfsig validate the seal and see a changed byte; a
/// 150-dpi rendering of page 1 decodes (zbarimg) to the QR text; the preview's text says
/// ANTEPRIMA and its rendering has no QR code; the bilingual certificate has the German title.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn independent_validators_agree() {
    if std::env::var_os("ANAGRAFE_TEST_PDF_TOOLS").is_none() {
        eprintln!(
            "SKIPPED: external PDF validators (set ANAGRAFE_TEST_PDF_TOOLS=1 with pyhanko, pdfsig, pdftoppm, pdftotext, zbarimg, certutil on PATH; .ci/run does)"
        );
        return;
    }
    let e = env().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = citizen(&e, &e.anna).await;
    let preview =
        as_citizen(&e, &s, "POST", "/api/v1/certificates/preview", Some(json!({ "person": e.anna.id_anpr, "types": [8] }))).await.bytes;
    let r = as_citizen(
        &e,
        &s,
        "POST",
        "/api/v1/certificates",
        Some(json!({ "person": e.anna.id_anpr, "types": [8, 12], "confirm": true, "stamp": { "kind": "exempt", "code": 3 } })),
    )
    .await;
    let id = r.json()["id"].as_str().unwrap().to_owned();
    let sealed = as_citizen(&e, &s, "GET", &format!("/api/v1/certificates/{id}/pdf"), None).await.bytes;
    let b = signed(
        &e,
        &e.roma,
        "POST",
        "/api/v1/certificates",
        Some(json!({ "person": e.gruber.id_anpr, "types": [8], "confirm": true, "stamp": { "kind": "exempt", "code": 3 } })),
    )
    .await;
    let bid = b.json()["id"].as_str().unwrap().to_owned();
    let bilingual = signed(&e, &e.roma, "GET", &format!("/api/v1/certificates/{bid}/pdf"), None).await.bytes;
    let mut tampered = sealed.clone();
    tampered[sealed.len() / 3] ^= 0x01;
    for (name, bytes) in [("sealed.pdf", &sealed), ("tampered.pdf", &tampered), ("preview.pdf", &preview), ("bilingual.pdf", &bilingual)] {
        std::fs::write(d.join(name), bytes).unwrap();
    }
    std::fs::write(d.join("ca.pem"), &e.ca_pem).unwrap();

    let trust = ["sign", "validate", "--executive-summary", "--trust-replace", "--trust", "ca.pem", "--no-revocation-check"];
    let (ok, out) = run("pyhanko", &[&trust[..], &["sealed.pdf"]].concat(), d);
    assert!(ok && out.contains(":VALID"), "pyHanko on the sealed file: {out}");
    let (ok, out) = run("pyhanko", &[&trust[..], &["tampered.pdf"]].concat(), d);
    assert!(!ok || out.contains("INVALID"), "pyHanko must see the changed byte: {out}");
    assert!(out.contains("INVALID"), "{out}");

    std::fs::create_dir_all(d.join("nss")).unwrap();
    assert!(run("certutil", &["-N", "-d", "sql:nss", "--empty-password"], d).0);
    assert!(run("certutil", &["-A", "-d", "sql:nss", "-n", "anagrafe-ca", "-t", "CT,CT,CT", "-i", "ca.pem"], d).0);
    let (_, out) = run("pdfsig", &["-nssdir", "sql:nss", "-no-ocsp", "sealed.pdf"], d);
    for want in ["Signature is Valid", "Total document signed", "ETSI.CAdES.detached"] {
        assert!(out.contains(want), "pdfsig on the sealed file lacks {want:?}: {out}");
    }
    let (_, out) = run("pdfsig", &["-nssdir", "sql:nss", "-no-ocsp", "tampered.pdf"], d);
    assert!(out.contains("Digest Mismatch") && !out.contains("Signature is Valid"), "pdfsig must see the changed byte: {out}");

    let (_, qr) = token_of(&sealed);
    assert!(run("pdftoppm", &["-r", "150", "-f", "1", "-l", "1", "-png", "sealed.pdf", "page"], d).0);
    let zbar = |png: &str| {
        let out = std::process::Command::new("zbarimg").args(["--raw", "-q", png]).current_dir(d).output().unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let (ok, out) = zbar("page-1.png");
    assert!(ok && out.trim() == qr, "zbarimg read {out:?}, the QR holds {qr:?}");
    // The printed code (issue 17): at least 10 mm from every edge, four white modules around it,
    // and the page's own decoder reads full-page scans at 150 and 300 dpi.
    assert!(run("pdftoppm", &["-r", "300", "-f", "1", "-l", "1", "-png", "-singlefile", "sealed.pdf", "page300"], d).0);
    for (png, dpi) in [("page-1.png", 150.0), ("page300.png", 300.0)] {
        let bytes = std::fs::read(d.join(png)).unwrap();
        assert_eq!(anagrafe_docs::qr::decode(&bytes).as_deref(), Ok(qr.as_str()), "a full-page scan at {dpi} dpi");
        let page = image::load_from_memory(&bytes).unwrap().into_luma8();
        let (text, inner) = anagrafe_docs::qr::locate(&page).expect("the code is found");
        assert_eq!(text, qr);
        // From the finder patterns' centres outwards, while the next line across the box has
        // ink: the modules' own box (the finder patterns' dark borders are its outer lines).
        let ink = |x: i32, y: i32| page.get_pixel(x as u32, y as u32)[0] < 128;
        let [mut left, mut top, mut right, mut bottom] = inner;
        loop {
            let grew = [
                (left > 0 && (top..=bottom).any(|y| ink(left - 1, y))).then(|| left -= 1),
                (top > 0 && (left..=right).any(|x| ink(x, top - 1))).then(|| top -= 1),
                ((right + 1) < page.width() as i32 && (top..=bottom).any(|y| ink(right + 1, y))).then(|| right += 1),
                ((bottom + 1) < page.height() as i32 && (left..=right).any(|x| ink(x, bottom + 1))).then(|| bottom += 1),
            ];
            if grew.iter().all(Option::is_none) {
                break;
            }
        }
        let mm = |px: i32| f64::from(px) * 25.4 / dpi;
        let (w, h) = (page.width() as i32, page.height() as i32);
        let margins = [mm(left), mm(top), mm(w - 1 - right), mm(h - 1 - bottom)];
        assert!(margins.iter().all(|m| *m >= 10.0), "{dpi} dpi: the code's distance from the edges (mm, l t r b): {margins:?}");
        let module = f64::from(right - left + 1) / anagrafe_docs::qr::modules_of(&qr).unwrap() as f64;
        assert!((mm(1) * module - anagrafe_docs::qr::MODULE_MM).abs() < 0.05, "{dpi} dpi: {} mm per module", mm(1) * module);
        let quiet = (module * 4.0) as i32 - 1;
        for y in (top - quiet).max(0)..=(bottom + quiet).min(h - 1) {
            for x in (left - quiet).max(0)..=(right + quiet).min(w - 1) {
                let inside = (left..=right).contains(&x) && (top..=bottom).contains(&y);
                assert!(inside || page.get_pixel(x as u32, y as u32)[0] > 160, "{dpi} dpi: ink in the quiet zone at {x},{y}");
            }
        }
    }
    assert!(run("pdftoppm", &["-r", "150", "-f", "1", "-l", "1", "-png", "preview.pdf", "preview"], d).0);
    let (ok, out) = zbar("preview-1.png");
    assert!(!ok && out.trim().is_empty(), "a preview has no QR code: {out}");
    let (_, text) = run("pdftotext", &["preview.pdf", "-"], d);
    assert!(text.contains("ANTEPRIMA"), "{text}");
    let (_, text) = run("pdftotext", &["bilingual.pdf", "-"], d);
    assert!(text.contains("Wohnsitzbescheinigung") && text.contains("Certificato di residenza"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_verification_pages_are_rate_limited_per_address() {
    let e = env_limited(3).await;
    // Fixed one-minute windows: if the run straddles a minute, the count starts again once.
    let mut statuses = Vec::new();
    let mut limited = None;
    for _ in 0..8 {
        let r = send(&e, Request::get("/verifica/AAAAAAAAAAAAAAAAAAAAAAAA").body(Body::empty()).unwrap()).await;
        statuses.push(r.status);
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(r);
            break;
        }
    }
    let r = limited.unwrap_or_else(|| panic!("never limited: {statuses:?}"));
    assert!(statuses.len() >= 4 && statuses[..3].iter().all(|s| *s == StatusCode::OK), "{statuses:?}");
    assert!(r.headers.contains_key("retry-after"));
    assert_eq!(r.headers["content-type"], "application/problem+json");
}

/// A mail relay for the test: speaks enough SMTP for one client, records the envelope and the
/// message, and answers the end of the message with `data_reply`.
async fn fake_relay(data_reply: &'static str) -> (u16, Arc<Mutex<Vec<String>>>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let (r, mut w) = sock.into_split();
                let mut r = tokio::io::BufReader::new(r);
                let _ = w.write_all(b"220 relay.test ESMTP\r\n").await;
                let mut line = String::new();
                loop {
                    line.clear();
                    if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                        break;
                    }
                    let cmd = line.trim_end().to_ascii_uppercase();
                    let reply: &[u8] = if cmd.starts_with("EHLO") || cmd.starts_with("HELO") {
                        b"250-relay.test\r\n250 8BITMIME\r\n"
                    } else if cmd.starts_with("MAIL") || cmd.starts_with("RCPT") {
                        log.lock().unwrap().push(line.trim_end().to_owned());
                        b"250 ok\r\n"
                    } else if cmd == "DATA" {
                        let _ = w.write_all(b"354 go ahead\r\n").await;
                        let mut body = String::new();
                        loop {
                            line.clear();
                            if r.read_line(&mut line).await.unwrap_or(0) == 0 || line == ".\r\n" {
                                break;
                            }
                            body.push_str(&line);
                        }
                        log.lock().unwrap().push(body);
                        data_reply.as_bytes()
                    } else if cmd == "QUIT" {
                        let _ = w.write_all(b"221 bye\r\n").await;
                        break;
                    } else {
                        b"250 ok\r\n"
                    };
                    let _ = w.write_all(reply).await;
                }
            });
        }
    });
    (port, seen)
}

#[tokio::test]
async fn a_copy_goes_through_the_smtp_relay_and_a_relay_that_refuses_is_a_503_traced_as_failed() {
    use anagrafe_server::certificates::MailDelivery;
    for (reply, accepted) in [("250 queued\r\n", true), ("554 no thanks\r\n", false)] {
        let (port, seen) = fake_relay(reply).await;
        let e = env_with(10_000, Some(MailDelivery::smtp(&format!("smtp://127.0.0.1:{port}")).unwrap())).await;
        let s = citizen(&e, &e.anna).await;
        let issue = json!({ "person": e.anna.id_anpr, "types": [8], "confirm": true, "stamp": { "kind": "exempt", "code": 5 } });
        let r = as_citizen(&e, &s, "POST", "/api/v1/certificates", Some(issue)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        let id = r.json()["id"].as_str().unwrap().to_owned();
        let mail = as_citizen(&e, &s, "POST", &format!("/api/v1/certificates/{id}/email"), None).await;
        let t = audit_tail(&e).await;
        assert_eq!(t.operation, "certificate.email");
        if accepted {
            assert_eq!(mail.status, StatusCode::ACCEPTED, "{}", mail.text());
            assert_eq!(t.outcome, "ok");
            assert!(t.detail.contains("\"via\":\"smtp\""), "{}", t.detail);
            let seen = seen.lock().unwrap().clone();
            assert!(seen[0].starts_with("MAIL FROM:<noreply@anagrafe.invalid>"), "{seen:?}");
            assert_eq!(seen[1], "RCPT TO:<anna.bianchi@mail.example.org>");
            assert!(seen[2].contains(&format!("Subject: Certificato anagrafico n. {id}")) && seen[2].contains("application/pdf"));
            assert!(!e.outbox.exists(), "nothing written to an outbox when a relay is configured");
        } else {
            assert_eq!(mail.status, StatusCode::SERVICE_UNAVAILABLE, "{}", mail.text());
            assert_eq!(mail.headers["content-type"], "application/problem+json");
            assert_eq!(t.outcome, "failed");
        }
    }
}

/// A value the tester may send in a free-text field: anything printable, anything at all
/// (controls, bidirectional marks, NUL), hostile pieces glued to text, and lengths around and
/// far beyond the limits.
fn any_text() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    prop_oneof![
        "\\PC{1,40}",
        "\\PC{90,130}",
        ".{0,30}",
        (
            "[A-Za-z ]{0,12}",
            prop::sample::select(vec![
                "\0", "\r\n", "\t", "\u{202E}", "\u{2066}", "\u{200B}", "\u{FEFF}", "\u{85}", "\u{E000}", "<script>", "'\"&", "#[", "$",
                "\\", "*_`", "%PDF"
            ]),
            "[A-Za-z ]{0,12}"
        )
            .prop_map(|(a, b, c)| format!("{a}{b}{c}")),
        (1usize..3).prop_map(|k| "x".repeat(k * 100_000)),
    ]
}

/// Issue 17, item 14: every free-text field of a registration has ANPR's length and character
/// set. What the register accepts, it prints (a certificate, the officer's and the citizen's
/// pages); what it refuses is a 400 (unreadable) or 422 (read, not valid) naming the field,
/// with nothing written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_text_the_register_accepts_prints_and_the_rest_is_refused_naming_the_field() {
    use anagrafe_domain::text::{Civic, EmailAddress, Internal, Locality, Species, Toponym};
    use proptest::strategy::{Strategy, ValueTree};
    let e = env().await;
    common::operator(&*e.store, "officer", "registry_officer", "H501", common::NO_PASSWORD, Some("JBSWY3DPEHPK3PXP")).await;
    let (officer, _) = common::session(&*e.store, "operator", "officer", true).await;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    // The register's own characters within a limit (a letter first, so never blank).
    fn fits(runner: &mut proptest::test_runner::TestRunner, max: usize) -> String {
        let raw = format!("[A-Za-z0-9 '\\-/.,()\":;°’\\u{{C0}}-\\u{{17F}}]{{0,{}}}", max - 1).new_tree(runner).unwrap().current();
        format!("a{}", raw.chars().map(|c| if anagrafe_domain::text::allowed_char(c) { c } else { 'x' }).collect::<String>())
    }
    let (mut accepted, mut refused) = (0, 0);
    for case in 0..35 {
        // Each case sends one field as a tester would (anything), the others as they fit, and
        // every seventh case all of them as they fit.
        let r = &mut runner;
        let mut values = vec![
            fits(r, Toponym::MAX),
            fits(r, Civic::MAX),
            fits(r, Species::MAX),
            fits(r, Locality::MAX),
            fits(r, Internal::MAX),
            format!("p{case}@mail.example.org"),
        ];
        if case % 7 < 6 {
            values[case % 7] = any_text().new_tree(r).unwrap().current();
        }
        let [toponym, civic, species, locality, internal, email]: [String; 6] = values.try_into().unwrap();
        let surname = format!("Prova{}{}", (b'a' + (case / 26) as u8) as char, (b'a' + (case % 26) as u8) as char);
        let body = json!({
            "client_op_id": format!("text-{case}"), "reason": "1", "effective_date": "2025-02-03",
            "name": { "surname": surname, "given": "Elisa" }, "sex": "F", "birth_date": "2025-02-03",
            "birth_place": { "kind": "comune", "code": "F205" }, "citizenships": [{ "kind": "italia" }], "civil_status": "CelibeNubile",
            "residence": { "kind": "italy", "comune": "H501", "species": species, "toponym": toponym, "civic": civic,
                "locality": locality, "internal": internal },
            "household": { "kind": "new", "household": { "kind": "family" } },
            "email": email,
        });
        let expect_ok = Toponym::new(&toponym).is_ok()
            && Civic::new(&civic).is_ok()
            && Species::new(&species).is_ok()
            && Locality::new(&locality).is_ok()
            && Internal::new(&internal).is_ok()
            && EmailAddress::new(&email).is_ok();
        let persons = e.store.count_persons().await.unwrap();
        let r = signed(&e, &e.roma, "POST", "/api/v1/persons", Some(body)).await;
        let shown = |s: &str| s.chars().take(60).collect::<String>();
        let what = format!(
            "case {case}: toponym {:?} civic {:?} species {:?} locality {:?} internal {:?} email {:?}",
            shown(&toponym),
            shown(&civic),
            shown(&species),
            shown(&locality),
            shown(&internal),
            shown(&email)
        );
        if !expect_ok {
            refused += 1;
            assert!(matches!(r.status, StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY), "{what}: {} {}", r.status, r.text());
            let field = r.json()["errors"][0]["field"].as_str().unwrap_or_default().to_owned();
            assert!(
                ["toponym", "civic", "species", "locality", "internal", "email"].iter().any(|f| field.ends_with(f)),
                "{what}: the refusal names the field: {}",
                r.text()
            );
            assert_eq!(e.store.count_persons().await.unwrap(), persons, "{what}: nothing written");
            continue;
        }
        accepted += 1;
        assert_eq!(r.status, StatusCode::CREATED, "{what}: {}", r.text());
        let id = r.json()["id_anpr"].as_str().unwrap().to_owned();
        let cert = signed(
            &e,
            &e.roma,
            "POST",
            "/api/v1/certificates",
            Some(json!({ "person": id, "types": [8], "lang": "it", "confirm": true, "stamp": { "kind": "exempt", "code": 3 } })),
        )
        .await;
        assert_eq!(cert.status, StatusCode::CREATED, "{what}: {}", cert.text());
        let cid = cert.json()["id"].as_str().unwrap().to_owned();
        let pdf = signed(&e, &e.roma, "GET", &format!("/api/v1/certificates/{cid}/pdf"), None).await;
        assert_eq!(pdf.status, StatusCode::OK, "{what}");
        assert!(pdf.bytes.starts_with(b"%PDF"), "{what}");
        let page = send(
            &e,
            Request::get(format!("/ufficio/persone/{id}"))
                .header("cookie", format!("{}={officer}", anagrafe_server::auth::COOKIE))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(page.status, StatusCode::OK, "{what}: the officer's page");
        let cf = e.store.find_by_id_anpr(&anagrafe_domain::IdAnpr::parse(&id).unwrap()).await.unwrap();
        let pid = match cf {
            Some((pid, _)) => pid,
            None => panic!("{what}: the new record"),
        };
        let record = e.store.person(pid, None).await.unwrap().record;
        let s = common::session(&*e.store, "citizen", record.generalita.codice_fiscale.unwrap().as_str(), true).await;
        let own = as_citizen(&e, &s, "GET", "/area-personale", None).await;
        assert_eq!(own.status, StatusCode::OK, "{what}: the citizen's page");
    }
    eprintln!("{accepted} accepted, {refused} refused");
    assert!(accepted >= 4 && refused >= 4, "both kinds of value were tried: {accepted} accepted, {refused} refused");
}
