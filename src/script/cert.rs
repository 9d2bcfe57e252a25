//! `cert::` for scripts: inspect certificates, make test ones, read
//! cert-manager's status.

use super::options::{self, given, ScriptOptions, Shown};
use super::support::{script_error, to_json, to_script, RhaiResultOf};
use crate::cert::*;
use rhai::plugin::*;
use serde::Deserialize;
use serde_json::Value;

fn names_of(ctx: &NativeCallContext, function: &str, names: &Dynamic) -> RhaiResultOf<Vec<String>> {
    let bad = || {
        script_error(
            ctx,
            format!("{function}: names must be a host or a list of hosts, such as [\"*.example.com\", \"example.com\"]"),
        )
    };
    match to_json(names)? {
        Value::String(s) => Ok(vec![s]),
        Value::Array(items) => items
            .into_iter()
            .map(|v| v.as_str().map(str::to_string).ok_or_else(bad))
            .collect(),
        _ => Err(bad()),
    }
}

/// The options of `cert::self_signed`, `cert::ca` and `cert::issue`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct CertOptions {
    #[serde(deserialize_with = "given")]
    days: Option<Days>,
    #[serde(deserialize_with = "given")]
    common_name: Option<String>,
}

impl ScriptOptions for CertOptions {
    fn expected(key: &str) -> (&'static str, Shown) {
        match key {
            "days" => ("a whole number of days (-36500 to 36500)", Shown::Value),
            _ => ("a string", Shown::Type),
        }
    }
}

/// Days from now, at most a hundred years either way.
#[derive(Debug, Deserialize)]
#[serde(try_from = "rhai::INT")]
struct Days(i64);

impl TryFrom<rhai::INT> for Days {
    type Error = &'static str;

    fn try_from(days: rhai::INT) -> Result<Days, &'static str> {
        if days.abs() <= 36_500 {
            Ok(Days(days))
        } else {
            Err("more than 36500 days")
        }
    }
}

fn options_of(
    ctx: &NativeCallContext,
    function: &str,
    options: &rhai::Map,
    default_days: i64,
) -> RhaiResultOf<Options> {
    let given: CertOptions = options::parse(ctx, function, options)?;
    Ok(Options {
        days: given.days.map_or(default_days, |Days(d)| d),
        common_name: given.common_name,
    })
}

fn pair_to_script(pair: Pair) -> Dynamic {
    let mut map = rhai::Map::new();
    map.insert("cert".into(), pair.cert.into());
    map.insert("key".into(), pair.key.into());
    Dynamic::from_map(map)
}

fn pair_from_script(ctx: &NativeCallContext, value: &rhai::Map) -> RhaiResultOf<Pair> {
    let text = |k: &str| value.get(k).and_then(|v| v.clone().into_string().ok());
    match (text("cert"), text("key")) {
        (Some(cert), Some(key)) => Ok(Pair { cert, key }),
        _ => Err(script_error(
            ctx,
            "cert::issue: the CA must be a map with cert and key (PEM), as cert::ca returns",
        )),
    }
}

/// The `cert` module scripts call as `cert::inspect(...)`.
#[export_module]
pub mod cert_api {
    /// Subject, names, issuer, validity, days left, serial and whether the
    /// key matches, of PEM text, a TLS Secret or a generated pair.
    #[rhai_fn(return_raw)]
    pub fn inspect(ctx: NativeCallContext, value: Dynamic) -> RhaiResultOf<Dynamic> {
        let info = crate::cert::inspect_value(&to_json(&value)?)
            .map_err(|e| script_error(&ctx, format!("cert::inspect: {e}")))?;
        Ok(Dynamic::from(info))
    }

    /// Whether the certificate covers `host` (wildcards cover exactly one
    /// label). `cert` is what `inspect` returns or anything it accepts.
    #[rhai_fn(return_raw)]
    pub fn covers(ctx: NativeCallContext, cert: Dynamic, host: &str) -> RhaiResultOf<bool> {
        let value = to_json(&cert)?;
        let info = match serde_json::from_value::<super::CoverNames>(value.clone()) {
            Ok(names) => names.into_info(),
            Err(_) => crate::cert::inspect_value(&value)
                .map_err(|e| script_error(&ctx, format!("cert::covers: {e}")))?,
        };
        Ok(crate::cert::covers(&info, host))
    }

    /// The Ready condition and renewal time of a cert-manager Certificate
    /// (the object as `kube::get` returns it).
    #[rhai_fn(return_raw)]
    pub fn status(ctx: NativeCallContext, certificate: Dynamic) -> RhaiResultOf<Dynamic> {
        let status = crate::cert::certificate_status(&to_json(&certificate)?)
            .map_err(|e| script_error(&ctx, format!("cert::status: {e}")))?;
        to_script(&ctx, &status)
    }

    /// A self-signed server certificate for `names` (a host or a list; IPs
    /// allowed), valid 90 days: `#{ cert, key }` (PEM).
    #[rhai_fn(return_raw)]
    pub fn self_signed(ctx: NativeCallContext, names: Dynamic) -> RhaiResultOf<Dynamic> {
        self_signed_with(ctx, names, rhai::Map::new())
    }

    /// `self_signed` with options `days` (negative: already expired) and `common_name`.
    #[rhai_fn(name = "self_signed", return_raw)]
    pub fn self_signed_with(
        ctx: NativeCallContext,
        names: Dynamic,
        options: rhai::Map,
    ) -> RhaiResultOf<Dynamic> {
        let names = super::names_of(&ctx, "cert::self_signed", &names)?;
        let options = super::options_of(&ctx, "cert::self_signed", &options, 90)?;
        crate::cert::self_signed(&names, &options)
            .map(super::pair_to_script)
            .map_err(|e| script_error(&ctx, format!("cert::self_signed: {e}")))
    }

    /// A local certificate authority named `common_name`, valid 10 years:
    /// `#{ cert, key }` (PEM).
    #[rhai_fn(return_raw)]
    pub fn ca(ctx: NativeCallContext, common_name: &str) -> RhaiResultOf<Dynamic> {
        ca_with(ctx, common_name, rhai::Map::new())
    }

    /// `ca` with the option `days`.
    #[rhai_fn(name = "ca", return_raw)]
    pub fn ca_with(
        ctx: NativeCallContext,
        common_name: &str,
        options: rhai::Map,
    ) -> RhaiResultOf<Dynamic> {
        let options = super::options_of(&ctx, "cert::ca", &options, 3650)?;
        crate::cert::ca(common_name, &options)
            .map(super::pair_to_script)
            .map_err(|e| script_error(&ctx, format!("cert::ca: {e}")))
    }

    /// A server certificate for `names` signed by `ca` (from `cert::ca`),
    /// valid 90 days: `#{ cert, key }`, `cert` followed by the CA's certificate.
    #[rhai_fn(return_raw)]
    pub fn issue(ctx: NativeCallContext, ca: rhai::Map, names: Dynamic) -> RhaiResultOf<Dynamic> {
        issue_with(ctx, ca, names, rhai::Map::new())
    }

    /// `issue` with options `days` (negative: already expired) and `common_name`.
    #[rhai_fn(name = "issue", return_raw)]
    pub fn issue_with(
        ctx: NativeCallContext,
        ca: rhai::Map,
        names: Dynamic,
        options: rhai::Map,
    ) -> RhaiResultOf<Dynamic> {
        let ca = super::pair_from_script(&ctx, &ca)?;
        let names = super::names_of(&ctx, "cert::issue", &names)?;
        let options = super::options_of(&ctx, "cert::issue", &options, 90)?;
        crate::cert::issue(&ca, &names, &options)
            .map(super::pair_to_script)
            .map_err(|e| script_error(&ctx, format!("cert::issue: {e}")))
    }
}

/// What `cert::covers` needs from an `inspect` result.
#[derive(serde::Deserialize)]
struct CoverNames {
    dns_names: Vec<String>,
    #[serde(default)]
    ip_addresses: Vec<String>,
}

impl CoverNames {
    fn into_info(self) -> Info {
        Info {
            dns_names: self.dns_names,
            ip_addresses: self.ip_addresses,
            ..Info::default()
        }
    }
}

rhai::def_package! {
    /// The `cert::` namespace, installed by the engine under that name.
    pub CertPackage(module) {
        rhai::plugin::combine_with_exported_module!(module, "cert", cert_api);
    }
}
