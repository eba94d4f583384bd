//! What every handler reaches ([`AppState`]): the store, the services built over it, and the
//! settings of the doors. The hub of the server: doors depend on it, it depends on no door.

use crate::{auth, certificates, modi, pdnd};
use anagrafe_store::Store;
use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::Arc;

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The register.
    pub store: Arc<dyn Store>,
    /// Prometheus rendering handle.
    pub metrics: PrometheusHandle,
    /// The ID ANPR issuer (writes that create records need it).
    pub issuer: Option<Arc<anagrafe_store::IdIssuer>>,
    /// Web-service settings.
    pub api: ApiSettings,
    /// The register's own signing key (pushes to comuni); its public half is served at
    /// `/api/register-key`.
    pub register_signer: Option<Arc<modi::client::Signer>>,
    /// Registered clients met so far, with their parsed keys.
    pub clients: Arc<modi::ClientCache>,
    /// Login and session policy.
    pub auth: auth::AuthSettings,
    /// Citizens' identity providers.
    pub oidc: Arc<auth::oidc::OidcSettings>,
    /// Rate limits and blocking policy.
    pub limits: auth::limits::LimitSettings,
    /// Blocked addresses as last read.
    pub blocklist: Arc<auth::limits::Blocklist>,
    /// Page requests per address in the current minute (in memory).
    pub page_counter: Arc<auth::limits::MinuteCounter>,
    /// Calls per web-service client in the current minute (in memory; see
    /// `limits.shared_api_counts`).
    pub api_counter: Arc<auth::limits::MinuteCounter>,
    /// Whether responses carry `Strict-Transport-Security` (the register is served over TLS,
    /// directly or behind a proxy).
    pub hsts: bool,
    /// The certificate service (`None`: no seal configured; certificate routes answer 503).
    pub certificates: Option<Arc<certificates::Certificates>>,
    /// The e-services for public bodies.
    pub pdnd: Arc<pdnd::Pdnd>,
    /// Where every service reads the time (tests hold a fake one).
    pub clock: Arc<dyn anagrafe_service::Clock>,
    /// Who publishes this register: the controller's and the DPO's contacts, the accessibility
    /// statement's facts (the privacy notice and the statement show them).
    pub publisher: Arc<Publisher>,
    /// What signs the trace's checkpoints (`None`: the register has no signing key).
    pub checkpoints: Option<Arc<anagrafe_service::trace::Checkpointer>>,
    /// The key operators' second-factor secrets are sealed with (`None`: kept in clear, and the
    /// server warns).
    pub secrets: Option<Arc<auth::secrets::SecretBox>>,
    /// How the registry extracts behave (`[extracts]`: silence-consent, alarms).
    pub extracts: anagrafe_service::extracts::ExtractSettings,
    /// How the EU citizens' e-mail confirmation codes leave (`None`: by the certificates' mail
    /// delivery); tests install one that keeps them.
    pub eu_mailer: Option<Arc<dyn anagrafe_service::cases::CodeMailer>>,
}

/// The deploying body's own facts, from the configuration (`[publisher]`): they are not the
/// software's to invent.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Publisher {
    /// The controller (*titolare del trattamento*) and publisher of the site.
    #[serde(default = "Publisher::default_controller")]
    pub controller: String,
    /// The controller's Data Protection Officer's contact (an e-mail address or a page).
    #[serde(default)]
    pub dpo_contact: Option<String>,
    /// Where accessibility problems are reported (the statement's feedback channel).
    #[serde(default)]
    pub accessibility_contact: Option<String>,
    /// The date of the last accessibility assessment (`YYYY-MM-DD`).
    #[serde(default)]
    pub accessibility_assessed_on: Option<chrono::NaiveDate>,
    /// `compliant`, `partially_compliant` or `not_compliant` (AgID's three states).
    #[serde(default = "Publisher::default_conformity")]
    pub accessibility_conformity: String,
}

impl Default for Publisher {
    fn default() -> Self {
        Self {
            controller: Self::default_controller(),
            dpo_contact: None,
            accessibility_contact: None,
            accessibility_assessed_on: None,
            accessibility_conformity: Self::default_conformity(),
        }
    }
}

impl Publisher {
    fn default_controller() -> String {
        "Ministero dell'Interno".into()
    }

    fn default_conformity() -> String {
        "partially_compliant".into()
    }
}

/// Settings of the comuni's web services.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// The `aud` every `Agid-JWT-Signature` must carry.
    pub audience: String,
}

impl Default for ApiSettings {
    fn default() -> Self {
        Self { audience: DEFAULT_AUDIENCE.to_owned() }
    }
}

/// The `kid` (and `iss`) of the register's own signatures.
pub const REGISTER_KID: &str = "anagrafe";

/// The audience used when none is configured.
pub const DEFAULT_AUDIENCE: &str = "anagrafe/api/v1";

impl AppState {
    /// State over a store; installs the process-wide metrics recorder on first use, and the
    /// English catalogue as the words of the register's reasons where no page language applies.
    pub fn new(store: Arc<dyn Store>) -> Self {
        modi::init_crypto();
        anagrafe_domain::why::set_default_words(crate::web::i18n::english);
        Self {
            store,
            metrics: crate::metrics_handle(),
            issuer: None,
            api: ApiSettings::default(),
            register_signer: None,
            clients: Arc::default(),
            auth: auth::AuthSettings::default(),
            oidc: Arc::default(),
            limits: auth::limits::LimitSettings::default(),
            blocklist: Arc::default(),
            page_counter: Arc::default(),
            api_counter: Arc::default(),
            hsts: false,
            certificates: None,
            pdnd: Arc::default(),
            clock: Arc::new(anagrafe_service::SystemClock),
            publisher: Arc::new(Publisher::default()),
            checkpoints: None,
            secrets: None,
            extracts: anagrafe_service::extracts::ExtractSettings::default(),
            eu_mailer: None,
        }
    }

    /// The certificate use cases over this state's store and clock (`Unavailable` when no seal
    /// is configured).
    pub fn certificate_service(&self) -> Result<anagrafe_service::CertificateService, anagrafe_service::ServiceError> {
        let certs = self
            .certificates
            .clone()
            .ok_or_else(|| anagrafe_service::ServiceError::Unavailable("certificates are not configured (no seal)".into()))?;
        Ok(anagrafe_service::CertificateService::new(certs, self.store.clone(), self.clock.clone()))
    }

    /// A second-factor secret of account `owner`, sealed for storage.
    pub fn seal_secret(&self, owner: &str, plain: &str) -> String {
        auth::secrets::seal(self.secrets.as_deref(), owner, plain)
    }

    /// A stored second-factor secret of account `owner`, opened (`None`: it does not open).
    pub fn open_secret(&self, owner: &str, stored: &str) -> Option<String> {
        auth::secrets::open(self.secrets.as_deref(), owner, stored)
    }

    /// The registry's use cases over this state's store, issuer and clock.
    pub fn registry(&self) -> anagrafe_service::Registry {
        anagrafe_service::Registry::new(self.store.clone(), self.issuer.clone(), self.clock.clone())
    }

    /// A citizen's own reads over this state's store.
    pub fn citizen(&self) -> anagrafe_service::CitizenService {
        anagrafe_service::CitizenService::new(self.store.clone())
    }

    /// Public bodies' lookups over this state's store.
    pub fn lookup(&self) -> anagrafe_service::Lookup {
        anagrafe_service::Lookup::new(self.store.clone())
    }

    /// The system administrator's use cases over this state's store and clock.
    pub fn admin(&self) -> anagrafe_service::admin::AdminDesk {
        anagrafe_service::admin::AdminDesk::new(self.store.clone(), self.clock.clone())
    }

    /// The cases (CIT-9): the citizen's requests and the comune's desk.
    pub fn cases(&self) -> anagrafe_service::cases::CaseDesk {
        // The trust list of the citizens' digital signatures: in the embedded mode, the
        // register's own CA (the demo's signers are issued by it).
        let trust = self.certificates.as_ref().and_then(|c| c.seal.root_pem().ok()).into_iter().collect();
        // The once-only system of the embedded mode holds evidence about the development
        // provider's EU identities only.
        let known = self
            .oidc
            .dev_idp
            .as_ref()
            .map(|idp| {
                idp.identities
                    .read()
                    .unwrap_or_else(|e| e.into_inner())
                    .iter()
                    .filter_map(|i| i.eidas.as_ref().map(|e| e.person_identifier.clone()))
                    .collect()
            })
            .unwrap_or_default();
        anagrafe_service::cases::CaseDesk::new(self.store.clone(), self.clock.clone(), self.registry())
            .with_trust(trust)
            .with_once_only(Arc::new(anagrafe_service::cases::LocalOnceOnly::new(known)))
            .with_mailer(self.eu_mail())
    }

    /// The EU citizens' validation (EU-2): the Agency's check by the local implementation, the
    /// codes by the certificates' mail delivery (or the mailer a test installed; none: a code
    /// cannot be sent, 503).
    pub fn eu(&self) -> anagrafe_service::cases::EuDesk {
        let agency = Arc::new(anagrafe_service::cases::LocalTaxRegistry::new(self.store.clone()));
        anagrafe_service::cases::EuDesk::new(self.store.clone(), self.clock.clone(), agency, self.eu_mail())
    }

    /// The EU citizens' codes and the cases' letters leave by the certificates' mail delivery
    /// (or the mailer a test installed; none: they cannot be sent).
    fn eu_mail(&self) -> Arc<dyn anagrafe_service::cases::CodeMailer> {
        match (&self.eu_mailer, &self.certificates) {
            (Some(m), _) => m.clone(),
            (None, Some(certs)) => Arc::new(anagrafe_service::cases::MailedCodes::new(certs.clone(), self.clock.clone())),
            (None, None) => Arc::new(anagrafe_service::cases::NoMail),
        }
    }

    /// The registry extracts' use cases over this state's store and clock.
    pub fn extracts(&self) -> anagrafe_service::extracts::ExtractDesk {
        anagrafe_service::extracts::ExtractDesk::new(self.store.clone(), self.clock.clone(), self.extracts)
            .with_documents(self.certificates.clone())
    }

    /// The security officer's use cases over this state's store.
    pub fn security(&self) -> anagrafe_service::security::SecurityDesk {
        anagrafe_service::security::SecurityDesk::new(self.store.clone())
    }

    /// The electoral office's use cases over this state's store.
    pub fn electoral(&self) -> anagrafe_service::ElectoralService {
        anagrafe_service::ElectoralService::new(self.store.clone())
    }

    /// The same state with the register's signing key (PKCS#8 PEM, ES256).
    pub fn with_register_key(mut self, private_key_pem: &str) -> Result<Self, String> {
        self.register_signer = Some(Arc::new(modi::client::Signer::new(REGISTER_KID, "", private_key_pem)?));
        Ok(self)
    }

    /// The same state with an ID ANPR issuer.
    pub fn with_issuer(mut self, issuer: anagrafe_store::IdIssuer) -> Self {
        self.issuer = Some(Arc::new(issuer));
        self
    }
}
