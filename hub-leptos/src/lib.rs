//! Hub dashboard — NOT IMPLEMENTED YET.
//!
//! Placeholder created by the foundation issue so the workspace has its final layout. The
//! Leptos dashboard is built by the "Hub dashboard" issue; until then the registry serves a
//! page saying the hub is not built. This crate exports nothing.
#![forbid(unsafe_code)]
