//! The web application's pages in process (issue 7): messages in both languages for every key
//! the pages use, the language switch, the citizen's record and certificate forms, the birth
//! registration form with its field errors and its notification. Store-backed tests run on
//! SQLite always and on PostgreSQL too when `ANAGRAFE_TEST_DATABASE_URL` is set. The same
//! journeys in a real browser, with axe-core, are `web/tests/journeys.mjs`.

mod common;

use anagrafe_domain::IdGenerator;
use anagrafe_domain::decode::{DecodeTable, TipoCertificato};
use anagrafe_domain::ops::Operation;
use anagrafe_server::auth::COOKIE;
use anagrafe_server::web::i18n::{self, Lang};
use anagrafe_server::{AppState, app};
use anagrafe_store::{IdIssuer, SqliteStore, Store, WriteContext};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use std::sync::Arc;
use tower::ServiceExt;

struct Page {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

impl Page {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

async fn get(router: &axum::Router, uri: &str, cookie: Option<&str>, extra: &[(&str, &str)]) -> Page {
    let mut r = Request::builder().uri(uri);
    if let Some(c) = cookie {
        r = r.header("cookie", format!("{COOKIE}={c}"));
    }
    for (k, v) in extra {
        r = r.header(*k, *v);
    }
    send(router, r.body(Body::empty()).unwrap()).await
}

async fn post_form(router: &axum::Router, uri: &str, cookie: &str, form: &[(&str, &str)]) -> Page {
    let body: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
    let r = Request::builder()
        .method("POST")
        .uri(uri)
        .header("cookie", format!("{COOKIE}={cookie}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap();
    send(router, r).await
}

async fn send(router: &axum::Router, req: Request<Body>) -> Page {
    let mut req = req;
    req.extensions_mut().insert(axum::extract::ConnectInfo(std::net::SocketAddr::from(([127, 0, 0, 1], 40000))));
    let resp = router.clone().oneshot(req).await.unwrap();
    let (parts, body) = resp.into_parts();
    Page { status: parts.status, headers: parts.headers, body: body.collect().await.unwrap().to_bytes().to_vec() }
}

/// Every `t("…")` / `t1("…"` key in the templates and the web module's code.
fn keys_used() -> Vec<String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    let mut stack = vec![root.join("templates"), root.join("src/web"), root.join("src/web.rs"), root.join("src/auth/dev_idp.rs")];
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            stack.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        } else {
            files.push(p);
        }
    }
    let mut keys = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for chunk in text.split("\"verify-").skip(1) {
            keys.push(format!("verify-{}", chunk.split('"').next().unwrap()));
        }
        for marker in ["t(\"", "t1(\"", "chrome(\"", "Chrome::new(&ui, \"", "crumb(\"", "paid_key: \""] {
            let mut chunks = text.split(marker);
            let mut before = chunks.next().unwrap_or_default();
            for chunk in chunks {
                // `t("…")` as a call of its own, not the end of another name (`get("…")`).
                let own_call = marker.len() > 3 || !before.ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_');
                before = chunk;
                if !own_call {
                    continue;
                }
                let key = chunk.split('"').next().unwrap();
                if !key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
                    keys.push(key.to_owned());
                }
            }
        }
    }
    keys.sort();
    keys.dedup();
    keys
}

#[test]
fn every_key_the_pages_use_is_in_both_message_files() {
    let mut keys = keys_used();
    assert!(keys.len() > 100, "the scan found {} keys", keys.len());
    keys.extend(TipoCertificato::ALL.iter().map(|t| format!("cert-type-{}", t.code())));
    for kind in [
        "nascita_registrata_altrove",
        "immigrazione_in_altro_comune",
        "trasferimento_residenza",
        "decesso_avvenuto_nel_comune",
        "doppia_iscrizione_segnalata",
    ] {
        keys.push(format!("notif-{}", kind.replace('_', "-")));
    }
    for case in [
        "marriage",
        "adult_adoption",
        "sex_change",
        "on_request",
        "material_error_aligned",
        "material_error_not_aligned_agency_right",
        "material_error_not_aligned_register_right",
    ] {
        let wire =
            serde_json::to_value(serde_json::from_value::<anagrafe_domain::ops::GeneralitaCase>(serde_json::json!(case)).unwrap()).unwrap();
        assert_eq!(wire, case, "a case of the decree");
        keys.push(format!("gen-case-{}", case.replace('_', "-")));
    }
    for a in ["report", "keep-this", "keep-other", "dismiss"] {
        keys.push(format!("change-duplicate-{a}"));
    }
    for l in ["auto", "it", "de", "fr", "sl"] {
        keys.push(format!("cert-lang-{l}"));
    }
    for status in ["resident", "aire", "cancelled", "deceased"] {
        keys.push(format!("status-{status}"));
    }
    for kind in ["iscrizione", "iscrizione_aire", "mutazione", "residenza", "famiglia", "cancellazione", "cancellazione_aire", "duplicato"]
    {
        keys.push(format!("event-{}", kind.replace('_', "-")));
    }
    let missing: Vec<String> =
        keys.iter().flat_map(|k| Lang::ALL.iter().filter(|l| !i18n::has(**l, k)).map(move |l| format!("{}:{k}", l.code()))).collect();
    assert!(missing.is_empty(), "keys missing from the message files: {missing:?}");
}

/// Every reason a rule of the register gives (`Why::new("…")` in any crate's code) has its words
/// in both languages, and the words use only the arguments the code gives: no refusal reaches a
/// page as a key or an English sentence.
#[test]
fn every_reason_the_register_gives_is_worded_in_both_languages() {
    let crates = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned();
    let mut stack = vec![crates];
    let mut reasons: Vec<(String, Vec<String>)> = Vec::new();
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            if !p.ends_with("target") {
                stack.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
            }
            continue;
        }
        if p.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&p).unwrap();
        for chunk in text.split("Why::new(\"").skip(1) {
            let key = chunk.split('"').next().unwrap().to_owned();
            // The arguments chained on this reason: `.arg("name", …)` up to the statement's end.
            let tail: String = chunk.chars().take_while(|c| *c != ';' && *c != '}').collect();
            let args = tail.split(".arg(\"").skip(1).map(|a| a.split('"').next().unwrap().to_owned()).collect();
            reasons.push((key, args));
        }
    }
    assert!(reasons.len() > 100, "the scan found {} reasons", reasons.len());
    let mut missing = Vec::new();
    for (key, args) in &reasons {
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
            continue;
        }
        for lang in Lang::ALL {
            let k = format!("why-{key}");
            if !i18n::has(lang, &k) {
                missing.push(format!("{}:{k}", lang.code()));
                continue;
            }
            // Each argument the code gives is filled in; none the words need is left unfilled.
            let words = i18n::t_args(lang, &k, &args.iter().map(|a| (a.as_str(), "⟦x⟧")).collect::<Vec<_>>());
            if words.contains("{") || words == k || words.matches("⟦x⟧").count() < args.len() {
                missing.push(format!("{}:{k} ({words})", lang.code()));
            }
        }
    }
    assert!(missing.is_empty(), "reasons without their words: {missing:?}");
    // The page's language: Italian and English differ, and the field's reason is not the key.
    let r = anagrafe_domain::Why::new("too-long").arg("max", 80);
    assert_eq!(i18n::why(Lang::It, &r), "È troppo lungo: al massimo 80 caratteri, come nei campi di ANPR.");
    assert_eq!(i18n::why(Lang::En, &r), "It is too long: 80 characters at most, as in ANPR's fields.");
}

async fn sqlite() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::connect(&format!("sqlite://{}", dir.path().join("t.db").display())).await.unwrap();
    s.migrate().await.unwrap();
    (Arc::new(s), dir)
}

fn issuer() -> IdIssuer {
    IdIssuer { generator: IdGenerator::new(&[7u8; 16]), key_version: 1, high_water: None }
}

fn state(store: Arc<dyn Store>) -> AppState {
    let mut state = AppState::new(store).with_issuer(issuer());
    state.limits.auth_per_minute = 100_000;
    state.limits.over_limit_delay_ms = 0;
    let pki = anagrafe_docs::SealIdentity::generate("Prova", chrono::Utc::now()).unwrap();
    let seal = anagrafe_docs::SealIdentity::from_pem(&pki.seal_key_pem, &pki.chain_pem).unwrap();
    state.certificates = Some(Arc::new(anagrafe_server::certificates::Certificates::new(seal, "http://127.0.0.1:9")));
    state
}

#[tokio::test]
async fn public_pages_speak_the_asked_language_and_the_switch_stays_on_this_site() {
    let (store, _dir) = sqlite().await;
    let router = app(state(store));
    let home = get(&router, "/", None, &[]).await;
    assert_eq!(home.status, StatusCode::OK);
    assert_eq!(home.headers["content-type"], "text/html; charset=utf-8");
    assert!(home.text().contains("<html lang=\"it\">"));
    assert!(home.headers["content-security-policy"].to_str().unwrap().contains("script-src 'self'"));
    let en = get(&router, "/", None, &[("accept-language", "en-GB,en;q=0.9")]).await;
    assert!(en.text().contains("<html lang=\"en\">") && en.text().contains("National Resident Population Register"));
    // The cookie wins over the header.
    let it = get(&router, "/privacy", None, &[("accept-language", "en"), ("cookie", "anagrafe-lang=it")]).await;
    assert!(it.text().contains("Informativa sulla privacy"));
    let switch = get(&router, "/lingua?l=en&torna=%2Fprivacy", None, &[]).await;
    assert_eq!(switch.status, StatusCode::SEE_OTHER);
    assert_eq!(switch.headers["location"], "/privacy");
    let set = switch.headers["set-cookie"].to_str().unwrap();
    assert!(set.starts_with("anagrafe-lang=en;"), "{set}");
    for attribute in ["HttpOnly", "Secure", "SameSite=Lax"] {
        assert!(set.contains(attribute), "the language cookie lacks {attribute}: {set}");
    }
    for evil in ["//evil.example/x", "https://evil.example/", "/\\evil.example"] {
        let q: String = url::form_urlencoded::byte_serialize(evil.as_bytes()).collect();
        let r = get(&router, &format!("/lingua?l=en&torna={q}"), None, &[]).await;
        assert_eq!(r.headers["location"], "/", "{evil} must not be followed");
    }
    // An unknown page is a page, with the header and a way home; an unknown API path stays
    // problem+json (issue 17, item 7).
    let lost = get(&router, "/ufficio/non-esiste", None, &[]).await;
    assert_eq!(lost.status, StatusCode::NOT_FOUND);
    assert_eq!(lost.headers["content-type"], "text/html; charset=utf-8");
    assert!(lost.text().contains("<html lang=\"it\">") && lost.text().contains("href=\"/\""), "{}", lost.text());
    let api = get(&router, "/api/v1/non-esiste", None, &[]).await;
    assert_eq!(api.status, StatusCode::NOT_FOUND);
    assert_eq!(api.headers["content-type"], "application/problem+json");
    let bad = get(&router, "/lingua?l=xx", None, &[]).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.text().contains("Richiesta non valida"));
    // The assets are the binary's own, cached for good under this build's tag.
    let tag = home.text().split("/static/").nth(1).unwrap().split('/').next().unwrap().to_owned();
    let css = get(&router, &format!("/static/{tag}/bootstrap-italia.min.css"), None, &[]).await;
    assert_eq!(css.status, StatusCode::OK);
    assert_eq!(css.headers["content-type"], "text/css; charset=utf-8");
    assert!(css.headers["cache-control"].to_str().unwrap().contains("immutable"));
    assert!(css.body.len() > 100_000);
    let font = get(&router, &format!("/static/{tag}/fonts/titillium-web-v10-latin-ext_latin-regular.woff2"), None, &[]).await;
    assert_eq!(font.headers["content-type"], "font/woff2");
    assert_eq!(get(&router, &format!("/static/{tag}/../Cargo.toml"), None, &[]).await.status, StatusCode::NOT_FOUND);
    // The verification pages speak English too, the accessible question included.
    let verify = get(&router, "/verifica", None, &[("accept-language", "en")]).await;
    assert!(verify.text().contains("Read the code") && verify.text().contains("<html lang=\"en\">"));
    let question = get(&router, "/verifica/AAAAAAAAAAAAAAAAAAAAAAAA?alternativa=1", None, &[("accept-language", "en")]).await;
    assert!(question.text().contains("What is") && question.text().contains("Confirm"), "{}", question.text());
    // The captcha oracle exists only when a test builds the service with it.
    assert_eq!(get(&router, "/test-only/captcha/abc", None, &[]).await.status, StatusCode::NOT_FOUND);
}

/// Registers a resident of H501 born in H501; returns (ID ANPR, codice fiscale).
async fn resident(store: &dyn Store, n: u64) -> (String, String) {
    let r = anagrafe_testkit::registration(n, "H501", "H501", chrono::NaiveDate::from_ymd_opt(1985, 6, 1).unwrap());
    let applied = store.apply(&Operation::Register(Box::new(r)), &WriteContext::cli("test"), &issuer(), None).await.unwrap();
    let id = applied.id_anpr.unwrap();
    let (pid, _) = store.find_by_id_anpr(&id).await.unwrap().unwrap();
    let cf = store.person(pid, None).await.unwrap().record.generalita.codice_fiscale.unwrap().to_string();
    (id.to_string(), cf)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizen_sees_the_own_record_and_issues_a_certificate_only_through_a_confirmed_form() {
    for (store, _dir, pg) in common::stores().await {
        let router = app(state(store.clone()));
        let (id, cf) = resident(&*store, 7).await;
        let anonymous = get(&router, "/area-personale", None, &[]).await;
        assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
        assert!(anonymous.text().contains("href=\"/accedi\""), "the 401 page shows the way to log in");
        let (token, csrf) = common::session(&*store, "citizen", &cf, true).await;
        let record = get(&router, "/area-personale", Some(&token), &[]).await;
        assert_eq!(record.status, StatusCode::OK, "{}", record.text());
        assert!(record.text().contains(&id) && record.text().contains(&cf));
        let pid = store.find_by_id_anpr(&id.parse().unwrap()).await.unwrap().unwrap().0;
        let step2 = get(&router, "/area-personale/certificati/nuovo?tipo=8", Some(&token), &[]).await;
        assert_eq!(step2.status, StatusCode::OK);
        assert!(step2.text().contains(&format!("name=\"csrf\" value=\"{csrf}\"")));
        let preview = get(&router, "/area-personale/certificati/anteprima?tipo=8", Some(&token), &[]).await;
        assert_eq!(preview.headers["content-type"], "application/pdf");
        // No CSRF token: refused, nothing issued.
        let form = [("tipo", "8"), ("stamp", "paid"), ("confirm", "1")];
        let forged = post_form(&router, "/area-personale/certificati", &token, &form).await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        // Not confirmed, or exempt without a reason: the page says which field, nothing issued.
        let unconfirmed =
            post_form(&router, "/area-personale/certificati", &token, &[("csrf", &csrf), ("tipo", "8"), ("stamp", "paid")]).await;
        assert_eq!(unconfirmed.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(unconfirmed.text().contains("href=\"#confirm\""), "{}", unconfirmed.text());
        let no_reason = post_form(
            &router,
            "/area-personale/certificati",
            &token,
            &[("csrf", &csrf), ("tipo", "8"), ("stamp", "exempt"), ("confirm", "1")],
        )
        .await;
        assert!(no_reason.text().contains("href=\"#exemption\""));
        assert!(store.certificates_of(pid).await.unwrap().is_empty(), "nothing issued by refused forms");
        let issued = pay_and_issue(&router, &token, &csrf, &[("tipo", "8")]).await;
        assert_eq!(issued.status, StatusCode::SEE_OTHER, "{}", issued.text());
        let to = issued.headers["location"].to_str().unwrap().to_owned();
        let number = to.split("rilasciato=").nth(1).unwrap().to_owned();
        let list = get(&router, &to, Some(&token), &[]).await;
        assert!(list.text().contains(&format!("/area-personale/certificati/{number}/pdf")));
        let pdf = get(&router, &format!("/area-personale/certificati/{number}/pdf"), Some(&token), &[]).await;
        assert_eq!(pdf.headers["content-type"], "application/pdf");
        assert_eq!(&pdf.body[..5], b"%PDF-");
        assert_eq!(store.certificates_of(pid).await.unwrap().len(), 1);
        // A combined certificate (residence and family status) in Italian and German: the
        // choice travels through the steps to the issue.
        let step2 = get(&router, "/area-personale/certificati/nuovo?tipo=8&con=12&con=8&lingua=de", Some(&token), &[]).await;
        assert_eq!(step2.status, StatusCode::OK, "{}", step2.text());
        assert!(step2.text().contains("name=\"tipo\" value=\"8,12\"") && step2.text().contains("name=\"lingua\" value=\"de\""));
        assert!(step2.text().contains("anteprima?tipo=8,12&#38;lingua=de"), "the preview asks the same: {}", step2.text());
        let combined = pay_and_issue(&router, &token, &csrf, &[("tipo", "8,12"), ("lingua", "de")]).await;
        assert_eq!(combined.status, StatusCode::SEE_OTHER, "{}", combined.text());
        let certs = store.certificates_of(pid).await.unwrap();
        let last = certs.iter().find(|c| c.types.len() > 1).expect("the combined certificate");
        assert_eq!((last.types.clone(), last.langs.clone()), (vec![8, 12], vec!["it".to_owned(), "de".to_owned()]));
        for bad in ["tipo=8&lingua=xx", "tipo=1,2,3,4,5,6,7", "tipo=999", "lingua=de"] {
            let r = get(&router, &format!("/area-personale/certificati/nuovo?{bad}"), Some(&token), &[]).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.text());
        }
        // "Who looked at my data": an office's read is listed, the citizen's own actions are not.
        // Three reads by Rome's officer in one sitting are one row, naming the comune.
        common::operator(&*store, "ufficiale", "registry_officer", "H501", common::NO_PASSWORD, None).await;
        for _ in 0..3 {
            let mut read = anagrafe_store::AuditEntry::from_ctx(&WriteContext::cli("test"), "person.read", "ok");
            read.actor = "operator:ufficiale".into();
            read.subject_person = Some(pid);
            store.audit(&read).await.unwrap();
        }
        // A public body's e-service call is listed with its purpose; a public-security body's
        // is traced as well but withheld from the person.
        for (body, withheld) in [("INPS", false), ("Questura di Roma", true)] {
            let mut call = anagrafe_store::AuditEntry::from_ctx(&WriteContext::cli("test"), "pdnd.C030", "ok");
            call.actor = format!("pdnd:{body}");
            call.subject_person = Some(pid);
            call.detail =
                serde_json::json!({ "public_body": body, "motivoRichiesta": "pratica 7", "withheld_from_subject": withheld }).to_string();
            store.audit(&call).await.unwrap();
        }
        let seen = get(&router, "/area-personale/accessi", Some(&token), &[]).await;
        assert_eq!(seen.status, StatusCode::OK);
        assert_eq!(seen.text().matches("data-testid=\"access\"").count(), 2, "{}", seen.text());
        assert!(seen.text().contains("INPS") && !seen.text().contains("Questura"), "{}", seen.text());
        let text = seen.text();
        assert!(text.contains("Ufficio anagrafe del comune di ROMA (RM)") && text.contains("Lettura della scheda"), "{text}");
        assert!(text.contains("3 volte, fino a"), "the sitting's reads are one row: {text}");
        assert!(text.contains("Tenuta dell&#39;anagrafe"), "the office's purpose: {text}");
        assert!(text.contains("Accertamento dell&#39;ID ANPR"), "the e-service in words: {text}");
        assert!(!text.contains("pdnd.C030") && !text.contains("servizioAccertamento"), "no code names: {text}");
        assert!(!seen.text().contains("Rilascio di un certificato"), "the citizen's own issue is not an access by others");
        // Another citizen cannot download it.
        let (_, other_cf) = resident(&*store, 8).await;
        let (other, _) = common::session(&*store, "citizen", &other_cf, true).await;
        let theirs = get(&router, &format!("/area-personale/certificati/{number}/pdf"), Some(&other), &[]).await;
        assert_eq!(theirs.status, StatusCode::FORBIDDEN);
        assert!(theirs.headers["content-type"].to_str().unwrap().starts_with("text/html"));
        drop(router);
        drop(store);
        common::drop_pg(pg).await;
    }
}

/// The stamp duty's payment step, as the citizen goes through it: the issue form leads to the
/// payment page (nothing paid yet), Paga to the receipt, whose button issues with that payment.
async fn pay_and_issue(router: &axum::Router, token: &str, csrf: &str, choice: &[(&str, &str)]) -> Page {
    let mut form: Vec<(&str, &str)> = vec![("csrf", csrf), ("stamp", "paid"), ("confirm", "1")];
    form.extend_from_slice(choice);
    let step = post_form(router, "/area-personale/certificati", token, &form).await;
    assert_eq!(step.status, StatusCode::OK, "{}", step.text());
    assert!(step.text().contains("action=\"/area-personale/pagamento\"") && step.text().contains("Paga 16,00 €"), "{}", step.text());
    assert!(step.text().contains("Annulla"), "the payment can be cancelled");
    let mut pay: Vec<(&str, &str)> = vec![("csrf", csrf)];
    pay.extend_from_slice(choice);
    let receipt = post_form(router, "/area-personale/pagamento", token, &pay).await;
    assert_eq!(receipt.status, StatusCode::OK, "{}", receipt.text());
    let html = receipt.text();
    assert!(html.contains("id=\"receipt\""), "{html}");
    let payment = html.split("name=\"payment\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    form.push(("payment", &payment));
    post_form(router, "/area-personale/certificati", token, &form).await
}

/// Issue 17, item 11: the stamp duty is not "paid" by one click: the issue form leads to a
/// payment page; cancelling there pays and issues nothing; a payment is used once, by its payer.
#[tokio::test]
async fn a_citizen_pays_the_stamp_duty_on_its_own_step_and_a_payment_serves_one_certificate() {
    for (store, _dir, pg) in common::stores().await {
        let router = app(state(store.clone()));
        let (id, cf) = resident(&*store, 12).await;
        let pid = store.find_by_id_anpr(&id.parse().unwrap()).await.unwrap().unwrap().0;
        let (token, csrf) = common::session(&*store, "citizen", &cf, true).await;
        let payments = || async {
            store.audit_entries(0, 100_000).await.unwrap().iter().filter(|e| e.entry.operation == "payment.stamp_duty").count()
        };
        // The issue form alone: the payment page, nothing paid, nothing issued.
        let step = post_form(
            &router,
            "/area-personale/certificati",
            &token,
            &[("csrf", &csrf), ("tipo", "8"), ("stamp", "paid"), ("confirm", "1")],
        )
        .await;
        assert_eq!(step.status, StatusCode::OK);
        assert!(
            step.text().contains("href=\"/area-personale/certificati/nuovo?tipo=8&#38;lingua=\""),
            "Annulla goes back: {}",
            step.text()
        );
        assert_eq!((payments().await, store.certificates_of(pid).await.unwrap().len()), (0, 0));
        // Without the CSRF token the payment is not made.
        let forged = post_form(&router, "/area-personale/pagamento", &token, &[("tipo", "8")]).await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        assert_eq!(payments().await, 0);
        let issued = pay_and_issue(&router, &token, &csrf, &[("tipo", "8")]).await;
        assert_eq!(issued.status, StatusCode::SEE_OTHER, "{}", issued.text());
        assert_eq!((payments().await, store.certificates_of(pid).await.unwrap().len()), (1, 1));
        // A receipt serves one certificate; one never made serves none.
        let receipt = post_form(&router, "/area-personale/pagamento", &token, &[("csrf", &csrf), ("tipo", "8")]).await.text();
        let payment = receipt.split("name=\"payment\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
        let with = |p: &str| {
            [("csrf", csrf.clone()), ("tipo", "8".into()), ("stamp", "paid".into()), ("confirm", "1".into()), ("payment", p.to_owned())]
        };
        let first = post_form(
            &router,
            "/area-personale/certificati",
            &token,
            &with(&payment).iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>(),
        )
        .await;
        assert_eq!(first.status, StatusCode::SEE_OTHER, "{}", first.text());
        for p in [payment.as_str(), "nessuno"] {
            let again = post_form(
                &router,
                "/area-personale/certificati",
                &token,
                &with(p).iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>(),
            )
            .await;
            assert!(again.status.is_client_error(), "{p}: {}", again.text());
        }
        assert_eq!(store.certificates_of(pid).await.unwrap().len(), 2);
        common::drop_pg(pg).await;
    }
}

/// A registry officer of Rome with both factors, and a security officer (who may not use the
/// registry office's pages): their session cookies.
struct Desk {
    token: String,
    csrf: String,
    security: String,
}

async fn desk(store: &dyn Store) -> Desk {
    common::operator(store, "officer", "registry_officer", "H501", common::NO_PASSWORD, Some("JBSWY3DPEHPK3PXP")).await;
    common::operator(store, "security", "security_officer", "", common::NO_PASSWORD, Some("JBSWY3DPEHPK3PXP")).await;
    let (token, csrf) = common::session(store, "operator", "officer", true).await;
    let (security, _) = common::session(store, "operator", "security", true).await;
    Desk { token, csrf, security }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_officer_registers_a_birth_from_the_form_with_errors_beside_the_fields_and_the_comune_of_birth_is_told() {
    for (store, _dir, pg) in common::stores().await {
        let router = app(state(store.clone()));
        let Desk { token, csrf, security } = desk(&*store).await;
        assert_eq!(get(&router, "/ufficio/nascita", Some(&security), &[]).await.status, StatusCode::FORBIDDEN);
        let (first, _) = common::session(&*store, "operator", "officer", false).await;
        assert_eq!(get(&router, "/ufficio/nascita", Some(&first), &[]).await.status, StatusCode::FORBIDDEN, "a first-factor session");
        let anonymous = get(&router, "/ufficio", None, &[]).await;
        assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
        assert!(anonymous.text().contains("href=\"/ufficio/accesso\""));
        let persons = store.count_persons().await.unwrap();
        let empty = post_form(&router, "/ufficio/nascita", &token, &[("csrf", &csrf), ("op", "web-op-1")]).await;
        assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
        for field in ["surname", "given", "sex", "birth_date", "birth_place", "toponym"] {
            assert!(empty.text().contains(&format!("id=\"{field}-error\"")), "{field} has its error beside it");
        }
        let mut form = vec![
            ("csrf", csrf.as_str()),
            ("op", "web-op-2"),
            ("surname", "Prova"),
            ("given", "Aurora"),
            ("sex", "F"),
            ("birth_date", "2026-11-20"),
            ("birth_place", "Atlantide"),
            ("species", "VIA"),
            ("toponym", "Roma"),
            ("civic", "1"),
            ("household", "new"),
        ];
        let unknown_place = post_form(&router, "/ufficio/nascita", &token, &form).await;
        assert!(unknown_place.text().contains("id=\"birth_place-error\""));
        assert_eq!(store.count_persons().await.unwrap(), persons, "refused forms write nothing");
        form[6] = ("birth_place", "Milano");
        let forged = post_form(&router, "/ufficio/nascita", &token, &form[1..]).await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN, "no CSRF token");
        let done = post_form(&router, "/ufficio/nascita", &token, &form).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text());
        let id = done.headers["location"].to_str().unwrap().split("iscritto=").nth(1).unwrap().to_owned();
        assert_eq!(store.count_persons().await.unwrap(), persons + 1);
        // The same form sent twice (a double click) registers once: its operation id is the
        // API's idempotency key.
        let again = post_form(&router, "/ufficio/nascita", &token, &form).await;
        assert_eq!(again.headers["location"].to_str().unwrap(), format!("/ufficio/nascita?iscritto={id}"));
        assert_eq!(store.count_persons().await.unwrap(), persons + 1);
        let milano = anagrafe_domain::Belfiore::parse("F205").unwrap();
        let told = store.notifications(milano, 0, 10).await.unwrap();
        assert!(told.iter().any(|n| n.kind == "nascita_registrata_altrove" && n.payload["id_anpr"] == id.as_str()), "{told:?}");
        // Milan's officer reads it in the inbox, newest first, leading to the record.
        common::operator(&*store, "milano", "registry_officer", "F205", common::NO_PASSWORD, Some("JBSWY3DPEHPK3PXP")).await;
        let (milan, milan_csrf) = common::session(&*store, "operator", "milano", true).await;
        let inbox = get(&router, "/ufficio/notifiche", Some(&milan), &[]).await;
        assert_eq!(inbox.status, StatusCode::OK);
        assert!(inbox.text().contains(&format!("href=\"/ufficio/persone/{id}\"")), "{}", inbox.text());
        // Milan's officer marks it handled (issue 17, item 12): the inbox says by whom; a second
        // marking changes nothing; Rome's officer cannot mark Milan's notification.
        let n = told.iter().find(|n| n.kind == "nascita_registrata_altrove").unwrap().id;
        let mark = format!("/ufficio/notifiche/{n}/gestita");
        assert_eq!(post_form(&router, &mark, &milan, &[]).await.status, StatusCode::FORBIDDEN, "no CSRF token");
        let marked = post_form(&router, &mark, &milan, &[("csrf", &milan_csrf)]).await;
        assert_eq!(marked.status, StatusCode::SEE_OTHER, "{}", marked.text());
        let handled_entries =
            |all: Vec<anagrafe_store::StoredAudit>| all.iter().filter(|e| e.entry.operation == "notification.handled").count();
        assert_eq!(handled_entries(store.audit_entries(0, 100_000).await.unwrap()), 1, "the marking is traced");
        assert_eq!(post_form(&router, &mark, &milan, &[("csrf", &milan_csrf)]).await.status, StatusCode::SEE_OTHER);
        assert_eq!(handled_entries(store.audit_entries(0, 100_000).await.unwrap()), 1, "marking again writes nothing");
        assert_eq!(post_form(&router, &mark, &token, &[("csrf", &csrf)]).await.status, StatusCode::NOT_FOUND, "another comune's");
        let handled = store.notifications_handled(milano, n, n).await.unwrap();
        assert_eq!(handled.len(), 1);
        let inbox = get(&router, "/ufficio/notifiche", Some(&milan), &[]).await.text();
        assert!(inbox.contains("Gestita") && inbox.contains(&handled[0].by), "{inbox}");
        let page = get(&router, &format!("/ufficio/persone/{id}"), Some(&token), &[]).await;
        let text = page.text();
        assert!(text.contains("Prova Aurora"), "{text}");
        // The whole record: sex, birthplace, citizenship, civil status, the household's members.
        for part in
            ["femminile", "MILANO", "ITALIANA", "Componenti della famiglia anagrafica", "Intestatario", "/scheda?al=", "/foglio?al="]
        {
            assert!(text.to_uppercase().contains(&part.to_uppercase()), "{part}: {text}");
        }
        assert!(!text.contains("CelibeNubile") && !text.contains("IntestatarioScheda"));
        // Printed: the scheda individuale and the foglio di famiglia, ready for paper.
        let sheet = get(&router, &format!("/ufficio/persone/{id}/scheda"), Some(&token), &[]).await;
        assert_eq!(sheet.status, StatusCode::OK);
        assert!(sheet.text().contains("Scheda individuale") && sheet.text().contains("Stampato da"), "{}", sheet.text());
        let family = text.split("/ufficio/famiglie/").nth(1).unwrap().split('/').next().unwrap().to_owned();
        let leaf = get(&router, &format!("/ufficio/famiglie/{family}/foglio"), Some(&token), &[]).await;
        assert_eq!(leaf.status, StatusCode::OK);
        assert!(leaf.text().contains("Foglio di famiglia") && leaf.text().contains("Prova Aurora"), "{}", leaf.text());
        assert_eq!(get(&router, &format!("/ufficio/famiglie/{family}/foglio"), Some(&security), &[]).await.status, StatusCode::FORBIDDEN);
        // A second birth names its parent by code and joins the parent's family; the act's
        // references go with the registration. A code of no record is refused beside the field.
        let mut twin = form.clone();
        twin[1] = ("op", "web-op-3");
        twin[3] = ("given", "Bruno");
        twin[10] = ("household", "join");
        let mut bad = twin.clone();
        bad.push(("parent1", "RSSMRA80A01H501U"));
        let refused = post_form(&router, "/ufficio/nascita", &token, &bad).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(refused.text().contains("id=\"parent1-error\""), "{}", refused.text());
        twin.extend([
            ("parent1", id.as_str()),
            ("relation", "3"),
            ("act_year", "2026"),
            ("act_number", "123"),
            ("act_part", "I"),
            ("act_series", "A"),
        ]);
        let joined = post_form(&router, "/ufficio/nascita", &token, &twin).await;
        assert_eq!(joined.status, StatusCode::SEE_OTHER, "{}", joined.text());
        let second = joined.headers["location"].to_str().unwrap().split("iscritto=").nth(1).unwrap().to_owned();
        let leaf = get(&router, &format!("/ufficio/famiglie/{family}/foglio"), Some(&token), &[]).await.text();
        assert!(leaf.contains("Prova Bruno") && leaf.contains(&second), "{leaf}");
        let history = get(&router, &format!("/ufficio/persone/{second}/storia"), Some(&token), &[]).await.text();
        assert!(
            history.contains("atto di nascita n. 123, parte I, serie A, anno 2026") && history.contains(&format!("genitori {id}")),
            "{history}"
        );

        // Asked as of a day before the register knew the record: it says from when (issue 17).
        let before = get(&router, &format!("/ufficio/persone/{id}?al=2000-01-01"), Some(&token), &[]).await;
        assert_eq!(before.status, StatusCode::NOT_FOUND);
        assert!(before.text().contains("La scheda è presente nell") && before.text().contains("?al="), "{}", before.text());
        assert!(!before.text().contains("Pagina non trovata"));
        let found = get(&router, &format!("/ufficio/persone?q={id}"), Some(&token), &[]).await;
        assert!(found.text().contains(&format!("/ufficio/persone/{id}")));
        // A certificate at the counter for the newborn: stamp duty collected there.
        let step2 = get(&router, &format!("/ufficio/persone/{id}/certificato?tipo=8"), Some(&token), &[]).await;
        assert_eq!(step2.status, StatusCode::OK, "{}", step2.text());
        let preview = get(&router, &format!("/ufficio/persone/{id}/anteprima?tipo=8"), Some(&token), &[]).await;
        assert_eq!(preview.headers["content-type"], "application/pdf");
        let target = format!("/ufficio/persone/{id}/certificato");
        let unconfirmed = post_form(&router, &target, &token, &[("csrf", &csrf), ("tipo", "8"), ("stamp", "paid")]).await;
        assert_eq!(unconfirmed.status, StatusCode::UNPROCESSABLE_ENTITY);
        let issued = post_form(&router, &target, &token, &[("csrf", &csrf), ("tipo", "8"), ("stamp", "paid"), ("confirm", "1")]).await;
        assert_eq!(issued.status, StatusCode::SEE_OTHER, "{}", issued.text());
        let number = issued.headers["location"].to_str().unwrap().split("rilasciato=").nth(1).unwrap().to_owned();
        let pdf = get(&router, &format!("/ufficio/certificati/{number}/pdf"), Some(&token), &[]).await;
        assert_eq!(&pdf.body[..5], b"%PDF-");
        let pid = store.find_by_id_anpr(&id.parse().unwrap()).await.unwrap().unwrap().0;
        let certs = store.certificates_of(pid).await.unwrap();
        assert_eq!(certs.len(), 1);
        assert_eq!(certs[0].requester, "operator:officer");
        drop(router);
        drop(store);
        common::drop_pg(pg).await;
    }
}

fn enc(v: &str) -> String {
    url::form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_officer_finds_a_person_by_personal_data_changes_address_and_civil_status_records_the_death_and_reads_the_history() {
    for (store, _dir, pg) in common::stores().await {
        let router = app(state(store.clone()));
        let Desk { token, csrf, security } = desk(&*store).await;
        let (id, _) = resident(&*store, 7).await;
        let pid = store.find_by_id_anpr(&id.parse().unwrap()).await.unwrap().unwrap().0;
        let g = store.person(pid, None).await.unwrap().record.generalita;
        let (surname, given) = (g.name.surname().unwrap().to_owned(), g.name.given().unwrap().to_owned());
        let sex = if g.sex == anagrafe_domain::Sex::M { "M" } else { "F" };
        let born = g.birth_date.first_day();

        // Search by personal data: the full date, or only the year; the place narrows it.
        let by = |date: String, place: &str| {
            format!(
                "/ufficio/persone?cognome={}&nome={}&sesso={sex}&nascita={date}&luogo={place}",
                enc(&surname),
                enc(&given.to_lowercase())
            )
        };
        for (date, place) in [(born.to_string(), ""), (born.format("%Y").to_string(), "Roma"), (born.format("%Y-%m").to_string(), "H501")] {
            let found = get(&router, &by(date.clone(), place), Some(&token), &[]).await;
            assert_eq!(found.status, StatusCode::OK, "{date} {place}: {}", found.text());
            assert!(found.text().contains(&format!("/ufficio/persone/{id}")), "{date} {place}");
        }
        let elsewhere = get(&router, &by(born.to_string(), "Milano"), Some(&token), &[]).await;
        assert!(!elsewhere.text().contains(&format!("/ufficio/persone/{id}")), "born in Rome, not Milan");
        let no_sex = get(&router, &format!("/ufficio/persone?cognome={}&nome=x&nascita=1980", enc(&surname)), Some(&token), &[]).await;
        assert_eq!(no_sex.status, StatusCode::BAD_REQUEST);
        assert!(no_sex.text().contains("id=\"sesso-error\""), "{}", no_sex.text());
        // The messages are the page's language's, and say what to write (issue 17, item 8).
        assert!(no_sex.text().contains("Scegli il sesso: M oppure F."), "{}", no_sex.text());
        assert!(!no_sex.text().contains("sex: is M or F"), "no developer's message");
        let english = get(
            &router,
            &format!("/ufficio/persone?cognome={}&nome=x&nascita=1980", enc(&surname)),
            None,
            &[("cookie", &format!("{COOKIE}={token}; anagrafe-lang=en"))],
        )
        .await;
        assert!(english.text().contains("Choose the sex: M or F."), "{}", english.text());
        let bad_date =
            get(&router, &format!("/ufficio/persone?cognome={}&nome=x&sesso=F&nascita=31/02/1980", enc(&surname)), Some(&token), &[]).await;
        assert!(bad_date.text().contains("Scrivi la data di nascita come gg/mm/aaaa"), "{}", bad_date.text());
        // A date typed as gg/mm/aaaa (or mm/aaaa) finds the person as the ISO form does.
        for typed in [born.format("%d/%m/%Y").to_string(), born.format("%m/%Y").to_string()] {
            let found = get(&router, &by(enc(&typed), ""), Some(&token), &[]).await;
            assert!(found.text().contains(&format!("/ufficio/persone/{id}")), "{typed}");
        }
        let bad_place = get(&router, &by(born.to_string(), "Atlantide"), Some(&token), &[]).await;
        assert!(bad_place.text().contains("id=\"luogo-error\""));

        // Change of address: the form's own errors, then the API's, beside the fields; nothing
        // written until it is right; the same form twice changes once.
        let events = || async { store.history(pid).await.unwrap().events.len() };
        let before = events().await;
        let target = format!("/ufficio/persone/{id}/residenza");
        let form = get(&router, &target, Some(&token), &[]).await;
        assert_eq!(form.status, StatusCode::OK);
        assert!(form.text().contains("del Banco"), "the current address is shown");
        let today = anagrafe_domain::ops::italian_today().to_string();
        let mut fields = vec![
            ("csrf", csrf.as_str()),
            ("op", "move-1"),
            ("effective_date", today.as_str()),
            ("species", "VIA"),
            ("toponym", ""),
            ("civic", "3"),
            ("cap", "00184"),
            ("household", "stay"),
        ];
        let missing = post_form(&router, &target, &token, &fields).await;
        assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(missing.text().contains("id=\"toponym-error\""));
        fields[4] = ("toponym", "Cavour");
        fields[6] = ("cap", "1");
        let bad_cap = post_form(&router, &target, &token, &fields).await;
        assert!(bad_cap.status.is_client_error(), "{}", bad_cap.text());
        assert!(bad_cap.text().contains("id=\"cap-error\""), "the API's field error lands beside the field: {}", bad_cap.text());
        assert_eq!(events().await, before, "refused forms write nothing");
        assert_eq!(post_form(&router, &target, &token, &fields[1..]).await.status, StatusCode::FORBIDDEN, "no CSRF token");
        fields[6] = ("cap", "00184");
        fields[1] = ("op", "move-2");
        for _ in 0..2 {
            let moved = post_form(&router, &target, &token, &fields).await;
            assert_eq!(moved.status, StatusCode::SEE_OTHER, "{}", moved.text());
            assert_eq!(moved.headers["location"], format!("/ufficio/persone/{id}?modificato=residenza").as_str());
        }
        assert_eq!(events().await, before + 1, "a double submit changes once");
        let page = get(&router, &format!("/ufficio/persone/{id}?modificato=residenza"), Some(&token), &[]).await;
        assert!(page.text().contains("VIA Cavour 3"), "{}", page.text());
        assert!(page.text().contains("alert-success"));

        // Change of civil status.
        let target = format!("/ufficio/persone/{id}/stato-civile");
        let married =
            post_form(&router, &target, &token, &[("csrf", &csrf), ("op", "civil-1"), ("effective_date", &today), ("civil_status", "2")])
                .await;
        assert_eq!(married.status, StatusCode::SEE_OTHER, "{}", married.text());
        let unknown = post_form(
            &router,
            &target,
            &token,
            &[("csrf", &csrf), ("op", "civil-2"), ("effective_date", &today), ("civil_status", "Sposato")],
        )
        .await;
        assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", unknown.text());
        assert!(unknown.text().contains("id=\"civil_status-error\""));

        // The history lists both changes and the two residences.
        let history = get(&router, &format!("/ufficio/persone/{id}/storia"), Some(&token), &[]).await;
        assert_eq!(history.status, StatusCode::OK);
        let text = history.text();
        assert!(text.contains("Cambio di residenza o di indirizzo") && text.contains("Variazione: Matrimonio"), "{text}");
        assert!(text.contains("VIA del Banco") && text.contains("VIA Cavour 3"), "{text}");
        assert_eq!(get(&router, &format!("/ufficio/persone/{id}/storia"), Some(&security), &[]).await.status, StatusCode::FORBIDDEN);

        // Change of personal data on the person's request: nothing changed is refused beside
        // the name; a new given name keeps the ID ANPR.
        let target = format!("/ufficio/persone/{id}/generalita");
        let form = get(&router, &target, Some(&token), &[]).await;
        assert!(form.text().contains(&format!("value=\"{given}\"")), "the form starts from the current name");
        let same = [
            ("csrf", csrf.as_str()),
            ("op", "g-1"),
            ("case", "on_request"),
            ("effective_date", &today),
            ("surname", &surname),
            ("given", &given),
        ];
        let nothing = post_form(&router, &target, &token, &same).await;
        assert_eq!(nothing.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", nothing.text());
        assert!(nothing.text().contains("id=\"surname-error\""), "{}", nothing.text());
        let renamed = post_form(
            &router,
            &target,
            &token,
            &[
                ("csrf", &csrf),
                ("op", "g-2"),
                ("case", "on_request"),
                ("effective_date", &today),
                ("surname", &surname),
                ("given", "Nuovo"),
            ],
        )
        .await;
        assert_eq!(renamed.status, StatusCode::SEE_OTHER, "{}", renamed.text());
        let g = store.person(pid, None).await.unwrap().record.generalita;
        assert_eq!(g.name.given(), Some("Nuovo"));
        assert_eq!(store.find_by_id_anpr(&id.parse().unwrap()).await.unwrap().unwrap().0, pid, "the same ID ANPR");

        // Out of the household into a new family of their own.
        let family_before = store.person(pid, None).await.unwrap().record.household;
        let target = format!("/ufficio/persone/{id}/famiglia");
        let no_family =
            post_form(&router, &target, &token, &[("csrf", &csrf), ("op", "h-1"), ("effective_date", &today), ("household", "join")]).await;
        assert!(no_family.text().contains("id=\"family_id-error\""), "{}", no_family.text());
        let own =
            post_form(&router, &target, &token, &[("csrf", &csrf), ("op", "h-2"), ("effective_date", &today), ("household", "new")]).await;
        assert_eq!(own.status, StatusCode::SEE_OTHER, "{}", own.text());
        assert_ne!(store.person(pid, None).await.unwrap().record.household, family_before, "a household of their own");

        // Emigration abroad (tab. 15 code 8) of another resident: the record moves to the AIRE
        // of the comune, with the address abroad; the state must be a foreign one.
        let (emigrant, _) = resident(&*store, 9).await;
        let epid = store.find_by_id_anpr(&emigrant.parse().unwrap()).await.unwrap().unwrap().0;
        let target = format!("/ufficio/persone/{emigrant}/cancellazione");
        let base =
            [("csrf", csrf.as_str()), ("op", "e-1"), ("reason", "8"), ("effective_date", today.as_str()), ("abroad_locality", "Parigi")];
        let italy = post_form(&router, &target, &token, &[&base[..], &[("abroad_state", "Milano")]].concat()).await;
        assert!(italy.text().contains("id=\"abroad_state-error\""), "{}", italy.text());
        let gone = post_form(&router, &target, &token, &[&base[..], &[("abroad_state", "Francia")]].concat()).await;
        assert_eq!(gone.status, StatusCode::SEE_OTHER, "{}", gone.text());
        let rec = store.person(epid, None).await.unwrap().record;
        assert_eq!(rec.status, anagrafe_domain::RegisterStatus::Aire);
        let page = get(&router, &format!("/ufficio/persone/{emigrant}"), Some(&token), &[]).await;
        assert!(page.text().contains("AIRE") && page.text().contains("Parigi"), "{}", page.text());
        let aire_form = get(&router, &target, Some(&token), &[]).await;
        assert!(aire_form.text().contains("Trasferimento nell’AIRE di altro comune"), "the AIRE's reasons (tab. 28)");

        // Death: the reason's table is the resident's; the date of death is the effective date.
        let target = format!("/ufficio/persone/{id}/cancellazione");
        let place_without_death = post_form(
            &router,
            &target,
            &token,
            &[("csrf", &csrf), ("op", "c-1"), ("reason", "6"), ("effective_date", &today), ("death_place", "Roma")],
        )
        .await;
        assert!(place_without_death.text().contains("id=\"death_place-error\""));
        let other_without_description =
            post_form(&router, &target, &token, &[("csrf", &csrf), ("op", "c-2"), ("reason", "13"), ("effective_date", &today)]).await;
        assert_eq!(other_without_description.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(other_without_description.text().contains("id=\"reason_description-error\""), "{}", other_without_description.text());
        let died = post_form(
            &router,
            &target,
            &token,
            &[("csrf", &csrf), ("op", "c-3"), ("reason", "1"), ("effective_date", &today), ("death_place", "Roma")],
        )
        .await;
        assert_eq!(died.status, StatusCode::SEE_OTHER, "{}", died.text());
        let view = store.person(pid, None).await.unwrap().record;
        assert_eq!(view.status, anagrafe_domain::RegisterStatus::Deceased);
        assert_eq!(view.death.unwrap().place.map(|p| p.to_string()).as_deref(), Some("H501"));
        let page = get(&router, &format!("/ufficio/persone/{id}"), Some(&token), &[]).await;
        assert!(page.text().contains("Deceduto") && !page.text().contains("/cancellazione\""), "no changes offered for a closed record");
        // A second cancellation is refused as a client error, not a failure of the server.
        let again =
            post_form(&router, &target, &token, &[("csrf", &csrf), ("op", "c-4"), ("reason", "1"), ("effective_date", &today)]).await;
        assert!(again.status.is_client_error(), "{}: {}", again.status, again.text());
        drop(router);
        drop(store);
        common::drop_pg(pg).await;
    }
}

#[tokio::test]
async fn an_operator_enrols_the_second_factor_and_changes_the_password_from_the_pages() {
    let (store, _dir) = sqlite().await;
    let mut st = state(store.clone());
    st.auth.password_cost = anagrafe_server::auth::password::Cost::TEST;
    let router = app(st);
    let pw = anagrafe_server::auth::password::hash("una password lunga abbastanza".into(), anagrafe_server::auth::password::Cost::TEST)
        .await
        .unwrap();
    common::operator(&*store, "nuovo", "registry_officer", "H501", &pw, None).await;
    let (token, csrf) = common::session(&*store, "operator", "nuovo", false).await;
    assert_eq!(get(&router, "/ufficio", Some(&token), &[]).await.status, StatusCode::FORBIDDEN, "no second factor yet");
    assert_eq!(get(&router, "/ufficio/secondo-fattore", Some(&token), &[]).await.status, StatusCode::OK);
    assert_eq!(post_form(&router, "/ufficio/secondo-fattore", &token, &[]).await.status, StatusCode::FORBIDDEN, "no CSRF token");
    let started = post_form(&router, "/ufficio/secondo-fattore", &token, &[("csrf", &csrf)]).await;
    assert_eq!(started.status, StatusCode::OK);
    let text = started.text();
    assert!(text.contains("data:image/png;base64,"), "the QR code for the app");
    let secret = text.split("data-testid=\"totp-secret\">").nth(1).unwrap().split('<').next().unwrap().to_owned();
    let wrong = post_form(&router, "/ufficio/secondo-fattore/conferma", &token, &[("csrf", &csrf), ("code", "000000")]).await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    let now = chrono::Utc::now().timestamp();
    let code = anagrafe_server::auth::totp::current_code(&secret, now).unwrap();
    let done = post_form(&router, "/ufficio/secondo-fattore/conferma", &token, &[("csrf", &csrf), ("code", &code)]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text());
    assert_eq!(get(&router, "/ufficio", Some(&token), &[]).await.status, StatusCode::OK, "the session now has both factors");
    // The password: a mismatch and a wrong current one are said beside the form; the change ends
    // the session.
    let mismatch = post_form(
        &router,
        "/ufficio/account/password",
        &token,
        &[("csrf", &csrf), ("current", "una password lunga abbastanza"), ("new", "un'altra password lunga"), ("repeat", "diversa")],
    )
    .await;
    assert!(mismatch.text().contains("href=\"#repeat\""));
    let wrong = post_form(
        &router,
        "/ufficio/account/password",
        &token,
        &[("csrf", &csrf), ("current", "sbagliata"), ("new", "un'altra password lunga"), ("repeat", "un'altra password lunga")],
    )
    .await;
    assert!(wrong.text().contains("href=\"#current\""), "{}", wrong.text());
    let changed = post_form(
        &router,
        "/ufficio/account/password",
        &token,
        &[
            ("csrf", &csrf),
            ("current", "una password lunga abbastanza"),
            ("new", "un'altra password lunga"),
            ("repeat", "un'altra password lunga"),
        ],
    )
    .await;
    assert_eq!(changed.status, StatusCode::SEE_OTHER, "{}", changed.text());
    assert_eq!(changed.headers["location"], "/ufficio/accesso?password=1");
    assert_eq!(get(&router, "/ufficio", Some(&token), &[]).await.status, StatusCode::UNAUTHORIZED, "every session ended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_officer_registers_a_person_arriving_from_abroad_with_the_errors_beside_the_fields() {
    for (store, _dir, pg) in common::stores().await {
        let router = app(state(store.clone()));
        let Desk { token, csrf, security } = desk(&*store).await;
        assert_eq!(get(&router, "/ufficio/iscrizione", Some(&security), &[]).await.status, StatusCode::FORBIDDEN);
        let form = get(&router, "/ufficio/iscrizione", Some(&token), &[]).await;
        assert_eq!(form.status, StatusCode::OK);
        assert!(form.text().contains("Immigrazione dall’estero"));
        let persons = store.count_persons().await.unwrap();
        let today = anagrafe_domain::ops::italian_today().to_string();
        let mut fields = vec![
            ("csrf", csrf.as_str()),
            ("op", "imm-1"),
            ("reason", "4"),
            ("effective_date", today.as_str()),
            ("origin", "Atlantide"),
            ("surname", "Dubois"),
            ("given", "Claire"),
            ("sex", "F"),
            ("birth_date", "1990-03"),
            ("birth_place", "Francia"),
            ("birth_locality", "Lione"),
            ("citizenship", "Francia"),
            ("civil_status", "1"),
            ("species", "VIA"),
            ("toponym", ""),
            ("household", "new"),
        ];
        let bad = post_form(&router, "/ufficio/iscrizione", &token, &fields).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        for field in ["origin", "toponym"] {
            assert!(bad.text().contains(&format!("id=\"{field}-error\"")), "{field}: {}", bad.text());
        }
        assert_eq!(bad.text().matches("href=\"#toponym\"").count(), 1, "each error once in the summary");
        assert_eq!(store.count_persons().await.unwrap(), persons, "refused forms write nothing");
        fields[4] = ("origin", "Francia");
        fields[14] = ("toponym", "Garibaldi");
        let done = post_form(&router, "/ufficio/iscrizione", &token, &fields).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text());
        let to = done.headers["location"].to_str().unwrap().to_owned();
        let id = to.trim_start_matches("/ufficio/persone/").split('?').next().unwrap().to_owned();
        let pid = store.find_by_id_anpr(&id.parse().unwrap()).await.unwrap().unwrap().0;
        let rec = store.person(pid, None).await.unwrap().record;
        assert_eq!(rec.citizenships, vec![anagrafe_domain::Country::Foreign(anagrafe_domain::Belfiore::parse("Z110").unwrap())]);
        assert!(matches!(rec.generalita.birth_place, anagrafe_domain::BirthPlace::Abroad { .. }));
        assert_eq!(rec.generalita.birth_date.precision(), anagrafe_domain::DatePrecision::Month);
        let page = get(&router, &to, Some(&token), &[]).await;
        assert!(page.text().contains("Dubois Claire") && page.text().contains("Iscrizione per immigrazione"), "{}", page.text());
        let history = get(&router, &format!("/ufficio/persone/{id}/storia"), Some(&token), &[]).await;
        assert!(history.text().contains("Iscrizione: Immigrazione dall’estero"), "{}", history.text());
        // The same form again registers nobody else.
        assert_eq!(post_form(&router, "/ufficio/iscrizione", &token, &fields).await.headers["location"], to.as_str());
        assert_eq!(store.count_persons().await.unwrap(), persons + 1);

        // An Italian living abroad into the comune's AIRE (tab. 19): the address is abroad.
        let aire = get(&router, "/ufficio/iscrizione-aire", Some(&token), &[]).await;
        assert_eq!(aire.status, StatusCode::OK);
        assert!(aire.text().contains("C01") && aire.text().contains("name=\"abroad_state\"") && !aire.text().contains("name=\"toponym\""));
        let mut fields = vec![
            ("csrf", csrf.as_str()),
            ("op", "aire-1"),
            ("reason", "C01"),
            ("effective_date", today.as_str()),
            ("surname", "Esposito"),
            ("given", "Gennaro"),
            ("sex", "M"),
            ("birth_date", "1980-07-01"),
            ("birth_place", "Napoli"),
            ("citizenship", "italiana"),
            ("civil_status", "1"),
            ("abroad_state", "Roma"),
            ("abroad_locality", "Buenos Aires"),
            ("household", "new"),
        ];
        let italy = post_form(&router, "/ufficio/iscrizione-aire", &token, &fields).await;
        assert!(italy.text().contains("id=\"abroad_state-error\""), "{}", italy.text());
        fields[11] = ("abroad_state", "Argentina");
        let done = post_form(&router, "/ufficio/iscrizione-aire", &token, &fields).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text());
        let id = done.headers["location"].to_str().unwrap().trim_start_matches("/ufficio/persone/").split('?').next().unwrap().to_owned();
        let pid = store.find_by_id_anpr(&id.parse().unwrap()).await.unwrap().unwrap().0;
        let rec = store.person(pid, None).await.unwrap().record;
        assert_eq!(rec.status, anagrafe_domain::RegisterStatus::Aire);
        assert_eq!(rec.residence.competent_comune().to_string(), "H501");
        assert_eq!(store.count_persons().await.unwrap(), persons + 2);
        drop(router);
        drop(store);
        common::drop_pg(pg).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_officer_changes_the_head_of_a_family_from_its_page() {
    for (store, _dir, pg) in common::stores().await {
        let router = app(state(store.clone()));
        let Desk { token, csrf, security } = desk(&*store).await;
        let (head, _) = resident(&*store, 11).await;
        let (son, _) = resident(&*store, 12).await;
        let pid = |id: String| {
            let store = store.clone();
            async move { store.find_by_id_anpr(&id.parse().unwrap()).await.unwrap().unwrap().0 }
        };
        let (head_pid, son_pid) = (pid(head.clone()).await, pid(son.clone()).await);
        let family = match store.person(head_pid, None).await.unwrap().record.household {
            Some(anagrafe_domain::Household::Family { family_id, .. }) => family_id,
            other => panic!("{other:?}"),
        };
        let today = anagrafe_domain::ops::italian_today().to_string();
        let fam = family.to_string();
        // The family is named by a member's ID ANPR, not by the register's internal number; a
        // code of no record is refused beside the field (issue 17, item 12).
        let nobody = post_form(
            &router,
            &format!("/ufficio/persone/{son}/famiglia"),
            &token,
            &[
                ("csrf", &csrf),
                ("op", "j-0"),
                ("effective_date", &today),
                ("household", "join"),
                ("family_id", "RSSMRA80A01H501U"),
                ("relation", "3"),
            ],
        )
        .await;
        assert_eq!(nobody.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", nobody.text());
        assert!(nobody.text().contains("id=\"family_id-error\""), "{}", nobody.text());
        let joined = post_form(
            &router,
            &format!("/ufficio/persone/{son}/famiglia"),
            &token,
            &[("csrf", &csrf), ("op", "j-1"), ("effective_date", &today), ("household", "join"), ("family_id", &head), ("relation", "3")],
        )
        .await;
        assert_eq!(joined.status, StatusCode::SEE_OTHER, "{}", joined.text());
        let target = format!("/ufficio/famiglie/{family}");
        assert_eq!(get(&router, &target, Some(&security), &[]).await.status, StatusCode::FORBIDDEN);
        let page = get(&router, &target, Some(&token), &[]).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text());
        assert!(page.text().contains(&format!("name=\"rel-{head}\"")) && page.text().contains(&format!("name=\"rel-{son}\"")));
        let (rh, rs) = (format!("rel-{head}"), format!("rel-{son}"));
        // Two heads: the register refuses, the page says why, nothing changes.
        let two =
            post_form(&router, &target, &token, &[("csrf", &csrf), ("op", "r-1"), ("effective_date", &today), (&rh, "1"), (&rs, "1")])
                .await;
        assert_eq!(two.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", two.text());
        assert!(two.text().contains("error-summary"));
        // The son becomes the head; the former head his parent (tab. 05 code 6, Padre / Madre).
        let swapped =
            post_form(&router, &target, &token, &[("csrf", &csrf), ("op", "r-2"), ("effective_date", &today), (&rh, "6"), (&rs, "1")])
                .await;
        assert_eq!(swapped.status, StatusCode::SEE_OTHER, "{}", swapped.text());
        let view = store.family(family, None).await.unwrap();
        let relation = |p: i64| view.members.iter().find(|m| m.person_id == p).map(|m| m.relation);
        assert_eq!((relation(son_pid), relation(head_pid)), (Some(1), Some(6)));
        let done = get(&router, &format!("{target}?modificato=1"), Some(&token), &[]).await;
        assert!(done.text().contains("alert-success"));

        // A minor adopted into this family: a new record and ID ANPR, the old ID no longer valid.
        let r = anagrafe_testkit::registration(13, "H501", "H501", chrono::NaiveDate::from_ymd_opt(2016, 3, 1).unwrap());
        let applied = store.apply(&Operation::Register(Box::new(r)), &WriteContext::cli("test"), &issuer(), None).await.unwrap();
        let child = applied.id_anpr.unwrap().to_string();
        let target = format!("/ufficio/persone/{child}/adozione");
        let adult = post_form(
            &router,
            &target,
            &token,
            &[
                ("csrf", &csrf),
                ("op", "a-0"),
                ("effective_date", "2015-01-01"),
                ("surname", "Nuovo"),
                ("given", "Nome"),
                ("family_id", &fam),
                ("relation", "3"),
            ],
        )
        .await;
        assert!(
            adult.status.is_client_error() && adult.text().contains("id=\"effective_date-error\""),
            "before the birth: {}",
            adult.text()
        );
        let adopted = post_form(
            &router,
            &target,
            &token,
            &[
                ("csrf", &csrf),
                ("op", "a-1"),
                ("effective_date", &today),
                ("surname", "Bianchi"),
                ("given", "Sara"),
                ("family_id", &fam),
                ("relation", "3"),
            ],
        )
        .await;
        assert_eq!(adopted.status, StatusCode::SEE_OTHER, "{}", adopted.text());
        let to = adopted.headers["location"].to_str().unwrap().to_owned();
        let new_id = to.trim_start_matches("/ufficio/persone/").split('?').next().unwrap().to_owned();
        assert_ne!(new_id, child, "a new ID ANPR");
        assert!(get(&router, &to, Some(&token), &[]).await.text().contains("Bianchi Sara"));
        assert_eq!(get(&router, &format!("/ufficio/persone/{child}"), Some(&token), &[]).await.status, StatusCode::GONE);
        drop(router);
        drop(store);
        common::drop_pg(pg).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_officer_reports_and_resolves_a_duplicate_record() {
    for (store, _dir, pg) in common::stores().await {
        let router = app(state(store.clone()));
        let Desk { token, csrf, .. } = desk(&*store).await;
        let (a, _) = resident(&*store, 14).await;
        let (b, _) = resident(&*store, 15).await;
        let target = format!("/ufficio/persone/{a}/doppia-iscrizione");
        let form = |op: &'static str, other: &str, action: &'static str| {
            vec![
                ("csrf".to_owned(), csrf.clone()),
                ("op".into(), op.into()),
                ("other".into(), other.to_owned()),
                ("action".into(), action.into()),
            ]
        };
        let send = |f: Vec<(String, String)>| {
            let (router, token, target) = (router.clone(), token.clone(), target.clone());
            async move {
                let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                post_form(&router, &target, &token, &pairs).await
            }
        };
        let itself = send(form("d-0", &a, "report")).await;
        assert!(itself.text().contains("id=\"other-error\""), "{}", itself.text());
        // Resolving what was never reported is refused beside the field; nothing is deleted.
        let unreported = send(form("d-1", &b, "keep-this")).await;
        assert!(unreported.status.is_client_error() && unreported.text().contains("id=\"other-error\""), "{}", unreported.text());
        assert_eq!(store.find_by_id_anpr(&b.parse().unwrap()).await.unwrap().unwrap().1, anagrafe_domain::IdStatus::Valid);
        let reported = send(form("d-2", &b, "report")).await;
        assert_eq!(reported.status, StatusCode::SEE_OTHER, "{}", reported.text());
        // The case is in the comune's list of open cases, which leads to the form with the
        // other record filled in.
        let list = get(&router, "/ufficio/doppie-iscrizioni", Some(&token), &[]).await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.text());
        let link = format!("/ufficio/persone/{a}/doppia-iscrizione?altro={b}");
        assert!(list.text().contains(&link), "{}", list.text());
        let prefilled = get(&router, &link, Some(&token), &[]).await;
        assert!(prefilled.text().contains(&format!("name=\"other\" value=\"{b}\"")), "{}", prefilled.text());
        let resolved = send(form("d-3", &b, "keep-this")).await;
        assert_eq!(resolved.status, StatusCode::SEE_OTHER, "{}", resolved.text());
        assert_eq!(resolved.headers["location"], format!("/ufficio/persone/{a}?modificato=doppia-iscrizione").as_str());
        assert_eq!(
            get(&router, &format!("/ufficio/persone/{b}"), Some(&token), &[]).await.status,
            StatusCode::GONE,
            "the deleted record's ID"
        );
        assert_eq!(get(&router, &format!("/ufficio/persone/{a}"), Some(&token), &[]).await.status, StatusCode::OK);
        assert!(get(&router, "/ufficio/doppie-iscrizioni", Some(&token), &[]).await.text().contains("Nessun caso aperto"));
        drop(router);
        drop(store);
        common::drop_pg(pg).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizen_asks_to_rectify_the_electoral_data_and_only_the_comunes_electoral_officer_answers() {
    for (store, _dir, pg) in common::stores().await {
        let router = app(state(store.clone()));
        let (id, cf) = resident(&*store, 11).await;
        let pid = store.find_by_id_anpr(&id.parse().unwrap()).await.unwrap().unwrap().0;
        let (citizen, ccsrf) = common::session(&*store, "citizen", &cf, true).await;
        common::operator(&*store, "elettorale", "electoral_officer", "H501", common::NO_PASSWORD, Some("JBSWY3DPEHPK3PXP")).await;
        common::operator(&*store, "elettorale-mi", "electoral_officer", "F205", common::NO_PASSWORD, Some("JBSWY3DPEHPK3PXP")).await;
        let (officer, ocsrf) = common::session(&*store, "operator", "elettorale", true).await;
        let (milan, mcsrf) = common::session(&*store, "operator", "elettorale-mi", true).await;
        let d = desk(&*store).await;
        let page = "/area-personale/dati-elettorali";
        // Nothing recorded yet: the page says so, and offers the request form.
        let empty = get(&router, page, Some(&citizen), &[]).await;
        assert_eq!(empty.status, StatusCode::OK, "{}", empty.text());
        assert!(empty.text().contains("non ha ancora registrato") && empty.text().contains("name=\"messaggio\""));
        // No topic and too short a text: both errors beside their fields, nothing recorded.
        let bad = post_form(&router, page, &citizen, &[("csrf", &ccsrf), ("messaggio", "corto")]).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        let t = bad.text();
        assert!(
            t.contains("href=\"#argomento-elector\"") && t.contains("id=\"messaggio-error\"") && t.contains("aria-invalid=\"true\""),
            "{t}"
        );
        let forged = post_form(&router, page, &citizen, &[("argomento", "section"), ("messaggio", "La mia sezione è sbagliata.")]).await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        assert!(store.rectifications_of(pid).await.unwrap().is_empty());
        let form = [
            ("csrf", ccsrf.as_str()),
            ("argomento", "section"),
            ("argomento", "other"),
            ("messaggio", "La mia sezione è quella della via dove abitavo prima."),
        ];
        let sent = post_form(&router, page, &citizen, &form).await;
        assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.text());
        let waiting = get(&router, "/area-personale/dati-elettorali?inviata=1", Some(&citizen), &[]).await;
        assert!(waiting.text().contains("Richiesta inviata") && waiting.text().contains("In attesa di risposta"));
        assert!(!waiting.text().contains("name=\"messaggio\""), "no second request while one waits");
        assert_eq!(post_form(&router, page, &citizen, &form).await.status, StatusCode::CONFLICT);
        // The registry office is not the electoral office (ELE-3), nor is Milan's electoral officer.
        assert_eq!(get(&router, "/ufficio/elettorale", Some(&d.token), &[]).await.status, StatusCode::FORBIDDEN);
        let person = format!("/ufficio/elettorale/persone/{id}");
        assert_eq!(get(&router, &person, Some(&milan), &[]).await.status, StatusCode::FORBIDDEN);
        // The account page leads an electoral officer back to the electoral office, not to the
        // registry office's desk that would refuse them.
        let account = get(&router, "/ufficio/account", Some(&officer), &[]).await.text();
        assert!(account.contains("<a href=\"/ufficio/elettorale\">Ufficio elettorale</a>"), "{account}");
        // Rome's electoral officer sees the request and finds the elector by codice fiscale.
        let inbox = get(&router, "/ufficio/elettorale", Some(&officer), &[]).await;
        assert_eq!(inbox.status, StatusCode::OK, "{}", inbox.text());
        assert!(inbox.text().contains(&id) && inbox.text().contains("La sezione o la sua sede"));
        assert!(get(&router, "/ufficio/elettorale", Some(&milan), &[]).await.text().contains("Nessuna richiesta"));
        let found = get(&router, &format!("/ufficio/elettorale?cerca={cf}"), Some(&officer), &[]).await;
        assert_eq!(found.headers["location"], person.as_str());
        assert_eq!(get(&router, "/ufficio/elettorale?cerca=XYZ", Some(&officer), &[]).await.status, StatusCode::BAD_REQUEST);
        // Wrong data: each error beside its field, nothing written.
        let wrong = [
            ("csrf", ocsrf.as_str()),
            ("elettore", "si"),
            ("sezione", "dodici"),
            ("sede_nome", "Scuola Pascoli"),
            ("sede_indirizzo", "Via Roma 3"),
            ("lista_eu_municipal", "si"),
            ("el_senate", "si"),
        ];
        let refused = post_form(&router, &person, &officer, &wrong).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        let t = refused.text();
        for field in ["sezione", "lista_eu_municipal", "circ_senate"] {
            assert!(t.contains(&format!("id=\"{field}-error\"")), "{field}: {t}");
        }
        assert_eq!(store.electoral_data(pid).await.unwrap(), None);
        let good = [
            ("csrf", ocsrf.as_str()),
            ("elettore", "si"),
            ("sezione", "12"),
            ("sede_nome", "Scuola Pascoli"),
            ("sede_indirizzo", "Via Roma 3"),
            ("el_senate", "si"),
            ("circ_senate", "Lazio"),
            ("uni_senate", "Lazio - U02"),
            ("el_municipal", "si"),
        ];
        let saved = post_form(&router, &person, &officer, &good).await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.text());
        assert_eq!(post_form(&router, &person, &milan, &[("csrf", &mcsrf), ("elettore", "no")]).await.status, StatusCode::FORBIDDEN);
        let rec = store.electoral_data(pid).await.unwrap().unwrap();
        assert_eq!((rec.comune.as_str(), rec.data.section.as_ref().unwrap().number, rec.data.elections.len()), ("H501", 12, 2));
        // The answer: without words it is refused beside the field; then given.
        let n = store.rectifications_of(pid).await.unwrap()[0].id;
        let answer = format!("/ufficio/elettorale/richieste/{n}");
        let empty =
            post_form(&router, &answer, &officer, &[("csrf", &ocsrf), ("persona", &id), ("esito", "accolta"), ("risposta", "")]).await;
        assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(empty.text().contains(&format!("id=\"risposta-{n}-error\"")));
        let words = "Sezione corretta: ora è la 12, Scuola Pascoli.";
        assert_eq!(
            post_form(&router, &answer, &milan, &[("csrf", &mcsrf), ("persona", &id), ("esito", "accolta"), ("risposta", words)])
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        let given =
            post_form(&router, &answer, &officer, &[("csrf", &ocsrf), ("persona", &id), ("esito", "accolta"), ("risposta", words)]).await;
        assert_eq!(given.status, StatusCode::SEE_OTHER, "{}", given.text());
        assert_eq!(given.headers["location"], format!("{person}?risposta=1").as_str());
        // The citizen reads the data and the answer.
        let mine = get(&router, page, Some(&citizen), &[]).await.text();
        assert!(
            mine.contains("Scuola Pascoli") && mine.contains("Lazio - U02") && mine.contains("Accolta") && mine.contains(words),
            "{mine}"
        );
        assert!(mine.contains("name=\"messaggio\""), "answered: a new request may be sent");
        let entries = store.audit_entries(0, 1000).await.unwrap();
        let ops: Vec<&str> = entries.iter().filter(|e| e.entry.subject_person == Some(pid)).map(|e| e.entry.operation.as_str()).collect();
        for op in [
            "citizen.electoral_view",
            "electoral.rectification_request",
            "electoral.read",
            "electoral.update",
            "electoral.rectification_answer",
        ] {
            assert!(ops.contains(&op), "{op} in {ops:?}");
        }
        assert!(store.verify_audit_chain().await.unwrap().is_intact());
        common::drop_pg(pg).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_login_form_refuses_a_post_without_its_own_token() {
    let (store, _dir) = sqlite().await;
    let router = app(state(store.clone()));
    let page = get(&router, "/ufficio/accesso", None, &[]).await;
    let cookie = page.headers["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    assert!(cookie.starts_with("__Host-anagrafe-form="));
    assert!(page.headers["set-cookie"].to_str().unwrap().contains("SameSite=Strict"));
    let token = page.text().split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let login = |cookie: Option<String>, csrf: String| {
        let router = router.clone();
        async move {
            let body: String = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs([("username", "nobody"), ("password", "wrong-password"), ("totp", "123456"), ("csrf", csrf.as_str())])
                .finish();
            let mut r =
                Request::builder().method("POST").uri("/ufficio/accesso").header("content-type", "application/x-www-form-urlencoded");
            if let Some(c) = cookie {
                r = r.header("cookie", c);
            }
            send(&router, r.body(Body::from(body)).unwrap()).await
        }
    };
    // From another site: no cookie comes with it (SameSite=Strict), or the token is not its own.
    let foreign = login(None, token.clone()).await;
    assert_eq!(foreign.status, StatusCode::BAD_REQUEST);
    assert!(foreign.text().contains("non viene da questo sito"), "{}", foreign.text());
    assert_eq!(login(Some(cookie.clone()), "x".repeat(43)).await.status, StatusCode::BAD_REQUEST);
    // With both: the login is tried (and refused for the wrong password).
    assert_eq!(login(Some(cookie), token).await.status, StatusCode::UNAUTHORIZED);
}

/// Issue 17, item 9: the residence form of a person living with family lists the others, all
/// ticked; the whole family moves in one submission, one event each; unticking the child while
/// the parents go is refused beside the list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_officer_moves_a_whole_family_from_one_form_and_no_child_is_left_behind() {
    use anagrafe_domain::ops::HouseholdChoice;
    for (store, _dir, pg) in common::stores().await {
        let router = app(state(store.clone()));
        let Desk { token, csrf, .. } = desk(&*store).await;
        let ctx = WriteContext::cli("test");
        let born = |y: i32| chrono::NaiveDate::from_ymd_opt(y, 3, 1).unwrap();
        let head = store
            .apply(&Operation::Register(Box::new(anagrafe_testkit::registration(41, "H501", "H501", born(1984)))), &ctx, &issuer(), None)
            .await
            .unwrap();
        let fid = head.family_id.unwrap();
        let mut ids = vec![head.id_anpr.unwrap()];
        for (n, year, relation) in [(42, 1986, 2), (43, 2025, 3)] {
            let mut r = anagrafe_testkit::registration(n, "H501", "H501", born(year));
            r.household = HouseholdChoice::Join { family_id: fid, relation };
            ids.push(store.apply(&Operation::Register(Box::new(r)), &ctx, &issuer(), None).await.unwrap().id_anpr.unwrap());
        }
        let [parent, spouse, child] = [ids[0], ids[1], ids[2]];
        let target = format!("/ufficio/persone/{parent}/residenza");
        let form = get(&router, &target, Some(&token), &[]).await;
        assert_eq!(form.status, StatusCode::OK);
        let html = form.text();
        for other in [spouse, child] {
            assert!(html.contains(&format!(r#"name="with-{other}" value="si" checked"#)), "{other} is ticked: {html}");
        }
        assert!(!html.contains(&format!(r#"name="with-{parent}""#)), "the person moving is not listed again");
        assert!(html.contains("Chi si trasferisce insieme"));
        let today = anagrafe_domain::ops::italian_today().to_string();
        let (w_spouse, w_child) = (format!("with-{spouse}"), format!("with-{child}"));
        let mut fields = vec![
            ("csrf", csrf.as_str()),
            ("op", "family-1"),
            ("effective_date", today.as_str()),
            ("species", "VIA"),
            ("toponym", "Cavour"),
            ("civic", "8"),
            ("household", "new"),
            (w_spouse.as_str(), "si"),
        ];
        // The child unticked, both parents going to a new family: refused, nothing written.
        let left = post_form(&router, &target, &token, &fields).await;
        assert_eq!(left.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", left.text());
        assert!(left.text().contains("id=\"movers-error\"") || left.text().contains("minori"), "{}", left.text());
        let pid_of = |id: anagrafe_domain::IdAnpr| {
            let store = store.clone();
            async move { store.find_by_id_anpr(&id).await.unwrap().unwrap().0 }
        };
        let child_pid = pid_of(child).await;
        assert_eq!(store.history(child_pid).await.unwrap().events.len(), 1, "the child's record is untouched");
        // The whole family, staying one household.
        fields[1] = ("op", "family-2");
        fields[6] = ("household", "stay");
        fields.push((w_child.as_str(), "si"));
        let moved = post_form(&router, &target, &token, &fields).await;
        assert_eq!(moved.status, StatusCode::SEE_OTHER, "{}", moved.text());
        for id in [parent, spouse, child] {
            let pid = pid_of(id).await;
            let rec = store.person(pid, None).await.unwrap().record;
            let anagrafe_domain::Residence::Italy(a) = rec.residence else { panic!("{id} lives in Italy") };
            assert_eq!(a.toponym, "Cavour", "{id} moved");
            assert_eq!(store.history(pid).await.unwrap().events.len(), 2, "{id}: one event of their own");
        }
        assert_eq!(store.family(fid, None).await.unwrap().members.len(), 3, "still one family");
        // The record's page offers the certificates this person can obtain: residence, not death.
        let page = get(&router, &format!("/ufficio/persone/{parent}"), Some(&token), &[]).await.text();
        assert!(page.contains(r#"<option value="8" selected>"#), "{page}");
        assert!(!page.contains(r#"<option value="2""#) && !page.contains(r#"<option value="20""#), "{page}");
        common::drop_pg(pg).await;
    }
}

/// Issue 17, item 11: the certificates page offers only the types the citizen can obtain, each
/// with what it certifies and the cost, names the others with why; the historical residence
/// at a date asks for the date, typed as gg/mm/aaaa.
#[tokio::test]
async fn a_citizen_is_offered_only_the_certificates_the_record_allows_and_the_dated_one_asks_its_date() {
    for (store, _dir, pg) in common::stores().await {
        let router = app(state(store.clone()));
        let (_, cf) = resident(&*store, 11).await;
        let (token, _) = common::session(&*store, "citizen", &cf, true).await;
        let page = get(&router, "/area-personale/certificati", Some(&token), &[]).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text());
        let html = page.text();
        let offered = |code: u16| html.contains(&format!(r#"name="tipo" id="tipo-{code}" value="{code}""#));
        // A living, unmarried resident of Rome: residence, civil status, free status yes.
        for code in [8, 11, 17, 20] {
            assert!(offered(code), "type {code} is offered");
        }
        // Death, marriage, AIRE residence: not offered, and said why.
        for code in [2, 3, 10] {
            assert!(!offered(code), "type {code} is not offered");
        }
        assert!(html.contains("Certificati che ora non puoi ottenere") && html.contains("Anagrafico di morte:"), "{html}");
        assert!(
            html.contains("Il comune e l&#39;indirizzo in cui risiedi oggi.") && html.contains("16,00 €"),
            "what each certifies and the cost"
        );
        // The dated one: without its date, with a malformed one, with one typed as people do.
        let none = get(&router, "/area-personale/certificati/nuovo?tipo=20", Some(&token), &[]).await;
        assert_eq!(none.status, StatusCode::BAD_REQUEST, "{}", none.text());
        let bad = get(&router, "/area-personale/certificati/nuovo?tipo=20&data=2015-13-01", Some(&token), &[]).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        let dated = get(&router, "/area-personale/certificati/nuovo?tipo=20&data=01%2F06%2F2024", Some(&token), &[]).await;
        assert_eq!(dated.status, StatusCode::OK, "{}", dated.text());
        assert!(dated.text().contains(r#"name="data" value="2024-06-01""#), "the date goes on to the next step");
        assert!(dated.text().contains("01/06/2024"), "and is shown as gg/mm/aaaa");
        // Offering is an access to the record: traced once.
        let entries = store.audit_entries(0, 100_000).await.unwrap();
        assert_eq!(entries.iter().filter(|e| e.entry.operation == "certificate.eligibility").count(), 1);
        common::drop_pg(pg).await;
    }
}

/// Issue 17, item 18: the privacy notice names the controller and its DPO's contact, and the
/// accessibility statement follows AgID's model, from the deploying body's configuration; a
/// value not configured is said to be missing, never invented.
#[tokio::test]
async fn the_privacy_notice_and_the_accessibility_statement_carry_the_publishers_facts() {
    let (store, _dir) = sqlite().await;
    let bare = app(state(store.clone()));
    let privacy = get(&bare, "/privacy", None, &[]).await.text();
    assert!(privacy.contains("non ha ancora indicato il contatto del proprio responsabile della protezione dei dati"), "{privacy}");
    let statement = get(&bare, "/accessibilita", None, &[]).await.text();
    assert!(statement.contains("parzialmente conforme") && statement.contains("https://form.agid.gov.it/"), "{statement}");
    assert!(statement.contains("non ha ancora indicato la data"), "{statement}");
    let mut configured = state(store.clone());
    configured.publisher = Arc::new(anagrafe_server::Publisher {
        controller: "Comune di Prova".into(),
        dpo_contact: Some("rpd@prova.example".into()),
        accessibility_contact: Some("accessibile@prova.example".into()),
        accessibility_assessed_on: chrono::NaiveDate::from_ymd_opt(2026, 11, 30),
        accessibility_conformity: "compliant".into(),
    });
    let router = app(configured);
    let privacy = get(&router, "/privacy", None, &[]).await.text();
    assert!(privacy.contains("Titolare del trattamento è Comune di Prova") && privacy.contains("rpd@prova.example"), "{privacy}");
    let statement = get(&router, "/accessibilita", None, &[]).await.text();
    assert!(
        statement.contains("è conforme ai requisiti")
            && statement.contains("30/11/2026")
            && statement.contains("accessibile@prova.example"),
        "{statement}"
    );
    let english = get(&router, "/privacy", None, &[("cookie", "anagrafe-lang=en")]).await.text();
    assert!(english.contains("Data Protection Officer") && english.contains("rpd@prova.example"), "{english}");
}

/// Issue 17, item 18: the API contracts have a readable page, served locally, listing every
/// operation of both documents (so it cannot drift from them).
#[tokio::test]
async fn the_api_contracts_have_a_readable_page_with_every_operation() {
    let (store, _dir) = sqlite().await;
    let router = app(state(store));
    let page = get(&router, "/documentazione-api", None, &[]).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    let count = |doc: &str| {
        let v: serde_json::Value = serde_json::from_str(doc).unwrap();
        v["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|p| p.as_object().unwrap().keys().filter(|k| ["get", "post", "put", "patch", "delete"].contains(&k.as_str())).count())
            .sum::<usize>()
    };
    let expected = count(anagrafe_server::openapi::API) + count(anagrafe_server::openapi::PDND);
    assert!(expected > 20);
    assert_eq!(html.matches("data-testid=\"api-operation\"").count(), expected);
    assert!(html.contains("<code>/api/v1/persons</code>") && html.contains("C030"), "{html}");
    assert!(html.contains("href=\"/api/openapi.json\"") && html.contains("href=\"/pdnd/openapi.json\""));
    let home = get(&router, "/", None, &[]).await.text();
    assert!(home.contains("href=\"/documentazione-api\""), "the footer leads to it");
}

/// English pages show the decode tables' entries in English (issue 17, item 8): every entry the
/// pages show has its words in `decode-en.ftl`, and Italian pages keep ANPR's official wording.
#[test]
fn decode_values_speak_the_page_language() {
    use anagrafe_domain::decode::*;
    fn all<T: DecodeTable>(missing: &mut Vec<String>) {
        for v in T::ALL {
            let en = i18n::decode(Lang::En, *v);
            if en == v.description() {
                missing.push(format!("{}-{}", T::TABLE, v.code()));
            }
            assert_eq!(i18n::decode(Lang::It, *v), v.description());
        }
    }
    let mut missing = Vec::new();
    all::<StatoCivile>(&mut missing);
    all::<RelazioneParentela>(&mut missing);
    all::<LegameConvivenza>(&mut missing);
    all::<MotivoIscrizione>(&mut missing);
    all::<TipoSoggiorno>(&mut missing);
    all::<MotivoCancellazione>(&mut missing);
    all::<MotivoIscrizioneAire>(&mut missing);
    all::<SpecieConvivenza>(&mut missing);
    all::<MotivoCancellazioneAire>(&mut missing);
    all::<TipoMutazione>(&mut missing);
    all::<TipoMutazioneFamiglia>(&mut missing);
    assert!(missing.is_empty(), "entries with no English words: {missing:?}");
    assert_eq!(i18n::decode(Lang::En, StatoCivile::CelibeNubile), "Single");
    assert_eq!(i18n::decode(Lang::En, RelazioneParentela::IntestatarioScheda), "Head of the family record");
}

/// The security officer's desk (issue 18, item 4): the trace's state, the search by person,
/// operation and period in Italian, bad conditions beside their fields, every search traced; a
/// registry officer is refused, and the account page leads the security officer back there.
#[tokio::test]
async fn the_security_officer_searches_the_trace_by_person_operation_and_period() {
    for (store, _dir, _pg) in common::stores().await {
        let router = app(state(store.clone()));
        let (id, cf) = resident(&*store, 21).await;
        common::operator(&*store, "sicurezza", "security_officer", "", common::NO_PASSWORD, Some("JBSWY3DPEHPK3PXP")).await;
        let mut o = store.operator("sicurezza").await.unwrap().unwrap();
        o.codice_fiscale = Some("VRDLCU75C41F205X".into());
        store.save_operator(&o, &anagrafe_store::WriteContext::cli("test")).await.unwrap();
        let (sec, _) = common::session(&*store, "operator", "sicurezza", true).await;
        let d = desk(&*store).await;
        assert_eq!(get(&router, "/ufficio/sicurezza", Some(&d.token), &[]).await.status, StatusCode::FORBIDDEN);
        let page = get(&router, "/ufficio/sicurezza", Some(&sec), &[]).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text());
        let t = page.text();
        assert!(t.contains("Stato del tracciamento") && t.contains("Il tracciamento conta") && t.contains("Nessun sigillo firmato"), "{t}");
        assert!(!t.contains("data-testid=\"trace-entry\""), "nothing is searched before the officer asks");
        // No alert before the analysis runs; then the accounts this test saved are one (role
        // grants of the last day), and a burst of refusals another.
        assert!(t.contains("Allarmi") && t.contains("Nessun allarme in questo stato."), "{t}");
        for _ in 0..21 {
            let mut e = anagrafe_store::AuditEntry::from_ctx(&anagrafe_store::WriteContext::cli("t"), "api.request", "refused");
            e.actor = "client:insistente".into();
            store.audit(&e).await.unwrap();
        }
        // The off-hours rule reads the wall clock's hour (this test writes at the real time):
        // it has its own test with a fake clock, and is left out here so that the test does
        // not fail in the evening.
        let rules: Vec<_> = anagrafe_service::security::rules().into_iter().filter(|r| r.id != "off-hours").collect();
        let raised = anagrafe_service::security::evaluate(&*store, &rules, &anagrafe_service::SystemClock).await.unwrap().raised;
        assert_eq!(raised.len(), 2, "{raised:?}");
        let t = get(&router, "/ufficio/sicurezza", Some(&sec), &[]).await.text();
        assert!(
            t.contains("data-testid=\"alert\"")
                && t.contains("client:insistente ha ricevuto 21 rifiuti negli ultimi 10 minuti (soglia 20)")
                && t.contains("Account di operatori salvati con i loro ruoli nelle ultime 24 ore"),
            "{t}"
        );
        // The burst's alert: acknowledged with a note; a missing note is named beside its field.
        let burst = store.alerts(None, i64::MAX, 10).await.unwrap().into_iter().find(|a| a.rule == "refusal-burst").unwrap();
        let uri = format!("/ufficio/sicurezza/allarmi/{}", burst.id);
        let page = get(&router, &uri, Some(&sec), &[]).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text());
        assert!(page.text().contains("Allarme n.") && page.text().contains("Aperto"), "{}", page.text());
        let (_, csrf) = (0, store.session(&anagrafe_server::auth::token_hash(&sec)).await.unwrap().unwrap().csrf_token);
        let refused = post_form(&router, &uri, &sec, &[("csrf", &csrf), ("da", "open"), ("stato", "acknowledged"), ("nota", " ")]).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.text());
        assert!(refused.text().contains("id=\"nota-error\"") && refused.text().contains("href=\"#nota\""), "{}", refused.text());
        let done = post_form(
            &router,
            &uri,
            &sec,
            &[
                ("csrf", &csrf),
                ("da", "open"),
                ("stato", "acknowledged"),
                ("assegnatario", "sicurezza"),
                ("nota", "Verifico con il comune."),
            ],
        )
        .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text());
        let t = get(&router, &format!("{uri}?salvato=1"), Some(&sec), &[]).await.text();
        assert!(t.contains("Allarme aggiornato.") && t.contains("Preso in carico") && t.contains("Verifico con il comune."), "{t}");
        // The same form again, from the stale page: someone moved it meanwhile.
        let stale = post_form(&router, &uri, &sec, &[("csrf", &csrf), ("da", "open"), ("stato", "closed"), ("nota", "Chiudo.")]).await;
        assert_eq!(stale.status, StatusCode::CONFLICT, "{}", stale.text());
        assert!(get(&router, &uri, Some(&d.token), &[]).await.status == StatusCode::FORBIDDEN);
        // Today's report, as JSON and as PDF; a period that is none is named.
        let json = get(&router, "/ufficio/sicurezza/rapporto?periodo=giorno&formato=json", Some(&sec), &[]).await;
        assert_eq!(json.status, StatusCode::OK, "{}", json.text());
        let r: serde_json::Value = serde_json::from_str(&json.text()).unwrap();
        assert_eq!((r["period"].as_str(), r["alerts"].as_array().map(Vec::len)), (Some("day"), Some(2)), "{r}");
        let pdf = get(&router, "/ufficio/sicurezza/rapporto?periodo=settimana", Some(&sec), &[]).await;
        assert_eq!(pdf.status, StatusCode::OK);
        assert!(pdf.body.starts_with(b"%PDF"));
        let bad = get(&router, "/ufficio/sicurezza/rapporto?periodo=anno", Some(&sec), &[]).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.text());
        assert!(bad.text().contains("Scegli giorno, settimana o mese"), "{}", bad.text());
        let found = get(&router, &format!("/ufficio/sicurezza?soggetto={id}&operazione=person."), Some(&sec), &[]).await;
        assert_eq!(found.status, StatusCode::OK, "{}", found.text());
        let t = found.text();
        assert!(t.contains("data-testid=\"trace-entry\"") && t.contains(&cf) && t.contains("person.register"), "{t}");
        let today = anagrafe_domain::date::dmy(anagrafe_domain::ops::italian_date(chrono::Utc::now()));
        let dated = get(&router, &format!("/ufficio/sicurezza?operazione=person.register&dal={today}&al={today}"), Some(&sec), &[]).await;
        assert!(dated.text().contains("person.register"), "{}", dated.text());
        let bad = get(&router, "/ufficio/sicurezza?dal=31/02/2026&soggetto=XYZ", Some(&sec), &[]).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        let t = bad.text();
        assert!(t.contains("href=\"#dal\"") && t.contains("id=\"dal-error\"") && t.contains("Scrivi una data come gg/mm/aaaa"), "{t}");
        let none = get(&router, &format!("/ufficio/sicurezza?soggetto={cf}&operazione=certificate."), Some(&sec), &[]).await;
        assert!(none.text().contains("Nessuna voce corrisponde alla ricerca."));
        let english = get(&router, "/ufficio/sicurezza", Some(&sec), &[("accept-language", "en")]).await.text();
        assert!(english.contains("State of the trace"), "{english}");
        let account = get(&router, "/ufficio/account", Some(&sec), &[]).await.text();
        assert!(account.contains("<a href=\"/ufficio/sicurezza\">Sicurezza e tracciamento</a>"), "{account}");
        let searches: Vec<_> =
            store.audit_entries(0, 10_000).await.unwrap().into_iter().filter(|e| e.entry.operation == "audit.search").collect();
        assert_eq!(searches.len(), 3, "each search that ran is traced (the one with a bad date did not run)");
        let changed =
            store.audit_entries(0, 10_000).await.unwrap().into_iter().filter(|e| e.entry.operation == "security.alert_changed").count();
        assert_eq!(changed, 1, "the one change made is traced");
        assert!(
            searches.iter().all(|e| e.entry.actor_cf.as_deref() == Some("VRDLCU75C41F205X")),
            "the officer's codice fiscale is on every entry of theirs (SEC-4)"
        );
    }
}

/// The system administrator's desk (issue 18, item 5, begun): every operator with roles, second
/// factor, codice fiscale and state; the blocked addresses; the keys and the trace. Only the
/// administrator reads it, and the read is traced.
#[tokio::test]
async fn the_administrator_sees_the_operators_the_blocked_addresses_and_the_keys() {
    for (store, _dir, _pg) in common::stores().await {
        let router = app(state(store.clone()));
        common::operator(&*store, "admin", "system_admin", "", common::NO_PASSWORD, Some("JBSWY3DPEHPK3PXP")).await;
        common::operator(&*store, "nuovo", "registry_officer", "H501", common::NO_PASSWORD, None).await;
        let (adm, _) = common::session(&*store, "operator", "admin", true).await;
        let d = desk(&*store).await;
        assert_eq!(get(&router, "/ufficio/amministrazione", Some(&d.token), &[]).await.status, StatusCode::FORBIDDEN);
        let until = anagrafe_store::now_ms() + 600_000;
        let entry = anagrafe_store::AuditEntry::from_ctx(&anagrafe_store::WriteContext::cli("test"), "security.address_blocked", "ok");
        store.block_address("192.0.2.99", until, "test", &entry).await.unwrap();
        let ctx = anagrafe_store::WriteContext::cli("test");
        let client = anagrafe_store::ApiClient {
            client_id: "comune-h501".into(),
            role: anagrafe_domain::Role::Comune,
            comune: Some(anagrafe_domain::Belfiore::parse("H501").unwrap()),
            public_key_pem: "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n".into(),
            push_url: None,
            revoked: false,
        };
        store.save_api_client(&client, &ctx).await.unwrap();
        let body = anagrafe_store::PdndClient {
            client_id: "ente-inps".into(),
            name: "INPS".into(),
            keys: vec![],
            purposes: vec![anagrafe_store::PdndPurpose {
                purpose_id: "p-1".into(),
                eservice: "C030".into(),
                description: "verifica".into(),
                daily_quota: 5000,
                per_second: 10,
                revoked: false,
            }],
            revoked: false,
            public_security: false,
        };
        store.save_pdnd_client(&body, &ctx).await.unwrap();
        let page = get(&router, "/ufficio/amministrazione", Some(&adm), &[]).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text());
        let t = page.text();
        assert!(t.contains("Amministrazione del sistema") && t.contains("data-testid=\"operator\""), "{t}");
        assert!(t.contains("nuovo") && t.contains("registry_officer@H501") && t.contains("system_admin"), "{t}");
        assert!(t.contains("192.0.2.99, fino alle"), "{t}");
        assert!(t.contains("data-testid=\"client\"") && t.contains("comune-h501") && t.contains("H501"), "{t}");
        assert!(t.contains("INPS") && t.contains("C030: 5000 chiamate al giorno, 10 al secondo"), "{t}");
        assert!(t.contains("Chiave di firma dell&#39;anagrafe") || t.contains("Chiave di firma dell'anagrafe"), "{t}");
        assert!(!t.contains("JBSWY3DPEHPK3PXP") && !t.contains("argon2"), "no secret is shown");
        let account = get(&router, "/ufficio/account", Some(&adm), &[]).await.text();
        assert!(account.contains("<a href=\"/ufficio/amministrazione\">Amministrazione del sistema</a>"), "{account}");
        let read = store.audit_entries(0, 10_000).await.unwrap().into_iter().filter(|e| e.entry.operation == "admin.overview").count();
        assert_eq!(read, 1, "the administrator's read is traced");
    }
}

/// The administrator's actions (issue 18, item 5): a new account with its role, the comune asked
/// for; a suspension and a role granted; each confirmed with password and code again (a wrong
/// code changes nothing and counts as a failed login); every change traced.
#[tokio::test]
async fn the_administrator_creates_suspends_and_grants_after_confirming_with_password_and_code() {
    use anagrafe_server::auth::{password, totp};
    for (store, _dir, _pg) in common::stores().await {
        // The codes follow the register's clock, moved on by a step between changes (each code
        // is good once, and only near its time).
        let clock = Arc::new(anagrafe_service::FakeClock::at(chrono::Utc::now()));
        let mut st = state(store.clone());
        st.clock = clock.clone();
        let router = app(st);
        let secret = "JBSWY3DPEHPK3PXP";
        let hash = password::hash("parola-segreta-1".into(), password::Cost::default()).await.unwrap();
        common::operator(&*store, "admin", "system_admin", "", &hash, Some(secret)).await;
        let (adm, _) = common::session(&*store, "operator", "admin", true).await;
        let csrf = store.session(&anagrafe_server::auth::token_hash(&adm)).await.unwrap().unwrap().csrf_token;
        let code = || {
            use anagrafe_service::Clock;
            totp::current_code(secret, clock.now_ms() / 1000).unwrap()
        };
        let next_step = || clock.advance(chrono::Duration::seconds(30));
        let new = get(&router, "/ufficio/amministrazione/operatori", Some(&adm), &[]).await;
        assert_eq!(new.status, StatusCode::OK, "{}", new.text());
        assert!(new.text().contains("Nuovo operatore") && new.text().contains("La tua password"), "{}", new.text());
        let form = |role: &'static str, scope: &'static str, code: String| {
            vec![
                ("csrf", csrf.clone()),
                ("username", "nuovo.ufficiale".to_owned()),
                ("nome", "Nuovo Ufficiale".to_owned()),
                ("codice_fiscale", "RSSMRA80A01H501U".to_owned()),
                ("ruolo", role.to_owned()),
                ("ambito", scope.to_owned()),
                ("password", "parola-segreta-1".to_owned()),
                ("codice", code),
            ]
        };
        let send = |f: Vec<(&'static str, String)>, uri: &'static str| {
            let router = router.clone();
            let adm = adm.clone();
            async move {
                let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
                post_form(&router, uri, &adm, &pairs).await
            }
        };
        // A registry officer needs a comune: named beside the field, no code spent.
        let r = send(form("registry_officer", "", "000000".into()), "/ufficio/amministrazione/operatori").await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
        assert!(r.text().contains("id=\"ambito-error\"") && r.text().contains("codice catastale"), "{}", r.text());
        // A wrong code: nothing created, the failure counted.
        let r = send(form("registry_officer", "H501", "000000".into()), "/ufficio/amministrazione/operatori").await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
        assert!(r.text().contains("Password o codice non corretti"), "{}", r.text());
        assert!(store.operator("nuovo.ufficiale").await.unwrap().is_none());
        // Right: created, with its temporary password shown once and a role.
        let used = code();
        let r = send(form("registry_officer", "h501", used.clone()), "/ufficio/amministrazione/operatori").await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        assert!(r.text().contains("Password provvisoria, mostrata solo ora") && r.text().contains("(H501)"), "{}", r.text());
        let o = store.operator("nuovo.ufficiale").await.unwrap().unwrap();
        assert!(o.must_change_password && o.totp_secret.is_none() && o.codice_fiscale.as_deref() == Some("RSSMRA80A01H501U"));
        // The same code again is refused (each code is good once).
        let change = |azione: &'static str, role: &'static str, scope: &'static str, code: String| {
            vec![
                ("csrf", csrf.clone()),
                ("azione", azione.to_owned()),
                ("ruolo", role.to_owned()),
                ("ambito", scope.to_owned()),
                ("password", "parola-segreta-1".to_owned()),
                ("codice", code),
            ]
        };
        let uri = "/ufficio/amministrazione/operatori/nuovo.ufficiale";
        let r = send(change("sospendi", "", "", used), uri).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "a code already used: {}", r.text());
        assert!(!store.operator("nuovo.ufficiale").await.unwrap().unwrap().disabled);
        // The next codes: a suspension, then a role granted.
        next_step();
        let r = send(change("sospendi", "", "", code()), uri).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        assert!(r.text().contains("Modifica applicata.") && r.text().contains("Disattivato"), "{}", r.text());
        next_step();
        let r = send(change("concedi", "electoral_officer", "H501", code()), uri).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let o = store.operator("nuovo.ufficiale").await.unwrap().unwrap();
        assert!(o.disabled && o.roles.len() == 2, "{:?}", o.roles);
        // The administrator cannot suspend themselves.
        next_step();
        let r = send(change("sospendi", "", "", code()), "/ufficio/amministrazione/operatori/admin").await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
        assert!(r.text().contains("Non puoi farlo sul tuo account"), "{}", r.text());
        let trace = store.audit_entries(0, 10_000).await.unwrap();
        let saves = trace.iter().filter(|e| e.entry.operation == "operator.save" && e.entry.actor == "operator:admin").count();
        assert_eq!(saves, 3, "created, suspended, granted: each traced by the administrator");
        let refused = trace.iter().filter(|e| e.entry.operation == "operator.login" && e.entry.outcome == "refused").count();
        assert_eq!(refused, 2, "the wrong and the reused code count as failed logins");
        // Nobody else.
        common::operator(&*store, "sicurezza", "security_officer", "", common::NO_PASSWORD, Some(secret)).await;
        let (sec, _) = common::session(&*store, "operator", "sicurezza", true).await;
        assert_eq!(get(&router, uri, Some(&sec), &[]).await.status, StatusCode::FORBIDDEN);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_administrator_registers_programs_and_bodies_changes_their_limits_and_lifts_a_block() {
    use anagrafe_server::auth::{password, totp};
    for (store, _dir, _pg) in common::stores().await {
        let clock = Arc::new(anagrafe_service::FakeClock::at(chrono::Utc::now()));
        let mut st = state(store.clone());
        st.clock = clock.clone();
        let router = app(st);
        let secret = "JBSWY3DPEHPK3PXP";
        let hash = password::hash("parola-segreta-1".into(), password::Cost::default()).await.unwrap();
        common::operator(&*store, "admin", "system_admin", "", &hash, Some(secret)).await;
        let (adm, _) = common::session(&*store, "operator", "admin", true).await;
        let csrf = store.session(&anagrafe_server::auth::token_hash(&adm)).await.unwrap().unwrap().csrf_token;
        // Each change spends the next code: the clock moves a step before each.
        let code = || {
            use anagrafe_service::Clock;
            clock.advance(chrono::Duration::seconds(30));
            totp::current_code(secret, clock.now_ms() / 1000).unwrap()
        };
        let send = |uri: String, fields: Vec<(&'static str, String)>| {
            let (router, adm, csrf) = (router.clone(), adm.clone(), csrf.clone());
            async move {
                let mut pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
                pairs.push(("csrf", &csrf));
                pairs.push(("password", "parola-segreta-1"));
                post_form(&router, &uri, &adm, &pairs).await
            }
        };
        let (_, public) = anagrafe_server::modi::client::generate_key_pair();

        // A comune's program: a key that is not one is named beside its field, no code spent.
        let page = get(&router, "/ufficio/amministrazione/client", Some(&adm), &[]).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text());
        let program = |key: &str, code: String| {
            vec![
                ("id", "gestionale-h501".to_owned()),
                ("ruolo", "comune".into()),
                ("comune", "h501".into()),
                ("chiave", key.into()),
                ("codice", code),
            ]
        };
        let r = send("/ufficio/amministrazione/client".into(), program("non è una chiave", "000000".into())).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
        assert!(r.text().contains("id=\"chiave-error\"") && r.text().contains("Non è una chiave pubblica P-256"), "{}", r.text());
        let r = send("/ufficio/amministrazione/client".into(), program(&public, code())).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        assert!(r.text().contains("Registrazione fatta.") && r.text().contains("Impronta SHA-256"), "{}", r.text());
        assert_eq!(store.api_client("gestionale-h501").await.unwrap().unwrap().comune.map(|b| b.to_string()).as_deref(), Some("H501"));
        let r = send("/ufficio/amministrazione/client/gestionale-h501".into(), vec![("azione", "revoca".into()), ("codice", code())]).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        assert!(store.api_client("gestionale-h501").await.unwrap().unwrap().revoked);

        // A public body with a first purpose; then its limits changed.
        let body = vec![
            ("id", "ente-prova".to_owned()),
            ("nome", "Ente di prova".into()),
            ("kid", "ente-prova-k1".into()),
            ("sicurezza", "no".into()),
            ("chiave", public.clone()),
            ("eservice", "C030".into()),
            ("finalita", "finalita-c030".into()),
            ("quota", "1000".into()),
            ("al_secondo", "5".into()),
            ("codice", code()),
        ];
        let r = send("/ufficio/amministrazione/enti".into(), body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        assert!(r.text().contains("C030: 1000 chiamate al giorno, 5 al secondo"), "{}", r.text());
        let limits = vec![
            ("azione", "limiti".to_owned()),
            ("finalita", "finalita-c030".into()),
            ("quota", "0".into()),
            ("al_secondo", "2".into()),
            ("codice", "000000".into()),
        ];
        let r = send("/ufficio/amministrazione/enti/ente-prova".into(), limits.clone()).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
        assert!(r.text().contains("id=\"quota-error\""), "{}", r.text());
        let mut limits = limits;
        limits[2].1 = "50".into();
        limits[4].1 = code();
        let r = send("/ufficio/amministrazione/enti/ente-prova".into(), limits).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let b = store.pdnd_client("ente-prova").await.unwrap().unwrap();
        assert_eq!((b.purposes[0].daily_quota, b.purposes[0].per_second), (50, 2));

        // A blocked address lifted from the page.
        use anagrafe_service::Clock;
        let now = clock.now_ms();
        let entry = anagrafe_store::AuditEntry::from_ctx(&WriteContext::cli("test"), "security.address_blocked", "ok");
        store.block_address("198.51.100.7", now + 900_000, "test", &entry).await.unwrap();
        let page = get(&router, "/ufficio/amministrazione/blocchi", Some(&adm), &[]).await;
        assert!(page.text().contains("198.51.100.7"), "{}", page.text());
        let r = send("/ufficio/amministrazione/blocchi".into(), vec![("indirizzo", "198.51.100.7".into()), ("codice", code())]).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        assert!(
            r.text().contains("Indirizzo sbloccato.") && store.blocked_addresses(clock.now_ms()).await.unwrap().is_empty(),
            "{}",
            r.text()
        );
        let trace = store.audit_entries(0, 10_000).await.unwrap();
        let by_admin = |op: &str| trace.iter().filter(|e| e.entry.operation == op && e.entry.actor == "operator:admin").count();
        assert_eq!((by_admin("api_client.save"), by_admin("pdnd_client.save"), by_admin("security.address_unblocked")), (2, 2, 1));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_office_user_gets_a_residents_extract_at_once_and_a_mediator_approves_a_non_residents() {
    use anagrafe_domain::extract::OrganisationKind;
    for (store, _dir, _pg) in common::stores().await {
        let router = app(state(store.clone()));
        let (_, resident_cf) = resident(&*store, 31).await;
        let r = anagrafe_testkit::registration(32, "H501", "F205", chrono::NaiveDate::from_ymd_opt(1990, 2, 1).unwrap());
        let applied = store.apply(&Operation::Register(Box::new(r)), &WriteContext::cli("test"), &issuer(), None).await.unwrap();
        let elsewhere_cf = applied.codice_fiscale.unwrap();
        let org = anagrafe_store::ExtractOrg {
            id: 0,
            code: "h501-polizia-municipale".into(),
            comune: anagrafe_domain::Belfiore::parse("H501").unwrap(),
            name: "Polizia Municipale".into(),
            kind: OrganisationKind::MunicipalOffice,
            convention_from: None,
            convention_to: None,
            types: vec![],
        };
        store.save_extract_org(&org, &WriteContext::cli("test")).await.unwrap();
        common::operator(&*store, "agente", "pa_standard", "h501-polizia-municipale", common::NO_PASSWORD, Some("JBSWY3DPEHPK3PXP")).await;
        let (agent, _) = common::session(&*store, "operator", "agente", true).await;
        let csrf = store.session(&anagrafe_server::auth::token_hash(&agent)).await.unwrap().unwrap().csrf_token;
        let page = get(&router, "/ufficio/visure", Some(&agent), &[]).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text());
        assert!(page.text().contains("Polizia Municipale") && page.text().contains("Visura di Residenza"), "{}", page.text());
        let ask = |cf: &str, purpose: &str| {
            let (router, agent, csrf, cf, purpose) = (router.clone(), agent.clone(), csrf.clone(), cf.to_owned(), purpose.to_owned());
            async move {
                post_form(
                    &router,
                    "/ufficio/visure",
                    &agent,
                    &[
                        ("csrf", csrf.as_str()),
                        ("criterio", "cf"),
                        ("valore", cf.as_str()),
                        ("tipo", "residenza"),
                        ("finalita", purpose.as_str()),
                    ],
                )
                .await
            }
        };
        // A bad code is named beside its field; a missing purpose too; nothing recorded.
        let r = ask("RSSMRA80A01H501X", "verbale").await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.text().contains("id=\"valore-error\""), "{}", r.text());
        let r = ask(&resident_cf, "").await;
        assert!(r.status == StatusCode::UNPROCESSABLE_ENTITY && r.text().contains("id=\"finalita-error\""), "{}", r.text());
        // A resident: issued at once with its protocol.
        let r = ask(&resident_cf, "verbale n. 12").await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        assert!(r.text().contains("Visura emessa, protocollo H501/"), "{}", r.text());
        // A non-resident: the comune at once, the extract waits.
        let r = ask(&elsewhere_cf, "verbale n. 13").await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        assert!(r.text().contains("inviata all&#39;anagrafe") || r.text().contains("inviata all'anagrafe"), "{}", r.text());
        assert!(r.text().contains("MILANO (MI)"), "the comune by its name: {}", r.text());
        // The mediator's queue: a registry officer without the mediator function is refused.
        common::operator(&*store, "ufficiale", "registry_officer", "H501", common::NO_PASSWORD, Some("JBSWY3DPEHPK3PXP")).await;
        let (officer, _) = common::session(&*store, "operator", "ufficiale", true).await;
        assert_eq!(get(&router, "/ufficio/visure/mediazione", Some(&officer), &[]).await.status, StatusCode::FORBIDDEN);
        let mut o = store.operator("ufficiale").await.unwrap().unwrap();
        o.roles[0].mediator = true;
        store.save_operator(&o, &WriteContext::cli("test")).await.unwrap();
        let queue = get(&router, "/ufficio/visure/mediazione", Some(&officer), &[]).await;
        assert_eq!(queue.status, StatusCode::OK, "{}", queue.text());
        assert!(queue.text().contains(&elsewhere_cf) && queue.text().contains("verbale n. 13"), "{}", queue.text());
        let pending = store
            .extract_requests(&anagrafe_store::ExtractFilter {
                state: Some(anagrafe_domain::extract::RequestState::Pending),
                limit: 5,
                ..Default::default()
            })
            .await
            .unwrap();
        let id = pending[0].id;
        let ocsrf = store.session(&anagrafe_server::auth::token_hash(&officer)).await.unwrap().unwrap().csrf_token;
        let uri = format!("/ufficio/visure/mediazione/{id}");
        let r = post_form(&router, &uri, &officer, &[("csrf", ocsrf.as_str()), ("esito", "respingi"), ("nota", "")]).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "a rejection needs a note: {}", r.text());
        let r = post_form(&router, &uri, &officer, &[("csrf", ocsrf.as_str()), ("esito", "approva"), ("nota", "")]).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        assert!(r.text().contains("approvata: visura emessa con protocollo H501/2"), "{}", r.text());
        // The agent's archive shows both issued, each with its sealed PDF; the agent cannot
        // open the queue.
        let page = get(&router, "/ufficio/visure", Some(&agent), &[]).await;
        assert_eq!(page.text().matches("data-testid=\"extract\"").count(), 2, "{}", page.text());
        let pdf_uri = format!("/ufficio/visure/{id}/pdf");
        assert!(page.text().contains(&pdf_uri), "{}", page.text());
        let pdf = get(&router, &pdf_uri, Some(&agent), &[]).await;
        assert_eq!(pdf.status, StatusCode::OK, "{}", pdf.text());
        assert!(pdf.body.starts_with(b"%PDF-") && pdf.text().contains("/ETSI.CAdES.detached"), "a sealed PDF");
        assert_eq!(get(&router, &pdf_uri, Some(&agent), &[]).await.body, pdf.body, "the same document at every download");
        assert_eq!(get(&router, "/ufficio/visure/999999/pdf", Some(&agent), &[]).await.status, StatusCode::NOT_FOUND);
        assert_eq!(get(&router, "/ufficio/visure/mediazione", Some(&agent), &[]).await.status, StatusCode::FORBIDDEN);
        // Another user of the office has not got it.
        let (ps_first, _) = {
            common::operator(&*store, "collega", "pa_standard", "h501-polizia-municipale", common::NO_PASSWORD, Some("JBSWY3DPEHPK3PXP"))
                .await;
            common::session(&*store, "operator", "collega", true).await
        };
        assert_eq!(get(&router, &pdf_uri, Some(&ps_first), &[]).await.status, StatusCode::NOT_FOUND);
        // The resident reads who obtained an extract of their data, with the purpose; a
        // public-security user's extract is not shown (VIS-11).
        common::operator(&*store, "agente.ps", "pa_standardps", "h501-polizia-municipale", common::NO_PASSWORD, Some("JBSWY3DPEHPK3PXP"))
            .await;
        let (ps, _) = common::session(&*store, "operator", "agente.ps", true).await;
        let pcsrf = store.session(&anagrafe_server::auth::token_hash(&ps)).await.unwrap().unwrap().csrf_token;
        let form = [
            ("csrf", pcsrf.as_str()),
            ("criterio", "cf"),
            ("valore", resident_cf.as_str()),
            ("tipo", "stato-di-famiglia"),
            ("finalita", "indagine riservata"),
        ];
        assert_eq!(post_form(&router, "/ufficio/visure", &ps, &form).await.status, StatusCode::CREATED);
        let (citizen, _) = common::session(&*store, "citizen", &resident_cf, true).await;
        let seen = get(&router, "/area-personale/accessi", Some(&citizen), &[]).await;
        assert_eq!(seen.status, StatusCode::OK, "{}", seen.text());
        assert!(seen.text().contains("Polizia Municipale (visura anagrafica)") && seen.text().contains("verbale n. 12"), "{}", seen.text());
        assert!(!seen.text().contains("indagine riservata") && !seen.text().contains("Stato di Famiglia"), "{}", seen.text());
        // The registry office's TOP user monitors the day: the public-security request is not
        // there; a STANDARD user cannot open the monitoring.
        let registry = anagrafe_store::ExtractOrg {
            id: 0,
            code: "h501-anagrafe".into(),
            name: "Ufficio Anagrafe".into(),
            kind: OrganisationKind::Registry,
            ..org
        };
        store.save_extract_org(&registry, &WriteContext::cli("test")).await.unwrap();
        common::operator(&*store, "top", "pa_top", "h501-anagrafe", common::NO_PASSWORD, Some("JBSWY3DPEHPK3PXP")).await;
        let (top, _) = common::session(&*store, "operator", "top", true).await;
        let m = get(&router, "/ufficio/visure/monitoraggio", Some(&top), &[]).await;
        assert_eq!(m.status, StatusCode::OK, "{}", m.text());
        assert!(m.text().contains("verbale n. 12") && m.text().contains("verbale n. 13"), "{}", m.text());
        assert!(!m.text().contains("indagine riservata"), "public security stays out of monitoring: {}", m.text());
        assert_eq!(m.text().matches("data-testid=\"monitored\"").count(), 2, "{}", m.text());
        assert_eq!(get(&router, "/ufficio/visure/monitoraggio", Some(&agent), &[]).await.status, StatusCode::FORBIDDEN);
        // The statistics: TOP counts the two issued (not the public-security one); the CSV.
        let st = get(&router, "/ufficio/visure/statistiche", Some(&top), &[]).await;
        assert_eq!(st.status, StatusCode::OK, "{}", st.text());
        assert!(st.text().contains("Visure emesse: 2.") && st.text().contains("Soggetti APR: 2."), "{}", st.text());
        let csv = get(&router, "/ufficio/visure/statistiche?formato=csv", Some(&top), &[]).await;
        assert!(
            csv.text().contains("organizzazione;Polizia Municipale;;2") && csv.text().contains("tipo;;Visura di Residenza;2"),
            "{}",
            csv.text()
        );
        let own = get(&router, "/ufficio/visure/statistiche?formato=csv", Some(&ps), &[]).await;
        assert!(own.text().contains("tipo;;Visura di Stato di Famiglia;1"), "the public-security user counts their own: {}", own.text());
        let bad = get(&router, "/ufficio/visure/statistiche?dal=2026-12-31&al=2026-01-01", Some(&top), &[]).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text());
        let bad = get(&router, "/ufficio/visure/monitoraggio?giorno=31/02/2026", Some(&top), &[]).await;
        assert!(bad.text().contains("id=\"giorno-error\""), "{}", bad.text());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_office_admin_manages_the_users_of_their_own_area_only() {
    use anagrafe_domain::extract::OrganisationKind;
    use anagrafe_server::auth::{password, totp};
    for (store, _dir, _pg) in common::stores().await {
        let clock = Arc::new(anagrafe_service::FakeClock::at(chrono::Utc::now()));
        let mut st = state(store.clone());
        st.clock = clock.clone();
        let router = app(st);
        for (code, name) in [("h501-pm", "Polizia Municipale"), ("h501-ss", "Servizi Sociali")] {
            let org = anagrafe_store::ExtractOrg {
                id: 0,
                code: code.into(),
                comune: anagrafe_domain::Belfiore::parse("H501").unwrap(),
                name: name.into(),
                kind: OrganisationKind::MunicipalOffice,
                convention_from: None,
                convention_to: None,
                types: vec![],
            };
            store.save_extract_org(&org, &WriteContext::cli("test")).await.unwrap();
        }
        let secret = "JBSWY3DPEHPK3PXP";
        let hash = password::hash("parola-segreta-1".into(), password::Cost::default()).await.unwrap();
        common::operator(&*store, "capo-pm", "pa_admin", "h501-pm", &hash, Some(secret)).await;
        common::operator(&*store, "assistente", "pa_standard", "h501-ss", common::NO_PASSWORD, Some(secret)).await;
        let (adm, _) = common::session(&*store, "operator", "capo-pm", true).await;
        let csrf = store.session(&anagrafe_server::auth::token_hash(&adm)).await.unwrap().unwrap().csrf_token;
        let code = || {
            use anagrafe_service::Clock;
            clock.advance(chrono::Duration::seconds(30));
            totp::current_code(secret, clock.now_ms() / 1000).unwrap()
        };
        let send = |uri: &'static str, fields: Vec<(&'static str, String)>| {
            let (router, adm, csrf) = (router.clone(), adm.clone(), csrf.clone());
            async move {
                let mut pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
                pairs.push(("csrf", &csrf));
                pairs.push(("password", "parola-segreta-1"));
                post_form(&router, uri, &adm, &pairs).await
            }
        };
        let page = get(&router, "/ufficio/visure/utenti", Some(&adm), &[]).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text());
        assert!(page.text().contains("capo-pm") && !page.text().contains("assistente"), "their own area only: {}", page.text());
        let new_user = |org: &str, role: &str| {
            vec![
                ("username", "agente-nuovo".to_owned()),
                ("nome", "Agente Nuovo".to_owned()),
                ("codice_fiscale", "RSSMRA80A01H501U".to_owned()),
                ("organizzazione", org.to_owned()),
                ("ruolo", role.to_owned()),
                ("codice", code()),
            ]
        };
        // Another area, or a TOP role: named beside the field, nothing created.
        let r = send("/ufficio/visure/utenti", new_user("h501-ss", "pa_standard")).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
        assert!(r.text().contains("id=\"organizzazione-error\""), "{}", r.text());
        let r = send("/ufficio/visure/utenti", new_user("h501-pm", "pa_top")).await;
        assert!(r.status == StatusCode::UNPROCESSABLE_ENTITY && r.text().contains("id=\"ruolo-error\""), "{}", r.text());
        assert!(store.operator("agente-nuovo").await.unwrap().is_none());
        // Their own office: created, the temporary password shown once.
        let r = send("/ufficio/visure/utenti", new_user("h501-pm", "pa_standard")).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        assert!(r.text().contains("data-testid=\"temporary-password\""), "{}", r.text());
        let o = store.operator("agente-nuovo").await.unwrap().unwrap();
        assert_eq!((o.roles[0].role.as_str(), o.roles[0].scope.as_str(), o.must_change_password), ("pa_standard", "h501-pm", true));
        // Another area's user: as if there were none; untouched.
        assert_eq!(get(&router, "/ufficio/visure/utenti/assistente", Some(&adm), &[]).await.status, StatusCode::NOT_FOUND);
        let r = send("/ufficio/visure/utenti/assistente", vec![("azione", "sospendi".into()), ("codice", code())]).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text());
        assert!(!store.operator("assistente").await.unwrap().unwrap().disabled);
        // Their own: suspended with password and code.
        let r = send("/ufficio/visure/utenti/agente-nuovo", vec![("azione", "sospendi".into()), ("codice", code())]).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        assert!(store.operator("agente-nuovo").await.unwrap().unwrap().disabled);
        // A wrong password spends nothing.
        let r = post_form(
            &router,
            "/ufficio/visure/utenti/agente-nuovo",
            &adm,
            &[("csrf", &csrf), ("azione", "riattiva"), ("password", "sbagliata"), ("codice", &code())],
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
        assert!(store.operator("agente-nuovo").await.unwrap().unwrap().disabled);
    }
}

/// Issue 19, REG-1: the registry office records an identity card from the person's page, with
/// its errors beside the fields, then its loss; the history keeps both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_officer_records_an_identity_card_and_its_loss_and_the_history_keeps_both() {
    for (store, _dir, pg) in common::stores().await {
        let router = app(state(store.clone()));
        let Desk { token, csrf, security } = desk(&*store).await;
        let (id, _) = resident(&*store, 61).await;
        let target = format!("/ufficio/persone/{id}/documento");
        assert_eq!(get(&router, &target, Some(&security), &[]).await.status, StatusCode::FORBIDDEN);
        let form = get(&router, &target, Some(&token), &[]).await;
        assert_eq!(form.status, StatusCode::OK);
        assert!(form.text().contains("Nessun documento in corso di validità"), "{}", form.text());
        let mut fields = vec![
            ("csrf", csrf.as_str()),
            ("op", "doc-1"),
            ("kind", "cie"),
            ("permit_kind", ""),
            ("number", "CA1234AB"),
            ("issued_on", "2024-03-01"),
            ("expires_on", "2034-03-01"),
            ("issuer", "Comune di Roma"),
            ("renews", ""),
        ];
        // A CIE number of the wrong form: refused beside the field, nothing written.
        let bad = post_form(&router, &target, &token, &fields).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text());
        assert!(bad.text().contains("id=\"number-error\""), "{}", bad.text());
        assert!(bad.text().contains("due lettere, cinque cifre e due lettere"), "{}", bad.text());
        fields[1] = ("op", "doc-2");
        fields[4] = ("number", "CA 12345 AB");
        let ok = post_form(&router, &target, &token, &fields).await;
        assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.text());
        let page = get(&router, &format!("/ufficio/persone/{id}"), Some(&token), &[]).await.text();
        assert!(page.contains("Carta d&#39;identità elettronica n. CA12345AB"), "{page}");
        // A second card without naming the first: refused beside "Rinnova il documento".
        fields[1] = ("op", "doc-3");
        fields[4] = ("number", "CA54321BA");
        fields[5] = ("issued_on", "2025-01-01");
        let second = post_form(&router, &target, &token, &fields).await;
        assert_eq!(second.status, StatusCode::CONFLICT, "{}", second.text());
        assert!(second.text().contains("id=\"renews-error\""), "{}", second.text());
        // Its loss, from the other form.
        let end = format!("/ufficio/persone/{id}/cessazione-documento");
        let form = get(&router, &end, Some(&token), &[]).await.text();
        assert!(form.contains(r#"<option value="CA12345AB""#), "{form}");
        let lost = post_form(
            &router,
            &end,
            &token,
            &[("csrf", csrf.as_str()), ("op", "doc-4"), ("number", "CA12345AB"), ("ended_on", "2025-06-01"), ("reason", "lost")],
        )
        .await;
        assert_eq!(lost.status, StatusCode::SEE_OTHER, "{}", lost.text());
        let history = get(&router, &format!("/ufficio/persone/{id}/storia"), Some(&token), &[]).await.text();
        assert!(history.contains("CA12345AB") && history.contains("Smarrimento 01/06/2025"), "{history}");
        assert!(history.contains("Carta identità"), "the events name tab. 36's mutation: {history}");
        let page = get(&router, &format!("/ufficio/persone/{id}"), Some(&token), &[]).await.text();
        assert!(!page.contains("CA12345AB"), "a lost card is no longer on the record: {page}");
        common::drop_pg(pg).await;
    }
}
