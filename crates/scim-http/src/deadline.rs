//! Deadlines that keep a slow client from holding a connection open: the
//! request body must arrive within [`Deadlines::body`] (else `408`, and the
//! connection is closed), and a request must be answered within
//! [`Deadlines::request`] (else `503`; the events feed's long poll is bounded
//! by its own maximum wait instead and is exempt). Both responses are bare;
//! wrap [`crate::scim_error_bodies`] outside this middleware to give them the
//! error body of their route (SCIM or the admin API's).
//!
//! Headers are bounded by the server itself (actix-web's
//! `client_request_timeout`); the body is not, which is what this adds.
//!
//! ```no_run
//! use actix_web::{App, middleware, web};
//! use scim_http::deadline::{Deadlines, enforce_deadlines};
//!
//! let app = App::new()
//!     .app_data(web::Data::new(Deadlines::default()))
//!     .wrap(middleware::from_fn(enforce_deadlines));
//! ```

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::HttpMessage;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::ConnectionType;
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::rt::time::{Sleep, sleep, timeout};
use actix_web::web::{Bytes, Data};
use futures_core::Stream;

/// The two deadlines. [`Deadlines::default`] gives the documented defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Deadlines {
    /// Time from the request's arrival until its whole body is read.
    pub body: Duration,
    /// Time from the request's arrival until its response is ready.
    pub request: Duration,
}

impl Default for Deadlines {
    /// 30 s for the body (a 1 MiB body at 35 KB/s), 60 s for the request.
    fn default() -> Self {
        Deadlines {
            body: Duration::from_secs(30),
            request: Duration::from_secs(60),
        }
    }
}

impl Deadlines {
    /// Deadlines of `body` and `request`.
    pub fn new(body: Duration, request: Duration) -> Self {
        Deadlines { body, request }
    }
}

/// Middleware (`middleware::from_fn(enforce_deadlines)`) applying the
/// [`Deadlines`] registered as `web::Data<Deadlines>` (none registered: no
/// deadlines).
pub async fn enforce_deadlines(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let Some(deadlines) = req.app_data::<Data<Deadlines>>().map(|d| *d.get_ref()) else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    };
    let has_body = req.headers().contains_key(header::CONTENT_LENGTH)
        || req.headers().contains_key(header::TRANSFER_ENCODING);
    let expired = Rc::new(Cell::new(false));
    if has_body {
        let inner = req.take_payload();
        req.set_payload(Payload::from(Box::pin(BodyDeadline {
            inner,
            sleep: Box::pin(sleep(deadlines.body)),
            expired: expired.clone(),
        })
            as Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>>));
    }
    // The long poll of the events feed bounds itself (its `wait`).
    let long_poll = req.path().ends_with("/events");
    // No clone of the request may live across `next.call` (routing needs
    // it unshared): keep only the path for the timeout's answer.
    let path = req.path().to_owned();
    let style = crate::error::request_style(req.request());
    let result = if long_poll {
        next.call(req).await
    } else {
        match timeout(deadlines.request, next.call(req)).await {
            Ok(result) => result,
            Err(_) => {
                tracing::warn!(
                    %path,
                    seconds = deadlines.request.as_secs(),
                    "request deadline passed; answered 503"
                );
                let mut res = crate::error::error_response_styled(
                    style,
                    actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
                    &format!(
                        "the request did not finish within {} s; a write may still complete: read the resource before retrying",
                        deadlines.request.as_secs()
                    ),
                );
                res.head_mut().set_connection_type(ConnectionType::Close);
                return Err(actix_web::error::InternalError::from_response(
                    "request deadline",
                    res,
                )
                .into());
            }
        }
    };
    if expired.get() {
        let res = result?;
        let (http, _) = res.into_parts();
        tracing::warn!(
            %path,
            seconds = deadlines.body.as_secs(),
            "request body too slow; answered 408 and closed the connection"
        );
        let mut res = crate::error::error_response_styled(
            style,
            actix_web::http::StatusCode::REQUEST_TIMEOUT,
            &format!(
                "the request body did not arrive within {} s; send it faster or in a smaller request",
                deadlines.body.as_secs()
            ),
        );
        res.head_mut().set_connection_type(ConnectionType::Close);
        return Ok(ServiceResponse::new(http, res).map_into_right_body());
    }
    result.map(ServiceResponse::map_into_left_body)
}

/// A request body that fails once its deadline passes.
struct BodyDeadline {
    inner: Payload,
    sleep: Pin<Box<Sleep>>,
    expired: Rc<Cell<bool>>,
}

impl Stream for BodyDeadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.expired.get() {
            return Poll::Ready(None);
        }
        if let Poll::Ready(item) = Pin::new(&mut self.inner).poll_next(cx) {
            return Poll::Ready(item);
        }
        if self.sleep.as_mut().poll(cx).is_ready() {
            self.expired.set(true);
            return Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "request body deadline passed",
            )))));
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::middleware::from_fn;
    use actix_web::{App, HttpResponse, test, web};

    async fn slow() -> HttpResponse {
        sleep(Duration::from_secs(5)).await;
        HttpResponse::Ok().finish()
    }

    #[actix_web::test]
    async fn a_request_past_its_deadline_is_503_in_its_routes_error_body() {
        let app = test::init_service(
            App::new()
                .app_data(Data::new(Deadlines::new(
                    Duration::from_secs(5),
                    Duration::from_millis(50),
                )))
                .wrap(from_fn(enforce_deadlines))
                .route("/scim/v2/t/Users", web::get().to(slow))
                .route("/admin/v1/tenants", web::get().to(slow))
                .route("/fast", web::get().to(HttpResponse::Ok)),
        )
        .await;
        let scim = test::try_call_service(
            &app,
            test::TestRequest::get()
                .uri("/scim/v2/t/Users")
                .to_request(),
        )
        .await;
        let Err(e) = scim else {
            unreachable!("the slow handler finished before its deadline")
        };
        let res = e.error_response();
        assert_eq!(res.status(), 503);
        let body = actix_web::body::to_bytes(res.into_body())
            .await
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&body);
        assert!(
            text.contains("urn:ietf:params:scim:api:messages:2.0:Error"),
            "{text}"
        );

        let adm = test::try_call_service(
            &app,
            test::TestRequest::get()
                .uri("/admin/v1/tenants")
                .to_request(),
        )
        .await;
        let Err(e) = adm else {
            unreachable!("the slow handler finished before its deadline")
        };
        let body = actix_web::body::to_bytes(e.error_response().into_body())
            .await
            .unwrap_or_default();
        assert!(String::from_utf8_lossy(&body).starts_with("{\"error\""));

        let fast =
            test::call_service(&app, test::TestRequest::get().uri("/fast").to_request()).await;
        assert_eq!(fast.status(), 200);
    }
}
