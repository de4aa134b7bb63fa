//! zoneaudit: continuous evidence that network zones inside one Calico BGP cluster stay isolated.
//!
//! ```text
//! sources ──collect──▶ facts ──store──▶ snapshot (SQLite) ──rules──▶ findings ──▶ evidence (signed)
//! ```
#![forbid(unsafe_code)]

pub mod alert;
pub mod cli;
pub mod collect;
pub mod config;
pub mod demo;
pub mod evidence;
pub mod model;
pub mod pipeline;
pub mod rules;
pub mod serve;
pub mod simulate;
pub mod store;
