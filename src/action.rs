//! What a run does with the plan a recipe builds (apply, render, diff,
//! delete), chosen once from the command line.

/// What a run does with the plan a recipe builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Action {
    /// Apply it (also `--watch`).
    #[default]
    Apply,
    /// `--dry-run`: print it.
    Render,
    /// `--dry-run=server`: apply with `dryRun=All`.
    ServerDryRun,
    /// `--diff`.
    Diff,
    /// `--delete`: delete what the instance made.
    Delete,
}

impl Action {
    /// The name scripts see.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Action::Apply => "apply",
            Action::Render => "render",
            Action::ServerDryRun => "server-dry-run",
            Action::Diff => "diff",
            Action::Delete => "delete",
        }
    }
}
