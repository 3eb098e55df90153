//! `POST /Bulk` (RFC 7644 §3.7): runs each operation through the same resource
//! services as the single requests (`Users`, `Groups`), in request order, in
//! **one** write transaction with a savepoint per operation: each operation is
//! atomic (a failed one leaves nothing), the token is checked once, and the
//! whole request costs one commit. A POST's `bulkId` can be referenced later as
//! `bulkId:<id>` in a `path` segment or as a string value anywhere in `data`; a
//! reference to an unknown or failed bulkId fails that operation with 409; an
//! operation referring to a POST later in the request waits for it.
//! `failOnErrors` stops the run after that many errors.
//!
//! A run of consecutive user creates (POSTs to `/Users` that refer to no
//! bulkId) is stored in one pass (`Users::create_many`) in one savepoint:
//! one savepoint instead of two per user, and on PostgreSQL multi-row
//! statements for the users, their emails, audit records and change events
//! (a few round trips per thousand users instead of a dozen per user). When the pass
//! fails (a `userName` taken, by the tenant or by another operation of the
//! run), its savepoint is rolled back and its operations run one at a time,
//! so each gets the answer it would have had on its own.

use std::collections::{HashMap, HashSet};

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use scim_model::ScimError;
use scim_model::messages::{
    BulkOperation, BulkOperationResponse, BulkRequest, BulkResponse, PatchRequest, ScimType,
};
use serde_json::Value;

use crate::ApiError;
use crate::groups::Groups;
use crate::request::{ScimRequest, Tx};
use crate::resource::{ScimResource, location, without_members};
use crate::respond::{Query, scim_json};
use crate::users::Users;

/// The prefix of a bulkId reference.
const BULK_ID_PREFIX: &str = "bulkId:";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Users,
    Groups,
}

/// What a bulk operation's `path` names.
#[derive(Debug)]
enum Target {
    Collection(Kind),
    Resource(Kind, String),
}

/// The ids of the resources created by earlier POSTs, by bulkId; `None` for a
/// POST that failed.
type BulkIds = HashMap<String, Option<String>>;

pub(crate) async fn bulk(
    r: ScimRequest,
    body: crate::request::ScimPayload,
) -> Result<HttpResponse, ApiError> {
    let request: BulkRequest = r.parse_body(&body).await?;
    let max = r.config().max_bulk_operations;
    if request.operations.len() > max as usize {
        r.authenticate().await?;
        return Err(ApiError::Scim(ScimError::new(
            413,
            format!(
                "the bulk request has {} operations; at most {max} are allowed (maxOperations in /ServiceProviderConfig)",
                request.operations.len()
            ),
        )));
    }
    let (results, _) = r.write_each(move |tx| Ok(run_all(tx, &request))).await?;
    Ok(scim_json(StatusCode::OK, &BulkResponse::new(results)))
}

/// Runs the operations, each in its own savepoint, in request order except
/// that an operation referring to a `bulkId` that a later POST declares waits
/// until that POST has run (RFC 7644 §3.7.3: a group may name users created
/// later in the same request). What can never resolve (a cycle, a reference
/// to a POST that failed) runs last and fails with 409. Results are reported
/// in request order; `failOnErrors` counts errors in the order they happen.
fn run_all(tx: &mut Tx<'_>, request: &BulkRequest) -> Vec<BulkOperationResponse> {
    let base = tx.base_url();
    let ops = &request.operations;
    let declared: HashSet<&str> = ops
        .iter()
        .filter(|op| op.method.eq_ignore_ascii_case("POST"))
        .filter_map(|op| op.bulk_id.as_deref())
        .collect();
    let mut ids = BulkIds::new();
    let mut errors: u32 = 0;
    let mut results: Vec<Option<BulkOperationResponse>> = vec![None; ops.len()];
    let waiting = |op: &BulkOperation, ids: &BulkIds| {
        references(op)
            .iter()
            .any(|r| declared.contains(r.as_str()) && !ids.contains_key(r))
    };
    // Operations waiting for a later POST, in request order. Each time a POST
    // runs, the waiting operations it unblocks run next, before the request
    // goes on (so they see the state they would have seen in order).
    let mut deferred: Vec<usize> = Vec::new();
    let mut queue: std::collections::VecDeque<usize> = (0..ops.len()).collect();
    let mut draining_rest = false;
    // Operations of a run of user creates that failed as a whole: they go
    // one at a time, which finds the one that failed and why.
    let mut one_by_one: HashSet<usize> = HashSet::new();
    while let Some(i) = queue.pop_front() {
        let Some(op) = ops.get(i) else { continue };
        if !draining_rest && waiting(op, &ids) {
            deferred.push(i);
        } else {
            if !draining_rest && !one_by_one.contains(&i) {
                let run = creates_run(tx, ops, i, &mut queue, &ids, &deferred, &one_by_one);
                if run.len() > 1 {
                    let indices: Vec<usize> = run.iter().map(|(i, _)| *i).collect();
                    let docs = run.into_iter().map(|(_, doc)| doc).collect();
                    match tx.savepoint(|tx| Users::create_many(tx, docs)) {
                        Ok(recs) => {
                            for (i, rec) in indices.into_iter().zip(recs) {
                                let Some(op) = ops.get(i) else { continue };
                                if let Some(bulk_id) = &op.bulk_id {
                                    ids.insert(bulk_id.clone(), Some(rec.id.clone()));
                                }
                                if let Some(slot) = results.get_mut(i) {
                                    *slot = Some(created_response(&base, op, &rec));
                                }
                            }
                        }
                        Err(e) => {
                            tracing::debug!(error = %e, "a run of bulk user creates goes one by one");
                            for &j in indices.iter().rev() {
                                queue.push_front(j);
                            }
                            one_by_one.extend(indices);
                            continue;
                        }
                    }
                    unblock(ops, &mut deferred, &mut queue, |o| !waiting(o, &ids));
                    if queue.is_empty() && !deferred.is_empty() {
                        draining_rest = true;
                        queue.extend(deferred.drain(..));
                    }
                    continue;
                }
            }
            let (result, created) = run_operation(tx, &base, &ids, op);
            let declares = op.method.eq_ignore_ascii_case("POST")
                && op.bulk_id.as_ref().is_some_and(|b| !ids.contains_key(b));
            if declares && let Some(bulk_id) = &op.bulk_id {
                ids.insert(bulk_id.clone(), created);
            }
            let failed = result.status >= 400;
            if let Some(slot) = results.get_mut(i) {
                *slot = Some(result);
            }
            if failed {
                errors = errors.saturating_add(1);
                if request.fail_on_errors.is_some_and(|limit| errors >= limit) {
                    break;
                }
            }
            if declares {
                unblock(ops, &mut deferred, &mut queue, |o| !waiting(o, &ids));
            }
        }
        if queue.is_empty() && !deferred.is_empty() && !draining_rest {
            // What still waits can never resolve (a cycle): it runs and fails.
            draining_rest = true;
            queue.extend(deferred.drain(..));
        }
    }
    results.into_iter().flatten().collect()
}

/// Moves the deferred operations that `ready` accepts to the front of the
/// queue, in request order: they run next, before the request goes on.
fn unblock(
    ops: &[BulkOperation],
    deferred: &mut Vec<usize>,
    queue: &mut std::collections::VecDeque<usize>,
    ready: impl Fn(&BulkOperation) -> bool,
) {
    let (now, still): (Vec<usize>, Vec<usize>) = deferred
        .iter()
        .partition(|&&d| ops.get(d).is_some_and(&ready));
    *deferred = still;
    for d in now.into_iter().rev() {
        queue.push_front(d);
    }
}

/// A run of user creates that can be stored in one pass (multi-row
/// statements; `Users::create_many`): `first` and the operations queued after
/// it, while each is a POST to `/Users` that refers to no bulkId, declares
/// no bulkId declared before, and validates. The run ends after an
/// operation whose bulkId a deferred operation waits for (which then runs
/// next, as it would one by one) and before one that must go one by one.
/// Takes the run's operations after `first` off the queue; returns each
/// operation's index with its validated document. A run of one is run as
/// any other operation.
fn creates_run(
    tx: &Tx<'_>,
    ops: &[BulkOperation],
    first: usize,
    queue: &mut std::collections::VecDeque<usize>,
    ids: &BulkIds,
    deferred: &[usize],
    one_by_one: &HashSet<usize>,
) -> Vec<(usize, Value)> {
    let mut run = Vec::new();
    let mut declared: HashSet<&str> = HashSet::new();
    let mut next = Some(first);
    while let Some(i) = next {
        let Some(op) = ops.get(i) else { break };
        if (i != first && one_by_one.contains(&i))
            || !op.method.eq_ignore_ascii_case("POST")
            || !matches!(parse_path(&op.path), Ok(Target::Collection(Kind::Users)))
            || !references(op).is_empty()
        {
            break;
        }
        if let Some(bulk_id) = op.bulk_id.as_deref()
            && (ids.contains_key(bulk_id) || !declared.insert(bulk_id))
        {
            break;
        }
        let Some(Ok(doc)) = op.data.as_ref().map(|data| Users::validate(tx, data)) else {
            break;
        };
        run.push((i, doc));
        if i != first {
            queue.pop_front();
        }
        let awaited = op.bulk_id.as_deref().is_some_and(|b| {
            deferred.iter().any(|&d| {
                ops.get(d)
                    .is_some_and(|o| references(o).iter().any(|r| r == b))
            })
        });
        if awaited {
            break;
        }
        next = queue.front().copied();
    }
    run
}

/// The answer to a POST that created `rec`.
fn created_response(
    base: &str,
    op: &BulkOperation,
    rec: &store_diesel::users::UserRecord,
) -> BulkOperationResponse {
    BulkOperationResponse {
        method: "POST".to_owned(),
        bulk_id: op.bulk_id.clone(),
        version: Some(scim_model::version_tag(Users::version(rec))),
        location: Some(location(base, Users::ENDPOINT, Users::id(rec))),
        status: 201,
        response: None,
    }
}

/// The bulkIds an operation refers to (`bulkId:<id>` in its path or anywhere
/// in its data).
fn references(op: &BulkOperation) -> Vec<String> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) => {
                if let Some(id) = s.strip_prefix(BULK_ID_PREFIX) {
                    out.push(id.to_owned());
                }
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            Value::Object(map) => map.values().for_each(|v| walk(v, out)),
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
    let mut out: Vec<String> = op
        .path
        .split('/')
        .filter_map(|seg| seg.strip_prefix(BULK_ID_PREFIX))
        .map(str::to_owned)
        .collect();
    if let Some(data) = &op.data {
        walk(data, &mut out);
    }
    out
}

/// What a successful operation answers.
#[derive(Debug)]
struct Done {
    status: u16,
    /// `Users` or `Groups`.
    endpoint: &'static str,
    id: String,
    version: Option<i64>,
    /// "Deactivation wins": the suspension was kept, the rest rejected.
    rejected: Option<ScimError>,
}

/// Runs one operation; returns its result and, for a successful POST, the id of
/// the created resource.
fn run_operation(
    tx: &mut Tx<'_>,
    base: &str,
    ids: &BulkIds,
    op: &BulkOperation,
) -> (BulkOperationResponse, Option<String>) {
    let method = op.method.to_ascii_uppercase();
    let mut out = BulkOperationResponse {
        method: if matches!(method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE") {
            method.clone()
        } else {
            op.method.clone()
        },
        bulk_id: op.bulk_id.clone(),
        version: None,
        location: None,
        status: 0,
        response: None,
    };
    let has_version = op.version.is_some();
    let result = tx.retrying(has_version, |tx| dispatch(tx, ids, op, &method));
    let failure = match result {
        Ok(Done {
            rejected: Some(e), ..
        }) => ApiError::Scim(e),
        Ok(done) => {
            out.status = done.status;
            out.version = done.version.map(scim_model::version_tag);
            out.location = Some(location(base, done.endpoint, &done.id));
            let created = (method == "POST").then_some(done.id);
            return (out, created);
        }
        Err(e) => e,
    };
    if let ApiError::Internal(detail) = &failure {
        tracing::error!(%detail, "bulk operation failed");
    }
    let body = failure.body();
    if (400..500).contains(&body.status) {
        // Like a refused single request: its changes were undone (its
        // savepoint), and the audit log says what the directory tried.
        let mut segments = op.path.trim_matches('/').split('/');
        let kind = match segments.next() {
            Some(e) if e.eq_ignore_ascii_case("Users") => "User",
            Some(e) if e.eq_ignore_ascii_case("Groups") => "Group",
            _ => "Bulk",
        };
        let id = segments
            .next()
            .map(|seg| match seg.strip_prefix(BULK_ID_PREFIX) {
                Some(b) => ids
                    .get(b)
                    .cloned()
                    .flatten()
                    .unwrap_or_else(|| seg.to_owned()),
                None => seg.to_owned(),
            })
            .filter(|id| !id.contains('\0'));
        let line = format!(
            "{} {} (in POST /Bulk)",
            out.method,
            op.path.replace('\0', "\\0")
        );
        let target = (kind, id);
        let audited = tx.savepoint(|tx| {
            crate::request::audit_rejected(tx.conn, &tx.tenant.id, &line, &target, &body)
        });
        if let Err(e) = audited {
            tracing::error!(error = %e, "cannot audit a refused bulk operation");
        }
    }
    out.status = body.status;
    out.response = serde_json::to_value(&body).ok();
    (out, None)
}

/// Resolves the operation's references and calls the resource service.
fn dispatch(
    tx: &mut Tx<'_>,
    ids: &BulkIds,
    op: &BulkOperation,
    method: &str,
) -> Result<Done, ApiError> {
    if !matches!(method, "POST" | "PUT" | "PATCH" | "DELETE") {
        return Err(ApiError::bad_request(
            ScimType::InvalidSyntax,
            format!(
                "method {:?}: a bulk operation is POST, PUT, PATCH or DELETE",
                op.method
            ),
        ));
    }
    if method == "POST"
        && let Some(bulk_id) = &op.bulk_id
        && ids.contains_key(bulk_id)
    {
        return Err(ApiError::bad_request(
            ScimType::InvalidValue,
            format!("bulkId {bulk_id:?} is already declared by an earlier operation"),
        ));
    }
    let target = parse_path(&resolve_path(&op.path, ids)?)?;
    let data = match &op.data {
        Some(data) if method != "DELETE" => {
            let mut data = data.clone();
            resolve_data(&mut data, ids)?;
            Some(data)
        }
        _ => None,
    };
    let version = op.version.as_deref();
    match (method, target) {
        ("POST", Target::Collection(kind)) => {
            let data = required(data)?;
            match kind {
                Kind::Users => created::<Users>(Users::create(tx, &data)?),
                Kind::Groups => created::<Groups>(Groups::create(tx, &data)?),
            }
        }
        ("PUT", Target::Resource(kind, id)) => {
            let data = required(data)?;
            match kind {
                Kind::Users => written::<Users>(200, Users::replace(tx, &id, &data, version)?),
                Kind::Groups => written::<Groups>(200, Groups::replace(tx, &id, &data, version)?),
            }
        }
        ("PATCH", Target::Resource(kind, id)) => {
            let patch: PatchRequest = serde_json::from_value(required(data)?).map_err(|e| {
                ApiError::bad_request(
                    ScimType::InvalidSyntax,
                    format!("the operation's data is not valid: {e}"),
                )
            })?;
            match kind {
                Kind::Users => patched::<Users>(tx, &id, &patch, version),
                Kind::Groups => patched::<Groups>(tx, &id, &patch, version),
            }
        }
        ("DELETE", Target::Resource(kind, id)) => {
            let endpoint = match kind {
                Kind::Users => {
                    Users::delete(tx, &id, version)?;
                    Users::ENDPOINT
                }
                Kind::Groups => {
                    Groups::delete(tx, &id, version)?;
                    Groups::ENDPOINT
                }
            };
            Ok(Done {
                status: 204,
                endpoint,
                id,
                version: None,
                rejected: None,
            })
        }
        (_, target) => Err(ApiError::bad_request(
            ScimType::InvalidPath,
            format!(
                "{method} {:?}: POST goes to /Users or /Groups; PUT, PATCH and DELETE to /Users/{{id}} or /Groups/{{id}}{}",
                op.path,
                match target {
                    Target::Collection(_) => " (this path names no resource)",
                    Target::Resource(..) => " (this path names a resource)",
                }
            ),
        )),
    }
}

/// The operation's `data`, which POST, PUT and PATCH require.
fn required(data: Option<Value>) -> Result<Value, ApiError> {
    data.ok_or_else(|| {
        ApiError::bad_request(
            ScimType::InvalidSyntax,
            "the operation has no 'data'; a JSON object is required",
        )
    })
}

fn created<R: ScimResource>(rec: R::Rec) -> Result<Done, ApiError> {
    Ok(Done {
        status: 201,
        endpoint: R::ENDPOINT,
        id: R::id(&rec).to_owned(),
        version: Some(R::version(&rec)),
        rejected: None,
    })
}

fn written<R: ScimResource>(
    status: u16,
    w: crate::resource::Written<R::Rec>,
) -> Result<Done, ApiError> {
    Ok(Done {
        status,
        endpoint: R::ENDPOINT,
        id: R::id(&w.rec).to_owned(),
        version: Some(R::version(&w.rec)),
        rejected: w.rejected,
    })
}

/// A PATCH answers as the single request without a query would: 200 with the
/// resource (users) or 204 (groups, whose members are then never read).
fn patched<R: ScimResource>(
    tx: &mut Tx<'_>,
    id: &str,
    patch: &PatchRequest,
    version: Option<&str>,
) -> Result<Done, ApiError> {
    let w = R::patch(tx, id, patch, version, &without_members(R::TYPE)?)?;
    let status = if R::patch_returns_resource(&Query::default()) {
        200
    } else {
        204
    };
    written::<R>(status, w)
}

/// The error of a reference to a bulkId that no earlier POST created.
fn unresolved(bulk_id: &str, ids: &BulkIds) -> ApiError {
    let why = if ids.contains_key(bulk_id) {
        "the operation that declares it failed"
    } else {
        "no earlier POST in this request declares it"
    };
    ApiError::Scim(ScimError::new(
        409,
        format!("cannot resolve bulkId:{bulk_id}: {why}"),
    ))
}

/// The id a `bulkId:<id>` reference stands for, `Ok(None)` when `s` is no reference.
fn resolve(s: &str, ids: &BulkIds) -> Result<Option<String>, ApiError> {
    let Some(bulk_id) = s.strip_prefix(BULK_ID_PREFIX) else {
        return Ok(None);
    };
    match ids.get(bulk_id) {
        Some(Some(id)) => Ok(Some(id.clone())),
        _ => Err(unresolved(bulk_id, ids)),
    }
}

/// The path with each `bulkId:<id>` segment replaced by the created id.
fn resolve_path(path: &str, ids: &BulkIds) -> Result<String, ApiError> {
    let segments = path
        .split('/')
        .map(|seg| Ok(resolve(seg, ids)?.unwrap_or_else(|| seg.to_owned())))
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(segments.join("/"))
}

/// Replaces every string value `bulkId:<id>` in `data` with the created id.
fn resolve_data(data: &mut Value, ids: &BulkIds) -> Result<(), ApiError> {
    match data {
        Value::String(s) => {
            if let Some(id) = resolve(s, ids)? {
                *s = id;
            }
        }
        Value::Array(items) => {
            for v in items {
                resolve_data(v, ids)?;
            }
        }
        Value::Object(map) => {
            for v in map.values_mut() {
                resolve_data(v, ids)?;
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
    Ok(())
}

/// `/Users`, `/Groups`, `/Users/{id}` or `/Groups/{id}` (relative to the
/// tenant base; the leading `/` may be missing).
fn parse_path(path: &str) -> Result<Target, ApiError> {
    let invalid = || {
        ApiError::bad_request(
            ScimType::InvalidPath,
            format!(
                "bulk operation path {path:?}: expected /Users, /Groups, /Users/{{id}} or /Groups/{{id}}"
            ),
        )
    };
    let rest = path.strip_prefix('/').unwrap_or(path);
    let (kind, id) = match rest.split_once('/') {
        Some((kind, id)) => (kind, Some(id)),
        None => (rest, None),
    };
    let kind = if kind.eq_ignore_ascii_case("Users") {
        Kind::Users
    } else if kind.eq_ignore_ascii_case("Groups") {
        Kind::Groups
    } else {
        return Err(invalid());
    };
    match id {
        None => Ok(Target::Collection(kind)),
        Some(id) if id.is_empty() || id.contains(['/', '?', '#']) => Err(invalid()),
        Some(id) => Ok(Target::Resource(kind, id.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_references_resolve() {
        let mut ids = BulkIds::new();
        ids.insert("u1".into(), Some("abc".into()));
        ids.insert("bad".into(), None);
        assert_eq!(
            resolve_path("/Users/bulkId:u1", &ids).unwrap(),
            "/Users/abc"
        );
        assert_eq!(
            resolve_path("/Users/bulkId:bad", &ids)
                .unwrap_err()
                .body()
                .status,
            409
        );
        assert_eq!(
            resolve_path("/Users/bulkId:nope", &ids)
                .unwrap_err()
                .body()
                .status,
            409
        );
        let mut data = serde_json::json!({"members": [{"value": "bulkId:u1"}, {"value": "x"}]});
        resolve_data(&mut data, &ids).unwrap();
        assert_eq!(data["members"][0]["value"], "abc");
        assert_eq!(data["members"][1]["value"], "x");
        assert!(matches!(
            parse_path("/Groups/g1").unwrap(),
            Target::Resource(Kind::Groups, id) if id == "g1"
        ));
        assert!(matches!(
            parse_path("Users").unwrap(),
            Target::Collection(Kind::Users)
        ));
        assert!(parse_path("/Schemas").is_err());
        assert!(parse_path("/Users/").is_err());
        assert!(parse_path("/Users/a/b").is_err());
    }
}
