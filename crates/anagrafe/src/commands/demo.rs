//! `anagrafe demo`: everything a newcomer needs in one command — an embedded register in
//! `--data-dir` (created on first run, with a synthetic population), the server, and
//! `DIR/demo-credentials.json` saying how to get in.

use crate::config::{Config, sqlite_url};
use anagrafe_store::Store;
use anyhow::Context;
use clap::Args;
use serde_json::json;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// Persons the demo register starts with.
const DEMO_PERSONS: u64 = 10_000;
/// Seed of the demo population: every demo has the same people.
const DEMO_SEED: u64 = 2026;

#[derive(Debug, Args)]
pub struct DemoOpts {
    /// Address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Browser tests only: serve each verification captcha's answer at
    /// `/test-only/captcha/{id}`. Exists on the demo command alone; no configuration sets it.
    #[arg(long, hide = true)]
    expose_captcha_answers: bool,
}

/// Runs the demo in `data_dir` (the global `--data-dir`, `./anagrafe-data` by default).
pub async fn run(opts: DemoOpts, mut cfg: Config, data_dir: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let data_dir = data_dir.unwrap_or_else(|| PathBuf::from("./anagrafe-data"));
    std::fs::create_dir_all(&data_dir).with_context(|| format!("cannot create {}", data_dir.display()))?;
    cfg.database.url = sqlite_url(&data_dir);
    let store = crate::register::open(&cfg).await?;
    if store.count_persons().await? == 0 {
        eprintln!("creating the demo register in {} ({DEMO_PERSONS} synthetic persons)…", data_dir.display());
        super::population::load(store.clone(), DEMO_PERSONS, DEMO_SEED, 5_000, true).await?;
    }
    // Every person in the register has an ID ANPR (IDN-3): give one to any without.
    let issuer = crate::register::id_issuer(&cfg)?;
    super::id::assign_all(&*store, &issuer, 50_000, false).await?;
    demo_electoral(&*store).await?;
    let clients = demo_clients(&*store, &data_dir).await?;
    let body = demo_public_body(&*store, &data_dir).await?;
    let demo_comune = clients.iter().find_map(|c| c.comune.clone()).unwrap_or_else(|| "H501".into());
    demo_extract_orgs(&store, &demo_comune).await?;
    let operators = demo_operators(&*store, &data_dir, &demo_comune).await?;
    let (seal_key, seal_chain) = crate::register::seal_paths(&cfg)?;
    if !seal_key.exists() {
        super::certificate::init(&seal_key, &seal_chain, "Anagrafe Nazionale della Popolazione Residente (demo)", false)?;
        eprintln!("created the demo seal (local CA) in {}", seal_key.parent().map(|p| p.display().to_string()).unwrap_or_default());
    }
    let db_url = cfg.database.url.clone();
    let store2 = store.clone();
    cfg.oidc.dev_idp = true;
    // The demo's own publisher facts: example addresses (the reserved .example domain), and
    // the date of this build's assessment (axe on every page of the journeys, by hand at 360 px).
    if cfg.publisher.dpo_contact.is_none() {
        cfg.publisher.dpo_contact = Some("dpo@anagrafe.example".into());
    }
    if cfg.publisher.accessibility_contact.is_none() {
        cfg.publisher.accessibility_contact = Some("accessibilita@anagrafe.example".into());
    }
    cfg.publisher.accessibility_assessed_on.get_or_insert(chrono::NaiveDate::from_ymd_opt(2026, 12, 6).expect("a date"));
    let mut state = super::serve::state(store, &cfg);
    if opts.expose_captcha_answers
        && let Some(certs) = state.certificates.as_mut().and_then(std::sync::Arc::get_mut)
    {
        eprintln!("WARNING: captcha answers are served at /test-only/captcha/{{id}} (browser tests only)");
        certs.captcha_oracle = Some(Default::default());
    }
    let former = demo_former_residents(&state).await?;
    if let Some(idp) = &state.oidc.dev_idp {
        let mut people = Vec::new();
        for (id, cf) in store2.sample_residents(5).await? {
            let g = store2.person(id, None).await?.record.generalita;
            people.push(anagrafe_server::auth::dev_idp::DevIdentity {
                codice_fiscale: cf,
                given_name: g.name.given().unwrap_or_default().to_owned(),
                family_name: g.name.surname().unwrap_or_default().to_owned(),
                eidas: None,
            });
        }
        // Citizens of other EU states through the eIDAS node (EU-1), never in the register.
        for (id, given, family, born) in [
            ("DE/IT/8f3b2c9d71", "Anna", "Schmidt", "1987-05-20"),
            ("FR/IT/0a7e44b1c2", "Claire", "Martin", "1991-10-03"),
            ("ES/IT/5d6c0e9f13", "Lucía", "García", "1979-02-14"),
        ] {
            people.push(anagrafe_server::auth::dev_idp::DevIdentity {
                codice_fiscale: String::new(),
                given_name: given.into(),
                family_name: family.into(),
                eidas: Some(anagrafe_server::auth::dev_idp::DevEidas { person_identifier: id.into(), birth_date: born.into() }),
            });
        }
        // Born in Italy and formerly registered (EU-3): the birth certificate.
        for (id, given, family, born) in &former {
            people.push(anagrafe_server::auth::dev_idp::DevIdentity {
                codice_fiscale: String::new(),
                given_name: given.clone(),
                family_name: family.clone(),
                eidas: Some(anagrafe_server::auth::dev_idp::DevEidas { person_identifier: id.clone(), birth_date: born.clone() }),
            });
        }
        *idp.identities.write().unwrap_or_else(|e| e.into_inner()) = people;
    }
    let audience = state.api.audience.clone();
    super::serve::serve(state, &cfg, opts.listen, move |addr| {
        let base = format!("http://{addr}");
        let rt = tokio::runtime::Handle::current();
        // Written once the port is known (it may be 0 in tests).
        let written = tokio::task::block_in_place(|| {
            rt.block_on(write_credentials(&store2, &data_dir, &db_url, &base, &clients, &operators, &audience, &body))
        });
        match written {
            Ok(summary) => eprintln!("{summary}"),
            Err(e) => eprintln!("anagrafe: cannot write demo credentials: {e:#}"),
        }
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}

/// Citizens of other EU states born in Italy who lived there and left (EU-3), with their eIDAS
/// identifiers: one left after Milan joined the national register (the birth certificate is
/// issued), one left Turin in 2009, before any comune had joined (refused with EN106), and one
/// whose eIDAS data do not match the codice fiscale (the node says born a day later than the
/// register: the validation refuses the code, with why). The last column is the birth date the
/// eIDAS node asserts. Written through the registry with fixed operation ids, so a second run
/// changes nothing.
/// One of them: eIDAS identifier, names, birth date in the register, comune of birth and of
/// residence, EU citizenship (ISO 3166 alpha-3), day they left, birth date the eIDAS node asserts.
struct FormerResident {
    eidas: &'static str,
    given: &'static str,
    family: &'static str,
    born: &'static str,
    comune: &'static str,
    citizenship: &'static str,
    left: &'static str,
    eidas_born: &'static str,
}

const FORMER_RESIDENTS: [FormerResident; 3] = [
    FormerResident {
        eidas: "FR/IT/3c1d9a7b20",
        given: "Sophie",
        family: "Laurent",
        born: "1984-03-12",
        comune: "F205",
        citizenship: "FRA",
        left: "2023-09-30",
        eidas_born: "1984-03-12",
    },
    FormerResident {
        eidas: "BE/IT/7e2a5f0c44",
        given: "Lucas",
        family: "Peeters",
        born: "1975-11-02",
        comune: "L219",
        citizenship: "BEL",
        left: "2009-06-15",
        eidas_born: "1975-11-02",
    },
    FormerResident {
        eidas: "AT/IT/9b4e1d7a33",
        given: "Lukas",
        family: "Weber",
        born: "1990-06-15",
        comune: "A952",
        citizenship: "AUT",
        left: "2022-04-30",
        eidas_born: "1990-06-16",
    },
];

async fn demo_former_residents(state: &anagrafe_server::AppState) -> anyhow::Result<Vec<(String, String, String, String)>> {
    use anagrafe_domain::ops::{Cancellation, Operation};
    use anagrafe_domain::person::Country;
    use anagrafe_domain::{Belfiore, PersonName, Sex};
    let registry = state.registry();
    let refdata = anagrafe_domain::RefData::current();
    let mut out = Vec::new();
    for (i, r) in FORMER_RESIDENTS.iter().enumerate() {
        let FormerResident { eidas, given, family, born, comune, citizenship, left, eidas_born } = *r;
        let code = Belfiore::parse(comune)?;
        let who = anagrafe_service::Principal::comune_client("demo", Some(code), format!("demo-former-{i}"));
        let state_code = refdata.stati().iter().find(|s| s.iso3.as_deref() == Some(citizenship)).context("an EU state")?.code;
        let born_on: chrono::NaiveDate = born.parse()?;
        // A birth registration in the comune, then as this person: name, sex, citizenship.
        let mut reg = anagrafe_testkit::registration(10 + i as u64, comune, comune, born_on);
        reg.name = PersonName::new(Some(family), Some(given)).map_err(|e| anyhow::anyhow!("{e:?}"))?;
        reg.sex = if i == 0 { Sex::F } else { Sex::M };
        reg.citizenships = vec![Country::Foreign(state_code)];
        let op = anagrafe_service::ClientOpId::parse(&format!("demo-former-{i}-birth"))?;
        let written = registry.apply(&who, Operation::Register(Box::new(reg)), &op).await?;
        if let Some(person) = written.applied.id_anpr {
            let cancellation =
                Cancellation { reason: 5, reason_description: None, effective_date: left.parse()?, death: None, abroad: None };
            let op = anagrafe_service::ClientOpId::parse(&format!("demo-former-{i}-left"))?;
            registry.apply(&who, Operation::Cancel { person, cancellation }, &op).await?;
        }
        out.push((eidas.to_owned(), given.to_owned(), family.to_owned(), eidas_born.to_owned()));
    }
    Ok(out)
}

/// ISTAT region codes with the region's name and its constituency for the European Parliament
/// (law 18/1979, table A): the demo's electoral data are drawn from them.
const REGIONS: [(&str, &str, &str); 20] = [
    ("01", "Piemonte", "I - Italia nord-occidentale"),
    ("02", "Valle d'Aosta", "I - Italia nord-occidentale"),
    ("03", "Lombardia", "I - Italia nord-occidentale"),
    ("04", "Trentino-Alto Adige", "II - Italia nord-orientale"),
    ("05", "Veneto", "II - Italia nord-orientale"),
    ("06", "Friuli-Venezia Giulia", "II - Italia nord-orientale"),
    ("07", "Liguria", "I - Italia nord-occidentale"),
    ("08", "Emilia-Romagna", "II - Italia nord-orientale"),
    ("09", "Toscana", "III - Italia centrale"),
    ("10", "Umbria", "III - Italia centrale"),
    ("11", "Marche", "III - Italia centrale"),
    ("12", "Lazio", "III - Italia centrale"),
    ("13", "Abruzzo", "IV - Italia meridionale"),
    ("14", "Molise", "IV - Italia meridionale"),
    ("15", "Campania", "IV - Italia meridionale"),
    ("16", "Puglia", "IV - Italia meridionale"),
    ("17", "Basilicata", "IV - Italia meridionale"),
    ("18", "Calabria", "IV - Italia meridionale"),
    ("19", "Sicilia", "V - Italia insulare"),
    ("20", "Sardegna", "V - Italia insulare"),
];

/// Synthetic electoral data for the demo citizens who have none, loaded per comune as a comune
/// loads its existing data (ELE-7), so that the citizen's electoral page shows something.
async fn demo_electoral(store: &dyn Store) -> anyhow::Result<()> {
    use anagrafe_domain::electoral::{AdditionalList, Election, ElectionRight, ElectoralData, Franchise, Section};
    let refdata = anagrafe_domain::RefData::current();
    let today = anagrafe_domain::ops::italian_today();
    let mut by_comune: std::collections::BTreeMap<String, Vec<(i64, ElectoralData)>> = Default::default();
    for (id, _) in store.sample_residents(5).await? {
        if store.electoral_data(id).await?.is_some() {
            continue;
        }
        let record = store.person(id, None).await?.record;
        let comune = record.residence.competent_comune();
        let Some(c) = refdata.comune_at(comune, today) else { continue };
        let (region, european) = REGIONS.iter().find(|(code, _, _)| *code == c.region).map(|(_, n, e)| (*n, *e)).unwrap_or(("-", "-"));
        let right = |election, constituency: Option<&str>| ElectionRight {
            election,
            constituency: constituency.map(str::to_owned),
            multi_member_college: None,
            single_member_college: None,
        };
        let n = 1 + (id % 40) as u16;
        let section = Section { number: n, seat_name: format!("Scuola primaria n. {n}"), seat_address: format!("Via delle Scuole {n}") };
        let data = match Franchise::of(&record.citizenships) {
            Franchise::Italian => ElectoralData {
                elector: true,
                section: Some(section),
                additional_lists: Vec::new(),
                elections: vec![
                    right(Election::Referendum, None),
                    right(Election::European, Some(european)),
                    right(Election::Senate, Some(region)),
                    right(Election::Chamber, Some(region)),
                    right(Election::Regional, Some(&c.province)),
                    right(Election::Municipal, None),
                ],
            },
            Franchise::OtherEu => ElectoralData {
                elector: true,
                section: Some(section),
                additional_lists: vec![AdditionalList::EuMunicipal, AdditionalList::EuEuropean],
                elections: vec![right(Election::European, Some(european)), right(Election::Municipal, None)],
            },
            Franchise::None => ElectoralData::not_elector(),
        };
        if data.check(Franchise::of(&record.citizenships)).is_empty() {
            by_comune.entry(comune.to_string()).or_default().push((id, data));
        }
    }
    for (comune, rows) in by_comune {
        let ctx = anagrafe_store::WriteContext::cli("demo-electoral");
        let entry = anagrafe_store::AuditEntry::from_ctx(&ctx, "electoral.load", "ok");
        store.load_electoral_data(&comune, &rows, &entry).await?;
    }
    Ok(())
}

/// A demo web-service client: id, role, comune, private key file.
struct DemoClient {
    id: String,
    role: anagrafe_domain::Role,
    comune: Option<String>,
    key: PathBuf,
}

/// The demo's web-service clients: the comune of the first demo citizen, and the Revenue
/// Agency's gateway. Keys are made once in the data directory and registered at every start.
async fn demo_clients(store: &dyn Store, dir: &std::path::Path) -> anyhow::Result<Vec<DemoClient>> {
    let comune = match store.sample_residents(1).await?.first() {
        Some((id, _)) => store.person(*id, None).await?.record.residence.competent_comune().to_string(),
        None => "H501".to_owned(),
    };
    let wanted = [
        (format!("demo-comune-{}", comune.to_ascii_lowercase()), anagrafe_domain::Role::Comune, Some(comune)),
        ("demo-agenzia-entrate".to_owned(), anagrafe_domain::Role::RevenueAgency, None),
    ];
    let mut out = Vec::new();
    for (id, role, comune) in wanted {
        let (key, public) = super::api::key_paths(&dir.join(&id));
        if !key.exists() || !public.exists() {
            let (private_pem, public_pem) = anagrafe_server::modi::client::generate_key_pair();
            super::api::write_private(&key, &private_pem)?;
            std::fs::write(&public, public_pem).with_context(|| format!("cannot write {}", public.display()))?;
        }
        let pem = std::fs::read_to_string(&public)?;
        let client = super::api::client_record(&id, role.as_str(), comune.as_deref(), &pem)?;
        store.save_api_client(&client, &anagrafe_store::WriteContext::cli("demo-clients")).await?;
        out.push(DemoClient { id, role, comune, key });
    }
    Ok(out)
}

/// The demo public body (a stand-in for INPS on the national data platform): its key, made
/// once in the data directory, and a purpose for every e-service, registered at every start.
async fn demo_public_body(store: &dyn Store, dir: &std::path::Path) -> anyhow::Result<anagrafe_store::PdndClient> {
    let id = "demo-ente-inps";
    let (key, public) = super::api::key_paths(&dir.join(id));
    if !key.exists() || !public.exists() {
        let (private_pem, public_pem) = anagrafe_server::modi::client::generate_key_pair();
        super::api::write_private(&key, &private_pem)?;
        std::fs::write(&public, public_pem).with_context(|| format!("cannot write {}", public.display()))?;
    }
    let pem = std::fs::read_to_string(&public)?;
    let purposes: Vec<String> =
        anagrafe_server::pdnd::ESERVICES.iter().map(|e| format!("{}=demo-purpose-{}", e.code, e.code.to_ascii_lowercase())).collect();
    let client = super::pdnd::client_record(id, "Ente previdenziale (demo)", "demo-ente-inps-k1", &pem, &purposes)?;
    store.save_pdnd_client(&client, &anagrafe_store::WriteContext::cli("demo-public-body")).await?;
    Ok(client)
}

/// The organisations of the registry extracts (issue 19): the comune's registry office, two of
/// its other offices and a body under a convention, registered at every start when missing.
async fn demo_extract_orgs(store: &Arc<dyn Store>, comune: &str) -> anyhow::Result<()> {
    use anagrafe_domain::extract::OrganisationKind;
    let b = anagrafe_domain::Belfiore::parse(comune).map_err(|e| anyhow::anyhow!("{comune}: {e}"))?;
    let c = comune.to_ascii_lowercase();
    let today = anagrafe_domain::ops::italian_today();
    let desk = anagrafe_service::extracts::ExtractDesk::new(
        store.clone(),
        std::sync::Arc::new(anagrafe_service::SystemClock),
        anagrafe_service::extracts::ExtractSettings::default(),
    );
    let who = anagrafe_service::Principal::command_line("demo", None, "demo-extract-orgs".into());
    let wanted = [
        (format!("{c}-anagrafe"), "Ufficio Anagrafe", OrganisationKind::Registry, None),
        (format!("{c}-polizia-municipale"), "Polizia Municipale", OrganisationKind::MunicipalOffice, None),
        (format!("{c}-servizi-sociali"), "Servizi Sociali", OrganisationKind::MunicipalOffice, None),
        (
            "inps".to_owned(),
            "INPS, sede provinciale (convenzione)",
            OrganisationKind::ExternalBody,
            Some((today - chrono::Duration::days(30), today + chrono::Duration::days(365))),
        ),
    ];
    for (code, name, kind, convention) in wanted {
        if store.extract_org(&code).await?.is_some() {
            continue;
        }
        let org = anagrafe_store::ExtractOrg {
            id: 0,
            code,
            comune: b,
            name: name.into(),
            kind,
            convention_from: convention.map(|c| c.0),
            convention_to: convention.map(|c| c.1),
            types: vec![],
        };
        desk.save_org(&who, None, &org).await.map_err(|e| anyhow::anyhow!("demo organisation {}: {e}", org.code))?;
    }
    Ok(())
}

/// One demo operator per role, with a password and an enrolled TOTP secret kept in
/// `DIR/demo-operators.json` (made on first start; the data directory holds the demo's secrets,
/// never the repository). Registered at every start when missing.
async fn demo_operators(store: &dyn Store, dir: &std::path::Path, comune: &str) -> anyhow::Result<serde_json::Value> {
    let file = dir.join("demo-operators.json");
    let list: serde_json::Value = match std::fs::read_to_string(&file) {
        Ok(text) => serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", file.display()))?,
        Err(_) => {
            let c = comune.to_ascii_lowercase();
            let other = if comune == "F205" { "H501" } else { "F205" };
            let wanted = [
                (format!("ufficiale-anagrafe-{c}"), "Ufficiale d'anagrafe (demo)", format!("registry_officer@{comune}+mediator")),
                (format!("ufficiale-elettorale-{c}"), "Ufficiale elettorale (demo)", format!("electoral_officer@{comune}")),
                // An officer of another comune, to see the notifications a birth registered
                // here sends to the comune of birth.
                (
                    format!("ufficiale-anagrafe-{}", other.to_ascii_lowercase()),
                    "Ufficiale d'anagrafe di un altro comune (demo)",
                    format!("registry_officer@{other}"),
                ),
                // The registry extracts' users (issue 19): every role, two offices and a body.
                (format!("visure-top-{c}"), "Anagrafe, utente TOP delle visure (demo)", format!("pa_top@{c}-anagrafe")),
                (format!("pm-admin-{c}"), "Polizia Municipale, amministratore (demo)", format!("pa_admin@{c}-polizia-municipale")),
                (format!("pm-standard-{c}"), "Polizia Municipale, utente STANDARD (demo)", format!("pa_standard@{c}-polizia-municipale")),
                (
                    format!("pm-standardps-{c}"),
                    "Polizia Municipale, utente STANDARDPS (demo)",
                    format!("pa_standardps@{c}-polizia-municipale"),
                ),
                (format!("ss-standard-{c}"), "Servizi Sociali, utente STANDARD (demo)", format!("pa_standard@{c}-servizi-sociali")),
                ("ente-inps-admin".into(), "Ente INPS, amministratore (demo)", "pa_admin@inps".into()),
                ("ente-inps-standard".into(), "Ente INPS, utente STANDARD (demo)", "pa_standard@inps".into()),
                ("responsabile-sicurezza".into(), "Responsabile della sicurezza (demo)", "security_officer".into()),
                ("amministratore".into(), "Amministratore di sistema (demo)", "system_admin".into()),
            ];
            let list = serde_json::Value::Array(
                wanted
                    .into_iter()
                    .map(|(u, name, role)| {
                        json!({ "username": u, "name": name, "role": role,
                                "password": super::operator::temporary_password(), "totp_secret": anagrafe_server::auth::totp::new_secret() })
                    })
                    .collect(),
            );
            std::fs::write(&file, serde_json::to_string_pretty(&list)?).with_context(|| format!("cannot write {}", file.display()))?;
            list
        }
    };
    for o in list.as_array().into_iter().flatten() {
        let (Some(u), Some(name), Some(role), Some(pw), Some(secret)) =
            (o["username"].as_str(), o["name"].as_str(), o["role"].as_str(), o["password"].as_str(), o["totp_secret"].as_str())
        else {
            anyhow::bail!("{}: each operator needs username, name, role, password, totp_secret", file.display());
        };
        if store.operator(u).await?.is_none() {
            super::operator::save(store, u, name, None, vec![super::operator::parse_role(role)?], pw, false).await?;
            let up = anagrafe_store::OperatorUpdate { totp_secret: Some(Some(secret.to_owned())), ..Default::default() };
            let ctx = anagrafe_store::WriteContext::cli("demo-operators");
            let mut e = anagrafe_store::AuditEntry::from_ctx(&ctx, "operator.totp_enrolled", "ok");
            e.detail = json!({ "username": u, "by": "demo" }).to_string();
            store.update_operator(u, &up, &e).await?;
            // The registry office's TOP user and the mediator receive the extracts' notices
            // (the daily e-mail, the alarms) in the embedded outbox.
            if u.starts_with("visure-top-") || (role.starts_with("registry_officer@") && role.ends_with("+mediator")) {
                let mut e = anagrafe_store::AuditEntry::from_ctx(&ctx, "extract.user_email", "ok");
                e.detail = json!({ "user": u, "set": true, "by": "demo" }).to_string();
                store.set_operator_email(u, Some(&format!("{u}@anagrafe-demo.invalid")), anagrafe_store::now_ms(), &e).await?;
            }
        }
    }
    Ok(list)
}

#[allow(clippy::too_many_arguments)]
async fn write_credentials(
    store: &Arc<dyn Store>,
    dir: &std::path::Path,
    db_url: &str,
    base: &str,
    clients: &[DemoClient],
    operators: &serde_json::Value,
    audience: &str,
    body: &anagrafe_store::PdndClient,
) -> anyhow::Result<String> {
    let mut citizens = Vec::new();
    for (id, cf) in store.sample_residents(5).await? {
        let v = store.person(id, None).await?;
        let g = &v.record.generalita;
        citizens.push(json!({
            "internal_id": id,
            "codice_fiscale": cf,
            "surname": g.name.surname(),
            "name": g.name.given(),
            "id_anpr": v.record.id_anpr.map(|i| i.to_string()),
            "login": format!("{base}/auth/citizen/login — pick this person on the development identity provider's page"),
        }));
    }
    // Subjects for the registry extracts (issue 19): a resident of the demo comune, and a
    // resident of another comune, for the offices' real-time and deferred extracts.
    let demo_comune = clients.iter().find_map(|c| c.comune.clone()).unwrap_or_else(|| "H501".into());
    let (mut ours, mut theirs) = (None, None);
    for (id, cf) in store.sample_residents(2_000).await? {
        if ours.is_some() && theirs.is_some() {
            break;
        }
        if let anagrafe_domain::Residence::Italy(a) = store.person(id, None).await?.record.residence {
            let slot = if a.comune.to_string() == demo_comune { &mut ours } else { &mut theirs };
            let refdata = anagrafe_domain::RefData::current();
            let name = refdata.comune_at(a.comune, anagrafe_domain::ops::italian_today()).map(|c| format!("{} ({})", c.name, c.province));
            slot.get_or_insert_with(|| json!({ "codice_fiscale": cf, "comune": a.comune.to_string(), "comune_name": name }));
        }
    }
    let doc = json!({
        "about": "Anagrafe demo register. Synthetic people only: no real person's data.",
        "extracts": {
            "comune": demo_comune,
            "resident": ours,
            "non_resident": theirs,
            "about": "registry extracts (visure): the offices' users are the operators with pa_* roles; the registry officer of the demo comune is their mediator",
        },
        "data_dir": dir.display().to_string(),
        "database_url": db_url,
        "urls": {
            "base": base,
            "health": format!("{base}/health/ready"),
            "metrics": format!("{base}/metrics"),
        },
        "citizens": citizens,
        "eu_citizens": eu_citizens(),
        "operators": operators.as_array().map(|ops| ops.iter().map(|o| {
            let mut o = o.clone();
            let secret = o["totp_secret"].as_str().unwrap_or_default().to_owned();
            o["login"] = json!(format!(
                "curl -s -X POST {base}/auth/operator/login -H 'content-type: application/json' -d '{{\"username\":\"{}\",\"password\":\"{}\",\"totp\":\"'$(anagrafe operator code --secret {secret})'\"}}'",
                o["username"].as_str().unwrap_or_default(), o["password"].as_str().unwrap_or_default()
            ));
            o
        }).collect::<Vec<_>>()).unwrap_or_default(),
        "public_bodies": [public_body(dir, base, body, citizens.first())?],
        "api": {
            "openapi": format!("{base}/api/openapi.json"),
            "audience": audience,
            "signing": "ModI INTEGRITY_REST_02 style: Digest + Agid-JWT-Signature (ES256, kid = client id); see docs/api.md",
            "clients": clients.iter().map(|c| json!({
                "client_id": c.id,
                "role": c.role,
                "comune": c.comune,
                "private_key_file": c.key.display().to_string(),
                "example": match c.role {
                    anagrafe_domain::Role::Comune => format!(
                        "anagrafe api call --base {base} --client-id {} --key {} GET /api/v1/persons/{}",
                        c.id, c.key.display(), citizens.first().and_then(|x| x["id_anpr"].as_str()).unwrap_or("ID_ANPR")
                    ),
                    _ => format!("anagrafe api call --base {base} --client-id {} --key {} GET /api/v1/revenue-agency/outbox", c.id, c.key.display()),
                },
            })).collect::<Vec<_>>(),
        },
        "commands": {
            "check a codice fiscale": "anagrafe cf check CODE",
            "verify the trace": format!("anagrafe audit verify --data-dir {}", dir.display()),
        }
    });
    let path = dir.join("demo-credentials.json");
    std::fs::write(&path, serde_json::to_string_pretty(&doc)?).with_context(|| format!("cannot write {}", path.display()))?;
    let first = citizens.first().and_then(|c| c["codice_fiscale"].as_str()).unwrap_or("-").to_owned();
    Ok(format!(
        "Anagrafe demo is running at {base}\n  register:    {}\n  credentials: {}\n  a citizen:   {first}\n  stop with Ctrl-C",
        dir.display(),
        path.display()
    ))
}

/// The development provider's EU identities as the credentials file lists them: the former
/// residents with the codice fiscale they declare for the birth certificate (EU-3).
fn eu_citizens() -> Vec<serde_json::Value> {
    let refdata = anagrafe_domain::RefData::current();
    FORMER_RESIDENTS
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let FormerResident { eidas, given, family, born, comune, left, eidas_born, .. } = *r;
            let cf = born.parse().ok().zip(anagrafe_domain::Belfiore::parse(comune).ok()).map(|(birth_date, birth_place)| {
                anagrafe_domain::CodiceFiscale::compute(&anagrafe_domain::CfInput {
                    surname: family,
                    name: given,
                    sex: if i == 0 { anagrafe_domain::Sex::F } else { anagrafe_domain::Sex::M },
                    birth_date,
                    birth_place,
                })
                .to_string()
            });
            let place = anagrafe_domain::Belfiore::parse(comune).ok().and_then(|c| refdata.comune_history(c).last().map(|x| x.name.clone()));
            json!({
                "eidas_id": eidas, "name": given, "surname": family, "birth_date": born, "birth_place": place,
                "codice_fiscale": cf, "left_italy_on": left, "eidas_birth_date": eidas_born,
                "matches": born == eidas_born,
                "login": "/auth/citizen/login — pick this person among the EU identities (eIDAS) on the development identity provider's page",
            })
        })
        .collect()
}

/// Writes the demo public body's client file (what its gateway knows) and describes it.
fn public_body(
    dir: &std::path::Path,
    base: &str,
    body: &anagrafe_store::PdndClient,
    citizen: Option<&serde_json::Value>,
) -> anyhow::Result<serde_json::Value> {
    let defaults = anagrafe_server::pdnd::PdndSettings::default();
    let file = super::pdnd::ClientFile {
        client_id: body.client_id.clone(),
        kid: body.keys.first().map(|k| k.kid.clone()).unwrap_or_default(),
        private_key_file: format!("{}.key", body.client_id),
        url: base.to_owned(),
        token_url: "/pdnd/token.oauth2".into(),
        token_audience: defaults.token_audience,
        audience_prefix: defaults.audience_prefix,
        purposes: body.purposes.iter().map(|p| (p.eservice.clone(), p.purpose_id.clone())).collect(),
        user_id: "operatore-demo-001".into(),
        user_location: "postazione-demo-01".into(),
        loa: "substantial".into(),
    };
    let path = dir.join("demo-public-body.json");
    std::fs::write(&path, serde_json::to_string_pretty(&file)?).with_context(|| format!("cannot write {}", path.display()))?;
    let cf = citizen.and_then(|c| c["codice_fiscale"].as_str()).unwrap_or("CODICE_FISCALE");
    Ok(json!({
        "name": body.name,
        "client_id": body.client_id,
        "client_file": path.display().to_string(),
        "eservices": body.purposes.iter().map(|p| json!({ "eservice": p.eservice, "purposeId": p.purpose_id })).collect::<Vec<_>>(),
        "example": format!("anagrafe pdnd call --client {} C030 --cf {cf}", path.display()),
        "expected": citizen.map(|c| c["id_anpr"].clone()),
    }))
}
