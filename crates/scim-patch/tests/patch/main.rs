#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Integration tests of the PATCH engine: one binary, one module per theme.

mod common;
mod dialects;
mod errors;
mod props;
mod quirks;
mod rfc;
