//! The extracts' bulletin board (VIS-9): a TOP user of the registry office posts messages to
//! every user of the comune's organisations, or to one of them; each user reads, on their
//! welcome page, the public messages and their own until they expire or are withdrawn.

use super::{ExtractDesk, Requester};
use crate::{ServiceError, ServiceResult};
use anagrafe_domain::extract::OrganisationKind;
use anagrafe_domain::{Role, Why};
use anagrafe_store::Bulletin;

/// A message as a TOP user writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBulletin {
    /// Title (1 to 120 characters).
    pub title: String,
    /// Text (1 to 4000 characters).
    pub body: String,
    /// The one user it is for (a user of the comune's organisations); `None`: everyone.
    pub recipient: Option<String>,
    /// The last day it is shown (Italian calendar), if it ends.
    pub until: Option<chrono::NaiveDate>,
}

impl ExtractDesk {
    /// Whether `r` writes the board: a TOP user of the registry office (`Forbidden` otherwise).
    pub fn bulletin_author(r: &Requester) -> ServiceResult<()> {
        if r.principal.role == Role::PaTop && r.org.kind == OrganisationKind::Registry {
            Ok(())
        } else {
            Err(ServiceError::Forbidden("the bulletin board is written by the registry office's TOP users".into()))
        }
    }

    /// Posts a message; its number.
    pub async fn post_bulletin(&self, r: &Requester, new: &NewBulletin) -> ServiceResult<i64> {
        Self::bulletin_author(r)?;
        let title = new.title.trim();
        if title.is_empty() || title.chars().count() > 120 {
            return Err(ServiceError::invalid("titolo", Why::new("bulletin-title")));
        }
        let body = new.body.trim();
        if body.is_empty() || body.chars().count() > 4000 {
            return Err(ServiceError::invalid("testo", Why::new("bulletin-body")));
        }
        let today = self.clock.today();
        let expires_at = match new.until {
            Some(d) if d < today => return Err(ServiceError::invalid("fino_al", Why::new("bulletin-past"))),
            Some(d) => Some(d.succ_opt().map_or(i64::MAX, crate::security::italian_midnight_ms)),
            None => None,
        };
        let recipient = match new.recipient.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
            Some(u) => {
                // One of the comune's users: a role in one of its organisations.
                let orgs = self.store.extract_orgs(r.org.comune).await?;
                let o = self.store.operator(u).await?;
                if !o.is_some_and(|o| o.roles.iter().any(|g| g.role.is_public_body() && orgs.iter().any(|org| org.code == g.scope))) {
                    return Err(ServiceError::invalid("destinatario", Why::new("bulletin-recipient")));
                }
                Some(u.to_owned())
            }
            None => None,
        };
        let b = Bulletin {
            id: 0,
            comune: r.org.comune,
            recipient,
            author: r.username.clone(),
            author_name: r.name.clone(),
            title: title.to_owned(),
            body: body.to_owned(),
            posted_at: self.clock.now().timestamp_millis(),
            expires_at,
            withdrawn_at: None,
        };
        Ok(self.store.post_bulletin(&b, &r.principal.entry("extract.bulletin_posted", "ok")).await?)
    }

    /// The messages `r` reads now: public ones of their comune and those for them.
    pub async fn bulletins(&self, r: &Requester) -> ServiceResult<Vec<Bulletin>> {
        Ok(self.store.bulletins(r.org.comune, &r.username, self.clock.now().timestamp_millis(), false).await?)
    }

    /// Every message of the comune, withdrawn and expired included (the TOP users' list).
    pub async fn all_bulletins(&self, r: &Requester) -> ServiceResult<Vec<Bulletin>> {
        Self::bulletin_author(r)?;
        Ok(self.store.bulletins(r.org.comune, &r.username, self.clock.now().timestamp_millis(), true).await?)
    }

    /// Withdraws message `id`.
    pub async fn withdraw_bulletin(&self, r: &Requester, id: i64) -> ServiceResult<()> {
        Self::bulletin_author(r)?;
        let e = r.principal.entry("extract.bulletin_withdrawn", "ok");
        Ok(self.store.withdraw_bulletin(r.org.comune, id, self.clock.now().timestamp_millis(), &e).await?)
    }
}
