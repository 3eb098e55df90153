//! `POST /.search` at the root: one query over Users and Groups (RFC 7644 §3.4.3).
//! The filter is compiled for each type; a type it does not apply to (it names an
//! attribute that type lacks) contributes nothing. Users come first, then groups,
//! and paging runs over the combined list.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use scim_model::messages::{ListResponse, SearchRequest};
use scim_model::schema::{GROUP, USER};

use crate::auth::authenticate;
use crate::common::ListParams;
use crate::respond::{parse_body, scim_json};
use crate::{ApiError, ScimState, groups, users};

pub(crate) async fn root(
    req: HttpRequest,
    state: web::Data<ScimState>,
    tenant: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let t = authenticate(&req, &state, &tenant).await?;
    let search: SearchRequest = parse_body(&body)?;
    let user_params = ListParams::from_search(&USER, &search, &state.config);
    let group_params = ListParams::from_search(&GROUP, &search, &state.config);
    let (user_params, group_params) = match (user_params, group_params) {
        (Err(e), Err(_)) => return Err(e),
        (u, g) => (u.ok(), g.ok()),
    };
    let start = user_params
        .as_ref()
        .or(group_params.as_ref())
        .map_or(1, |p| p.start_index);
    let count = user_params
        .as_ref()
        .or(group_params.as_ref())
        .map_or(0, |p| p.count);
    let mut items = Vec::new();
    let mut user_total = 0;
    if let Some(mut p) = user_params {
        p.count = count;
        let (total, page) = users::list_page(&state, &t, &p).await?;
        user_total = total;
        items.extend(page);
    }
    let mut group_total = 0;
    if let Some(mut p) = group_params {
        p.start_index = start.saturating_sub(user_total).max(1);
        p.count = count.saturating_sub(items.len() as u64);
        let (total, page) = groups::list_page(&state, &t, &p).await?;
        group_total = total;
        items.extend(page);
    }
    Ok(scim_json(
        StatusCode::OK,
        &ListResponse::new(items, user_total + group_total, start),
    ))
}
