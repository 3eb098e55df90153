//! What a run measured, as data (serialized by `--json`) and as text.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::client::Recorder;

/// Latency percentiles in milliseconds (nearest rank over every request).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Slowest request.
    pub max: f64,
}

impl Latency {
    /// Percentiles of latencies given in microseconds (sorts them).
    ///
    /// ```
    /// let l = scim_loadgen::Latency::from_micros(&mut (1..=100).collect::<Vec<u64>>());
    /// assert_eq!((l.p50, l.p99, l.max), (0.05, 0.099, 0.1));
    /// ```
    pub fn from_micros(us: &mut [u64]) -> Latency {
        us.sort_unstable();
        let at = |p: f64| -> f64 {
            if us.is_empty() {
                return 0.0;
            }
            // Nearest rank: the smallest value with at least p of the samples at or below it.
            let rank = (p * us.len() as f64).ceil() as usize;
            let i = rank.clamp(1, us.len()) - 1;
            us[i] as f64 / 1000.0
        };
        Latency {
            p50: at(0.50),
            p95: at(0.95),
            p99: at(0.99),
            max: at(1.0),
        }
    }
}

/// One request kind within a phase.
#[derive(Clone, Debug, Serialize)]
pub struct KindReport {
    /// `user.query`, `user.create`, `group.addMembers`, ...
    pub kind: String,
    /// Requests sent.
    pub count: u64,
    /// Requests per second over the span in which this kind ran.
    pub req_per_sec: f64,
    /// Latency percentiles, in milliseconds.
    pub latency_ms: Latency,
    /// Failed requests by HTTP status, `transport` (no response) or
    /// `unexpected` (a 2xx whose body did not match the request).
    pub errors: BTreeMap<String, u64>,
}

/// One phase: `initial`, `incremental`, `lookups` or `verify`.
#[derive(Clone, Debug, Serialize)]
pub struct PhaseReport {
    /// The phase's name.
    pub phase: String,
    /// Wall-clock seconds.
    pub elapsed_secs: f64,
    /// Requests sent.
    pub requests: u64,
    /// Requests per second over the phase.
    pub req_per_sec: f64,
    /// Latency percentiles over every request of the phase, in milliseconds.
    pub latency_ms: Latency,
    /// Failed requests.
    pub errors: u64,
    /// By request kind.
    pub kinds: Vec<KindReport>,
}

impl PhaseReport {
    pub(crate) fn new(phase: &str, elapsed: Duration, rec: Recorder) -> PhaseReport {
        let secs = elapsed.as_secs_f64();
        let mut all = Vec::new();
        let mut kinds = Vec::new();
        for (kind, mut d) in rec.kinds {
            let count = d.latencies_us.len() as u64;
            let span = match (d.first_start, d.last_end) {
                (Some(a), Some(b)) => b.saturating_duration_since(a).as_secs_f64(),
                _ => 0.0,
            };
            all.extend_from_slice(&d.latencies_us);
            kinds.push(KindReport {
                kind: kind.to_owned(),
                count,
                req_per_sec: rate(count, span),
                latency_ms: Latency::from_micros(&mut d.latencies_us),
                errors: d.errors,
            });
        }
        let requests = all.len() as u64;
        PhaseReport {
            phase: phase.to_owned(),
            elapsed_secs: secs,
            requests,
            req_per_sec: rate(requests, secs),
            latency_ms: Latency::from_micros(&mut all),
            errors: kinds.iter().flat_map(|k| k.errors.values()).sum(),
            kinds,
        }
    }
}

fn rate(count: u64, secs: f64) -> f64 {
    if secs > 0.0 { count as f64 / secs } else { 0.0 }
}

/// The end-of-run check that every acknowledged write is there.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Verification {
    /// Users whose creation was acknowledged, each read back by id.
    pub users_checked: u64,
    /// Of those, users whose suspension (`active` "False") was acknowledged.
    pub suspended_checked: u64,
    /// Of those, users whose attribute PATCH was acknowledged.
    pub patched_checked: u64,
    /// Groups whose creation was acknowledged, each read back by id.
    pub groups_checked: u64,
    /// Groups whose member count was compared with the acknowledged adds and removals.
    pub member_counts_checked: u64,
    /// Groups whose member count cannot be known (a member request got no response).
    pub member_counts_unknown: u64,
    /// Checks that failed.
    pub failures: u64,
    /// The first failures, described.
    pub examples: Vec<String>,
}

impl Verification {
    /// No check failed.
    pub fn ok(&self) -> bool {
        self.failures == 0
    }
}

/// Resident memory of the process given with `--pid`, from `/proc/PID/status`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RssReport {
    /// The process sampled.
    pub pid: u32,
    /// Largest `VmRSS` seen while sampling every 100 ms, in KiB.
    pub peak_rss_kib: u64,
    /// `VmHWM` (the kernel's peak RSS since the process started) at the end, in KiB.
    pub vm_hwm_kib: u64,
    /// `VmRSS` at the end, in KiB.
    pub final_rss_kib: u64,
    /// Samples taken.
    pub samples: u64,
}

/// The parameters a run used (tokens left out).
#[derive(Clone, Debug, Serialize)]
pub struct RunParams {
    /// Tenant URLs, in tenant order.
    pub tenant_urls: Vec<String>,
    /// Users, spread over the tenants.
    pub users: usize,
    /// Groups, spread over the tenants.
    pub groups: usize,
    /// Members per group.
    pub members: usize,
    /// Member values per add request.
    pub batch: usize,
    /// Worker threads (one connection each).
    pub concurrency: usize,
    /// Requests per second sent to each tenant (`None`: as fast as the
    /// connections allow).
    pub rate_per_tenant: Option<f64>,
    /// Seconds of lookups.
    pub duration_secs: f64,
    /// Prefix of every userName, externalId and group name.
    pub prefix: String,
    /// Phases run, in order.
    pub phases: Vec<String>,
}

/// Everything a run measured.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// What was asked for.
    pub params: RunParams,
    /// Phase by phase.
    pub phases: Vec<PhaseReport>,
    /// The end-of-run check, when the `verify` phase ran.
    pub verification: Option<Verification>,
    /// Server memory, with `--pid`.
    pub rss: Option<RssReport>,
    /// Failed requests over all phases.
    pub errors: u64,
    /// No failed request and no failed verification.
    pub ok: bool,
}

impl Report {
    pub(crate) fn finish(
        params: RunParams,
        phases: Vec<PhaseReport>,
        verification: Option<Verification>,
        rss: Option<RssReport>,
    ) -> Report {
        let errors = phases.iter().map(|p| p.errors).sum();
        let ok = errors == 0 && verification.as_ref().is_none_or(Verification::ok);
        Report {
            params,
            phases,
            verification,
            rss,
            errors,
            ok,
        }
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = &self.params;
        writeln!(
            f,
            "scim-loadgen: {} tenant(s), {} users, {} groups x {} members (batch {}), {} connections, {} s lookups, prefix {:?}",
            p.tenant_urls.len(),
            p.users,
            p.groups,
            p.members,
            p.batch,
            p.concurrency,
            p.duration_secs,
            p.prefix
        )?;
        if let Some(rate) = p.rate_per_tenant {
            writeln!(f, "paced: {rate} requests per second to each tenant")?;
        }
        for ph in &self.phases {
            let l = &ph.latency_ms;
            writeln!(
                f,
                "\nphase {}: {} requests in {:.2} s, {:.0} req/s, p50 {:.2} / p95 {:.2} / p99 {:.2} / max {:.2} ms, {} errors",
                ph.phase,
                ph.requests,
                ph.elapsed_secs,
                ph.req_per_sec,
                l.p50,
                l.p95,
                l.p99,
                l.max,
                ph.errors
            )?;
            writeln!(
                f,
                "  {:<20} {:>8} {:>9} {:>8} {:>8} {:>8} {:>8}  errors",
                "kind", "count", "req/s", "p50 ms", "p95 ms", "p99 ms", "max ms"
            )?;
            for k in &ph.kinds {
                let errors = if k.errors.is_empty() {
                    "0".to_owned()
                } else {
                    k.errors
                        .iter()
                        .map(|(s, n)| format!("{s}: {n}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let l = &k.latency_ms;
                writeln!(
                    f,
                    "  {:<20} {:>8} {:>9.0} {:>8.2} {:>8.2} {:>8.2} {:>8.2}  {}",
                    k.kind, k.count, k.req_per_sec, l.p50, l.p95, l.p99, l.max, errors
                )?;
            }
        }
        if let Some(v) = &self.verification {
            writeln!(
                f,
                "\nverification: {} users ({} suspended, {} patched) and {} groups read back, {} member counts compared ({} unknown): {}",
                v.users_checked,
                v.suspended_checked,
                v.patched_checked,
                v.groups_checked,
                v.member_counts_checked,
                v.member_counts_unknown,
                if v.ok() {
                    "ok".to_owned()
                } else {
                    format!("{} FAILED", v.failures)
                }
            )?;
            for e in &v.examples {
                writeln!(f, "  {e}")?;
            }
        }
        if let Some(r) = &self.rss {
            writeln!(
                f,
                "\nserver RSS (pid {}): peak {:.1} MiB sampled, VmHWM {:.1} MiB, at the end {:.1} MiB ({} samples)",
                r.pid,
                mib(r.peak_rss_kib),
                mib(r.vm_hwm_kib),
                mib(r.final_rss_kib),
                r.samples
            )?;
        }
        write!(
            f,
            "\n{}",
            if self.ok {
                "result: ok".to_owned()
            } else {
                format!("result: FAILED ({} failed requests)", self.errors)
            }
        )
    }
}
