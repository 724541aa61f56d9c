//! Deterministic tests of the mesh core on virtual time.
//!
//! `harness` simulates whole meshes (cores, registry, transport); the other files group the
//! tests by the behaviour they prove. Tests that need one exact sequence of events drive a
//! single core by hand instead.

mod candidates;
mod data_path;
mod glare;
mod handshake;
mod harness;
mod identity;
mod liveness;
mod memory_link;
mod registry_tasks;
mod requests;
mod signaling;
mod tiers;
mod units;
