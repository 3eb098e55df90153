//! End-to-end tests: the real server on a free port, on SQLite and PostgreSQL,
//! driven over TCP. One test binary with modules, to keep link time down.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod admin;
mod bulk;
mod cli;
mod console;
mod console_activity;
mod console_admins;
mod console_browser;
mod console_pages;
mod console_webhooks;
mod cursor;
mod entra;
mod events;
mod hardening;
mod harness;
mod invitation_failures;
mod isolation;
mod limits;
mod loadgen;
mod malformed;
mod migrate_to;
mod oauth;
mod openapi;
mod protocol;
mod races;
mod rejected;
mod retention;
mod rules;
mod smtp;
mod sweep;
mod user_groups;
mod values;
mod webhooks;
