//! How a plan is carried out: the command line's options for it.

/// How to carry out a plan.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    /// `--dry-run=server`: the API server validates, nothing persists.
    pub(crate) server_dry_run: bool,
    /// `--force`: take over fields other managers own, for every object.
    pub(crate) force: bool,
    /// `--require-tls`: a missing source secret is an error, not a warning.
    pub(crate) require_tls: bool,
    /// `--adopt`: take over objects another instance made, and manage in
    /// place objects another tool made (marked adopted: `--delete`
    /// releases them).
    pub(crate) adopt: bool,
    /// Report unchanged objects at debug level only (watch handlers, which
    /// run on every event, report what changed).
    pub(crate) quiet_unchanged: bool,
    /// The folder of the running recipe, as given on the command line: a
    /// message that names another instance's recipe names its file there
    /// when it is there (`scripts/public.rhai`), so the command runs as
    /// printed.
    pub(crate) recipe_dir: Option<std::path::PathBuf>,
}
