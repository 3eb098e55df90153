//! The `scim-server` binary's library half: the command line of `docs/configuration.md`
//! and the wiring of the layers. `main.rs` only parses and dispatches, so tests can
//! drive the same code.

pub mod cli;
