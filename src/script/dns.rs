//! `dns::` for scripts: resolve names, and check what ExternalDNS should
//! have published.

use super::options::{self, given, ScriptOptions, Seconds, Shown};
use super::support::{script_error, to_script, RhaiResultOf, RunHandle};
use crate::dns::*;
use hickory_resolver::proto::rr::RecordType;
use rhai::plugin::*;
use serde::Deserialize;

/// The options of `dns::resolve`, `dns::expect` and `dns::authority`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct QueryOptions {
    /// `"ip:port"`; `()` or `""`: the system's nameserver.
    server: Option<String>,
    #[serde(deserialize_with = "given")]
    tcp: Option<bool>,
    #[serde(deserialize_with = "given")]
    follow: Option<bool>,
    #[serde(deserialize_with = "given")]
    timeout: Option<Seconds>,
}

impl ScriptOptions for QueryOptions {
    fn expected(key: &str) -> (&'static str, Shown) {
        let words = match key {
            "server" => "\"ip:port\"",
            "timeout" => "a positive number of seconds",
            _ => "true or false",
        };
        (words, Shown::Value)
    }
}

fn query_from(
    ctx: &NativeCallContext,
    function: &str,
    name: &str,
    record_type: RecordType,
    options: &rhai::Map,
) -> RhaiResultOf<Query> {
    let given: QueryOptions = options::parse(ctx, function, options)?;
    let mut query = Query::new(name, record_type);
    if let Some(text) = given.server.filter(|s| !s.is_empty()) {
        query.server =
            Some(server_address(&text).map_err(|e| script_error(ctx, format!("{function}: {e}")))?);
    }
    query.tcp = given.tcp.unwrap_or(query.tcp);
    query.follow = given.follow.unwrap_or(query.follow);
    if let Some(Seconds(timeout)) = given.timeout {
        query.timeout = timeout;
    }
    Ok(query)
}

fn run_resolve(
    ctx: &NativeCallContext,
    name: &str,
    record_type: &str,
    options: &rhai::Map,
) -> RhaiResultOf<Dynamic> {
    let rtype = self::record_type(record_type)
        .map_err(|e| script_error(ctx, format!("dns::resolve: {e}")))?;
    let query = query_from(ctx, "dns::resolve", name, rtype, options)?;
    let run = RunHandle::from_context(ctx)?;
    let answer = run
        .block_on(resolve(&query))
        .map_err(|e| script_error(ctx, format!("dns::resolve: {e}")))?;
    to_script(ctx, &answer)
}

fn run_expect(
    ctx: &NativeCallContext,
    name: &str,
    target: &str,
    options: &rhai::Map,
) -> RhaiResultOf<Dynamic> {
    let mut options = options.clone();
    if options.contains_key("follow") {
        return Err(script_error(
            ctx,
            "dns::expect: option follow does not apply (expect never follows CNAMEs)",
        ));
    }
    options.remove("follow");
    let query = query_from(ctx, "dns::expect", name, RecordType::A, &options)?;
    let run = RunHandle::from_context(ctx)?;
    let result = run
        .block_on(expect(&query, target))
        .map_err(|e| script_error(ctx, format!("dns::expect: {e}")))?;
    to_script(ctx, &result)
}

fn run_authority(
    ctx: &NativeCallContext,
    name: &str,
    options: &rhai::Map,
) -> RhaiResultOf<Dynamic> {
    if options.contains_key("follow") {
        return Err(script_error(
            ctx,
            "dns::authority: option follow does not apply",
        ));
    }
    let query = query_from(ctx, "dns::authority", name, RecordType::NS, options)?;
    let run = RunHandle::from_context(ctx)?;
    match run.block_on(authority(name, &query)) {
        Ok(Some(a)) => to_script(ctx, &a),
        // Not found, or not answered: nothing to compare with.
        Ok(None) | Err(AuthorityError::Unanswered { .. } | AuthorityError::NoAddress { .. }) => {
            Ok(Dynamic::UNIT)
        }
        Err(AuthorityError::Dns(e)) => Err(script_error(ctx, format!("dns::authority: {e}"))),
    }
}

/// The `dns` module scripts call as `dns::resolve(...)`.
#[export_module]
pub mod dns_api {
    /// Looks up `name`'s records of `type` (`"A"`, `"AAAA"`, `"CNAME"`,
    /// `"TXT"`) through the system's nameservers, following CNAMEs.
    #[rhai_fn(return_raw)]
    pub fn resolve(ctx: NativeCallContext, name: &str, record_type: &str) -> RhaiResultOf<Dynamic> {
        super::run_resolve(&ctx, name, record_type, &rhai::Map::new())
    }

    /// `resolve` with options: `server` (`"ip:port"`), `tcp` (TCP only),
    /// `follow` (false: an alias answers with its CNAME), `timeout` (seconds).
    #[rhai_fn(name = "resolve", return_raw)]
    pub fn resolve_with(
        ctx: NativeCallContext,
        name: &str,
        record_type: &str,
        options: rhai::Map,
    ) -> RhaiResultOf<Dynamic> {
        super::run_resolve(&ctx, name, record_type, &options)
    }

    /// Whether `name` points at `target`: a CNAME to it when it is a name, an
    /// A/AAAA record with it when it is an address; and what it found instead.
    #[rhai_fn(return_raw)]
    pub fn expect(ctx: NativeCallContext, name: &str, target: &str) -> RhaiResultOf<Dynamic> {
        super::run_expect(&ctx, name, target, &rhai::Map::new())
    }

    /// `expect` with options `server`, `tcp` and `timeout` (as for `resolve`).
    #[rhai_fn(name = "expect", return_raw)]
    pub fn expect_with(
        ctx: NativeCallContext,
        name: &str,
        target: &str,
        options: rhai::Map,
    ) -> RhaiResultOf<Dynamic> {
        super::run_expect(&ctx, name, target, &options)
    }
    /// The zone `name` lies in and its authoritative servers, found from
    /// the name upward through the system's nameservers: `#{ zone,
    /// nameservers, addresses }` (`addresses` as `"ip:53"`, for `resolve`'s
    /// `server`), or `()` when none is found.
    #[rhai_fn(return_raw)]
    pub fn authority(ctx: NativeCallContext, name: &str) -> RhaiResultOf<Dynamic> {
        super::run_authority(&ctx, name, &rhai::Map::new())
    }

    /// `authority` with options `server`, `tcp` and `timeout` (as for `resolve`).
    #[rhai_fn(name = "authority", return_raw)]
    pub fn authority_with(
        ctx: NativeCallContext,
        name: &str,
        options: rhai::Map,
    ) -> RhaiResultOf<Dynamic> {
        super::run_authority(&ctx, name, &options)
    }

    /// Which annotation prefix the ExternalDNS of `deployment` (a Deployment
    /// as `kube::get` returns it) reads, from its `--annotation-prefix`
    /// argument or its image tag: `#{ deployment, prefix, reason, image,
    /// version, from_args }`.
    #[rhai_fn(return_raw)]
    pub fn externaldns_prefix(
        ctx: NativeCallContext,
        deployment: rhai::Map,
    ) -> RhaiResultOf<Dynamic> {
        let value = crate::script::support::to_json(&Dynamic::from_map(deployment))?;
        to_script(&ctx, &crate::externaldns::detect(&value))
    }

    /// The first of `ranges` (CIDRs, `first-last` address ranges or
    /// addresses) that holds the address `ip`, or `()` when none does.
    #[rhai_fn(return_raw)]
    pub fn ip_in_ranges(
        ctx: NativeCallContext,
        ip: &str,
        ranges: rhai::Array,
    ) -> RhaiResultOf<Dynamic> {
        let addr: std::net::IpAddr = ip.trim().parse().map_err(|_| {
            script_error(
                &ctx,
                format!("dns::ip_in_ranges: {ip:?} is not an IP address"),
            )
        })?;
        for range in ranges {
            let text = range.clone().into_string().map_err(|t| {
                script_error(
                    &ctx,
                    format!("dns::ip_in_ranges: ranges must be strings, not {t}"),
                )
            })?;
            if crate::dns::ip_in_range(addr, &text)
                .map_err(|e| script_error(&ctx, format!("dns::ip_in_ranges: {e}")))?
            {
                return Ok(text.into());
            }
        }
        Ok(Dynamic::UNIT)
    }
}

rhai::def_package! {
    /// The `dns::` namespace, installed by the engine under that name.
    pub DnsPackage(module) {
        rhai::plugin::combine_with_exported_module!(module, "dns", dns_api);
    }
}
