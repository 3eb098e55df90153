//! End-to-end tests: one test binary with modules, to keep link time down.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cli;
