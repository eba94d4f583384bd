//! The administrator's actions on the register's machine clients (issue 18, item 5): the
//! comuni's software and the Revenue Agency's gateway that call the web services (`/api/v1`),
//! and the public bodies that call the e-services through the national data platform, with
//! their keys and purposes (daily quota, calls per second); and lifting an address's block.
//! Every value is checked here, once, for the pages and for `anagrafe api` / `anagrafe pdnd`;
//! every change is written with its trace entry in one transaction by the store.

use super::AdminDesk;
use crate::{Principal, ServiceError, ServiceResult};
use anagrafe_domain::eservice::eservice_by_code;
use anagrafe_domain::{Belfiore, Role, Why};
use anagrafe_store::{ApiClient, PdndClient, PdndKey, PdndPurpose};
use p256::pkcs8::DecodePublicKey as _;

/// Whether `s` can be a client, key or purpose id: 1 to `max` letters, digits, `-`, `_`, `.`.
fn valid_id(s: &str, max: usize) -> bool {
    !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// A public key as pasted: an SPKI PEM (`BEGIN PUBLIC KEY`) of a P-256 key, the only kind the
/// register verifies (ES256). Answers it trimmed, with a final newline.
pub fn public_key_of(field: &str, pem: &str) -> ServiceResult<String> {
    let pem = pem.trim().replace("\r\n", "\n");
    if pem.is_empty() {
        return Err(ServiceError::invalid(field, Why::new("required")));
    }
    if p256::PublicKey::from_public_key_pem(&pem).is_err() {
        return Err(ServiceError::invalid(field, Why::new("bad-public-key")));
    }
    Ok(format!("{pem}\n"))
}

/// A public body's key as pasted: P-256 as for the comuni, or RSA (SPKI or PKCS#1 PEM), as the
/// national data platform's clients use.
pub fn body_key_of(field: &str, pem: &str) -> ServiceResult<String> {
    use rsa::pkcs1::DecodeRsaPublicKey as _;
    use rsa::pkcs8::DecodePublicKey as _;
    if let Ok(k) = public_key_of(field, pem) {
        return Ok(k);
    }
    let pem = pem.trim().replace("\r\n", "\n");
    if pem.is_empty() {
        return Err(ServiceError::invalid(field, Why::new("required")));
    }
    let rsa = rsa::RsaPublicKey::from_public_key_pem(&pem).or_else(|_| rsa::RsaPublicKey::from_pkcs1_pem(&pem));
    match rsa {
        Ok(k) if rsa::traits::PublicKeyParts::size(&k) >= 256 => Ok(format!("{pem}\n")),
        _ => Err(ServiceError::invalid(field, Why::new("bad-body-key"))),
    }
}

/// A web-service client as typed: its id (the `kid` of its signatures), its role (`comune` or
/// `revenue_agency`), the comune it acts for (Belfiore code; only and always for `comune`)
/// and its public key.
pub fn api_client_of(id: &str, role: &str, comune: &str, public_pem: &str) -> ServiceResult<ApiClient> {
    let mut errs = Vec::new();
    let id = id.trim();
    if !valid_id(id, 64) {
        errs.push(anagrafe_domain::FieldError::new("id", Why::new("bad-client-id")));
    }
    let role = Role::parse(role.trim()).ok().filter(|r| r.is_client());
    if role.is_none() {
        errs.push(anagrafe_domain::FieldError::new("ruolo", Why::new("unknown-role")));
    }
    let comune = comune.trim();
    let comune = match (role, comune.is_empty()) {
        (Some(Role::Comune), true) => {
            errs.push(anagrafe_domain::FieldError::new("comune", Why::new("role-needs-comune")));
            None
        }
        (Some(Role::Comune), false) => match Belfiore::parse(&comune.to_ascii_uppercase()) {
            Ok(b) => Some(b),
            Err(_) => {
                errs.push(anagrafe_domain::FieldError::new("comune", Why::new("role-needs-comune")));
                None
            }
        },
        (_, false) => {
            errs.push(anagrafe_domain::FieldError::new("comune", Why::new("role-is-national")));
            None
        }
        (_, true) => None,
    };
    let key = match public_key_of("chiave", public_pem) {
        Ok(k) => Some(k),
        Err(e) => {
            errs.extend(e.field_errors());
            None
        }
    };
    ServiceError::check(errs)?;
    Ok(ApiClient {
        client_id: id.to_owned(),
        role: role.unwrap_or(Role::Comune),
        comune,
        public_key_pem: key.unwrap_or_default(),
        push_url: None,
        revoked: false,
    })
}

/// A purpose as typed: the e-service's code, the platform's purpose id, the daily quota and
/// the calls per second (positive integers, at most a billion and a million).
pub fn purpose_of(eservice: &str, purpose_id: &str, daily_quota: &str, per_second: &str, body_name: &str) -> ServiceResult<PdndPurpose> {
    let mut errs = Vec::new();
    let es = eservice_by_code(eservice.trim());
    if es.is_none() {
        errs.push(anagrafe_domain::FieldError::new("eservice", Why::new("unknown-eservice")));
    }
    let purpose_id = purpose_id.trim();
    if !valid_id(purpose_id, 128) {
        errs.push(anagrafe_domain::FieldError::new("finalita", Why::new("bad-client-id")));
    }
    let mut number = |field: &str, v: &str, max: i64| -> i64 {
        match v.trim().parse::<i64>() {
            Ok(n) if n > 0 && n <= max => n,
            _ => {
                errs.push(anagrafe_domain::FieldError::new(field, Why::new("bad-limit")));
                0
            }
        }
    };
    let daily_quota = number("quota", daily_quota, 1_000_000_000);
    let per_second = number("al_secondo", per_second, 1_000_000);
    ServiceError::check(errs)?;
    let es = es.ok_or_else(|| ServiceError::invalid("eservice", Why::new("unknown-eservice")))?;
    Ok(PdndPurpose {
        purpose_id: purpose_id.to_owned(),
        eservice: es.code.to_owned(),
        description: format!("{} via {}", es.name, body_name.trim()),
        daily_quota,
        per_second,
        revoked: false,
    })
}

/// A public body as typed: the platform's client id, its name, its first key (id and public
/// key) and its purposes; a public-security body's calls are withheld from the person's view.
pub fn body_of(
    id: &str,
    name: &str,
    kid: &str,
    public_pem: &str,
    purposes: Vec<PdndPurpose>,
    public_security: bool,
) -> ServiceResult<PdndClient> {
    let mut errs = Vec::new();
    let id = id.trim();
    if !valid_id(id, 128) {
        errs.push(anagrafe_domain::FieldError::new("id", Why::new("bad-client-id")));
    }
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        errs.push(anagrafe_domain::FieldError::new("nome", Why::new("required")));
    }
    let kid = kid.trim();
    if !valid_id(kid, 128) {
        errs.push(anagrafe_domain::FieldError::new("kid", Why::new("bad-client-id")));
    }
    let key = match body_key_of("chiave", public_pem) {
        Ok(k) => k,
        Err(e) => {
            errs.extend(e.field_errors());
            String::new()
        }
    };
    if purposes.is_empty() {
        errs.push(anagrafe_domain::FieldError::new("finalita", Why::new("required")));
    }
    ServiceError::check(errs)?;
    Ok(PdndClient {
        client_id: id.to_owned(),
        name: name.to_owned(),
        keys: vec![PdndKey { kid: kid.to_owned(), public_key_pem: key, revoked: false }],
        purposes,
        revoked: false,
        public_security,
    })
}

/// What the administrator may change on a web-service client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientChange {
    /// Its signatures refused from the next request on.
    Revoke,
    /// Accepted again.
    Reinstate,
    /// A new public key (checked with [`public_key_of`]): signatures under the old one are
    /// refused from the next request on.
    Rekey(String),
}

/// What the administrator may change on a public body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyChange {
    /// Every voucher and signature refused from the next call on.
    Revoke,
    /// Accepted again.
    Reinstate,
    /// A new key (id and checked public key); the keys in force are revoked with it.
    Rekey {
        /// The new key's id, unused by this body.
        kid: String,
        /// The public key.
        public_key_pem: String,
    },
    /// One more purpose (or a revoked one authorised again with new limits).
    AddPurpose(PdndPurpose),
    /// New limits for a purpose in force.
    Limits {
        /// The purpose.
        purpose_id: String,
        /// Calls per Italian calendar day.
        daily_quota: i64,
        /// Calls per second.
        per_second: i64,
    },
    /// A purpose withdrawn.
    RevokePurpose(String),
}

fn changed_detail(who: &Principal, op: &str, detail: serde_json::Value) -> anagrafe_store::AuditEntry {
    let mut e = who.entry(op, "ok");
    e.detail = detail.to_string();
    e
}

impl AdminDesk {
    /// One web-service client, for its page; the read is traced.
    pub async fn api_client(&self, who: &Principal, id: &str) -> ServiceResult<ApiClient> {
        Self::admin(who)?;
        let c = self.store.api_client(id).await?.ok_or_else(|| ServiceError::NotFound(format!("no client {id}")))?;
        self.store.audit(&changed_detail(who, "admin.client_read", serde_json::json!({ "client_id": c.client_id }))).await?;
        Ok(c)
    }

    /// Registers a new web-service client (see [`api_client_of`]); a taken id is refused on
    /// its field. Traced as `api_client.save`, which the key-registration rule watches.
    pub async fn register_api_client(&self, who: &Principal, client: &ApiClient) -> ServiceResult<()> {
        Self::admin(who)?;
        if self.store.api_client(&client.client_id).await?.is_some() {
            return Err(ServiceError::invalid("id", Why::new("client-id-taken")));
        }
        self.store.save_api_client(client, &who.context()).await?;
        Ok(())
    }

    /// Changes a web-service client as `change` says; traced as `api_client.save`.
    pub async fn change_api_client(&self, who: &Principal, id: &str, change: &ClientChange) -> ServiceResult<ApiClient> {
        Self::admin(who)?;
        let mut c = self.store.api_client(id).await?.ok_or_else(|| ServiceError::NotFound(format!("no client {id}")))?;
        match change {
            ClientChange::Revoke | ClientChange::Reinstate => {
                let revoke = *change == ClientChange::Revoke;
                if c.revoked == revoke {
                    return Err(ServiceError::invalid("azione", Why::new(if revoke { "already-revoked" } else { "not-revoked" })));
                }
                c.revoked = revoke;
            }
            ClientChange::Rekey(pem) => {
                let pem = public_key_of("chiave", pem)?;
                if pem == c.public_key_pem {
                    return Err(ServiceError::invalid("chiave", Why::new("same-key")));
                }
                c.public_key_pem = pem;
            }
        }
        self.store.save_api_client(&c, &who.context()).await?;
        Ok(c)
    }

    /// One public body, for its page; the read is traced.
    pub async fn body(&self, who: &Principal, id: &str) -> ServiceResult<PdndClient> {
        Self::admin(who)?;
        let b = self.store.pdnd_client(id).await?.ok_or_else(|| ServiceError::NotFound(format!("no public body {id}")))?;
        self.store.audit(&changed_detail(who, "admin.body_read", serde_json::json!({ "client_id": b.client_id }))).await?;
        Ok(b)
    }

    /// Registers a new public body (see [`body_of`]); a taken id, key id or purpose id is
    /// refused on its field. Traced as `pdnd_client.save`.
    pub async fn register_body(&self, who: &Principal, body: &PdndClient) -> ServiceResult<()> {
        Self::admin(who)?;
        if self.store.pdnd_client(&body.client_id).await?.is_some() {
            return Err(ServiceError::invalid("id", Why::new("client-id-taken")));
        }
        self.save_body(who, body).await
    }

    async fn save_body(&self, who: &Principal, body: &PdndClient) -> ServiceResult<()> {
        match self.store.save_pdnd_client(body, &who.context()).await {
            Err(anagrafe_store::StoreError::Conflict { field }) => {
                let field = if field.starts_with("keys") { "kid" } else { "finalita" };
                Err(ServiceError::invalid(field, Why::new("client-id-taken")))
            }
            other => Ok(other?),
        }
    }

    /// Changes a public body as `change` says; traced as `pdnd_client.save`.
    pub async fn change_body(&self, who: &Principal, id: &str, change: &BodyChange) -> ServiceResult<PdndClient> {
        Self::admin(who)?;
        let mut b = self.store.pdnd_client(id).await?.ok_or_else(|| ServiceError::NotFound(format!("no public body {id}")))?;
        let in_force = |b: &PdndClient, pid: &str| b.purposes.iter().position(|p| p.purpose_id == pid && !p.revoked);
        match change {
            BodyChange::Revoke | BodyChange::Reinstate => {
                let revoke = *change == BodyChange::Revoke;
                if b.revoked == revoke {
                    return Err(ServiceError::invalid("azione", Why::new(if revoke { "already-revoked" } else { "not-revoked" })));
                }
                b.revoked = revoke;
            }
            BodyChange::Rekey { kid, public_key_pem } => {
                let kid = kid.trim();
                let mut errs = Vec::new();
                if !valid_id(kid, 128) || b.keys.iter().any(|k| k.kid == kid) {
                    errs.push(anagrafe_domain::FieldError::new(
                        "kid",
                        Why::new(if valid_id(kid, 128) { "client-id-taken" } else { "bad-client-id" }),
                    ));
                }
                let pem = body_key_of("chiave", public_key_pem);
                if let Err(e) = &pem {
                    errs.extend(e.field_errors());
                }
                ServiceError::check(errs)?;
                for k in &mut b.keys {
                    k.revoked = true;
                }
                b.keys.push(PdndKey { kid: kid.to_owned(), public_key_pem: pem?, revoked: false });
            }
            BodyChange::AddPurpose(p) => {
                if in_force(&b, &p.purpose_id).is_some() {
                    return Err(ServiceError::invalid("finalita", Why::new("client-id-taken")));
                }
                b.purposes.retain(|q| q.purpose_id != p.purpose_id);
                b.purposes.push(p.clone());
            }
            BodyChange::Limits { purpose_id, daily_quota, per_second } => {
                let i = in_force(&b, purpose_id).ok_or_else(|| ServiceError::invalid("finalita", Why::new("no-such-purpose")))?;
                if !(1..=1_000_000_000).contains(daily_quota) {
                    return Err(ServiceError::invalid("quota", Why::new("bad-limit")));
                }
                if !(1..=1_000_000).contains(per_second) {
                    return Err(ServiceError::invalid("al_secondo", Why::new("bad-limit")));
                }
                b.purposes[i].daily_quota = *daily_quota;
                b.purposes[i].per_second = *per_second;
            }
            BodyChange::RevokePurpose(pid) => {
                let i = in_force(&b, pid).ok_or_else(|| ServiceError::invalid("finalita", Why::new("no-such-purpose")))?;
                b.purposes[i].revoked = true;
            }
        }
        self.save_body(who, &b).await?;
        Ok(b)
    }

    /// Lifts the block of `address` (one blocked now); traced as `security.address_unblocked`
    /// in the same transaction. The servers' lists of blocked addresses follow within seconds.
    pub async fn unblock(&self, who: &Principal, address: &str) -> ServiceResult<()> {
        Self::admin(who)?;
        let address = address.trim();
        let entry = changed_detail(who, "security.address_unblocked", serde_json::json!({ "address": address }));
        if !self.store.unblock_address(address, self.clock.now_ms(), &entry).await? {
            return Err(ServiceError::invalid("indirizzo", Why::new("not-blocked")));
        }
        Ok(())
    }
}

/// The SHA-256 fingerprint of a public key (of its DER encoding), as the key's owner can
/// compute it (`openssl pkey -pubin -outform DER | sha256sum`): hex, in groups of four.
pub fn key_fingerprint(pem: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).map(str::trim).collect();
    let der = base64::engine::general_purpose::STANDARD.decode(body).unwrap_or_default();
    let hex = hex::encode(sha2::Sha256::digest(der));
    hex.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join(" ")
}
