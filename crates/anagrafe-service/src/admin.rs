//! The system administrator's use cases (issue 18, item 5, begun): the overview of who may act
//! (operators and their roles, second factors, locks) and of what protects the register
//! (blocked addresses, the trace's last checkpoint). Reading it is traced: the operators' names
//! and codes are personal data.

use crate::{Clock, Principal, ServiceResult};
use anagrafe_domain::Role;
use anagrafe_store::{Checkpoint, Operator, Store};
use std::sync::Arc;

/// The administrator's desk.
#[derive(Debug, Clone)]
pub struct AdminDesk {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
}

/// What the administrator sees at a glance.
#[derive(Debug, Clone)]
pub struct Overview {
    /// Every operator account, by name.
    pub operators: Vec<Operator>,
    /// Addresses blocked now, with the end of each block (epoch ms).
    pub blocked: Vec<(String, i64)>,
    /// The trace's head.
    pub trace_head: i64,
    /// The latest signed checkpoint.
    pub last_checkpoint: Option<Checkpoint>,
}

impl AdminDesk {
    /// The desk over `store`, reading the time from `clock`.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    /// The overview; the read is traced as `admin.overview`.
    pub async fn overview(&self, who: &Principal) -> ServiceResult<Overview> {
        who.require(&[Role::SystemAdmin], "the administration's overview")?;
        let mut operators = Vec::new();
        for name in self.store.operator_names().await? {
            if let Some(o) = self.store.operator(&name).await? {
                operators.push(o);
            }
        }
        let blocked = self.store.blocked_addresses(self.clock.now_ms()).await?;
        let (trace_head, _) = self.store.audit_head().await?;
        let last_checkpoint = self.store.checkpoints().await?.into_iter().max_by_key(|c| (c.seq, c.at_ms));
        let mut e = who.entry("admin.overview", "ok");
        e.detail = serde_json::json!({ "operators": operators.len(), "blocked": blocked.len() }).to_string();
        self.store.audit(&e).await?;
        Ok(Overview { operators, blocked, trace_head, last_checkpoint })
    }
}
