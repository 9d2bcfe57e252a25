//! `dns::` against a real authoritative server (Knot DNS on a loopback port,
//! tests/common/dns.rs): A, AAAA, CNAME, TXT, following or not following
//! CNAMEs, UDP and TCP, NXDOMAIN and timeouts as values, and `dns::expect`
//! for public (CNAME) and internal (A) services. The last tests run scripts
//! through the wildrun binary.

#[allow(unused_imports)] // this binary uses only common::dns
mod common;

use common::command::Wildrun;
use common::dns::{DnsServer, ZONE};
use hickory_resolver::proto::rr::RecordType;
use serde_json::Value;
use std::process::Output;
use std::time::{Duration, Instant};
use wildrun::dns::{expect, resolve, Query};

fn query(server: &DnsServer, name: &str, record_type: RecordType) -> Query {
    let mut q = Query::new(name, record_type);
    q.server = Some(server.addr().parse().unwrap());
    q
}

fn host(label: &str) -> String {
    format!("{label}.{ZONE}")
}

#[tokio::test]
async fn a_aaaa_txt_records() {
    let dns = DnsServer::start();
    dns.add(&host("web"), "A", "192.0.2.10");
    dns.add(&host("web"), "A", "192.0.2.11");
    dns.add(&host("web"), "AAAA", "2001:db8::10");
    dns.add(&host("web"), "TXT", "owner=wildrun");

    let a = resolve(&query(&dns, &host("web"), RecordType::A))
        .await
        .unwrap();
    assert_eq!(a.status, "ok", "{a:?}");
    let mut values = a.values.clone();
    values.sort();
    assert_eq!(values, ["192.0.2.10", "192.0.2.11"]);
    assert_eq!(a.records[0].ttl, 60);
    assert_eq!(a.cname, None);
    assert_eq!(a.server, dns.addr());

    let aaaa = resolve(&query(&dns, &host("web"), RecordType::AAAA))
        .await
        .unwrap();
    assert_eq!(aaaa.values, ["2001:db8::10"]);
    let txt = resolve(&query(&dns, &host("web"), RecordType::TXT))
        .await
        .unwrap();
    assert_eq!(txt.values, ["owner=wildrun"]);

    // The same over TCP only.
    let mut tcp = query(&dns, &host("web"), RecordType::TXT);
    tcp.tcp = true;
    assert_eq!(resolve(&tcp).await.unwrap().values, ["owner=wildrun"]);
}

#[tokio::test]
async fn cnames_followed_or_not() {
    let dns = DnsServer::start();
    dns.add(ZONE, "A", "192.0.2.20");
    dns.add(&host("app"), "CNAME", ZONE);

    let followed = resolve(&query(&dns, &host("app"), RecordType::A))
        .await
        .unwrap();
    assert_eq!(followed.status, "ok", "{followed:?}");
    assert_eq!(followed.values, ["192.0.2.20"]);
    assert_eq!(followed.cname.as_deref(), Some(ZONE));
    assert_eq!(followed.records[0].record_type, "CNAME");

    let mut q = query(&dns, &host("app"), RecordType::A);
    q.follow = false;
    let alias = resolve(&q).await.unwrap();
    assert_eq!(alias.status, "ok");
    assert!(alias.values.is_empty(), "{alias:?}");
    assert_eq!(alias.cname.as_deref(), Some(ZONE));
    assert_eq!(alias.records.len(), 1);

    let cname = resolve(&query(&dns, &host("app"), RecordType::CNAME))
        .await
        .unwrap();
    assert_eq!(cname.values, [ZONE]);
}

#[tokio::test]
async fn nxdomain_nodata_and_timeout_are_values() {
    let dns = DnsServer::start();
    dns.add(&host("only-a"), "A", "192.0.2.30");

    let missing = resolve(&query(&dns, &host("missing"), RecordType::A))
        .await
        .unwrap();
    assert_eq!(missing.status, "nxdomain", "{missing:?}");
    assert!(missing.values.is_empty() && missing.error.is_none());

    let nodata = resolve(&query(&dns, &host("only-a"), RecordType::TXT))
        .await
        .unwrap();
    assert_eq!(nodata.status, "nodata", "{nodata:?}");

    // A UDP socket that never answers.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut q = Query::new(&host("x"), RecordType::A);
    q.server = Some(silent.local_addr().unwrap());
    q.timeout = Duration::from_secs(1);
    let started = Instant::now();
    let answer = resolve(&q).await.unwrap();
    assert_eq!(answer.status, "timeout", "{answer:?}");
    assert!(answer.error.is_some());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn expect_cname_for_public_services() {
    let dns = DnsServer::start();
    dns.add(ZONE, "A", "192.0.2.40");
    dns.add(&host("good"), "CNAME", ZONE);
    dns.add(&host("elsewhere"), "CNAME", "other.example.org");
    dns.add(&host("as-a"), "A", "192.0.2.40");

    let ok = expect(&query(&dns, &host("good"), RecordType::A), ZONE)
        .await
        .unwrap();
    assert!(ok.ok, "{ok:?}");
    assert_eq!(ok.expected, "CNAME");

    let wrong = expect(&query(&dns, &host("elsewhere"), RecordType::A), ZONE)
        .await
        .unwrap();
    assert!(!wrong.ok);
    assert_eq!(wrong.found, "CNAME other.example.org");
    assert!(
        wrong
            .message
            .contains("expected a CNAME to cloud.example.test"),
        "{}",
        wrong.message
    );

    let a_record = expect(&query(&dns, &host("as-a"), RecordType::A), ZONE)
        .await
        .unwrap();
    assert!(!a_record.ok);
    assert_eq!(a_record.found, "A 192.0.2.40");
    assert!(
        a_record.message.contains("is an A record"),
        "{}",
        a_record.message
    );

    let missing = expect(&query(&dns, &host("nope"), RecordType::A), ZONE)
        .await
        .unwrap();
    assert!(!missing.ok);
    assert_eq!(missing.status, "nxdomain");
    assert_eq!(missing.found, "NXDOMAIN");
}

#[tokio::test]
async fn expect_a_record_for_internal_services() {
    let dns = DnsServer::start();
    dns.add(&host("admin"), "A", "192.168.8.240");
    dns.add(&host("stale"), "A", "192.168.8.99");
    dns.add(&host("alias"), "CNAME", ZONE);

    let ok = expect(&query(&dns, &host("admin"), RecordType::A), "192.168.8.240")
        .await
        .unwrap();
    assert!(ok.ok, "{ok:?}");
    assert_eq!(ok.expected, "A");

    let stale = expect(&query(&dns, &host("stale"), RecordType::A), "192.168.8.240")
        .await
        .unwrap();
    assert!(!stale.ok);
    assert_eq!(stale.found, "A 192.168.8.99");

    let alias = expect(&query(&dns, &host("alias"), RecordType::A), "192.168.8.240")
        .await
        .unwrap();
    assert!(!alias.ok);
    assert!(alias.message.contains("is a CNAME"), "{}", alias.message);
}

fn run_script(script: &str, args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("check.rhai");
    std::fs::write(&path, script).unwrap();
    Wildrun::new()
        .args([path.as_os_str()])
        .args(["--dry-run"])
        .args(args)
        .env("CLOUD_DOMAIN", ZONE)
        .output()
}

#[test]
fn scripts_test_outcomes_and_get_clear_errors() {
    let dns = DnsServer::start();
    dns.add(&host("svc"), "CNAME", ZONE);
    let script = r#"
fn params() { [#{ name: "server" }] }
let o = #{ server: args.server };
out::json(#{
    missing: dns::resolve("nothing.cloud.example.test", "A", o).status,
    alias: dns::resolve("svc.cloud.example.test", "CNAME", o).values,
    expect: dns::expect("svc.cloud.example.test", "cloud.example.test", o).ok,
    tcp: dns::resolve("svc.cloud.example.test", "cname", o + #{ tcp: true }).values,
});
"#;
    let out = run_script(script, &["--server", &dns.addr()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["missing"], "nxdomain");
    assert_eq!(result["alias"][0], ZONE);
    assert_eq!(result["expect"], true);
    assert_eq!(result["tcp"][0], ZONE);

    for (line, message) in [
        (
            r#"dns::resolve("a.example.com", "MX");"#,
            "record type \"MX\" is not supported",
        ),
        (
            r#"dns::resolve("a.example.com", "A", #{ server: "ns1" });"#,
            "use ip:port",
        ),
        (
            r#"dns::resolve("a.example.com", "A", #{ sever: "1.1.1.1" });"#,
            "did you mean server?",
        ),
        (
            r#"dns::expect("a.example.com", "b.example.com", #{ timeout: 0 });"#,
            "positive number of seconds",
        ),
    ] {
        let out = run_script(line, &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{line}: {stderr}");
        assert!(stderr.contains("check.rhai:1"), "{stderr}");
        assert!(stderr.contains(message), "{line}: {stderr}");
    }
}
