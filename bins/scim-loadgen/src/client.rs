//! One worker's HTTP connection (a `ureq` agent that keeps one connection alive
//! per host) and what it measured.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ureq::Agent;

use crate::Target;

/// The request kinds, as they appear in reports.
pub(crate) mod kind {
    pub const USER_QUERY: &str = "user.query";
    pub const USER_CREATE: &str = "user.create";
    pub const GROUP_QUERY: &str = "group.query";
    pub const GROUP_CREATE: &str = "group.create";
    pub const GROUP_ADD_MEMBERS: &str = "group.addMembers";
    pub const USER_PATCH: &str = "user.patch";
    pub const USER_SUSPEND: &str = "user.suspend";
    pub const GROUP_REMOVE_MEMBERS: &str = "group.removeMembers";
    pub const USER_LOOKUP: &str = "user.lookup";
    pub const USER_GET: &str = "user.get";
    pub const GROUP_GET: &str = "group.get";
}

/// The error key of a request that got no HTTP response (connect, I/O, timeout).
pub(crate) const TRANSPORT: &str = "transport";
/// The error key of a 2xx response whose body is not what the request implies.
pub(crate) const UNEXPECTED: &str = "unexpected";

/// What one request kind measured: latencies in microseconds, errors by key
/// (the status code, [`TRANSPORT`] or [`UNEXPECTED`]) and the time span it ran in.
#[derive(Debug, Default)]
pub(crate) struct KindData {
    pub latencies_us: Vec<u64>,
    pub errors: BTreeMap<String, u64>,
    pub first_start: Option<Instant>,
    pub last_end: Option<Instant>,
}

impl KindData {
    fn merge(&mut self, other: KindData) {
        self.latencies_us.extend(other.latencies_us);
        for (k, n) in other.errors {
            *self.errors.entry(k).or_default() += n;
        }
        self.first_start = min_opt(self.first_start, other.first_start);
        self.last_end = max_opt(self.last_end, other.last_end);
    }
}

fn min_opt(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn max_opt(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// Measurements by request kind, in the order kinds were first seen.
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    pub kinds: Vec<(&'static str, KindData)>,
}

impl Recorder {
    fn entry(&mut self, kind: &'static str) -> &mut KindData {
        let i = match self.kinds.iter().position(|(k, _)| *k == kind) {
            Some(i) => i,
            None => {
                self.kinds.push((kind, KindData::default()));
                self.kinds.len() - 1
            }
        };
        &mut self.kinds[i].1
    }

    fn record(&mut self, kind: &'static str, start: Instant, end: Instant, error: Option<String>) {
        let d = self.entry(kind);
        let us = u64::try_from(end.duration_since(start).as_micros()).unwrap_or(u64::MAX);
        d.latencies_us.push(us);
        if let Some(e) = error {
            *d.errors.entry(e).or_default() += 1;
        }
        d.first_start = min_opt(d.first_start, Some(start));
        d.last_end = max_opt(d.last_end, Some(end));
    }

    /// Counts an error on a request already recorded (a 2xx with a wrong body).
    pub fn error(&mut self, kind: &'static str, key: &str) {
        *self.entry(kind).errors.entry(key.to_owned()).or_default() += 1;
    }

    pub fn merge(&mut self, other: Recorder) {
        for (k, d) in other.kinds {
            self.entry(k).merge(d);
        }
    }
}

/// An HTTP method the load generator sends.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Method {
    Get,
    Post,
    Patch,
}

/// One worker: its connection and its measurements.
#[derive(Debug)]
pub(crate) struct Client<'a> {
    agent: Agent,
    targets: &'a [Target],
    pacer: Option<&'a Pacer>,
    pub rec: Recorder,
}

/// Spaces the requests to each tenant `1 / rate` seconds apart, over all
/// worker threads (`--rate`): each request takes the tenant's next free slot
/// (or now, when that has passed) and is sent then. When every worker is busy
/// the requests go out later than their slots and the phase's achieved rate
/// falls below tenants x rate: read it in the report next to the latencies.
#[derive(Debug)]
pub(crate) struct Pacer {
    interval: Duration,
    next: Vec<Mutex<Instant>>,
}

impl Pacer {
    /// `rate` requests per second to each of `tenants` tenants (`rate` > 0),
    /// from now.
    pub fn new(tenants: usize, rate: f64) -> Pacer {
        Self::starting(tenants, rate, Instant::now())
    }

    /// The tenants' first slots are spread over one interval from `start`
    /// (tenant `i` of `n` at `start + i/n` of it), as independent clients'
    /// would be: with every tenant on the same beat, the server would get
    /// all of them at once, then nothing.
    fn starting(tenants: usize, rate: f64, start: Instant) -> Pacer {
        let interval = Duration::from_secs_f64(1.0 / rate);
        let n = u32::try_from(tenants.max(1)).unwrap_or(u32::MAX);
        Pacer {
            interval,
            next: (0..tenants)
                .map(|i| {
                    let i = u32::try_from(i).unwrap_or(u32::MAX);
                    Mutex::new(start + interval / n * i)
                })
                .collect(),
        }
    }

    /// Takes tenant `tenant`'s next slot at time `now`.
    fn take(&self, tenant: usize, now: Instant) -> Instant {
        let Some(next) = self.next.get(tenant) else {
            return now;
        };
        let mut next = next
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // A tenant that fell idle starts again now (no burst of missed slots).
        let slot = (*next).max(now);
        *next = slot + self.interval;
        slot
    }

    /// Takes tenant `tenant`'s next slot and waits for it; returns the slot.
    fn wait(&self, tenant: usize) -> Instant {
        let slot = self.take(tenant, Instant::now());
        if let Some(wait) = slot.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        slot
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_gets_one_slot_per_interval_and_tenants_are_independent() {
        let t0 = Instant::now();
        let pacer = Pacer::starting(2, 25.0, t0);
        let step = Duration::from_millis(40);
        // Three requests asked for at once: 0, 40 and 80 ms.
        assert_eq!(pacer.take(0, t0), t0);
        assert_eq!(pacer.take(0, t0), t0 + step);
        assert_eq!(pacer.take(0, t0), t0 + 2 * step);
        // The other tenant is half a beat later, not on the same one.
        assert_eq!(pacer.take(1, t0), t0 + step / 2);
        assert_eq!(pacer.take(1, t0), t0 + step + step / 2);
        // After a long idle time tenant 0 starts again at once, without a
        // burst of every missed slot.
        let later = t0 + Duration::from_secs(10);
        assert_eq!(pacer.take(0, later), later);
        assert_eq!(pacer.take(0, later), later + step);
        // An unknown tenant is not paced.
        assert_eq!(pacer.take(7, later), later);
    }
}

/// A response: status and body. Only 2xx responses are returned to callers.
#[derive(Debug)]
pub(crate) struct Reply {
    pub body: Vec<u8>,
}

/// How a request ended.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// A 2xx response.
    Ok(Reply),
    /// A non-2xx response: the server answered and did not do it.
    Refused,
    /// No response: the write may or may not have happened.
    Unknown,
}

impl<'a> Client<'a> {
    pub fn new(targets: &'a [Target], timeout: Duration, pacer: Option<&'a Pacer>) -> Client<'a> {
        let agent: Agent = Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .max_idle_connections_per_host(1)
            .user_agent("scim-loadgen")
            .build()
            .into();
        Client {
            agent,
            targets,
            pacer,
            rec: Recorder::default(),
        }
    }

    /// Sends one request to `{tenant URL}{path}` with the tenant's bearer token,
    /// records its latency under `kind` and counts a non-2xx status or a
    /// transport failure as an error.
    pub fn send(
        &mut self,
        kind: &'static str,
        method: Method,
        tenant: usize,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Outcome {
        let Some(target) = self.targets.get(tenant) else {
            self.rec.error(kind, TRANSPORT);
            return Outcome::Unknown;
        };
        let url = format!("{}{path}", target.url);
        let auth = format!("Bearer {}", target.token);
        let start = match self.pacer {
            Some(pacer) => pacer.wait(tenant),
            None => Instant::now(),
        };
        let result = match method {
            Method::Get => {
                let mut r = self.agent.get(&url).header("Authorization", &auth);
                for (k, v) in query {
                    r = r.query(k, v);
                }
                r.header("Accept", "application/scim+json").call()
            }
            Method::Post | Method::Patch => {
                let r = match method {
                    Method::Post => self.agent.post(&url),
                    _ => self.agent.patch(&url),
                };
                r.header("Authorization", &auth)
                    .header("Accept", "application/scim+json")
                    .header("Content-Type", "application/scim+json")
                    .send(body.unwrap_or_default())
            }
        };
        let read = result.and_then(|mut resp| {
            let status = resp.status().as_u16();
            resp.body_mut()
                .with_config()
                .limit(64 * 1024 * 1024)
                .read_to_vec()
                .map(|b| (status, b))
        });
        let end = Instant::now();
        match read {
            Ok((status, body)) if (200..300).contains(&status) => {
                self.rec.record(kind, start, end, None);
                Outcome::Ok(Reply { body })
            }
            Ok((status, _)) => {
                self.rec.record(kind, start, end, Some(status.to_string()));
                Outcome::Refused
            }
            Err(_) => {
                self.rec
                    .record(kind, start, end, Some(TRANSPORT.to_owned()));
                Outcome::Unknown
            }
        }
    }
}
