//! `POST /.search` at the root: one query over Users and Groups (RFC 7644 §3.4.3),
//! in one read transaction (one snapshot for both types). The filter is
//! compiled for each type; a type it does not apply to (it names an attribute
//! that type lacks) contributes nothing. Users come first, then groups, and
//! paging runs over the combined list.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use scim_model::messages::{ListResponse, SearchRequest};
use scim_model::schema::{GROUP, USER};
use serde_json::Value;

use crate::ApiError;
use crate::common::ListParams;
use crate::groups::Groups;
use crate::request::ScimRequest;
use crate::resource::{ScimResource, list_bounded};
use crate::respond::scim_json;
use crate::users::Users;

pub(crate) async fn root(
    r: ScimRequest,
    body: crate::request::ScimPayload,
) -> Result<HttpResponse, ApiError> {
    let search: SearchRequest = r.parse_body(&body).await?;
    let user_params = ListParams::from_search(&USER, &search, r.config());
    let group_params = ListParams::from_search(&GROUP, &search, r.config());
    let (user_params, group_params) = match (user_params, group_params) {
        (Err(e), Err(_)) => return r.checked(Err(e)).await,
        (u, g) => (u.ok(), g.ok()),
    };
    if user_params
        .iter()
        .chain(group_params.iter())
        .any(|p| p.cursor.is_some())
    {
        return r
            .checked(Err(ApiError::bad_request(
                scim_model::ScimType::InvalidValue,
                "cursor paging is available on /Users, /Groups and their /.search; the root /.search pages by startIndex",
            )))
            .await;
    }
    let start = user_params
        .as_ref()
        .or(group_params.as_ref())
        .map_or(1, |p| p.start_index);
    let count = user_params
        .as_ref()
        .or(group_params.as_ref())
        .map_or(0, |p| p.count);
    let budget = r.config().max_list_bytes;
    let ((user_total, users, group_total, groups, user_params, group_params), tenant) = r
        .read(move |tx| {
            let mut users = Vec::new();
            let mut user_total = 0;
            let mut user_params = user_params;
            let mut used = 0;
            let mut cut = false;
            if let Some(p) = &mut user_params {
                p.count = count;
                let (page, bytes, short) = list_bounded::<Users>(tx, p, budget)?;
                user_total = page.total;
                users = page.items;
                Users::decorate(tx, &mut users, &p.projection)?;
                used = bytes;
                cut = short;
            }
            let mut groups = Vec::new();
            let mut group_total = 0;
            let mut group_params = group_params;
            if let Some(p) = &mut group_params {
                p.start_index = start.saturating_sub(user_total).max(1);
                // A page the byte budget cut short among the users asks for no
                // groups yet (the client continues after the last user).
                p.count = if cut {
                    0
                } else {
                    count.saturating_sub(users.len() as u64)
                };
                let rest = budget.saturating_sub(used).max(1);
                let (page, _, _) = list_bounded::<Groups>(tx, p, rest)?;
                group_total = page.total;
                groups = page.items;
            }
            Ok((
                user_total,
                users,
                group_total,
                groups,
                user_params,
                group_params,
            ))
        })
        .await?;
    let base = r.config().tenant_url(&tenant.slug);
    let mut items: Vec<Value> = Vec::with_capacity(users.len() + groups.len());
    if let Some(p) = &user_params {
        items.extend(
            users
                .iter()
                .map(|u| p.projection.apply(&Users::render(&base, u))),
        );
    }
    if let Some(p) = &group_params {
        items.extend(
            groups
                .iter()
                .map(|g| p.projection.apply(&Groups::render(&base, g))),
        );
    }
    Ok(scim_json(
        StatusCode::OK,
        &ListResponse::new(items, user_total + group_total, start),
    ))
}
