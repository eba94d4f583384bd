//! Fixtures shared by the server's tests: API clients, operators and sessions written straight
//! into a store.
#![allow(dead_code)]

use anagrafe_server::modi::client::{Signer, generate_key_pair};
use anagrafe_server::{DEFAULT_AUDIENCE, auth};
use anagrafe_store::{ApiClient, AuditEntry, Operator, RoleGrant, Session, Store, WriteContext};

/// Registers a web-service client with a fresh key: its signer and private key (PEM).
pub async fn api_client(store: &dyn Store, id: &str, role: &str, comune: Option<&str>) -> (Signer, String) {
    let (private, public) = generate_key_pair();
    let c = ApiClient {
        client_id: id.into(),
        role: anagrafe_domain::Role::parse(role).unwrap(),
        comune: comune.map(|c| anagrafe_domain::Belfiore::parse(c).unwrap()),
        public_key_pem: public,
        push_url: None,
        revoked: false,
    };
    store.save_api_client(&c, &WriteContext::cli("test")).await.unwrap();
    (Signer::new(id, DEFAULT_AUDIENCE, &private).unwrap(), private)
}

/// Saves an operator with one role, the given password hash and, optionally, a TOTP secret.
pub async fn operator(store: &dyn Store, username: &str, role: &str, scope: &str, password_hash: &str, totp: Option<&str>) {
    let o = Operator {
        username: username.into(),
        display_name: username.into(),
        codice_fiscale: None,
        password_hash: password_hash.into(),
        must_change_password: false,
        totp_secret: totp.map(str::to_owned),
        totp_pending: None,
        totp_last_step: None,
        failed_logins: 0,
        locked_until: None,
        disabled: false,
        roles: vec![RoleGrant { role: anagrafe_domain::Role::parse(role).unwrap(), scope: scope.into(), mediator: false }],
    };
    store.save_operator(&o, &WriteContext::cli("test")).await.unwrap();
}

/// A hash that no password matches (for operators whose sessions are made directly).
pub const NO_PASSWORD: &str = "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo";

/// Opens a fresh session for a subject: its cookie token and CSRF token.
pub async fn session(store: &dyn Store, kind: &str, subject: &str, second_factor: bool) -> (String, String) {
    let token = format!("tok-{kind}-{subject}-{}", uuid::Uuid::new_v4());
    let now = anagrafe_store::now_ms();
    let s = Session {
        token_hash: auth::token_hash(&token),
        kind: kind.into(),
        subject: subject.into(),
        auth_mode: if second_factor { "password+totp" } else { "password" }.into(),
        loa: 2,
        second_factor,
        csrf_token: format!("csrf-{subject}"),
        created_at: now,
        last_seen_at: now,
        authenticated_at: now,
        expires_at: now + 3_600_000,
        ended_at: None,
        eidas_id: (kind == "eu").then(|| subject.to_owned()),
    };
    let e = AuditEntry::from_ctx(&WriteContext::cli("test"), "test.session", "ok");
    assert!(store.open_session(&s, None, &e).await.unwrap());
    (token, s.csrf_token)
}

/// A store under test: the store, the SQLite file's directory (kept while the test runs), and
/// the PostgreSQL server and database to drop at the end.
pub type TestStore = (std::sync::Arc<dyn Store>, Option<tempfile::TempDir>, Option<(String, String)>);

/// The backends a store-backed test runs on: SQLite always, PostgreSQL too when
/// `ANAGRAFE_TEST_DATABASE_URL` is set (a fresh database, named so that `drop_pg` removes it).
pub async fn stores() -> Vec<TestStore> {
    use anagrafe_store::{PgStore, SqliteStore};
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::connect(&format!("sqlite://{}", dir.path().join("t.db").display())).await.unwrap();
    s.migrate().await.unwrap();
    let mut out: Vec<TestStore> = vec![(std::sync::Arc::new(s), Some(dir), None)];
    if let Ok(base) = std::env::var("ANAGRAFE_TEST_DATABASE_URL") {
        let name = format!("anagrafe_t_{:016x}", rand::random::<u64>());
        PgStore::connect(&base).await.unwrap().exec_raw(&format!("CREATE DATABASE {name}")).await.unwrap();
        let url = format!("{}/{name}", base.rsplit_once('/').unwrap().0);
        let s = PgStore::connect(&url).await.unwrap();
        s.migrate().await.unwrap();
        out.push((std::sync::Arc::new(s), None, Some((base, name))));
    } else {
        eprintln!("SKIPPED: the PostgreSQL half of this test (set ANAGRAFE_TEST_DATABASE_URL)");
    }
    out
}

/// Drops the PostgreSQL database `stores` made (nothing for SQLite).
pub async fn drop_pg(pg: Option<(String, String)>) {
    if let Some((base, name)) = pg {
        let admin = anagrafe_store::PgStore::connect(&base).await.unwrap();
        admin.exec_raw(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await.unwrap();
    }
}

/// SQLite alone, shaped as an entry of `stores` (tests of behaviour the backends share through
/// the same code, where a PostgreSQL run would add nothing).
pub async fn sqlite_only() -> TestStore {
    let dir = tempfile::tempdir().unwrap();
    let s = anagrafe_store::SqliteStore::connect(&format!("sqlite://{}", dir.path().join("t.db").display())).await.unwrap();
    s.migrate().await.unwrap();
    (std::sync::Arc::new(s), Some(dir), None)
}
