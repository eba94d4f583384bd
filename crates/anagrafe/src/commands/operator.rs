//! `anagrafe operator`: operator accounts from the command line (the system administrator's
//! tools): create with roles, reset (recovery: new temporary password, second factor cleared,
//! lock lifted, sessions ended), show, and the current TOTP code of a secret.

use crate::config::Config;
use anagrafe_domain::Role;
use anagrafe_server::auth::{password, totp};
use anagrafe_store::{Operator, RoleGrant, Store, WriteContext};
use clap::Subcommand;
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum OperatorCommand {
    /// Create an account (or replace its name and roles); prints a temporary password to
    /// change at the first login.
    Add {
        /// Login name (letters, digits, `.`, `-`, `_`).
        #[arg(long)]
        username: String,
        /// Name shown in pages and traces.
        #[arg(long)]
        name: String,
        /// ROLE[@SCOPE][+mediator], repeatable: e.g. `registry_officer@H501+mediator`,
        /// `pa_standard@inps`, `security_officer`.
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// The person's codice fiscale, written on every trace entry of their actions (SEC-4);
        /// kept when an existing account is updated without it.
        #[arg(long = "cf", value_name = "CODE")]
        codice_fiscale: Option<String>,
    },
    /// Recovery by an administrator: a new temporary password, the second factor cleared (to
    /// enrol again), failures and lock cleared, every session ended.
    Reset {
        /// Login name.
        #[arg(long)]
        username: String,
    },
    /// Show an account (never its secrets).
    Show {
        /// Login name.
        #[arg(long)]
        username: String,
    },
    /// Print the current TOTP code of a base32 secret (for demo accounts and scripts).
    Code {
        /// Base32 secret.
        #[arg(long)]
        secret: String,
    },
}

/// Parses `ROLE[@SCOPE][+mediator]`.
pub fn parse_role(s: &str) -> anyhow::Result<RoleGrant> {
    let (rest, mediator) = match s.strip_suffix("+mediator") {
        Some(r) => (r, true),
        None => (s, false),
    };
    let (name, scope) = rest.split_once('@').unwrap_or((rest, ""));
    // The roles an operator can hold (SPEC VIS-2, ELE-2, REG-6).
    let role = Role::parse(name).ok().filter(|r| r.is_operator()).ok_or_else(|| {
        let names: Vec<&str> = Role::OPERATOR.iter().map(|r| r.as_str()).collect();
        anyhow::anyhow!("--role {s}: unknown role {name:?}; one of {}", names.join(", "))
    })?;
    let comune_role = role.is_comune_scoped();
    if comune_role && anagrafe_domain::Belfiore::parse(scope).is_err() {
        anyhow::bail!("--role {s}: {role} needs @COMUNE, the comune's Belfiore code (e.g. @H501)");
    }
    if role.is_public_body() && scope.is_empty() {
        anyhow::bail!("--role {s}: {role} needs @BODY, the public body's code");
    }
    if mediator && role != Role::RegistryOfficer {
        anyhow::bail!("--role {s}: only registry officers have the mediator function");
    }
    Ok(RoleGrant { role, scope: scope.to_uppercase_if(comune_role), mediator })
}

trait UpperIf {
    fn to_uppercase_if(&self, upper: bool) -> String;
}

impl UpperIf for str {
    fn to_uppercase_if(&self, upper: bool) -> String {
        if upper { self.to_ascii_uppercase() } else { self.to_owned() }
    }
}

/// A random password of 20 characters (no look-alike characters).
pub fn temporary_password() -> String {
    password::temporary()
}

fn valid_username(u: &str) -> bool {
    !u.is_empty() && u.len() <= 64 && u.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// Creates or replaces an account with `password`; keeps an existing second factor.
pub async fn save(
    store: &dyn Store,
    username: &str,
    name: &str,
    codice_fiscale: Option<&str>,
    roles: Vec<RoleGrant>,
    password: &str,
    must_change: bool,
) -> anyhow::Result<()> {
    if !valid_username(username) {
        anyhow::bail!("--username must be 1 to 64 letters, digits, '.', '-' or '_'");
    }
    let hash = password::hash(password.to_owned(), password::Cost::default()).await.map_err(|e| anyhow::anyhow!(e))?;
    let existing = store.operator(username).await?;
    let codice_fiscale = match codice_fiscale {
        Some(raw) => Some(
            anagrafe_domain::CodiceFiscale::parse(&raw.trim().to_ascii_uppercase()).map_err(|e| anyhow::anyhow!("--cf: {e}"))?.to_string(),
        ),
        None => existing.as_ref().and_then(|e| e.codice_fiscale.clone()),
    };
    let o = Operator {
        username: username.to_owned(),
        display_name: name.to_owned(),
        codice_fiscale,
        password_hash: hash,
        must_change_password: must_change,
        totp_secret: existing.as_ref().and_then(|e| e.totp_secret.clone()),
        totp_pending: None,
        totp_last_step: existing.as_ref().and_then(|e| e.totp_last_step),
        failed_logins: 0,
        locked_until: None,
        disabled: false,
        roles,
    };
    store.save_operator(&o, &WriteContext::cli("operator-save")).await?;
    Ok(())
}

pub async fn run(cmd: OperatorCommand, cfg: Config) -> anyhow::Result<ExitCode> {
    if let OperatorCommand::Code { secret } = &cmd {
        let code = totp::current_code(secret, chrono::Utc::now().timestamp()).ok_or_else(|| anyhow::anyhow!("--secret is not base32"))?;
        println!("{code}");
        return Ok(ExitCode::SUCCESS);
    }
    let store = crate::register::open(&cfg).await?;
    match cmd {
        OperatorCommand::Add { username, name, roles, codice_fiscale } => {
            let roles = roles.iter().map(|r| parse_role(r)).collect::<anyhow::Result<Vec<_>>>()?;
            let pw = temporary_password();
            save(&*store, &username, &name, codice_fiscale.as_deref(), roles, &pw, true).await?;
            println!("operator {username} saved; temporary password (change it at the first login): {pw}");
        }
        OperatorCommand::Reset { username } => {
            // The administrator's use case, as the administration's page calls it.
            let pw = temporary_password();
            let hash = password::hash(pw.clone(), password::Cost::default()).await.map_err(|e| anyhow::anyhow!(e))?;
            let who = anagrafe_service::Principal::command_line(
                &super::electoral::whoami(),
                None,
                format!("cli-operator-reset-{}", anagrafe_store::now_ms()),
            );
            let desk = anagrafe_service::admin::AdminDesk::new(store.clone(), std::sync::Arc::new(anagrafe_service::SystemClock));
            match desk.change_operator(&who, &username, &anagrafe_service::admin::AccountChange::Reset { password_hash: hash }).await {
                Err(anagrafe_service::ServiceError::NotFound(_)) => {
                    eprintln!("anagrafe: no operator {username}");
                    return Ok(ExitCode::from(1));
                }
                r => r?,
            };
            println!("operator {username} reset: every session ended; second factor cleared; temporary password: {pw}");
        }
        OperatorCommand::Show { username } => match store.operator(&username).await? {
            Some(o) => println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({
                    "username": o.username, "display_name": o.display_name, "codice_fiscale": o.codice_fiscale, "roles": o.roles,
                    "second_factor": o.totp_secret.is_some(), "must_change_password": o.must_change_password,
                    "failed_logins": o.failed_logins, "locked_until": o.locked_until, "disabled": o.disabled,
                }))?
            ),
            None => {
                eprintln!("anagrafe: no operator {username}");
                return Ok(ExitCode::from(1));
            }
        },
        OperatorCommand::Code { .. } => unreachable!("handled above"),
    }
    Ok(ExitCode::SUCCESS)
}
