//! wildrun runs Rhai scripts ("recipes") that deploy a service to a
//! Kubernetes cluster and make it reachable by name over HTTPS.
//!
//! The library holds everything; `main.rs` only calls [`cli::main`].
//! Three layers, whose imports run one way (each uses only those below it):
//!
//! - **the command line**: [`cli`] (options, exit codes, one function per
//!   action) and [`watch`] (`--watch`);
//! - **the script layer**, [`script`]: the only code that knows Rhai. The
//!   engine, and one file per script namespace (`kube::`, `dns::`, `cert::`,
//!   `https::`, `doctor::`, `template::`, `yaml::`, `config::`, `log::`, `out::`,
//!   `run::`)
//!   that converts script values and calls the core;
//! - **the core**, plain Rust with typed inputs and outputs:
//!
//! | module | what it does |
//! |---|---|
//! | [`action`] | what a run does with the plan (apply, render, diff, delete) |
//! | [`config`] | `wildrun.yaml`, environment, `--set`: keys, checks, merging |
//! | [`params`] | recipe parameters: declarations, parsing, `--help` |
//! | [`objects`] | maps to typed Kubernetes objects, strict checks |
//! | [`plan`] | the ordered list of what a run applies; dry-run rendering |
//! | [`kube`] | the cluster: connect, apply a plan, diff, delete, prune, wait, watch |
//! | [`template`] | envsubst-compatible `${VAR}` rendering |
//! | [`yaml`] | YAML in and out, errors with file:line |
//! | [`log`] | how messages look on stderr |
//! | [`dns`], [`cert`], [`https`] | DNS lookups and ExternalDNS expectations; certificates; one HTTPS request |
//! | [`files`] | reading files: bounded in size, confined to the folders a run may read |
//! | [`externaldns`] | which annotation prefix an ExternalDNS Deployment reads |
//! | [`chain`] | the chain from a host to a pod: its names, the rules judging each link, the doctor's checks |
//! | [`discover`] | the layer a cluster already runs, each part found by what it is |
//! | [`reach`] | `--wait`: after applying, wait until the service answers over HTTPS |
//! | [`duration`] | durations for people (`5m`, `1h30m`): parsed and formatted |

// Every public item gets a doc comment (the project rule).
#![warn(missing_docs)]

pub mod action;
pub mod cert;
pub(crate) mod chain;
pub mod cli;
pub mod config;
pub(crate) mod discover;
pub mod dns;
pub(crate) mod duration;
pub(crate) mod externaldns;
pub mod files;
pub(crate) mod https;
pub mod kube;
pub(crate) mod log;
pub mod objects;
pub mod outcome;
pub mod params;
pub mod plan;
pub mod reach;
pub mod recipe_run;
pub mod script;
mod stop;
pub(crate) mod template;
pub mod watch;
pub mod yaml;
