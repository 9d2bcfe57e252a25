//! Running the built `wildrun` binary the way every test does: one harness
//! instead of a private copy per test file.
//!
//! A [`Wildrun`] starts from a clean slate: the repository root as the
//! working directory, stdin closed, no configuration from the test's own
//! environment (`WILDRUN_CONFIG` and every configuration key's variable are
//! removed), so a developer's shell cannot change a result. A test adds what
//! it needs (arguments, variables, a kubeconfig) and takes the output, which
//! is bounded in time so that a hang fails instead of stalling the suite.

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// No single wildrun command of the tests takes long: one that does is a
/// hang. The slowest (a script stopped by its 10 s CPU limit, a 300,000-item
/// configuration, both in a debug build) took over 60 s of wall time on two
/// loaded cores, so the bound leaves room for load while still ending a hang.
pub const DEADLINE: Duration = Duration::from_secs(240);

/// A `wildrun` command being built by a test.
pub struct Wildrun {
    command: Command,
    deadline: Duration,
}

impl Default for Wildrun {
    fn default() -> Self {
        Wildrun::new()
    }
}

impl Wildrun {
    /// The built binary in the repository root, stdin closed, with no
    /// configuration inherited from the environment.
    pub fn new() -> Wildrun {
        let mut command = Command::new(env!("CARGO_BIN_EXE_wildrun"));
        command
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdin(Stdio::null())
            .env_remove("WILDRUN_CONFIG");
        for key in wildrun::config::KEYS.iter().map(|k| k.env_var()) {
            command.env_remove(key);
        }
        Wildrun {
            command,
            deadline: DEADLINE,
        }
    }

    /// Runs in `dir` instead of the repository root.
    pub fn in_dir(mut self, dir: impl AsRef<Path>) -> Wildrun {
        self.command.current_dir(dir);
        self
    }

    /// Appends arguments.
    pub fn args<I, S>(mut self, args: I) -> Wildrun
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.command.args(args);
        self
    }

    /// Sets one environment variable.
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Wildrun {
        self.command.env(key, value);
        self
    }

    /// Sets environment variables, in order (a later one wins).
    pub fn envs(mut self, vars: &[(&str, &str)]) -> Wildrun {
        self.command.envs(vars.iter().copied());
        self
    }

    /// Removes an environment variable the test's own environment may carry.
    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Wildrun {
        self.command.env_remove(key);
        self
    }

    /// Talks to the cluster of `kubeconfig` (`KUBECONFIG`).
    pub fn kubeconfig(self, kubeconfig: impl AsRef<Path>) -> Wildrun {
        let path = kubeconfig.as_ref().as_os_str().to_owned();
        self.env("KUBECONFIG", path)
    }

    /// A longer bound than [`DEADLINE`], for a command that waits on purpose.
    pub fn deadline(mut self, deadline: Duration) -> Wildrun {
        self.deadline = deadline;
        self
    }

    /// The command, for a test that spawns it (in the background, with
    /// piped stdio) instead of waiting for its output.
    pub fn into_command(self) -> Command {
        self.command
    }

    /// Runs the command to its end (or kills it at the deadline) and returns
    /// its output.
    pub fn output(self) -> Output {
        self.output_timed().0
    }

    /// [`Wildrun::output`] and how long the command ran.
    pub fn output_timed(mut self) -> (Output, Duration) {
        super::bounded::output_within(&mut self.command, self.deadline)
    }
}

/// stdout as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// stderr as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The exit code and both streams, for an assertion's message.
pub fn text(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        stdout(out),
        stderr(out)
    )
}
