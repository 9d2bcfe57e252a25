//! `cert::` for scripts: inspect TLS certificates and generate local ones.
//!
//! The namespace is registered so recipes can already refer to it; its
//! functions arrive with the DNS and certificate issue.

use rhai::plugin::*;

/// The `cert` module scripts call as `cert::inspect(...)`.
#[export_module]
pub mod cert_api {}

/// Registers `cert::` with the engine.
pub fn register(engine: &mut rhai::Engine) {
    engine.register_static_module("cert", exported_module!(cert_api).into());
}
