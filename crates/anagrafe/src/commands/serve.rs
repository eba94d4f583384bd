//! `anagrafe serve`: the register over HTTP.

use crate::config::{Config, redact_url};
use anagrafe_server::AppState;
use anagrafe_store::Store;
use anyhow::Context;
use clap::Args;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, Args)]
pub struct ServeOpts {
    /// Address to listen on (overrides the configuration).
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
}

pub async fn run(opts: ServeOpts, mut cfg: Config) -> anyhow::Result<ExitCode> {
    if let Some(l) = opts.listen {
        cfg.server.listen = l;
    }
    let store = crate::register::open(&cfg).await?;
    tracing::info!(database = %redact_url(&cfg.database.url), "register open");
    let state = state(store, &cfg);
    crate::register::resume_ids(&state).await?;
    serve(state, &cfg, cfg.server.listen, |addr| tracing::info!(%addr, "listening")).await?;
    Ok(ExitCode::SUCCESS)
}

/// The server's state for a register: the store, the ID ANPR issuer when one is configured
/// (without it, writes that create records answer 503), the web services' audience.
pub fn state(store: Arc<dyn Store>, cfg: &Config) -> AppState {
    let mut state = AppState::new(store);
    match crate::register::id_issuer(cfg) {
        Ok(issuer) => state = state.with_issuer(issuer),
        Err(e) => tracing::warn!(error = %e, "no ID ANPR issuer: registrations through the API are refused until one is configured"),
    }
    state.api.audience = cfg.server.api_audience.clone();
    state.hsts = cfg.server.tls;
    state.limits = cfg.limits.clone();
    // A bad [extracts] section stops `serve` before it listens (checked there); here the
    // defaults stand in.
    state.extracts = cfg.extracts.settings().unwrap_or_default();
    state.publisher = Arc::new(cfg.publisher.clone());
    let p = &cfg.pdnd;
    state.pdnd = Arc::new(anagrafe_server::pdnd::Pdnd::new(anagrafe_server::pdnd::PdndSettings {
        id_only: p.id_only,
        issuer: p.issuer.clone(),
        audience_prefix: p.audience_prefix.clone(),
        token_audience: p.token_audience.clone(),
        jwks_url: p.jwks_url.clone(),
        answer_retention_days: p.answer_retention_days,
    }));
    let mut providers = cfg.oidc.providers.clone();
    let dev = cfg.oidc.dev_idp.then(|| {
        tracing::warn!("the development identity provider is on: anyone can log in as a demo identity");
        providers.insert(0, anagrafe_server::auth::oidc::Provider::development());
        Arc::new(anagrafe_server::auth::dev_idp::DevIdp::new(Vec::new()))
    });
    state.oidc = Arc::new(anagrafe_server::auth::oidc::OidcSettings::new(providers, cfg.oidc.public_url.as_deref().unwrap_or(""), dev));
    match crate::register::register_signing_key(cfg) {
        Ok(Some(pem)) => match state.clone().with_register_key(&pem) {
            Ok(s) => state = s,
            Err(e) => tracing::warn!(error = %e, "the register's signing key is unusable: notifications are not pushed"),
        },
        Ok(None) => tracing::info!("no server.signing_key_file: notifications are served as a feed only, not pushed"),
        Err(e) => tracing::warn!(error = %e, "notifications are not pushed"),
    }
    let public_url =
        cfg.certificates.public_url.clone().or(cfg.oidc.public_url.clone()).unwrap_or_else(|| format!("http://{}", cfg.server.listen));
    match crate::register::certificates(cfg, &public_url) {
        Ok(mut c) => {
            c.public_url_guessed = cfg.certificates.public_url.is_none() && cfg.oidc.public_url.is_none();
            state.certificates = Some(Arc::new(c));
        }
        Err(e) => tracing::warn!(error = %e, "certificates are not available (run `anagrafe seal init` for an embedded register)"),
    }
    match crate::register::secret_box(cfg) {
        Ok(Some(b)) => state.secrets = Some(Arc::new(b)),
        Ok(None) => tracing::warn!("server.secrets_key_file is not set: operators' second-factor secrets are stored in clear"),
        Err(e) => tracing::warn!(error = %e, "operators' second-factor secrets are stored in clear"),
    }
    match crate::register::checkpointer(cfg) {
        Ok(Some(c)) => {
            if c.file().is_none() {
                tracing::warn!("audit.checkpoint_file is not set: the trace's checkpoints are kept in the database only");
            }
            state.checkpoints = Some(Arc::new(c));
        }
        Ok(None) => tracing::warn!("no register signing key: the trace is not checkpointed (set server.signing_key_file)"),
        Err(e) => tracing::warn!(error = %e, "the trace is not checkpointed"),
    }
    state
}

/// Binds and serves until Ctrl-C or SIGTERM, finishing requests in flight.
pub async fn serve(mut state: AppState, cfg: &Config, listen: SocketAddr, on_bound: impl FnOnce(SocketAddr)) -> anyhow::Result<()> {
    state.extracts = cfg.extracts.settings()?;
    let sealed = crate::register::seal_stored_secrets(&state).await.context("cannot seal the second-factor secrets stored in clear")?;
    if sealed > 0 {
        tracing::info!(accounts = sealed, "second-factor secrets stored in clear are now sealed");
    }
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    state.oidc.default_base_url(&format!("http://{addr}"));
    // No public URL configured: the QR codes lead to the address actually bound (a demo on
    // port 0, a listening address given on the command line).
    if let Some(c) = state.certificates.as_mut().and_then(Arc::get_mut)
        && c.public_url_guessed
    {
        c.public_url = format!("http://{addr}");
    }
    on_bound(addr);
    let pusher = state.register_signer.is_some().then(|| anagrafe_server::push::spawn(state.clone(), Default::default()));
    let expiry = state.certificates.is_some().then(|| tokio::spawn(expiry_job(state.store.clone())));
    let retention = tokio::spawn(retention_job(state.clone()));
    let witness = cfg.audit.witness_url.clone();
    let checkpoints = (cfg.audit.checkpoint_interval_s > 0).then(|| {
        tokio::spawn(checkpoint_job(state.clone(), std::time::Duration::from_secs(cfg.audit.checkpoint_interval_s), witness.clone()))
    });
    let analysis = (cfg.audit.analysis_interval_s > 0)
        .then(|| tokio::spawn(analysis_job(state.clone(), std::time::Duration::from_secs(cfg.audit.analysis_interval_s))));
    let reports = (!cfg.audit.report_to.is_empty()).then(|| tokio::spawn(report_job(state.clone(), cfg.audit.report_to.clone())));
    let silence = (state.extracts.silence_after_ms > 0 && cfg.extracts.silence_interval_s > 0)
        .then(|| tokio::spawn(silence_job(state.clone(), std::time::Duration::from_secs(cfg.extracts.silence_interval_s))));
    let notices = (cfg.extracts.notices_interval_s > 0)
        .then(|| tokio::spawn(notices_job(state.clone(), std::time::Duration::from_secs(cfg.extracts.notices_interval_s))));
    let last = state.clone();
    anagrafe_server::serve(listener, state, shutdown()).await?;
    if let Some(n) = notices {
        n.abort();
    }
    if let Some(a) = analysis {
        a.abort();
    }
    if let Some(r) = reports {
        r.abort();
    }
    if let Some(s) = silence {
        s.abort();
    }
    if let Some(c) = checkpoints {
        c.abort();
    }
    // One more at shutdown, so that the last entries written are signed too.
    checkpoint_once(&last, witness.as_deref()).await;
    if let Some(p) = pusher {
        p.abort();
    }
    if let Some(e) = expiry {
        e.abort();
    }
    retention.abort();
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// Runs the log analysis every `every` while the server runs: each finding kept as an alert of
/// the security officer (`docs/trace.md`, "Log analysis").
async fn analysis_job(state: AppState, every: std::time::Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let rules = anagrafe_service::security::rules();
    loop {
        tick.tick().await;
        match anagrafe_service::security::evaluate(&*state.store, &rules, &*state.clock).await {
            Ok(done) if !done.raised.is_empty() => tracing::warn!(raised = done.raised.len(), "security alerts raised"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "the log analysis failed; it runs again at the next interval"),
        }
    }
}

/// Approves by silence, every `every`, the deferred registry extracts nobody decided in time
/// (`extracts.silence_after_h`; `docs/extracts.md`).
async fn silence_job(state: AppState, every: std::time::Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let job = anagrafe_service::Principal::job("silence-consent", "job-silence-consent".into());
    loop {
        tick.tick().await;
        match state.extracts().approve_by_silence(&job).await {
            Ok(n) if n > 0 => tracing::info!(issued = n, "deferred extracts approved by silence-consent"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "silence-consent failed; it runs again at the next interval"),
        }
    }
}

/// Sends, every `every`, the extracts' notices that are due: the daily e-mail of the day
/// before to the TOP users and mediators, each new alarm to the TOP users
/// (`extracts.notices_interval_s`; through the certificates' mail delivery).
async fn notices_job(state: AppState, every: std::time::Duration) {
    let Some(mail) = state.certificates.as_ref().and_then(|c| c.mail.clone().map(|m| (m, c.mail_from.clone()))) else {
        tracing::info!("no mail delivery is configured (certificates): the extracts' notices are not sent");
        return;
    };
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let job = anagrafe_service::Principal::job("extract-notices", "job-extract-notices".into());
    loop {
        tick.tick().await;
        match state.extracts().send_notices(&job, &mail.0, &mail.1).await {
            Ok(n) if n.digests + n.alarms > 0 => tracing::info!(digests = n.digests, alarms = n.alarms, "extracts' notices sent"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "the extracts' notices failed; they run again at the next interval"),
        }
    }
}

/// Every hour, e-mails the security reports of the periods that ended yesterday, once each
/// (`audit.report_to`; through the certificates' mail delivery).
async fn report_job(state: AppState, to: Vec<String>) {
    let Some(certs) = state.certificates.clone() else {
        tracing::warn!("audit.report_to is set but the register has no mail delivery: reports are not sent");
        return;
    };
    let Some(mail) = certs.mail.clone() else {
        tracing::warn!("audit.report_to is set but no mail delivery is configured (certificates.smtp_url): reports are not sent");
        return;
    };
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match anagrafe_service::report::send_due(&*state.store, &mail, &certs.mail_from, &to, &*state.clock).await {
            Ok(n) if n > 0 => tracing::info!(reports = n, "security reports sent"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "the security reports were not made; tried again in an hour"),
        }
    }
}

/// Signs the trace's head every `every` while the server runs (`docs/trace.md`).
async fn checkpoint_job(state: AppState, every: std::time::Duration, witness: Option<String>) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        checkpoint_once(&state, witness.as_deref()).await;
    }
}

/// Signs the head if it moved since the last checkpoint, and hands the checkpoint to the
/// witness. Failures are logged; the next run tries again.
async fn checkpoint_once(state: &AppState, witness: Option<&str>) {
    let Some(cp) = &state.checkpoints else { return };
    match cp.checkpoint(&*state.store, &*state.clock).await {
        Ok(Some(c)) => {
            tracing::info!(seq = c.seq, "trace checkpoint signed");
            if let Some(url) = witness {
                match send_to_witness(url, &c).await {
                    Ok(()) => {}
                    Err(e) => tracing::warn!(error = %e, "the trace's witness did not take the checkpoint; the next one is sent again"),
                }
            }
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "the trace checkpoint failed; it is tried again at the next interval"),
    }
}

/// POSTs a checkpoint as JSON to the witness (`audit.witness_url`); a 2xx is taken as kept.
async fn send_to_witness(url: &str, c: &anagrafe_store::Checkpoint) -> anyhow::Result<()> {
    use anagrafe_server::outbound::{CALL_TIMEOUT, Conn};
    let conn = Conn::new(url, CALL_TIMEOUT)?;
    let rest = url.strip_prefix("http://").unwrap_or(url);
    let path = rest.find('/').map_or("/", |i| &rest[i..]);
    let body = serde_json::to_vec(c)?;
    let reply = conn.send("POST", path, &[("content-type", "application/json".to_owned())], &body).await?;
    anyhow::ensure!((200..300).contains(&reply.status), "the witness answered {}", reply.status);
    Ok(())
}

/// Deletes the e-services' kept answers past their retention, at start and then every hour.
async fn retention_job(state: AppState) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        tick.tick().await;
        match anagrafe_server::pdnd::purge_answers(&*state.store, &state.pdnd.settings, anagrafe_store::now_ms()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, "e-service answers past their retention deleted"),
            Err(e) => tracing::warn!(error = %e, "the e-service answers' retention job failed; it runs again in an hour"),
        }
    }
}

/// Deletes expired certificates (CRT-6) at start and then every hour.
async fn expiry_job(store: Arc<dyn Store>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        tick.tick().await;
        match anagrafe_service::certificates::expire(&*store, &anagrafe_service::SystemClock).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, "expired certificates deleted"),
            Err(e) => tracing::warn!(error = %e, "the certificate expiry job failed; it runs again in an hour"),
        }
    }
}
