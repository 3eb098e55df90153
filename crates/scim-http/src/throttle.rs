//! Rate limits: per tenant for authenticated SCIM traffic, per client address
//! for everything that is not (yet) authenticated. Both answer `429` with
//! `Retry-After` before any database work.
//!
//! * **Per tenant.** A request whose bearer value carries this server's
//!   signature counts against its tenant's budget (the tenant id comes from the
//!   verified token, so nobody can spend another tenant's budget without its
//!   token). The budget is [`ThrottleConfig::tenant_per_second`] requests per
//!   second with a burst of twice that, unless the tenant has its own limit
//!   (`tenants.rate_limit`, set through the admin API): the limiter learns a
//!   tenant's own limit from the row its requests read anyway, so the check
//!   itself never touches the database. `0` disables the limit.
//! * **Per client address.** Requests without a valid credential (no or a
//!   foreign bearer value, failed admin or console sign-ins, the public
//!   activation and OAuth token routes) count against their address:
//!   [`ThrottleConfig::unauthenticated_per_minute`], burst of the same size.
//! * **Client address.** The TCP peer, or, when the peer is one of
//!   [`ThrottleConfig::trusted_proxies`], the right-most address of
//!   `X-Forwarded-For` that is not itself a trusted proxy.
//!
//! Limits are kept in memory, per replica (see the operations guide).
//!
//! ```
//! use scim_http::throttle::{Throttle, ThrottleConfig};
//!
//! let mut config = ThrottleConfig::default();
//! config.tenant_per_second = 1;
//! let throttle = Throttle::new(config);
//! assert!(throttle.check_tenant("t1").is_ok());
//! assert!(throttle.check_tenant("t1").is_ok()); // the burst is twice the rate
//! let wait = throttle.check_tenant("t1").unwrap_err();
//! assert!(wait.retry_after_secs() >= 1);
//! assert!(throttle.check_tenant("t2").is_ok()); // another tenant's budget
//! ```

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, web};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use ipnet::IpNet;

/// Distinct client addresses remembered before idle ones are forgotten.
const ADDRESSES_KEPT: usize = 10_000;

/// The limits. [`ThrottleConfig::default`] gives the documented defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ThrottleConfig {
    /// Requests per second per tenant (burst: twice as many); `0`: unlimited.
    /// A tenant's own limit, when set, replaces it.
    pub tenant_per_second: u32,
    /// Unauthenticated requests per minute per client address (burst: as
    /// many); `0`: unlimited.
    pub unauthenticated_per_minute: u32,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
}

impl Default for ThrottleConfig {
    /// 500 requests/s per tenant (Entra ID asks for 25; its provisioning
    /// service does not exceed a few dozen), 120 unauthenticated requests per
    /// minute per address, no trusted proxy.
    fn default() -> Self {
        ThrottleConfig {
            tenant_per_second: 500,
            unauthenticated_per_minute: 120,
            trusted_proxies: Vec::new(),
        }
    }
}

/// A refused request: how long the client should wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooManyRequests {
    retry_after_secs: u64,
}

impl TooManyRequests {
    /// Whole seconds until a request would be allowed again (at least 1).
    pub fn retry_after_secs(&self) -> u64 {
        self.retry_after_secs
    }
}

/// What a 429 was for (metrics label).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitKind {
    /// A tenant's budget.
    Tenant,
    /// An address's budget for unauthenticated requests.
    Unauthenticated,
}

struct TenantBucket {
    per_second: u32,
    limiter: Option<DefaultDirectRateLimiter>,
}

impl TenantBucket {
    fn new(per_second: u32) -> Self {
        TenantBucket {
            per_second,
            limiter: NonZeroU32::new(per_second).map(|rate| {
                let burst = NonZeroU32::new(per_second.saturating_mul(2)).unwrap_or(rate);
                RateLimiter::direct(Quota::per_second(rate).allow_burst(burst))
            }),
        }
    }
}

/// The server's rate limiters (one per process; share it as `web::Data`).
pub struct Throttle {
    config: ThrottleConfig,
    tenants: RwLock<HashMap<String, Arc<TenantBucket>>>,
    own_limits: RwLock<HashMap<String, u32>>,
    addresses: Option<DefaultKeyedRateLimiter<IpAddr>>,
    clock: DefaultClock,
    refused_tenant: AtomicU64,
    refused_unauthenticated: AtomicU64,
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttle")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Throttle {
    /// Limiters for `config`.
    pub fn new(config: ThrottleConfig) -> Self {
        let addresses = NonZeroU32::new(config.unauthenticated_per_minute)
            .map(|n| RateLimiter::keyed(Quota::per_minute(n)));
        Throttle {
            config,
            tenants: RwLock::new(HashMap::new()),
            own_limits: RwLock::new(HashMap::new()),
            addresses,
            clock: DefaultClock::default(),
            refused_tenant: AtomicU64::new(0),
            refused_unauthenticated: AtomicU64::new(0),
        }
    }

    /// Limiters that never refuse (for embedders and benchmarks).
    pub fn unlimited() -> Self {
        Throttle::new(ThrottleConfig {
            tenant_per_second: 0,
            unauthenticated_per_minute: 0,
            trusted_proxies: Vec::new(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ThrottleConfig {
        &self.config
    }

    /// The limit that applies to `tenant_id` (requests per second, `0`:
    /// unlimited): its own, once learned, or the server's default.
    pub fn tenant_limit(&self, tenant_id: &str) -> u32 {
        self.own_limits
            .read()
            .ok()
            .and_then(|m| m.get(tenant_id).copied())
            .unwrap_or(self.config.tenant_per_second)
    }

    /// Records the tenant's own limit as stored (`None`: the server default).
    /// Called with the tenant row every authenticated request reads.
    pub fn learn_tenant_limit(&self, tenant_id: &str, own: Option<i32>) {
        let own = own.map(|n| u32::try_from(n).unwrap_or(0));
        let known = self
            .own_limits
            .read()
            .ok()
            .map(|m| m.get(tenant_id).copied());
        if known == Some(own) {
            return;
        }
        if let Ok(mut m) = self.own_limits.write() {
            match own {
                Some(n) => m.insert(tenant_id.to_owned(), n),
                None => m.remove(tenant_id),
            };
        }
    }

    /// Counts one request of `tenant_id` (from a verified token).
    pub fn check_tenant(&self, tenant_id: &str) -> Result<(), TooManyRequests> {
        let per_second = self.tenant_limit(tenant_id);
        if per_second == 0 {
            return Ok(());
        }
        let bucket = self
            .tenants
            .read()
            .ok()
            .and_then(|m| m.get(tenant_id).cloned())
            .filter(|b| b.per_second == per_second);
        let bucket = match bucket {
            Some(b) => b,
            None => {
                let fresh = Arc::new(TenantBucket::new(per_second));
                if let Ok(mut m) = self.tenants.write() {
                    let entry = m
                        .entry(tenant_id.to_owned())
                        .or_insert_with(|| fresh.clone());
                    if entry.per_second != per_second {
                        *entry = fresh.clone();
                    }
                    entry.clone()
                } else {
                    fresh
                }
            }
        };
        let Some(limiter) = &bucket.limiter else {
            return Ok(());
        };
        limiter.check().map_err(|not_until| {
            self.refused_tenant.fetch_add(1, Ordering::Relaxed);
            self.refusal(not_until.wait_time_from(self.clock.now()))
        })
    }

    /// Counts one unauthenticated request from `addr` (`None`: the address is
    /// unknown, which only happens off a socket; not limited).
    pub fn check_unauthenticated(&self, addr: Option<IpAddr>) -> Result<(), TooManyRequests> {
        let (Some(limiter), Some(addr)) = (&self.addresses, addr) else {
            return Ok(());
        };
        if limiter.len() > ADDRESSES_KEPT {
            limiter.retain_recent();
        }
        limiter.check_key(&addr).map_err(|not_until| {
            self.refused_unauthenticated.fetch_add(1, Ordering::Relaxed);
            self.refusal(not_until.wait_time_from(self.clock.now()))
        })
    }

    /// [`Throttle::check_unauthenticated`] for the address of `req`.
    pub fn check_request(&self, req: &HttpRequest) -> Result<(), TooManyRequests> {
        self.check_unauthenticated(self.client_addr(req))
    }

    /// Requests refused so far, by kind.
    pub fn refused(&self, kind: LimitKind) -> u64 {
        match kind {
            LimitKind::Tenant => self.refused_tenant.load(Ordering::Relaxed),
            LimitKind::Unauthenticated => self.refused_unauthenticated.load(Ordering::Relaxed),
        }
    }

    /// The client's address: the peer, or what a trusted proxy says it
    /// forwarded for.
    pub fn client_addr(&self, req: &HttpRequest) -> Option<IpAddr> {
        let peer = req.peer_addr()?.ip();
        client_addr(peer, req, &self.config.trusted_proxies)
    }

    fn refusal(&self, wait: std::time::Duration) -> TooManyRequests {
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        TooManyRequests {
            retry_after_secs: secs.max(1),
        }
    }
}

/// Middleware (`middleware::from_fn(limit_unauthenticated)`): every request
/// that does not carry a credential checkable without the database (a bearer
/// value this server signed, or the admin token) counts against its client
/// address, and is answered `429` once the address's budget is spent, before
/// any handler or database work. `GET /healthz` is never counted. Without a
/// `web::Data<Throttle>` in the App it does nothing.
pub async fn limit_unauthenticated(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if let Some(throttle) = req.app_data::<web::Data<Throttle>>()
        && req.path() != "/healthz"
        && !carries_known_credential(req.request())
        && let Err(limited) = throttle.check_request(req.request())
    {
        let (http, _) = req.into_parts();
        let secs = limited.retry_after_secs();
        let mut res = crate::error::error_response_styled(
            crate::error::request_style(&http),
            actix_web::http::StatusCode::TOO_MANY_REQUESTS,
            &format!(
                "too many requests without valid credentials from this client address; retry after {secs} s"
            ),
        );
        res.headers_mut().insert(
            actix_web::http::header::RETRY_AFTER,
            actix_web::http::header::HeaderValue::from(secs),
        );
        res.head_mut()
            .set_connection_type(actix_web::http::ConnectionType::Close);
        return Ok(ServiceResponse::new(http, res).map_into_right_body());
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

/// Whether the request's bearer value is one the server can vouch for
/// without the database: signed by this server (Secret Token or access token;
/// whether it is still current is the handler's business, and its requests
/// count against its tenant) or the operator's admin token.
fn carries_known_credential(req: &HttpRequest) -> bool {
    let Some(token) = crate::auth::bearer(req) else {
        return false;
    };
    if let Some(state) = req.app_data::<web::Data<crate::ScimState>>()
        && crate::request::signed_by_this_server(state, token)
    {
        return true;
    }
    crate::admin::presents_admin_token(req)
}

/// The client address of a request that arrived from `peer`.
fn client_addr(peer: IpAddr, req: &HttpRequest, trusted: &[IpNet]) -> Option<IpAddr> {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let mut client = peer;
    // Right to left: each trusted hop vouches for the one before it.
    for value in req
        .headers()
        .get_all("x-forwarded-for")
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
    {
        let Ok(value) = value.to_str() else {
            return Some(client);
        };
        for hop in value.rsplit(',') {
            match hop.trim().parse::<IpAddr>() {
                Ok(ip) => {
                    client = ip;
                    if !is_trusted(&ip) {
                        return Some(client);
                    }
                }
                Err(_) => return Some(client),
            }
        }
    }
    Some(client)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn nets(s: &[&str]) -> Vec<IpNet> {
        s.iter().filter_map(|n| n.parse().ok()).collect()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    #[test]
    fn forwarded_for_is_believed_from_trusted_proxies_only() {
        let req = TestRequest::default()
            .insert_header(("x-forwarded-for", "203.0.113.7, 10.0.0.2"))
            .to_http_request();
        let trusted = nets(&["10.0.0.0/8"]);
        // From an untrusted peer the header is ignored.
        assert_eq!(
            client_addr(ip("198.51.100.1"), &req, &trusted),
            Some(ip("198.51.100.1"))
        );
        // From a trusted proxy: the right-most untrusted hop.
        assert_eq!(
            client_addr(ip("10.0.0.1"), &req, &trusted),
            Some(ip("203.0.113.7"))
        );
        // A spoofed left-most entry does not win over what the proxy added.
        let spoofed = TestRequest::default()
            .insert_header(("x-forwarded-for", "1.2.3.4, 203.0.113.7"))
            .to_http_request();
        assert_eq!(
            client_addr(ip("10.0.0.1"), &spoofed, &trusted),
            Some(ip("203.0.113.7"))
        );
        // Garbage stops the walk at the last good hop.
        let garbage = TestRequest::default()
            .insert_header(("x-forwarded-for", "nonsense"))
            .to_http_request();
        assert_eq!(
            client_addr(ip("10.0.0.1"), &garbage, &trusted),
            Some(ip("10.0.0.1"))
        );
    }

    #[test]
    fn tenant_budget_is_per_tenant_and_follows_the_tenants_own_limit() {
        let throttle = Throttle::new(ThrottleConfig {
            tenant_per_second: 2,
            ..ThrottleConfig::default()
        });
        for _ in 0..4 {
            assert!(throttle.check_tenant("a").is_ok());
        }
        assert!(throttle.check_tenant("a").is_err());
        assert_eq!(throttle.refused(LimitKind::Tenant), 1);
        assert!(throttle.check_tenant("b").is_ok());
        // The tenant's own limit: 0 disables it.
        throttle.learn_tenant_limit("a", Some(0));
        for _ in 0..100 {
            assert!(throttle.check_tenant("a").is_ok());
        }
        // Back to the default: a fresh bucket of the default size.
        throttle.learn_tenant_limit("a", None);
        assert_eq!(throttle.tenant_limit("a"), 2);
        throttle.learn_tenant_limit("a", Some(1));
        assert!(throttle.check_tenant("a").is_ok());
        assert!(throttle.check_tenant("a").is_ok());
        let refused = throttle.check_tenant("a");
        assert!(matches!(refused, Err(t) if t.retry_after_secs() >= 1));
    }

    #[test]
    fn unauthenticated_budget_is_per_address() {
        let throttle = Throttle::new(ThrottleConfig {
            unauthenticated_per_minute: 3,
            ..ThrottleConfig::default()
        });
        let a = Some(ip("192.0.2.1"));
        for _ in 0..3 {
            assert!(throttle.check_unauthenticated(a).is_ok());
        }
        assert!(throttle.check_unauthenticated(a).is_err());
        assert!(
            throttle
                .check_unauthenticated(Some(ip("192.0.2.2")))
                .is_ok()
        );
        assert!(Throttle::unlimited().check_unauthenticated(a).is_ok());
    }
}
