//! `GET /admin/v1/tenants/{t}/events`: the tenant's change events in sequence
//! order, with an optional long poll (`docs/events.md`).
//!
//! The long poll re-reads the store every [`POLL_INTERVAL`] until an event
//! arrives or the wait ends. Between reads it holds nothing: no pooled
//! connection, no blocking thread (each read is one short read transaction on
//! the blocking pool), only a timer on the async worker. Polling the store
//! rather than a signal in this process also sees the writes of other replicas.

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};
use store_diesel::events::{self, Event};

use super::{AdminError, read, tenant_access};
use crate::ScimState;

/// Default and largest page sizes of the feed.
pub(crate) const DEFAULT_EVENTS_LIMIT: u32 = 100;
pub(crate) const MAX_EVENTS_LIMIT: u32 = 1000;
/// Longest long poll, in seconds.
pub(crate) const MAX_WAIT_SECS: u64 = 30;
/// How often a long poll re-reads the store.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// The feed's query string.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct EventsParams {
    after: Option<String>,
    limit: Option<String>,
    #[serde(rename = "type")]
    types: Option<String>,
    wait: Option<String>,
}

fn bad(msg: &str) -> AdminError {
    AdminError::BadRequest(msg.to_owned())
}

impl EventsParams {
    fn after(&self) -> Result<i64, AdminError> {
        match self.after.as_deref() {
            None | Some("") => Ok(0),
            Some(a) => {
                a.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
                    bad("after: expected a sequence number (a previous page's next)")
                })
            }
        }
    }

    fn limit(&self) -> Result<u32, AdminError> {
        match self.limit.as_deref() {
            None | Some("") => Ok(DEFAULT_EVENTS_LIMIT),
            Some(s) => s
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=MAX_EVENTS_LIMIT).contains(n))
                .ok_or_else(|| {
                    AdminError::BadRequest(format!(
                        "limit: expected an integer from 1 to {MAX_EVENTS_LIMIT}"
                    ))
                }),
        }
    }

    fn types(&self) -> Result<Vec<String>, AdminError> {
        let Some(list) = self.types.as_deref() else {
            return Ok(Vec::new());
        };
        let types: Vec<String> = list
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect();
        if types.len() > 32
            || types.iter().any(|t| {
                t.len() > 64
                    || !t
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c == '.' || c == '_')
            })
        {
            return Err(bad(
                "type: expected comma-separated event types such as user.suspended,group.member_added",
            ));
        }
        Ok(types)
    }

    fn wait(&self) -> Result<Duration, AdminError> {
        match self.wait.as_deref() {
            None | Some("") => Ok(Duration::ZERO),
            Some(s) => s
                .parse::<u64>()
                .ok()
                .filter(|n| *n <= MAX_WAIT_SECS)
                .map(Duration::from_secs)
                .ok_or_else(|| {
                    AdminError::BadRequest(format!(
                        "wait: expected whole seconds from 0 to {MAX_WAIT_SECS}"
                    ))
                }),
        }
    }
}

/// An event as the feed prints it.
pub(crate) fn event_json(e: &Event) -> Value {
    json!({
        "id": e.id,
        "seq": e.seq,
        "type": e.event_type,
        "time": e.time,
        "actor": e.actor,
        "resourceType": e.resource_type,
        "resourceId": e.resource_id,
        "data": e.data,
    })
}

pub(super) async fn list(
    req: HttpRequest,
    state: web::Data<ScimState>,
    path: web::Path<String>,
    query: web::Query<EventsParams>,
) -> Result<HttpResponse, AdminError> {
    let (tenant_id, _) = tenant_access(&req, &state, path.into_inner()).await?;
    let after = query.after()?;
    let limit = query.limit()?;
    let types = query.types()?;
    let wait = query.wait()?;
    let deadline = actix_web::rt::time::Instant::now() + wait;
    loop {
        let (tid, types) = (tenant_id.clone(), types.clone());
        let page = read(&state, move |c| {
            Ok(events::list_after(c, &tid, after, limit, &types)?)
        })
        .await?;
        let now = actix_web::rt::time::Instant::now();
        if !page.is_empty() || now >= deadline {
            // `next` is always a cursor: the last seq returned, or `after`
            // again when nothing came, so a consumer just loops on it.
            let next = page.last().map_or(after, |e| e.seq);
            let items: Vec<Value> = page.iter().map(event_json).collect();
            return Ok(HttpResponse::Ok().json(json!({
                "items": items,
                "next": next.to_string(),
            })));
        }
        actix_web::rt::time::sleep(POLL_INTERVAL.min(deadline - now)).await;
    }
}
