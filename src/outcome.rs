//! How a run ends: what it prints on stdout and its exit code, or a
//! failure with the exit code it maps to.

/// Exit code: success (and, with `--diff`, no differences).
pub(crate) const EXIT_OK: u8 = 0;
/// Exit code: the recipe failed (validation, API error, a failed check).
pub(crate) const EXIT_FAILED: u8 = 1;
/// Exit code: the command line is wrong.
pub(crate) const EXIT_USAGE: u8 = 2;

/// What a finished run produced.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Text for stdout (manifests, diffs, help, the script's `out::`).
    pub(crate) stdout: String,
    /// Exit code.
    pub(crate) code: u8,
    /// With `--watch --prune`: the prune was held because a file the run
    /// read changed too recently; `--watch` runs again at this time if
    /// nothing changes before (see [`crate::watch::PRUNE_SETTLE`]).
    pub(crate) prune_due: Option<std::time::SystemTime>,
}

impl Outcome {
    /// A run that printed `stdout` and ends with `code`.
    pub(crate) fn new(stdout: String, code: u8) -> Outcome {
        Outcome {
            stdout,
            code,
            prune_due: None,
        }
    }
}

/// A failure with the exit code it maps to.
#[derive(Debug)]
pub struct Failure {
    /// Process exit code: [`EXIT_FAILED`] or [`EXIT_USAGE`].
    pub(crate) code: u8,
    /// What went wrong.
    pub(crate) error: anyhow::Error,
    /// Data for stdout all the same: with `-o`, the report of what was
    /// done, what failed and what was not done.
    pub(crate) stdout: String,
}

impl Failure {
    /// A wrong command line (exit 2).
    pub(crate) fn usage(message: impl std::fmt::Display) -> Failure {
        Failure {
            code: EXIT_USAGE,
            error: anyhow::Error::msg(message.to_string()),
            stdout: String::new(),
        }
    }
}

/// Any other error is the recipe's failure (exit 1).
impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Failure {
        Failure {
            code: EXIT_FAILED,
            error,
            stdout: String::new(),
        }
    }
}

/// A core error the command line does not treat specially is the recipe's
/// failure (exit 1), as any other; `?` then works where a [`Failure`] is returned.
macro_rules! failed_from {
    ($($error:ty),* $(,)?) => {$(
        impl From<$error> for Failure {
            fn from(error: $error) -> Failure {
                Failure::from(anyhow::Error::from(error))
            }
        }
    )*};
}

failed_from!(
    crate::config::ConfigError,
    crate::plan::PlanError,
    crate::kube::KubeError
);
