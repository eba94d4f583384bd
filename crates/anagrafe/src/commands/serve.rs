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
    serve(store, cfg.server.listen, |addr| tracing::info!(%addr, "listening")).await?;
    Ok(ExitCode::SUCCESS)
}

/// Binds and serves until Ctrl-C or SIGTERM, finishing requests in flight.
pub async fn serve(store: Arc<dyn Store>, listen: SocketAddr, on_bound: impl FnOnce(SocketAddr)) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    on_bound(listener.local_addr()?);
    anagrafe_server::serve(listener, AppState::new(store), shutdown()).await?;
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
