//! `dns::` for scripts: name resolution checks (A, AAAA, CNAME, TXT).
//!
//! The namespace is registered so recipes can already refer to it; its
//! functions arrive with the DNS and certificate issue.

use rhai::plugin::*;

/// The `dns` module scripts call as `dns::resolve(...)`.
#[export_module]
pub mod dns_api {}

/// Registers `dns::` with the engine.
pub fn register(engine: &mut rhai::Engine) {
    engine.register_static_module("dns", exported_module!(dns_api).into());
}
