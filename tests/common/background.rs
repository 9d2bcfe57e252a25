//! A process running in the background (wildrun with `kube::watch` or
//! `--watch`), its stderr collected line by line, killed when dropped.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a wait for an expected line lasts.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// A running process and the lines it wrote to stderr so far.
pub struct Background {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Background {
    /// Starts `command` (stdout discarded, stderr collected).
    pub fn spawn(mut command: Command) -> Background {
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the process starts");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let stderr = child.stderr.take().expect("piped stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Background { child, lines }
    }

    /// Everything written to stderr so far.
    pub fn text(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    /// How many lines so far contain `needle`.
    pub fn count(&self, needle: &str) -> usize {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(needle))
            .count()
    }

    /// Waits until `count` lines contain `needle`; panics with the whole
    /// output when [`PATIENCE`] runs out or the process exits first.
    pub fn wait_for_count(&mut self, needle: &str, count: usize) {
        let deadline = Instant::now() + PATIENCE;
        while self.count(needle) < count {
            let exited = self.child.try_wait().ok().flatten();
            assert!(
                Instant::now() < deadline && exited.is_none(),
                "no {count}x {needle:?} after {PATIENCE:?} (exit {exited:?}); output:\n{}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until a line contains `needle`.
    pub fn wait_for(&mut self, needle: &str) {
        self.wait_for_count(needle, 1);
    }

    /// Waits for it to exit by itself (at most [`PATIENCE`]) and returns
    /// whether it succeeded.
    pub fn wait(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the process did not end within {PATIENCE:?}:\n{}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills it with SIGKILL, as a node or OOM kill would: no clean-up.
    pub fn kill_hard(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends it the signal `name` (`INT`, `STOP`, `CONT`).
    fn signal(&self, name: &str) {
        let pid = self.child.id().to_string();
        let out = Command::new("kill")
            .args([&format!("-{name}"), &pid])
            .output()
            .expect("kill runs");
        assert!(out.status.success(), "kill -{name} {pid} failed");
    }

    /// Stops it (SIGSTOP), as a frozen node or a debugger would: it does
    /// nothing, and knows nothing of it, until [`Background::resume`].
    pub fn pause(&self) {
        self.signal("STOP");
    }

    /// Lets a paused process go on (SIGCONT).
    pub fn resume(&self) {
        self.signal("CONT");
    }

    /// Sends SIGINT (Ctrl-C) and returns the exit code.
    pub fn interrupt(&mut self) -> Option<i32> {
        self.signal("INT");
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status.code();
            }
            assert!(
                Instant::now() < deadline,
                "the process did not stop after Ctrl-C:\n{}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        // SIGKILL ends a stopped process too.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
