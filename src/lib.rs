//! wildrun runs Rhai scripts ("recipes") that deploy a service to a
//! Kubernetes cluster and make it reachable by name over HTTPS.
//!
//! The library holds everything; `main.rs` only calls [`cli::main`].
//! One module per concern, and one per script namespace:
//!
//! | module | what it does |
//! |---|---|
//! | [`cli`] | the command line, exit codes, the run from start to end |
//! | [`config`] | `wildrun.yaml`, environment, `--set`; the `config::` script namespace |
//! | [`params`] | recipe parameters: declarations, parsing, `--help` |
//! | [`engine`] | the Rhai engine: limits, module resolution, error messages |
//! | [`objects`] | maps to typed Kubernetes objects, strict checks |
//! | [`plan`] | the ordered list of what a run applies; dry-run rendering |
//! | [`kube`] | the `kube::` script namespace |
//! | [`template`] | the `template::` script namespace (envsubst-compatible) |
//! | [`yaml`] | the `yaml::` script namespace |
//! | [`log`] | the `log::` script namespace and stderr formatting |
//! | [`out`] | the `out::` script namespace: data on stdout, exit code |
//! | [`dns`], [`cert`], [`https`] | the `dns::`, `cert::` and `https::` script namespaces |
//! | [`files`] | reading files: bounded in size, confined to the folders a run may read |
//! | [`externaldns`] | which annotation prefix an ExternalDNS Deployment reads |
//! | [`reach`] | `--wait`: after applying, wait until the service answers over HTTPS |
//! | [`watch`] | `--watch`: re-run on every change of a file the run read |

pub mod cert;
pub mod cli;
pub mod config;
pub mod dns;
pub mod engine;
pub mod externaldns;
pub mod files;
pub mod https;
pub mod kube;
pub mod log;
pub mod objects;
pub mod out;
pub mod params;
pub mod plan;
pub mod reach;
pub mod run;
pub mod template;
pub mod watch;
pub mod yaml;
