//! `https::` for scripts: one HTTPS request, with what each stage took
//! and the certificate the server showed.

use super::options::{self, ScriptOptions, Seconds, Shown};
use super::support::{script_error, RhaiResultOf, RunHandle};
use crate::dns;
use crate::https::*;
use rhai::plugin::*;
use serde::Deserialize;
use std::net::IpAddr;

/// The options of `https::get`; `()` counts as absent.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct GetOptions {
    address: Option<IpText>,
    port: Option<Port>,
    ca: Option<Text>,
    source: Option<IpText>,
    dns_server: Option<Text>,
    timeout: Option<Seconds>,
}

impl ScriptOptions for GetOptions {
    fn expected(key: &str) -> (&'static str, Shown) {
        let words = match key {
            "address" => "an IP address",
            "source" => "an IP address of this machine",
            "port" => "a port, 1-65535",
            "ca" => "PEM text or the path of a PEM file",
            "dns_server" => "\"ip:port\"",
            _ => "a positive number of seconds",
        };
        (words, Shown::Value)
    }
}

/// Text that is not empty.
#[derive(Debug, Deserialize)]
#[serde(try_from = "String")]
struct Text(String);

impl TryFrom<String> for Text {
    type Error = &'static str;

    fn try_from(text: String) -> Result<Text, &'static str> {
        if text.is_empty() {
            return Err("empty");
        }
        Ok(Text(text))
    }
}

/// An IP address, written as text.
#[derive(Debug, Deserialize)]
#[serde(try_from = "String")]
struct IpText(IpAddr);

impl TryFrom<String> for IpText {
    type Error = std::net::AddrParseError;

    fn try_from(text: String) -> Result<IpText, Self::Error> {
        text.trim().parse().map(IpText)
    }
}

/// A port, 1-65535.
#[derive(Debug, Deserialize)]
#[serde(try_from = "rhai::INT")]
struct Port(u16);

impl TryFrom<rhai::INT> for Port {
    type Error = &'static str;

    fn try_from(port: rhai::INT) -> Result<Port, &'static str> {
        u16::try_from(port)
            .ok()
            .filter(|p| *p > 0)
            .map(Port)
            .ok_or("not a port")
    }
}

fn request_from(ctx: &NativeCallContext, url: &str, options: &rhai::Map) -> RhaiResultOf<Request> {
    const FUNCTION: &str = "https::get";
    let given: GetOptions = options::parse(ctx, FUNCTION, options)?;
    let run = RunHandle::from_context(ctx)?;
    let dns_server = given
        .dns_server
        .map(|Text(t)| dns::server_address(&t))
        .transpose()
        .map_err(|e| script_error(ctx, format!("{FUNCTION}: {e}")))?;
    Ok(Request {
        url: url.to_string(),
        address: given.address.map(|IpText(a)| a),
        port: given.port.map(|Port(p)| p),
        // A file relative to the script that names it; PEM text as it is.
        ca: given.ca.map(|Text(ca)| {
            if ca.contains("-----BEGIN") {
                ca
            } else {
                run.resolve_path(ctx, &ca).display().to_string()
            }
        }),
        source: given.source.map(|IpText(a)| a),
        dns_server,
        timeout: given.timeout.map(|Seconds(t)| t),
    })
}

fn run_get(ctx: &NativeCallContext, url: &str, options: &rhai::Map) -> RhaiResultOf<Dynamic> {
    let request = request_from(ctx, url, options)?;
    let run = RunHandle::from_context(ctx)?;
    let response = run
        .block_on(get(&request))
        .map_err(|e| script_error(ctx, format!("https::get: {e}")))?;
    Ok(Dynamic::from(response))
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
