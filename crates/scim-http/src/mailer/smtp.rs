//! The SMTP sender (feature `smtp`): lettre's asynchronous transport with a
//! connection pool, rustls.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::{DEFAULT_MAIL_FROM, MailSender, OutgoingEmail, SendError, SendFuture};

/// Time allowed for one SMTP delivery.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// A setting of the SMTP sender that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SmtpConfigError {
    /// The SMTP URL (shown without its password).
    #[error("the SMTP URL {url:?} is not usable: {source}")]
    Url {
        /// The URL, redacted.
        url: String,
        /// lettre's reason.
        #[source]
        source: lettre::transport::smtp::Error,
    },
    /// The `From:` address.
    #[error("{from:?} is not an email address: {source}")]
    From {
        /// What was given.
        from: String,
        /// lettre's reason.
        #[source]
        source: lettre::address::AddressError,
    },
}

/// Builds the transport from an SMTP URL: `smtp://host:port` (no TLS),
/// `smtp://host:587?tls=starttls` (or lettre's `tls=required` /
/// `tls=opportunistic`), `smtps://user:pass@host:465` (TLS from the first
/// byte). Credentials come from the URL's user info (percent-encoded).
/// Must be called inside a tokio runtime (the connection pool starts a task).
pub fn transport(url: &str) -> Result<AsyncSmtpTransport<Tokio1Executor>, SmtpConfigError> {
    let url = url.replace("tls=starttls", "tls=required");
    let builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(&url).map_err(|source| {
        SmtpConfigError::Url {
            url: redact_url(&url),
            source,
        }
    })?;
    Ok(builder.timeout(Some(SMTP_TIMEOUT)).build())
}

/// The URL without its password.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Parses a `From:` mailbox (`Name <address>` or `address`);
/// [`DEFAULT_MAIL_FROM`] when `None`.
pub fn mailbox(from: Option<&str>) -> Result<Mailbox, SmtpConfigError> {
    let from = from.unwrap_or(DEFAULT_MAIL_FROM);
    from.parse().map_err(|source| SmtpConfigError::From {
        from: from.to_owned(),
        source,
    })
}

/// Sends through an SMTP relay (multipart plain text and HTML, `Message-ID:
/// <message_id@scim-server>`).
pub struct SmtpSender {
    transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
    from: Mailbox,
}

impl std::fmt::Debug for SmtpSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSender")
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl SmtpSender {
    /// A sender over `transport` (see [`transport`]) writing `From: from`.
    pub fn new(transport: AsyncSmtpTransport<Tokio1Executor>, from: Mailbox) -> Self {
        SmtpSender {
            transport: Some(transport),
            from,
        }
    }

    /// [`transport`] and [`mailbox`] in one call.
    ///
    /// # Errors
    /// The URL or the address cannot be used.
    pub fn from_url(url: &str, from: Option<&str>) -> Result<Self, SmtpConfigError> {
        Ok(SmtpSender::new(transport(url)?, mailbox(from)?))
    }
}

impl Drop for SmtpSender {
    fn drop(&mut self) {
        // lettre's SMTP pool spawns a task to close its connections when dropped,
        // which panics when the runtime is already gone (the worker task is
        // dropped while the actix system shuts down). At that point the process
        // or server is ending: let the connections close with it instead.
        if tokio::runtime::Handle::try_current().is_err()
            && let Some(transport) = self.transport.take()
        {
            std::mem::forget(transport);
        }
    }
}

impl MailSender for SmtpSender {
    fn send<'a>(&'a self, email: &'a OutgoingEmail) -> SendFuture<'a> {
        Box::pin(async move {
            let Some(transport) = &self.transport else {
                return Err(SendError::retry("the SMTP transport is closed"));
            };
            let address: lettre::Address = email.to.address.parse().map_err(|e| {
                SendError::permanent(format!("{:?} is not an address: {e}", email.to.address))
            })?;
            let content = &email.content;
            let message = Message::builder()
                .from(self.from.clone())
                .to(Mailbox::new(email.to.name.clone(), address))
                .subject(content.subject.clone())
                .message_id(Some(format!("<{}@scim-server>", email.message_id)))
                .multipart(
                    MultiPart::alternative()
                        .singlepart(
                            SinglePart::builder()
                                .header(ContentType::TEXT_PLAIN)
                                .body(content.text.clone()),
                        )
                        .singlepart(
                            SinglePart::builder()
                                .header(ContentType::TEXT_HTML)
                                .body(content.html.clone()),
                        ),
                )
                .map_err(|e| SendError::permanent(format!("cannot build the message: {e}")))?;
            // lettre's errors name the relay and the SMTP reply, never the body.
            transport
                .send(message)
                .await
                .map(|_| ())
                .map_err(|e| SendError {
                    // A 5xx reply will not change on a retry.
                    permanent: e.is_permanent(),
                    message: format!("SMTP delivery failed: {e}"),
                })
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn smtp_urls() {
        // lettre's connection pool starts a task: build inside a runtime.
        actix_web::rt::System::new().block_on(async { smtp_urls_in_runtime() });
    }

    fn smtp_urls_in_runtime() {
        assert!(transport("smtp://127.0.0.1:2525").is_ok());
        assert!(transport("smtps://user:pa%40ss@mail.example.net:465").is_ok());
        assert!(transport("smtp://mail.example.net:587?tls=starttls").is_ok());
        assert!(transport("http://mail.example.net").is_err());
        assert_eq!(
            redact_url("smtps://user:secret@host:465"),
            "smtps://user:***@host:465"
        );
        assert!(mailbox(Some("Acme <no-reply@acme.example>")).is_ok());
        assert!(mailbox(Some("not an address")).is_err());
        assert!(mailbox(None).is_ok());
    }
}
