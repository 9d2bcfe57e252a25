//! `https::` for scripts: one HTTPS request, with what each stage took
//! and the certificate the server showed.

use super::support::{
    bad_option, positive_seconds, script_error, to_script, unknown_option, RhaiResultOf, RunHandle,
};
use crate::dns;
use crate::https::*;
use rhai::plugin::*;
use std::net::IpAddr;

fn request_from(ctx: &NativeCallContext, url: &str, options: &rhai::Map) -> RhaiResultOf<Request> {
    const FUNCTION: &str = "https::get";
    const KNOWN: &[&str] = &["address", "port", "ca", "source", "dns_server", "timeout"];
    let run = RunHandle::from_context(ctx)?;
    let mut request = Request {
        url: url.to_string(),
        ..Request::default()
    };
    for (key, value) in options {
        let bad = |what: &str| bad_option(ctx, FUNCTION, key, what, value);
        if value.is_unit() {
            continue;
        }
        let text = || value.clone().into_string().ok().filter(|s| !s.is_empty());
        let ip = |what: &str| -> RhaiResultOf<IpAddr> {
            text()
                .and_then(|t| t.trim().parse::<IpAddr>().ok())
                .ok_or_else(|| bad(what))
        };
        match key.as_str() {
            "address" => request.address = Some(ip("an IP address")?),
            "source" => request.source = Some(ip("an IP address of this machine")?),
            "port" => {
                let port = value
                    .as_int()
                    .ok()
                    .and_then(|p| u16::try_from(p).ok())
                    .filter(|p| *p > 0)
                    .ok_or_else(|| bad("a port, 1-65535"))?;
                request.port = Some(port);
            }
            "ca" => {
                let ca = text().ok_or_else(|| bad("PEM text or the path of a PEM file"))?;
                // A file relative to the script that names it; PEM text as it is.
                request.ca = Some(if ca.contains("-----BEGIN") {
                    ca
                } else {
                    run.resolve_path(ctx, &ca).display().to_string()
                });
            }
            "dns_server" => {
                let t = text().ok_or_else(|| bad("\"ip:port\""))?;
                request.dns_server = Some(
                    dns::server_address(&t)
                        .map_err(|e| script_error(ctx, format!("{FUNCTION}: {e}")))?,
                );
            }
            "timeout" => {
                request.timeout = Some(
                    positive_seconds(value).ok_or_else(|| bad("a positive number of seconds"))?,
                );
            }
            other => return Err(unknown_option(ctx, FUNCTION, other, KNOWN)),
        }
    }
    Ok(request)
}

fn run_get(ctx: &NativeCallContext, url: &str, options: &rhai::Map) -> RhaiResultOf<Dynamic> {
    let request = request_from(ctx, url, options)?;
    let run = RunHandle::from_context(ctx)?;
    let response = run
        .block_on(get(&request))
        .map_err(|e| script_error(ctx, format!("https::get: {e}")))?;
    to_script(ctx, &response)
}

/// The `https` module scripts call as `https::get(...)`.
#[export_module]
pub mod https_api {
    /// Sends `GET url` (`https://host[:port][/path]`) and returns what
    /// happened: status, certificate, whether it verified, timings, or the
    /// step that failed.
    #[rhai_fn(return_raw)]
    pub fn get(ctx: NativeCallContext, url: &str) -> RhaiResultOf<Dynamic> {
        super::run_get(&ctx, url, &rhai::Map::new())
    }

    /// `get` with options: `address` (connect here, do not resolve), `port`,
    /// `ca` (PEM text or file to trust besides the system's roots), `source`
    /// (local address to send from), `dns_server` (`"ip:port"`), `timeout` (seconds).
    #[rhai_fn(name = "get", return_raw)]
    pub fn get_with(
        ctx: NativeCallContext,
        url: &str,
        options: rhai::Map,
    ) -> RhaiResultOf<Dynamic> {
        super::run_get(&ctx, url, &options)
    }
}

rhai::def_package! {
    /// The `https::` namespace, installed by the engine under that name.
    pub HttpsPackage(module) {
        rhai::plugin::combine_with_exported_module!(module, "https", https_api);
    }
}
