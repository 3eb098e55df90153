//! The phases: what Entra ID sends, spread over worker threads.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use scim_model::messages::{LIST_RESPONSE_URN, PATCH_OP_URN};
use scim_model::schema::{ENTERPRISE_USER_URN, GROUP_SCHEMA_URN, USER_SCHEMA_URN};
use serde_json::{Value, json};

use crate::client::{Client, Method, Outcome, Pacer, Recorder, TRANSPORT, UNEXPECTED, kind};
use crate::report::{PhaseReport, Report, RunParams, Verification};
use crate::rss::Sampler;
use crate::{Config, Error, Phase, Target};

/// Microsoft's group schema URI, which Entra ID puts in `schemas` of a group POST.
const ADSCIM_GROUP_URI: &str =
    "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/Group";

/// How many verification failures the report describes.
const EXAMPLES: usize = 20;

/// A user of the run and what the server acknowledged about it.
#[derive(Debug, Clone)]
struct User {
    index: usize,
    tenant: usize,
    user_name: String,
    id: Option<String>,
    suspended: bool,
    display_name: Option<String>,
}

/// A group of the run and its acknowledged members.
#[derive(Debug, Clone)]
struct Group {
    index: usize,
    tenant: usize,
    display_name: String,
    id: Option<String>,
    members: Vec<String>,
    /// A member request got no response: the count cannot be known.
    members_unknown: bool,
}

/// Runs the configured phases and returns what they measured. Fails only when
/// the run cannot start (configuration, `--pid`, threads); failed requests and
/// failed verification are in the report (`report.ok`).
pub fn run(cfg: &Config) -> Result<Report, Error> {
    cfg.validate()?;
    let sampler = cfg.pid.map(Sampler::start).transpose()?;
    let tenants = cfg.targets.len();
    let mut users: Vec<User> = (0..cfg.users)
        .map(|i| User {
            index: i,
            tenant: i % tenants,
            user_name: cfg.user_name(i),
            id: None,
            suspended: false,
            display_name: None,
        })
        .collect();
    let mut groups: Vec<Group> = (0..cfg.groups)
        .map(|i| Group {
            index: i,
            tenant: i % tenants,
            display_name: cfg.group_name(i),
            id: None,
            members: Vec::new(),
            members_unknown: false,
        })
        .collect();

    let mut phases = Vec::new();
    let mut verification = None;
    for phase in Phase::ALL {
        if !cfg.phases.contains(&phase) {
            continue;
        }
        let start = Instant::now();
        let rec = match phase {
            Phase::Initial => initial(cfg, &mut users, &mut groups)?,
            Phase::Incremental => incremental(cfg, &mut users, &mut groups)?,
            Phase::Lookups => lookups(cfg, &users)?,
            Phase::Verify => {
                let (rec, v) = verify(cfg, &users, &groups)?;
                verification = Some(v);
                rec
            }
        };
        phases.push(PhaseReport::new(phase.name(), start.elapsed(), rec));
    }
    let rss = sampler.map(Sampler::finish).transpose()?;
    let params = RunParams {
        tenant_urls: cfg.targets.iter().map(|t| t.url.clone()).collect(),
        users: cfg.users,
        groups: cfg.groups,
        members: cfg.members,
        batch: cfg.batch,
        concurrency: cfg.concurrency,
        rate_per_tenant: cfg.rate,
        duration_secs: cfg.duration.as_secs_f64(),
        prefix: cfg.prefix.clone(),
        phases: Phase::ALL
            .iter()
            .filter(|p| cfg.phases.contains(p))
            .map(|p| p.name().to_owned())
            .collect(),
    };
    Ok(Report::finish(params, phases, verification, rss))
}

// ---- workers ---------------------------------------------------------------------------

/// Runs `work` on `cfg.concurrency` threads, each with its own client; returns
/// each thread's result and the merged measurements.
fn workers<R: Send>(
    cfg: &Config,
    work: impl Fn(&mut Client<'_>) -> R + Sync,
) -> Result<(Vec<R>, Recorder), Error> {
    let targets: &[Target] = &cfg.targets;
    let work = &work;
    let pacer = cfg.rate.map(|rate| Pacer::new(targets.len(), rate));
    let pacer = pacer.as_ref();
    std::thread::scope(|s| {
        let mut handles = Vec::with_capacity(cfg.concurrency);
        for i in 0..cfg.concurrency {
            let h = std::thread::Builder::new()
                .name(format!("loadgen-{i}"))
                .spawn_scoped(s, move || {
                    let mut client = Client::new(targets, cfg.timeout, pacer);
                    let r = work(&mut client);
                    (r, client.rec)
                })
                .map_err(Error::Thread)?;
            handles.push(h);
        }
        let mut results = Vec::with_capacity(handles.len());
        let mut rec = Recorder::default();
        for h in handles {
            let (r, one) = h.join().map_err(|_| Error::WorkerPanicked)?;
            results.push(r);
            rec.merge(one);
        }
        Ok((results, rec))
    })
}

/// Runs `task` once per item, items handed out in order to whichever thread is
/// free; returns the results in item order.
fn each<T: Sync, R: Send>(
    cfg: &Config,
    items: &[T],
    task: impl Fn(&mut Client<'_>, &T) -> R + Sync,
) -> Result<(Vec<R>, Recorder), Error> {
    let next = AtomicUsize::new(0);
    let (per_thread, rec) = workers(cfg, |c| {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(i) else {
                return done;
            };
            done.push((i, task(c, item)));
        }
    })?;
    let mut all: Vec<(usize, R)> = per_thread.into_iter().flatten().collect();
    all.sort_unstable_by_key(|(i, _)| *i);
    Ok((all.into_iter().map(|(_, r)| r).collect(), rec))
}

/// The `id` of a created resource, or an `unexpected` error.
fn created_id(c: &mut Client<'_>, kind: &'static str, outcome: Outcome) -> Result<String, bool> {
    match outcome {
        Outcome::Ok(reply) => {
            let id = serde_json::from_slice::<Value>(&reply.body)
                .ok()
                .and_then(|v| v.get("id").and_then(Value::as_str).map(str::to_owned));
            id.ok_or_else(|| {
                c.rec.error(kind, UNEXPECTED);
                true
            })
        }
        Outcome::Refused => Err(false),
        Outcome::Unknown => Err(true),
    }
}

/// `totalResults` of a ListResponse, or `None` (and an `unexpected` error).
fn total_results(c: &mut Client<'_>, kind: &'static str, outcome: Outcome) -> Option<u64> {
    let Outcome::Ok(reply) = outcome else {
        return None;
    };
    let total = serde_json::from_slice::<Value>(&reply.body)
        .ok()
        .filter(|v| v["schemas"][0] == LIST_RESPONSE_URN)
        .and_then(|v| v["totalResults"].as_u64());
    if total.is_none() {
        c.rec.error(kind, UNEXPECTED);
    }
    total
}

fn body(v: &Value) -> Vec<u8> {
    v.to_string().into_bytes()
}

// ---- initial cycle -----------------------------------------------------------------------

fn given_name(i: usize) -> String {
    format!("Given{i}")
}

fn family_name(i: usize) -> String {
    format!("Family{i}")
}

/// What Entra ID posts for a user (enterprise extension included).
fn user_body(cfg: &Config, u: &User) -> Value {
    let (given, family) = (given_name(u.index), family_name(u.index));
    json!({
        "schemas": [USER_SCHEMA_URN, ENTERPRISE_USER_URN],
        "externalId": format!("{}-ext-u{}", cfg.prefix, u.index),
        "userName": u.user_name,
        "active": true,
        "displayName": format!("{given} {family}"),
        "name": {"formatted": format!("{given} {family}"), "familyName": family, "givenName": given},
        "emails": [{"primary": true, "type": "work", "value": u.user_name}],
        ENTERPRISE_USER_URN: {"department": format!("Department {}", u.index % 10)},
    })
}

fn initial(cfg: &Config, users: &mut [User], groups: &mut [Group]) -> Result<Recorder, Error> {
    // Users: Entra asks whether the user exists, then creates it.
    let (ids, mut rec) = each(cfg, users, |c, u| {
        let filter = format!("userName eq \"{}\"", u.user_name);
        let q = c.send(
            kind::USER_QUERY,
            Method::Get,
            u.tenant,
            "/Users",
            &[("filter", &filter)],
            None,
        );
        total_results(c, kind::USER_QUERY, q);
        let b = body(&user_body(cfg, u));
        let r = c.send(
            kind::USER_CREATE,
            Method::Post,
            u.tenant,
            "/Users",
            &[],
            Some(&b),
        );
        created_id(c, kind::USER_CREATE, r).ok()
    })?;
    for (u, id) in users.iter_mut().zip(ids) {
        u.id = id;
    }

    // Members of each group come from the created users of its tenant.
    let tenants = cfg.targets.len();
    let by_tenant: Vec<Vec<&str>> = (0..tenants)
        .map(|t| {
            users
                .iter()
                .filter(|u| u.tenant == t)
                .filter_map(|u| u.id.as_deref())
                .collect()
        })
        .collect();
    let planned: Vec<Vec<String>> = groups
        .iter()
        .map(|g| {
            let pool = by_tenant
                .get(g.tenant)
                .map(Vec::as_slice)
                .unwrap_or_default();
            let n = cfg.members.min(pool.len());
            let k = g.index / tenants;
            (0..n)
                .map(|j| pool[(k * n + j) % pool.len()].to_owned())
                .collect()
        })
        .collect();

    let (results, group_rec) = each(cfg, groups, |c, g| {
        let filter = format!("displayName eq \"{}\"", g.display_name);
        let q = c.send(
            kind::GROUP_QUERY,
            Method::Get,
            g.tenant,
            "/Groups",
            &[("filter", &filter), ("excludedAttributes", "members")],
            None,
        );
        total_results(c, kind::GROUP_QUERY, q);
        let b = body(&json!({
            "schemas": [GROUP_SCHEMA_URN, ADSCIM_GROUP_URI],
            "externalId": format!("{}-ext-g{}", cfg.prefix, g.index),
            "displayName": g.display_name,
            "members": [],
        }));
        let r = c.send(
            kind::GROUP_CREATE,
            Method::Post,
            g.tenant,
            "/Groups",
            &[],
            Some(&b),
        );
        let Ok(id) = created_id(c, kind::GROUP_CREATE, r) else {
            return (None, Vec::new(), false);
        };
        let path = format!("/Groups/{id}");
        let mut acked = Vec::new();
        let mut unknown = false;
        for chunk in planned
            .get(g.index)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .chunks(cfg.batch)
        {
            let values: Vec<Value> = chunk.iter().map(|m| json!({"value": m})).collect();
            let b = body(&json!({
                "schemas": [PATCH_OP_URN],
                "Operations": [{"op": "Add", "path": "members", "value": values}],
            }));
            match c.send(
                kind::GROUP_ADD_MEMBERS,
                Method::Patch,
                g.tenant,
                &path,
                &[],
                Some(&b),
            ) {
                Outcome::Ok(_) => acked.extend_from_slice(chunk),
                Outcome::Refused => {}
                Outcome::Unknown => unknown = true,
            }
        }
        (Some(id), acked, unknown)
    })?;
    for (g, (id, members, unknown)) in groups.iter_mut().zip(results) {
        g.id = id;
        g.members = members;
        g.members_unknown = unknown;
    }
    rec.merge(group_rec);
    Ok(rec)
}

// ---- incremental cycle -------------------------------------------------------------------

#[derive(Debug)]
enum Change {
    /// A legacy-dialect attribute PATCH of user `index`.
    Patch(usize),
    /// `active` "False" for user `index`.
    Suspend(usize),
    /// Removal of these members from group `index`.
    Remove(usize, Vec<String>),
}

/// The displayName an attribute PATCH gives user `i`.
fn patched_display_name(i: usize) -> String {
    format!("{} {} (changed)", given_name(i), family_name(i))
}

fn incremental(cfg: &Config, users: &mut [User], groups: &mut [Group]) -> Result<Recorder, Error> {
    // 10% of the users get attribute changes, another 5% are suspended (disjoint).
    let mut changes: Vec<Change> = Vec::new();
    for u in users.iter().filter(|u| u.id.is_some()) {
        if u.index % 20 == 0 {
            changes.push(Change::Suspend(u.index));
        } else if u.index % 10 == 5 {
            changes.push(Change::Patch(u.index));
        }
    }
    // 10% of each group's members (at least one) are removed.
    for g in groups.iter().filter(|g| g.id.is_some()) {
        let n = g.members.len().div_ceil(10);
        let gone = &g.members[g.members.len() - n..];
        for chunk in gone.chunks(cfg.batch) {
            changes.push(Change::Remove(g.index, chunk.to_vec()));
        }
    }
    let users_ro: &[User] = users;
    let groups_ro: &[Group] = groups;
    let (outcomes, rec) = each(cfg, &changes, |c, change| match change {
        Change::Patch(i) => {
            let Some(u) = users_ro.get(*i) else {
                return Outcome::Refused;
            };
            let b = body(&json!({
                "schemas": [PATCH_OP_URN],
                "Operations": [
                    {"op": "Replace", "path": "displayName", "value": patched_display_name(*i)},
                    {"op": "Replace", "path": "name.givenName", "value": format!("{} (changed)", given_name(*i))},
                    {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": format!("{}-u{i}.changed@loadgen.example", cfg.prefix)},
                ],
            }));
            user_patch(c, kind::USER_PATCH, u, &b)
        }
        Change::Suspend(i) => {
            let Some(u) = users_ro.get(*i) else {
                return Outcome::Refused;
            };
            let b = body(&json!({
                "schemas": [PATCH_OP_URN],
                "Operations": [{"op": "Replace", "path": "active", "value": "False"}],
            }));
            user_patch(c, kind::USER_SUSPEND, u, &b)
        }
        Change::Remove(i, members) => {
            let Some((g, Some(id))) = groups_ro.get(*i).map(|g| (g, g.id.as_deref())) else {
                return Outcome::Refused;
            };
            let ops: Vec<Value> = members
                .iter()
                .map(|m| json!({"op": "Remove", "path": format!("members[value eq \"{m}\"]")}))
                .collect();
            let b = body(&json!({"schemas": [PATCH_OP_URN], "Operations": ops}));
            c.send(
                kind::GROUP_REMOVE_MEMBERS,
                Method::Patch,
                g.tenant,
                &format!("/Groups/{id}"),
                &[],
                Some(&b),
            )
        }
    })?;
    for (change, outcome) in changes.into_iter().zip(outcomes) {
        let acked = matches!(outcome, Outcome::Ok(_));
        let unknown = matches!(outcome, Outcome::Unknown);
        match change {
            Change::Patch(i) => {
                if let Some(u) = users.get_mut(i)
                    && acked
                {
                    u.display_name = Some(patched_display_name(i));
                }
            }
            Change::Suspend(i) => {
                if let Some(u) = users.get_mut(i) {
                    u.suspended = acked;
                }
            }
            Change::Remove(i, members) => {
                if let Some(g) = groups.get_mut(i) {
                    if acked {
                        g.members.retain(|m| !members.contains(m));
                    }
                    g.members_unknown |= unknown;
                }
            }
        }
    }
    Ok(rec)
}

fn user_patch(c: &mut Client<'_>, kind: &'static str, u: &User, b: &[u8]) -> Outcome {
    let Some(id) = u.id.as_deref() else {
        return Outcome::Refused;
    };
    c.send(
        kind,
        Method::Patch,
        u.tenant,
        &format!("/Users/{id}"),
        &[],
        Some(b),
    )
}

// ---- lookups -----------------------------------------------------------------------------

fn lookups(cfg: &Config, users: &[User]) -> Result<Recorder, Error> {
    // The users created in this run; without the initial phase, the users a
    // previous run with the same prefix and counts created.
    let created = cfg.phases.contains(&Phase::Initial);
    let pool: Vec<&User> = users
        .iter()
        .filter(|u| !created || u.id.is_some())
        .collect();
    if pool.is_empty() {
        return Ok(Recorder::default());
    }
    let deadline = Instant::now() + cfg.duration;
    let (_, rec) = workers(cfg, |c| {
        while Instant::now() < deadline {
            let u = pool[rand::random_range(0..pool.len())];
            let filter = format!("userName eq \"{}\"", u.user_name);
            let r = c.send(
                kind::USER_LOOKUP,
                Method::Get,
                u.tenant,
                "/Users",
                &[("filter", &filter)],
                None,
            );
            if let Some(n) = total_results(c, kind::USER_LOOKUP, r)
                && n != 1
            {
                c.rec.error(kind::USER_LOOKUP, UNEXPECTED);
            }
        }
    })?;
    Ok(rec)
}

// ---- verification ------------------------------------------------------------------------

#[derive(Debug)]
enum Check<'a> {
    User(&'a User, &'a str),
    Group(&'a Group, &'a str),
}

fn verify(
    cfg: &Config,
    users: &[User],
    groups: &[Group],
) -> Result<(Recorder, Verification), Error> {
    let checks: Vec<Check<'_>> = users
        .iter()
        .filter_map(|u| u.id.as_deref().map(|id| Check::User(u, id)))
        .chain(
            groups
                .iter()
                .filter_map(|g| g.id.as_deref().map(|id| Check::Group(g, id))),
        )
        .collect();
    let (failures, rec) = each(cfg, &checks, |c, check| -> Result<(), String> {
        match check {
            Check::User(u, id) => {
                let r = c.send(
                    kind::USER_GET,
                    Method::Get,
                    u.tenant,
                    &format!("/Users/{id}"),
                    &[],
                    None,
                );
                let v = read_back(c, kind::USER_GET, r, || {
                    format!("user {} ({id}) cannot be read", u.user_name)
                })?;
                if v["userName"] != u.user_name.as_str() {
                    return Err(format!(
                        "user {id}: userName {} instead of {}",
                        v["userName"], u.user_name
                    ));
                }
                if u.suspended && v["active"] != false {
                    return Err(format!(
                        "user {} ({id}) was suspended but reads active {}",
                        u.user_name, v["active"]
                    ));
                }
                if let Some(dn) = &u.display_name
                    && v["displayName"] != dn.as_str()
                {
                    return Err(format!(
                        "user {} ({id}) reads displayName {} instead of {dn:?}",
                        u.user_name, v["displayName"]
                    ));
                }
                Ok(())
            }
            Check::Group(g, id) => {
                let r = c.send(
                    kind::GROUP_GET,
                    Method::Get,
                    g.tenant,
                    &format!("/Groups/{id}"),
                    &[],
                    None,
                );
                let v = read_back(c, kind::GROUP_GET, r, || {
                    format!("group {} ({id}) cannot be read", g.display_name)
                })?;
                let n = v["members"].as_array().map_or(0, Vec::len);
                if !g.members_unknown && n != g.members.len() {
                    return Err(format!(
                        "group {} ({id}) has {n} members, {} acknowledged",
                        g.display_name,
                        g.members.len()
                    ));
                }
                Ok(())
            }
        }
    })?;
    let mut v = Verification {
        users_checked: users.iter().filter(|u| u.id.is_some()).count() as u64,
        suspended_checked: users.iter().filter(|u| u.suspended).count() as u64,
        patched_checked: users.iter().filter(|u| u.display_name.is_some()).count() as u64,
        groups_checked: groups.iter().filter(|g| g.id.is_some()).count() as u64,
        member_counts_checked: groups
            .iter()
            .filter(|g| g.id.is_some() && !g.members_unknown)
            .count() as u64,
        member_counts_unknown: groups
            .iter()
            .filter(|g| g.id.is_some() && g.members_unknown)
            .count() as u64,
        ..Verification::default()
    };
    for f in failures.into_iter().filter_map(Result::err) {
        v.failures += 1;
        if v.examples.len() < EXAMPLES {
            v.examples.push(f);
        }
    }
    Ok((rec, v))
}

/// The JSON of a 2xx read, or the failure's description.
fn read_back(
    c: &mut Client<'_>,
    kind: &'static str,
    outcome: Outcome,
    describe: impl Fn() -> String,
) -> Result<Value, String> {
    match outcome {
        Outcome::Ok(reply) => serde_json::from_slice(&reply.body).map_err(|_| {
            c.rec.error(kind, UNEXPECTED);
            describe()
        }),
        Outcome::Refused => Err(describe()),
        Outcome::Unknown => Err(format!("{} ({TRANSPORT})", describe())),
    }
}
