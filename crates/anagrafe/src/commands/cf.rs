//! `anagrafe cf compute` and `anagrafe cf check`.

use super::Global;
use anagrafe_domain::{CfInput, CodiceFiscale, PartialDate, RefData, Sex};
use clap::{Subcommand, ValueEnum};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, Subcommand)]
pub enum CfCommand {
    /// Compute the codice fiscale from personal data.
    Compute {
        /// Surname.
        #[arg(long)]
        surname: String,
        /// Given name(s).
        #[arg(long)]
        name: String,
        /// Sex.
        #[arg(long, value_enum, ignore_case = true)]
        sex: SexArg,
        /// Birth date, YYYY-MM-DD.
        #[arg(long, value_name = "YYYY-MM-DD")]
        birth_date: String,
        /// Belfiore code (L219, Z404) or name of the comune or foreign state, as on the birth date.
        #[arg(long, value_name = "PLACE")]
        birth_place: String,
        /// Omocodia level (0-7) of the variant to print.
        #[arg(long, default_value_t = 0)]
        omocodia: u8,
    },
    /// Check a codice fiscale and decode it (JSON on stdout; exit 1 when invalid).
    Check {
        /// The code.
        code: String,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SexArg {
    #[value(name = "M")]
    M,
    #[value(name = "F")]
    F,
}

/// The answer of `cf check`, fields in the documented order.
#[derive(serde::Serialize)]
struct Valid<'a> {
    valid: bool,
    code: &'a str,
    omocode: bool,
    sex: &'a str,
    birth_date: String,
    birth_place: Place<'a>,
}

#[derive(serde::Serialize)]
struct Place<'a> {
    code: &'a str,
    name: &'a str,
}

#[derive(serde::Serialize)]
struct Invalid {
    valid: bool,
    reason: String,
}

/// Reference data: the register's own when one is named, the embedded copy otherwise.
fn refdata(global: &Global) -> anyhow::Result<Arc<RefData>> {
    if global.register_given() {
        let cfg = global.config()?;
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        rt.block_on(crate::register::open(&cfg))?;
    }
    Ok(RefData::current())
}

fn today() -> chrono::NaiveDate {
    chrono::Local::now().date_naive()
}

pub fn run(cmd: CfCommand, global: &Global) -> ExitCode {
    let refdata = match refdata(global) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("anagrafe: {e:#}");
            return ExitCode::from(2);
        }
    };
    match cmd {
        CfCommand::Compute { surname, name, sex, birth_date, birth_place, omocodia } => {
            match compute(&refdata, &surname, &name, sex, &birth_date, &birth_place, omocodia) {
                Ok(cf) => {
                    println!("{cf}");
                    ExitCode::SUCCESS
                }
                Err(reason) => {
                    eprintln!("{reason}");
                    ExitCode::from(2)
                }
            }
        }
        CfCommand::Check { code } => {
            let answer = CodiceFiscale::parse(&code)
                .map_err(|e| e.to_string())
                .and_then(|cf| cf.decode(&refdata, today()).map_err(|e| e.to_string()));
            match answer {
                Ok(d) => {
                    let answer = Valid {
                        valid: true,
                        code: d.code.as_str(),
                        omocode: d.omocode,
                        sex: d.sex.as_str(),
                        birth_date: d.birth_date.format("%Y-%m-%d").to_string(),
                        birth_place: Place { code: d.birth_place_code.as_str(), name: &d.birth_place_name },
                    };
                    println!("{}", serde_json::to_string(&answer).unwrap_or_default());
                    ExitCode::SUCCESS
                }
                Err(reason) => {
                    println!("{}", serde_json::to_string(&Invalid { valid: false, reason }).unwrap_or_default());
                    ExitCode::from(1)
                }
            }
        }
    }
}

fn compute(
    refdata: &RefData,
    surname: &str,
    name: &str,
    sex: SexArg,
    birth_date: &str,
    birth_place: &str,
    level: u8,
) -> Result<CodiceFiscale, String> {
    let date = PartialDate::parse(birth_date).map_err(|e| format!("birth date: {e}"))?;
    let date = date.as_full().ok_or("birth date: a codice fiscale needs a full date (YYYY-MM-DD)")?;
    if date > today() {
        return Err(format!("birth date: {date} is in the future"));
    }
    let place = refdata.resolve(birth_place, date).map_err(|e| format!("birth place: {e}"))?;
    if anagrafe_domain::text::cf_letters(surname).is_empty() && anagrafe_domain::text::cf_letters(name).is_empty() {
        return Err("surname and name: no letters to encode".to_owned());
    }
    let sex = match sex {
        SexArg::M => Sex::M,
        SexArg::F => Sex::F,
    };
    let cf = CodiceFiscale::compute(&CfInput { surname, name, sex, birth_date: date, birth_place: place.code() });
    cf.omocode_variant(level).map_err(|e| e.to_string())
}
