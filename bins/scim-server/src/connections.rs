//! Caps on open connections: per client address and in total.
//!
//! Every accepted TCP connection takes a [`Slot`] (counted until the
//! connection closes). A connection beyond its address's cap, or beyond the
//! total, is answered `503` with `Connection: close` on its first request,
//! before any body is read or any handler runs, so a client that opens
//! hundreds of slow connections holds at most its own share of the server.
//! Connections from a trusted proxy (`--trusted-proxy`) count toward the
//! total only: behind a proxy every client shares the proxy's address.
//! actix-web's own `max_connections` (per worker) stops accepting altogether
//! a little above the total, so file descriptors stay bounded too.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{ConnectionType, StatusCode, header};
use actix_web::middleware::Next;
use ipnet::IpNet;

/// The caps.
#[derive(Debug)]
pub struct ConnectionCaps {
    per_address: usize,
    total: usize,
    trusted: Vec<IpNet>,
    open: Mutex<Counts>,
    refused: AtomicU64,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
}

/// One open connection's place in the counts; released when dropped (when
/// actix-web drops the connection's data, at close).
#[derive(Debug)]
pub struct Slot {
    caps: Arc<ConnectionCaps>,
    addr: Option<IpAddr>,
    over: bool,
}

impl ConnectionCaps {
    /// Caps of `per_address` connections per client address and `total` in all
    /// (`0`: no cap).
    pub fn new(per_address: usize, total: usize, trusted: Vec<IpNet>) -> Arc<Self> {
        Arc::new(ConnectionCaps {
            per_address,
            total,
            trusted,
            open: Mutex::new(Counts::default()),
            refused: AtomicU64::new(0),
        })
    }

    /// Counts a new connection from `peer`.
    pub fn admit(self: &Arc<Self>, peer: IpAddr) -> Slot {
        let counted = (!self.trusted.iter().any(|n| n.contains(&peer))).then_some(peer);
        let Ok(mut open) = self.open.lock() else {
            return Slot {
                caps: self.clone(),
                addr: None,
                over: false,
            };
        };
        open.total += 1;
        let mut over = self.total > 0 && open.total > self.total;
        if let Some(addr) = counted {
            let n = open.by_address.entry(addr).or_insert(0);
            *n += 1;
            over |= self.per_address > 0 && *n > self.per_address;
        }
        Slot {
            caps: self.clone(),
            addr: counted,
            over,
        }
    }

    /// Open connections now.
    pub fn total_open(&self) -> usize {
        self.open.lock().map_or(0, |o| o.total)
    }

    /// Connections answered 503 for being over a cap so far.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Open connections now: in total, and from `addr`.
    pub fn open(&self, addr: IpAddr) -> (usize, usize) {
        self.open.lock().map_or((0, 0), |o| {
            (o.total, o.by_address.get(&addr).copied().unwrap_or(0))
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut open) = self.caps.open.lock() {
            open.total = open.total.saturating_sub(1);
            if let Some(addr) = self.addr
                && let Some(n) = open.by_address.get_mut(&addr)
            {
                *n -= 1;
                if *n == 0 {
                    open.by_address.remove(&addr);
                }
            }
        }
    }
}

/// Middleware: a request on a connection over its cap gets `503` and the
/// connection is closed.
pub async fn enforce_caps(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if let Some(slot) = req.conn_data::<Slot>()
        && slot.over
    {
        slot.caps.refused.fetch_add(1, Ordering::Relaxed);
        let (http, _) = req.into_parts();
        let mut res = scim_http::error::error_response_for(
            http.path(),
            StatusCode::SERVICE_UNAVAILABLE,
            "too many open connections from this client address (or in total): close idle connections and retry",
        );
        res.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        res.head_mut().set_connection_type(ConnectionType::Close);
        return Ok(ServiceResponse::new(http, res).map_into_right_body());
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_count_per_address_and_in_total_and_are_released() {
        let caps = ConnectionCaps::new(2, 3, "10.0.0.0/8".parse::<IpNet>().into_iter().collect());
        let a: IpAddr = [192, 0, 2, 1].into();
        let b: IpAddr = [192, 0, 2, 2].into();
        let proxy: IpAddr = [10, 0, 0, 1].into();
        let s1 = caps.admit(a);
        let s2 = caps.admit(a);
        let s3 = caps.admit(a);
        assert!(!s1.over && !s2.over);
        assert!(s3.over, "the third from one address is over its cap");
        drop(s3);
        let s4 = caps.admit(b);
        assert!(!s4.over);
        let s5 = caps.admit(proxy);
        assert!(s5.over, "over the total (4 > 3), even from a trusted proxy");
        drop(s5);
        assert_eq!(caps.open(a), (3, 2));
        drop((s1, s2));
        assert_eq!(caps.open(a), (1, 0));
        let p1 = caps.admit(proxy);
        let p2 = caps.admit(proxy);
        assert!(
            !p1.over && !p2.over,
            "a trusted proxy has no per-address cap"
        );
    }
}
