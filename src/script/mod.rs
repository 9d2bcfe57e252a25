//! The script layer: the only code that knows Rhai.
//!
//! Each script namespace (`kube::`, `dns::`, ...) is one file here, a Rhai
//! plugin module wrapped in a package that [`engine`] installs under the
//! namespace's name. They convert script values, find the running recipe's
//! state ([`support::RunHandle`]) and call the core below, which is plain
//! Rust. Imports run one way: `engine` uses the namespaces, the namespaces
//! use `support`, `errors` and `limits`, and all of them use the core.

pub mod cert;
pub mod config;
pub mod definitions;
pub mod discover;
pub mod dns;
pub mod doctor;
pub mod engine;
pub mod errors;
pub mod events;
pub mod files;
pub mod https;
pub mod kube;
pub mod limits;
pub mod log;
pub(crate) mod options;
pub mod out;
pub mod run;
pub mod support;
pub mod template;
pub mod yaml;
