//! The extracts' bulletin board (VIS-9): the registry office's TOP users post and withdraw
//! messages at `/ufficio/visure/bacheca`; every user reads those for them on the desk. A thin
//! door over [`anagrafe_service::extracts::ExtractDesk`].

use super::super::form::Field;
use super::super::{Chrome, Crumb, PageResult, html};
use super::{DESK, WebRequester};
use crate::AppState;
use anagrafe_service::ServiceError;
use anagrafe_service::extracts::NewBulletin;
use anagrafe_store::Bulletin;
use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use std::collections::HashMap;

/// A message as the pages show it.
pub(super) struct BulletinRow {
    pub(super) id: i64,
    pub(super) title: String,
    pub(super) body: String,
    /// "Mario Rossi, 07/12/2026 10:15".
    pub(super) byline: String,
    /// For the reader alone.
    pub(super) private: bool,
    /// Withdrawn, expired, or whom it is for (the TOP users' list).
    pub(super) state: Option<String>,
    /// Neither withdrawn nor expired.
    pub(super) in_force: bool,
}

pub(super) fn rows(c: &Chrome, list: &[Bulletin], now_ms: i64) -> Vec<BulletinRow> {
    list.iter()
        .map(|b| BulletinRow {
            id: b.id,
            title: b.title.clone(),
            body: b.body.clone(),
            byline: format!("{}, {}", b.author_name, super::super::local_time(b.posted_at)),
            private: b.recipient.is_some(),
            in_force: b.withdrawn_at.is_none() && b.expires_at.is_none_or(|e| e > now_ms),
            state: if b.withdrawn_at.is_some() {
                Some(c.t("vis-board-withdrawn"))
            } else if b.expires_at.is_some_and(|e| e <= now_ms) {
                Some(c.t("vis-board-expired"))
            } else {
                b.recipient.as_ref().map(|u| c.t1("vis-board-to", "user", u))
            },
        })
        .collect()
}

#[derive(Template)]
#[template(path = "office/extracts-board.html")]
struct BoardPage {
    c: Chrome,
    csrf: String,
    rows: Vec<BulletinRow>,
    fields: Vec<Field>,
    errors: Vec<(String, String)>,
    notice: Option<String>,
}

async fn board_view(
    state: &AppState,
    w: &WebRequester,
    typed: &HashMap<String, String>,
    errors: Vec<(String, String)>,
    notice: Option<String>,
) -> Result<BoardPage, Response> {
    let c = w.o.chrome_under("vis-board-title", "vis-title", DESK);
    let title = c.t("vis-board-title");
    let c = Chrome { crumbs: vec![Crumb { label: c.t("vis-title"), href: Some(DESK.into()) }, Crumb { label: title, href: None }], ..c };
    let list = state.extracts().all_bulletins(&w.r).await.map_err(|e| w.o.fail(e.into()))?;
    let now = state.clock.now().timestamp_millis();
    let fields = vec![
        Field::input("titolo", c.t("vis-board-f-title"), 120, "col-12").required(),
        Field::text_area("testo", c.t("vis-board-f-body"), 4000).required(),
        Field::input("destinatario", c.t("vis-board-f-recipient"), 64, "col-md-6").help(c.t("vis-board-f-recipient-help")),
        Field::date("fino_al", c.t("vis-board-f-until")).help(c.t("vis-board-f-until-help")),
    ];
    let fields = super::super::form::filled(fields, typed, &errors);
    Ok(BoardPage { csrf: w.o.s.0.session.csrf_token.clone(), rows: rows(&c, &list, now), fields, errors, notice, c })
}

pub(super) async fn board(State(state): State<AppState>, w: WebRequester) -> PageResult {
    let page = board_view(&state, &w, &HashMap::new(), Vec::new(), None).await?;
    Ok(html(StatusCode::OK, &page))
}

pub(super) async fn post(
    State(state): State<AppState>,
    headers: HeaderMap,
    w: WebRequester,
    form: Result<Form<HashMap<String, String>>, axum::extract::rejection::FormRejection>,
) -> PageResult {
    let values = form.map(|f| f.0).unwrap_or_default();
    let get = |k: &str| values.get(k).map(String::as_str).unwrap_or_default();
    w.o.check_csrf(&headers, get("csrf"))?;
    let refuse = |errors: Vec<(String, String)>| {
        let (state, w, values) = (&state, &w, &values);
        async move {
            let page = board_view(state, w, values, errors, None).await?;
            Err::<Response, Response>(html(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    };
    let until = match get("fino_al").trim() {
        "" => None,
        d => match chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(_) => return refuse(vec![("fino_al".into(), w.o.ui.why(&anagrafe_domain::Why::new("bad-date")))]).await,
        },
    };
    let new = NewBulletin {
        title: get("titolo").to_owned(),
        body: get("testo").to_owned(),
        recipient: Some(get("destinatario").to_owned()).filter(|u| !u.trim().is_empty()),
        until,
    };
    match state.extracts().post_bulletin(&w.r, &new).await {
        Ok(_) => {
            let page = board_view(&state, &w, &HashMap::new(), Vec::new(), Some(w.o.ui.t("vis-board-posted"))).await?;
            Ok(html(StatusCode::CREATED, &page))
        }
        Err(e @ ServiceError::Invalid(_)) => {
            refuse(e.field_errors().into_iter().map(|f| (f.field.clone(), w.o.ui.why(&f.reason))).collect()).await
        }
        Err(e) => Err(w.o.fail(e.into())),
    }
}

pub(super) async fn withdraw(
    State(state): State<AppState>,
    headers: HeaderMap,
    w: WebRequester,
    Path(id): Path<String>,
    form: Result<Form<HashMap<String, String>>, axum::extract::rejection::FormRejection>,
) -> PageResult {
    anagrafe_service::extracts::ExtractDesk::bulletin_author(&w.r).map_err(|e| w.o.fail(e.into()))?;
    let values = form.map(|f| f.0).unwrap_or_default();
    w.o.check_csrf(&headers, values.get("csrf").map(String::as_str).unwrap_or_default())?;
    let id: i64 = id.parse().map_err(|_| w.o.fail(crate::ApiError::NotFound("no such message".into())))?;
    state.extracts().withdraw_bulletin(&w.r, id).await.map_err(|e| w.o.fail(e.into()))?;
    let page = board_view(&state, &w, &HashMap::new(), Vec::new(), Some(w.o.ui.t("vis-board-withdrawn-notice"))).await?;
    Ok(html(StatusCode::OK, &page))
}
