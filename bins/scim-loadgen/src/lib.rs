//! # scim-loadgen
//!
//! Plays Microsoft Entra ID against any SCIM 2.0 base URL (a *Tenant URL*) and
//! bearer token, measures every request, and checks at the end that every write
//! the server acknowledged is there. It speaks HTTP only: it shares message
//! constants with `scim-model` and nothing with the server's crates, so it can
//! be pointed at this server, another implementation or a production deployment.
//!
//! Phases, in order (choose with [`Config::phases`], `--phases` on the command line):
//!
//! - **initial**: per user `GET /Users?filter=userName eq "..."` then `POST /Users`
//!   (Entra's body: core + enterprise schemas, `externalId`, `name`, a work email);
//!   per group `GET /Groups?filter=displayName eq "..."&excludedAttributes=members`,
//!   `POST /Groups`, then `PATCH` member adds of [`Config::batch`] values each.
//! - **incremental**: Entra's legacy-dialect `"op":"Replace"` attribute PATCHes
//!   (`displayName`, `name.givenName`, `emails[type eq "work"].value`) for 10% of
//!   the users, `active` set to the string `"False"` for 5%, and removal of 10% of
//!   each group's members (`"path":"members[value eq \"id\"]"`).
//! - **lookups**: random `userName eq` queries for [`Config::duration`].
//! - **verify**: every acknowledged user and group read back by id; suspended users
//!   must read `active: false`, patched users their new `displayName`, and each
//!   group as many members as were acknowledged.
//!
//! Each of [`Config::concurrency`] threads holds one keep-alive connection
//! (`ureq`, blocking). Users and groups are spread round-robin over the targets
//! (`--tenants`). The [`Report`] has count, req/s and p50/p95/p99/max latency per
//! phase and request kind, errors by status, the verification and, with
//! [`Config::pid`], the server's peak RSS.
//!
//! ## Example
//!
//! ```
//! use std::time::Duration;
//! use scim_loadgen::{Config, Phase, Target};
//!
//! // `URL=TOKEN`, as `--target` takes it.
//! let target: Target = "http://127.0.0.1:8080/scim/v2/default/=eyJhbGciOi".parse()?;
//! assert_eq!(target.url, "http://127.0.0.1:8080/scim/v2/default");
//!
//! let mut config = Config::new(vec![target]);
//! config.users = 20;
//! config.groups = 3;
//! config.members = 5;
//! config.duration = Duration::from_secs(1);
//! config.phases = vec![Phase::Initial, Phase::Lookups, Phase::Verify];
//! assert!(config.validate().is_ok());
//!
//! // With a server listening: `let report = scim_loadgen::run(&config)?;`, then
//! // `report.ok` is false on any failed request or failed verification.
//! # Ok::<(), scim_loadgen::Error>(())
//! ```

use std::str::FromStr;
use std::time::Duration;

mod client;
mod report;
mod rss;
mod workload;

pub use report::{KindReport, Latency, PhaseReport, Report, RssReport, RunParams, Verification};
pub use workload::run;

/// Why a run could not start or finish (failed requests are not errors: they
/// are counted in the [`Report`]).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A `--target` that is not `URL=TOKEN`.
    #[error("invalid target {0:?}: expected TENANT_URL=TOKEN with an http(s) URL")]
    InvalidTarget(String),
    /// Parameters that cannot run.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// `--pid` names a process whose memory cannot be read.
    #[error("cannot sample the memory of process {0}: {1}")]
    Pid(u32, String),
    /// A worker thread could not be started.
    #[error("cannot start a worker thread: {0}")]
    Thread(#[source] std::io::Error),
    /// A worker thread panicked (a bug in the load generator).
    #[error("a worker thread panicked")]
    WorkerPanicked,
}

/// A SCIM base URL and its bearer token.
#[derive(Clone, PartialEq, Eq)]
pub struct Target {
    /// The Tenant URL, e.g. `http://127.0.0.1:8080/scim/v2/default`, without a trailing `/`.
    pub url: String,
    /// The bearer token (Entra's *Secret Token*).
    pub token: String,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("url", &self.url)
            .field("token", &"<redacted>")
            .finish()
    }
}

impl Target {
    /// A target; a trailing `/` of the URL is dropped.
    pub fn new(url: impl Into<String>, token: impl Into<String>) -> Result<Target, Error> {
        let url: String = url.into();
        let url = url.trim().trim_end_matches('/').to_owned();
        let token: String = token.into();
        if !(url.starts_with("http://") || url.starts_with("https://")) || token.trim().is_empty() {
            return Err(Error::InvalidTarget(url));
        }
        Ok(Target {
            url,
            token: token.trim().to_owned(),
        })
    }
}

impl FromStr for Target {
    type Err = Error;

    /// `URL=TOKEN`, split at the first `=` (a Tenant URL has none; a token may end in `=`).
    fn from_str(s: &str) -> Result<Target, Error> {
        let (url, token) = s
            .split_once('=')
            .ok_or_else(|| Error::InvalidTarget(s.split('=').next().unwrap_or("").to_owned()))?;
        Target::new(url, token)
    }
}

/// A phase of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Phase {
    /// Entra's initial cycle: query then create each user; query, create and fill each group.
    Initial,
    /// Entra's incremental cycle: attribute PATCHes, suspensions, member removals.
    Incremental,
    /// Random `userName eq` lookups of the users for [`Config::duration`].
    Lookups,
    /// Read back every acknowledged write.
    Verify,
}

impl Phase {
    /// The phase's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Initial => "initial",
            Phase::Incremental => "incremental",
            Phase::Lookups => "lookups",
            Phase::Verify => "verify",
        }
    }

    /// Every phase, in the order they run.
    pub const ALL: [Phase; 4] = [
        Phase::Initial,
        Phase::Incremental,
        Phase::Lookups,
        Phase::Verify,
    ];
}

/// What to run.
#[derive(Clone, Debug)]
pub struct Config {
    /// Tenants: users and groups are spread round-robin over them.
    pub targets: Vec<Target>,
    /// Users in all (default 1,000).
    pub users: usize,
    /// Groups in all (default 10).
    pub groups: usize,
    /// Members per group, taken from the users of the group's tenant (default 50).
    pub members: usize,
    /// Member values per add request (default 100, Entra's batch).
    pub batch: usize,
    /// Worker threads, one connection each (default 8).
    pub concurrency: usize,
    /// How long the lookups phase runs (default 10 s).
    pub duration: Duration,
    /// Starts every userName (`{prefix}-u{i}@loadgen.example`), externalId and
    /// group name, so reruns against one database do not collide.
    pub prefix: String,
    /// Phases to run; they always run in the order of [`Phase::ALL`].
    pub phases: Vec<Phase>,
    /// A process (the server) whose peak RSS to report.
    pub pid: Option<u32>,
    /// Per-request timeout (default 30 s).
    pub timeout: Duration,
    /// Requests per second sent to each tenant, in every phase; `None` (the
    /// default) sends as fast as the connections allow. A phase whose
    /// achieved rate is below tenants x rate had too few connections, or a
    /// server that could not keep up.
    pub rate: Option<f64>,
}

impl Config {
    /// The defaults, every phase, prefix `lg`.
    pub fn new(targets: Vec<Target>) -> Config {
        Config {
            targets,
            users: 1000,
            groups: 10,
            members: 50,
            batch: 100,
            concurrency: 8,
            duration: Duration::from_secs(10),
            prefix: "lg".to_owned(),
            phases: Phase::ALL.to_vec(),
            pid: None,
            timeout: Duration::from_secs(30),
            rate: None,
        }
    }

    /// Checks the parameters can run.
    pub fn validate(&self) -> Result<(), Error> {
        let fail = |m: &str| Err(Error::Config(m.to_owned()));
        if self.targets.is_empty() {
            return fail("no target: give a Tenant URL and token");
        }
        if self.concurrency == 0 {
            return fail("concurrency must be at least 1");
        }
        if self
            .rate
            .is_some_and(|r| !(r.is_finite() && r > 0.0 && r <= 1_000_000.0))
        {
            return fail("rate must be a number of requests per second above 0");
        }
        if self.batch == 0 {
            return fail("batch must be at least 1");
        }
        if self.prefix.is_empty()
            || !self
                .prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        {
            return fail("prefix must be non-empty ASCII letters, digits, '-', '_' or '.'");
        }
        if self.phases.contains(&Phase::Incremental) && !self.phases.contains(&Phase::Initial) {
            return fail(
                "the incremental phase changes the users and groups the initial phase created: run both",
            );
        }
        Ok(())
    }

    /// The userName of user `i`.
    pub fn user_name(&self, i: usize) -> String {
        format!("{}-u{i}@loadgen.example", self.prefix)
    }

    /// The displayName of group `i`.
    pub fn group_name(&self, i: usize) -> String {
        format!("{}-g{i}", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_split_at_the_first_equals_sign_and_keep_padding_in_tokens() {
        let t: Target = "https://scim.example.net/scim/v2/acme=abc=="
            .parse()
            .unwrap();
        assert_eq!(t.url, "https://scim.example.net/scim/v2/acme");
        assert_eq!(t.token, "abc==");
        assert!(
            "https://scim.example.net/scim/v2/acme"
                .parse::<Target>()
                .is_err()
        );
        assert!("ftp://x=token".parse::<Target>().is_err());
        assert!("http://x=".parse::<Target>().is_err());
        assert!(
            !format!("{t:?}").contains("abc"),
            "the token is not printed"
        );
    }

    #[test]
    fn validation_refuses_what_cannot_run() {
        let t = || vec![Target::new("http://127.0.0.1:1/scim/v2/a", "t").unwrap()];
        assert!(Config::new(t()).validate().is_ok());
        assert!(Config::new(vec![]).validate().is_err());
        let mut c = Config::new(t());
        c.concurrency = 0;
        assert!(c.validate().is_err());
        let mut c = Config::new(t());
        c.prefix = "a b".to_owned();
        assert!(c.validate().is_err());
        let mut c = Config::new(t());
        c.phases = vec![Phase::Incremental];
        assert!(c.validate().is_err());
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let l = Latency::from_micros(&mut []);
        assert_eq!(l, Latency::default());
        let l = Latency::from_micros(&mut [3000, 1000, 2000]);
        assert_eq!((l.p50, l.p95, l.p99, l.max), (2.0, 3.0, 3.0, 3.0));
    }

    #[test]
    fn an_unreachable_target_counts_transport_errors_and_fails() {
        // Port 1 on loopback: nothing listens, the connection is refused at once.
        let mut c = Config::new(vec![
            Target::new("http://127.0.0.1:1/scim/v2/a", "t").unwrap(),
        ]);
        c.users = 2;
        c.groups = 0;
        c.concurrency = 1;
        c.phases = vec![Phase::Initial, Phase::Verify];
        let r = run(&c).unwrap();
        assert!(!r.ok);
        assert_eq!(r.errors, 4, "{r}");
        assert_eq!(r.phases[0].kinds[0].errors.get("transport"), Some(&2));
    }
}
