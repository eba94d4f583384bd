//! The development OpenID provider's login page (`auth::dev_idp`, demo only): pick one of the
//! demo identities and the level of assurance, as a citizen would on SPID's or CIE's page. 404
//! unless the provider is enabled.

use super::Ui;
use crate::auth::dev_idp::{AuthParams, check_params, enabled};
use crate::{ApiError, AppState};
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;

pub(super) fn routes() -> Router<AppState> {
    // The form posts to the provider itself (`auth::dev_idp`), at the same path.
    Router::new().route("/dev-idp/authorize", get(page))
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// The page where a demo identity is picked, with the level of assurance.
async fn page(State(state): State<AppState>, ui: Ui, headers: HeaderMap, Query(p): Query<AuthParams>) -> Result<Response, ApiError> {
    let (idp, base) = enabled(&state)?;
    check_params(&p, &base)?;
    // The forms post to another route: the same session-less anti-CSRF token as the login form.
    let (token, cookie) = super::form_token(&headers);
    let hidden = [
        ("response_type", &p.response_type),
        ("client_id", &p.client_id),
        ("redirect_uri", &p.redirect_uri),
        ("state", &p.state),
        ("nonce", &p.nonce),
        ("code_challenge", &p.code_challenge),
        ("code_challenge_method", &p.code_challenge_method),
        ("csrf", &token),
    ]
    .iter()
    .map(|(k, v)| format!(r#"<input type="hidden" name="{k}" value="{}">"#, esc(v)))
    .collect::<String>();
    let people = idp.identities.read().unwrap_or_else(|e| e.into_inner()).clone();
    let forms = people
        .iter()
        .map(|who| {
            format!(
                r#"<li class="mb-3"><form method="post" action="/dev-idp/authorize" class="d-flex flex-wrap align-items-end gap-2">{hidden}<input type="hidden" name="identity" value="{cf}">
<div class="select-wrapper"><label for="loa-{cf}">{loa}</label><select id="loa-{cf}" name="loa">{levels}</select></div>
<button type="submit" class="btn btn-primary">{enter} {name} ({cf})</button></form></li>"#,
                cf = esc(who.key()),
                levels = if who.eidas.is_some() {
                    r#"<option value="2" selected>eIDAS substantial</option><option value="3">eIDAS high</option><option value="1">eIDAS low</option>"#
                } else {
                    r#"<option value="2" selected>SpidL2</option><option value="3">SpidL3</option><option value="1">SpidL1</option>"#
                },
                name = esc(&format!("{} {}", who.given_name, who.family_name)),
                loa = esc(&ui.t("devidp-loa")),
                enter = esc(&ui.t("devidp-enter")),
            )
        })
        .collect::<String>();
    let body = format!(
        r#"<div class="alert alert-warning" role="status"><p class="mb-0">{}</p></div><ul class="list-unstyled">{forms}</ul>"#,
        esc(&ui.t("devidp-warning"))
    );
    Ok(super::with_form_cookie(super::framed(StatusCode::OK, &ui, &ui.t("devidp-title"), &body), cookie))
}
