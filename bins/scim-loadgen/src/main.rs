//! `scim-loadgen`: plays Microsoft Entra ID against a SCIM base URL. See the
//! library's documentation and `docs/performance.md`.

use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use clap::Parser;
use scim_loadgen::{Config, Phase, Target};

/// Plays Microsoft Entra ID against a SCIM 2.0 Tenant URL: initial cycle,
/// incremental cycle, random lookups, then reads back every acknowledged write.
/// Exits 1 on any failed request or failed verification.
#[derive(Debug, Parser)]
#[command(name = "scim-loadgen", version)]
struct Args {
    /// Tenant URL (SCIM base URL), e.g. http://127.0.0.1:8080/scim/v2/default
    #[arg(long, env = "SCIM_URL", requires = "token")]
    url: Option<String>,
    /// Bearer token (Secret Token) of --url
    #[arg(long, env = "SCIM_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// A tenant as TENANT_URL=TOKEN; repeat for several tenants
    #[arg(long = "target", value_name = "URL=TOKEN")]
    targets: Vec<String>,
    /// A file of tenants, one TENANT_URL=TOKEN per line (blank lines and # comments ignored)
    #[arg(long, value_name = "PATH")]
    targets_file: Option<std::path::PathBuf>,
    /// Use the first N tenants given (--url, then --target, then --targets-file); default: all
    #[arg(long, value_name = "N")]
    tenants: Option<usize>,
    /// Users in all, spread round-robin over the tenants
    #[arg(long, default_value_t = 1000)]
    users: usize,
    /// Groups in all, spread round-robin over the tenants
    #[arg(long, default_value_t = 10)]
    groups: usize,
    /// Members per group
    #[arg(long, default_value_t = 50)]
    members: usize,
    /// Member values per add request
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// Worker threads, one keep-alive connection each
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Seconds of random userName lookups
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Prefix of userNames, externalIds and group names (default: lg<unix time>, so reruns do not collide)
    #[arg(long)]
    prefix: Option<String>,
    /// Phases to run (comma-separated; they always run in this order)
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "initial,incremental,lookups,verify"
    )]
    phases: Vec<Phase>,
    /// Report the peak RSS of this process (the server), from /proc/PID/status
    #[arg(long)]
    pid: Option<u32>,
    /// Requests per second to each tenant, in every phase (default: as fast as the connections
    /// allow); compare each phase's req/s with tenants x rate
    #[arg(long, value_name = "REQ_PER_S")]
    rate: Option<f64>,
    /// Per-request timeout in seconds
    #[arg(long, default_value_t = 30.0)]
    timeout: f64,
    /// Print one JSON document instead of text
    #[arg(long)]
    json: bool,
}

fn targets(args: &Args) -> anyhow::Result<Vec<Target>> {
    let mut all = Vec::new();
    if let (Some(url), Some(token)) = (&args.url, &args.token) {
        all.push(Target::new(url.as_str(), token.as_str())?);
    }
    for t in &args.targets {
        all.push(t.parse()?);
    }
    if let Some(path) = &args.targets_file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        for line in text.lines().map(str::trim) {
            if !line.is_empty() && !line.starts_with('#') {
                all.push(line.parse()?);
            }
        }
    }
    if let Some(n) = args.tenants {
        if n == 0 || all.len() < n {
            bail!("--tenants {n}: {} tenant(s) given", all.len());
        }
        all.truncate(n);
    }
    if all.is_empty() {
        bail!("give a tenant: --url and --token, --target URL=TOKEN or --targets-file");
    }
    Ok(all)
}

fn seconds(name: &str, s: f64) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(s).with_context(|| format!("--{name} {s}: not a duration"))
}

fn main() -> anyhow::Result<ExitCode> {
    let args = Args::parse();
    let mut cfg = Config::new(targets(&args)?);
    cfg.users = args.users;
    cfg.groups = args.groups;
    cfg.members = args.members;
    cfg.batch = args.batch;
    cfg.concurrency = args.concurrency;
    cfg.duration = seconds("duration", args.duration)?;
    cfg.timeout = seconds("timeout", args.timeout)?;
    cfg.phases = args.phases.clone();
    cfg.pid = args.pid;
    cfg.rate = args.rate;
    cfg.prefix = match &args.prefix {
        Some(p) => p.clone(),
        None => format!(
            "lg{}",
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        ),
    };
    let report = scim_loadgen::run(&cfg)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{report}");
    }
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
