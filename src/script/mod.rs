//! The script layer: the only code that knows Rhai.
//!
//! Each script namespace (`kube::`, `dns::`, ...) is one file here, a Rhai
//! plugin module wrapped in a package that [`engine`] installs under the
//! namespace's name. They convert script values, find the running recipe's
//! state ([`support::RunHandle`]) and call the core below, which is plain
//! Rust. Imports run one way: `engine` uses the namespaces, the namespaces
//! use `options`, `support`, `errors` and `limits`, `support` uses
//! `results` (typed results are data as the maps they stand for), and all
//! of them use the core.

pub(crate) mod cert;
pub(crate) mod config;
pub(crate) mod definitions;
pub(crate) mod discover;
pub(crate) mod dns;
pub(crate) mod doctor;
pub mod engine;
pub(crate) mod errors;
pub(crate) mod events;
pub(crate) mod files;
pub(crate) mod https;
pub(crate) mod kube;
pub mod limits;
pub(crate) mod log;
pub(crate) mod options;
pub(crate) mod out;
pub(crate) mod results;
pub(crate) mod run;
pub(crate) mod support;
pub(crate) mod template;
pub(crate) mod yaml;
