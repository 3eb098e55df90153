//! In-process tests of the SCIM service (actix test server, real SQLite).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod bodies;
mod common;
#[cfg(feature = "console")]
mod console_mounted;
mod discovery;
mod mounted;
mod webhook_worker;
