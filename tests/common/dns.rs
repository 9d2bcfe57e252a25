//! A real authoritative DNS server for tests: Knot DNS (`knotd`) on a free
//! loopback port, serving one test zone whose records a test writes with
//! RFC 2136 dynamic updates (`knsupdate`).
//!
//! [`DnsServer::start`] runs a private instance (own config, zone file,
//! database and control socket in a temporary folder); dropping the handle
//! stops it. The Debian packages `knot` (knotd, knotc) and `knot-dnsutils`
//! (kdig, knsupdate) provide the programs; without them `start` panics with
//! the apt command to run.

use std::io::Write;
use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The zone every test server serves.
pub const ZONE: &str = "cloud.example.test";

/// A running `knotd` serving [`ZONE`] on 127.0.0.1.
#[derive(Debug)]
pub struct DnsServer {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

/// Finds a program in the usual places (`/usr/sbin` is often not on a user's PATH).
fn program(name: &str, package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/bin", "/sbin", "/usr/local/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "{name} is not installed; the DNS tests need a real DNS server: \
                 apt-get install -y knot knot-dnsutils (this one is in package {package})"
            )
        })
}

/// A port free for both UDP and TCP on 127.0.0.1 (knotd listens on both).
fn free_port() -> u16 {
    for _ in 0..50 {
        let tcp = TcpListener::bind("127.0.0.1:0").expect("bind a TCP port on 127.0.0.1");
        let port = tcp.local_addr().expect("local address").port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("found no port free for both UDP and TCP on 127.0.0.1")
}

impl DnsServer {
    /// Starts a server for [`ZONE`] with only SOA and NS records (and
    /// `ns.<zone>` A 127.0.0.1). Panics with knotd's log if it does not come up.
    pub fn start() -> DnsServer {
        super::require_cluster_tests("Knot (knotd, which tests/setup installs)");
        let knotd = program("knotd", "knot");
        program("knsupdate", "knot-dnsutils");
        program("kdig", "knot-dnsutils");
        let dir = tempfile::Builder::new()
            .prefix("wildrun-knot-")
            .tempdir()
            .expect("create a temporary folder for knotd");
        let port = free_port();
        let d = dir.path().display();
        let config = format!(
            r#"server:
    rundir: "{d}"
    listen: 127.0.0.1@{port}
    background-workers: 1
    udp-workers: 1
    tcp-workers: 1
database:
    storage: "{d}/db"
control:
    listen: "{d}/knot.sock"
log:
  - target: stderr
    any: warning
acl:
  - id: local-update
    address: 127.0.0.1
    action: update
zone:
  - domain: {ZONE}
    storage: "{d}"
    file: "{ZONE}.zone"
    zonefile-sync: -1
    journal-content: none
    acl: local-update
"#
        );
        std::fs::write(dir.path().join("knot.conf"), config).expect("write knot.conf");
        let zone = format!(
            "$ORIGIN {ZONE}.\n$TTL 60\n@ SOA ns.{ZONE}. hostmaster.{ZONE}. 1 3600 600 86400 60\n@ NS ns.{ZONE}.\nns A 127.0.0.1\n"
        );
        std::fs::write(dir.path().join(format!("{ZONE}.zone")), zone).expect("write zone file");
        let log = std::fs::File::create(dir.path().join("knotd.log")).expect("create knotd.log");
        let child = Command::new(&knotd)
            .arg("-c")
            .arg(dir.path().join("knot.conf"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", knotd.display()));
        let mut server = DnsServer { child, port, dir };
        server.wait_until_serving();
        server
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("knotd.log")).unwrap_or_default()
    }

    fn wait_until_serving(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("knotd exited ({status}) at start:\n{}", self.log());
            }
            if self
                .dig(&[&format!("{ZONE}."), "SOA", "+short"])
                .contains("hostmaster")
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "knotd did not serve {ZONE} within 10 s:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The server's address as `dns::` takes it: `127.0.0.1:<port>`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The folder holding the server's configuration and log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Runs kdig against this server; returns its stdout.
    pub fn dig(&self, args: &[&str]) -> String {
        let out = Command::new(program("kdig", "knot-dnsutils"))
            .arg("@127.0.0.1")
            .arg("-p")
            .arg(self.port.to_string())
            .args(["+time=1", "+retry=0"])
            .args(args)
            .output()
            .expect("run kdig");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Sends one RFC 2136 update (the `update ...` lines) and panics if the
    /// server does not accept it.
    fn update(&self, lines: &[String]) {
        let mut script = format!(
            "server 127.0.0.1 {}\nzone {ZONE}.\norigin {ZONE}.\n",
            self.port
        );
        for line in lines {
            script.push_str(line);
            script.push('\n');
        }
        script.push_str("send\nquit\n");
        let mut child = Command::new(program("knsupdate", "knot-dnsutils"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run knsupdate");
        child
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(script.as_bytes())
            .expect("write to knsupdate");
        let out = child.wait_with_output().expect("wait for knsupdate");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && !stderr.contains("error"),
            "knsupdate failed ({}):\n{script}\n{stderr}\nknotd log:\n{}",
            out.status,
            self.log()
        );
    }

    fn fqdn(name: &str) -> String {
        if name.ends_with('.') {
            name.to_string()
        } else {
            format!("{name}.")
        }
    }

    /// Adds a record: `add("a.cloud.example.test", "A", "192.0.2.1")`. CNAME
    /// targets and other names are taken as absolute.
    pub fn add(&self, name: &str, record_type: &str, value: &str) {
        let value = match record_type {
            "CNAME" => Self::fqdn(value),
            "TXT" => format!("\"{value}\""),
            _ => value.to_string(),
        };
        self.update(&[format!("add {} 60 {record_type} {value}", Self::fqdn(name))]);
    }

    /// Replaces every record of `record_type` at `name` by one with `value`.
    pub fn set(&self, name: &str, record_type: &str, value: &str) {
        self.remove(name, record_type);
        self.add(name, record_type, value);
    }

    /// Removes every record of `record_type` at `name`.
    pub fn remove(&self, name: &str, record_type: &str) {
        self.update(&[format!("del {} {record_type}", Self::fqdn(name))]);
    }

    /// Removes every record at `name`.
    pub fn remove_name(&self, name: &str) {
        self.update(&[format!("del {}", Self::fqdn(name))]);
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
