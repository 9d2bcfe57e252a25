//! The command line: `wildrun [OPTIONS] <SCRIPT> [--<param> <value>]...`.
//!
//! wildrun's own options may stand before or after the script; every other
//! word after the script is a recipe parameter. The options are split out
//! with clap's own table of them, so the two can never disagree.

use crate::action::Action;
use crate::config::Sources;
use crate::kube::apply::ExecOptions;
use crate::kube::cluster::ConnectOptions;
use crate::outcome::{Failure, Outcome, EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use crate::plan::Format;
use crate::recipe_run::{self, RunRequest};
use anyhow::anyhow;
use clap::{CommandFactory, Parser, ValueEnum};
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

mod spinner;

/// `--dry-run` modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum DryRun {
    /// Render locally; contact no cluster.
    Client,
    /// Let the API server validate without persisting.
    Server,
}

const AFTER_HELP: &str = "\
Recipe parameters follow the script: `wildrun SCRIPT --help` lists them.
wildrun's options may stand before or after the script.

Examples:
  wildrun scripts/public.rhai --name myservice --dry-run
  wildrun scripts/internal.rhai --name adminpanel --image registry/admin:2 --port 8080
  wildrun scripts/internal.rhai --help
  wildrun --watch scripts/public.rhai --name myservice
  wildrun scripts/public.rhai --name myservice --wait --timeout 10m
  wildrun scripts/doctor.rhai --name myservice
  wildrun examples/tls-sync.rhai

Exit codes: 0 success, 1 the recipe failed (with --diff: there are differences),
2 usage error.";

/// wildrun's own options.
#[derive(Debug, Parser)]
#[command(name = "wildrun", version, about = "Run Rhai recipes that deploy a service to your Kubernetes cluster and make it reachable by name over HTTPS.", after_help = AFTER_HELP)]
pub(crate) struct Cli {
    /// The recipe to run (a .rhai file).
    #[arg(value_name = "SCRIPT")]
    pub(crate) script: Option<PathBuf>,

    /// Configuration file (default: wildrun.yaml in this folder or a parent, or $WILDRUN_CONFIG).
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,

    /// Override a configuration key, e.g. --set cloud.domain=example.com (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub(crate) sets: Vec<String>,

    /// Print the objects instead of applying them (client: no cluster contact; server: the API server validates).
    #[arg(long, value_name = "MODE", num_args = 0..=1, require_equals = true, default_missing_value = "client", value_enum)]
    pub(crate) dry_run: Option<DryRun>,

    /// Show the differences between the cluster and the recipe (exit 1 when there are some).
    #[arg(long)]
    pub(crate) diff: bool,

    /// Delete everything this recipe instance made.
    #[arg(long)]
    pub(crate) delete: bool,

    /// After applying, delete objects of this instance the recipe no longer produces.
    #[arg(long)]
    pub(crate) prune: bool,

    /// Let --prune delete every object of the instance (an empty plan, or one that keeps none of them); refused without it.
    #[arg(long)]
    pub(crate) allow_prune_all: bool,

    /// Let --prune and --delete delete objects that hold data: PersistentVolumeClaims and the kinds of prune.keepKinds; kept without it.
    #[arg(long)]
    pub(crate) allow_prune_data: bool,

    /// Generate every value of the Secret NAMESPACE/NAME the recipe makes with kube::generated_secret again (repeatable); without it, values already in the cluster are kept.
    #[arg(long = "rotate-secret", value_name = "NAMESPACE/NAME", value_parser = parse_secret_name)]
    pub(crate) rotate_secrets: Vec<String>,

    /// Re-run whenever the recipe, a module, a template or the configuration changes.
    #[arg(long)]
    pub(crate) watch: bool,

    /// Fail when the TLS secret to copy does not exist yet (default: warn).
    #[arg(long)]
    pub(crate) require_tls: bool,

    /// Take over fields another field manager owns (server-side apply conflicts).
    #[arg(long)]
    pub(crate) force: bool,

    /// Take over objects another instance made, and manage in place objects another tool made (kubectl, Helm; marked wildrun.dev/adopted, released by --delete); without it both are refused.
    #[arg(long)]
    pub(crate) adopt: bool,

    /// Let the recipe read files in this folder too (repeatable); by default only the recipe's folder tree and the configuration file's folder.
    #[arg(long = "allow-read", value_name = "DIR")]
    pub(crate) allow_read: Vec<PathBuf>,

    /// After applying, wait until the service answers: rollouts, each Ingress host's TLS Secret, DNS record (at its zone's nameservers), then an HTTPS request.
    #[arg(long)]
    pub(crate) wait: bool,

    /// How long --wait waits (300, 90s, 5m, 1h30m; default 5m); then exit 1 naming the link and why.
    #[arg(long, value_name = "DURATION", value_parser = crate::duration::parse_duration)]
    pub(crate) timeout: Option<std::time::Duration>,

    /// How long one request to the API server may take before the run gives up (300, 90s, 5m; default 30s); watches only for their start.
    #[arg(long, value_name = "DURATION", value_parser = crate::duration::parse_duration)]
    pub(crate) request_timeout: Option<std::time::Duration>,

    /// kubeconfig context to use.
    #[arg(long, value_name = "NAME")]
    pub(crate) context: Option<String>,

    /// kubeconfig file to use (default: $KUBECONFIG or ~/.kube/config).
    #[arg(long, value_name = "FILE")]
    pub(crate) kubeconfig: Option<PathBuf>,

    /// Print the values of the Secrets a recipe builds with --dry-run (masked as *** by default, as --diff masks them).
    #[arg(long)]
    pub(crate) show_secrets: bool,

    /// Output format: of the objects with --dry-run (default yaml), of the report otherwise (default none).
    #[arg(short = 'o', long = "output", value_enum)]
    pub(crate) output: Option<Format>,

    /// More output on stderr (-v debug, -vv trace).
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,

    /// Print completions of wildrun's options for SHELL (bash, zsh, fish, elvish, powershell) and exit.
    #[arg(long, value_name = "SHELL")]
    pub(crate) completions: Option<clap_complete::Shell>,

    /// Write definition files of the script API into DIR (for Rhai's language server: completion and docs in editors) and exit.
    #[arg(long, value_name = "DIR")]
    pub(crate) definitions: Option<PathBuf>,

    /// Less output on stderr: only warnings and errors (-qq: only errors).
    #[arg(short, long, action = clap::ArgAction::Count, conflicts_with = "verbose")]
    pub(crate) quiet: u8,
}

/// The command line, split into wildrun's options and the recipe's words.
#[derive(Debug)]
pub(crate) struct Invocation {
    /// wildrun's options.
    pub(crate) cli: Cli,
    /// Words for the recipe (`--name myservice ...`).
    pub(crate) recipe_words: Vec<String>,
    /// `--help` (or `-h`) came after the script: show the recipe's parameters.
    pub(crate) recipe_help: bool,
}

/// Whether an option word takes the next word as its value.
fn option_takes_next(cmd: &clap::Command, word: &str) -> Option<bool> {
    let (name, inline) = match word.split_once('=') {
        Some((n, _)) => (n, true),
        None => (word, false),
    };
    let arg = if let Some(long) = name.strip_prefix("--") {
        cmd.get_arguments().find(|a| a.get_long() == Some(long))?
    } else {
        let mut shorts = name.strip_prefix('-')?.chars();
        let first = shorts.next()?;
        let arg = cmd.get_arguments().find(|a| a.get_short() == Some(first))?;
        let takes = arg.get_action().takes_values();
        // `-ojson` carries its value; `-vv` is a cluster of flags.
        let rest = shorts.as_str();
        if takes {
            return Some(rest.is_empty() && !inline);
        }
        if !rest
            .chars()
            .all(|c| cmd.get_arguments().any(|a| a.get_short() == Some(c)))
        {
            return None;
        }
        return Some(false);
    };
    let takes = arg.get_action().takes_values();
    let optional = arg.get_num_args().is_some_and(|n| n.min_values() == 0);
    Some(takes && !inline && !optional)
}

/// The command line's words, sorted out.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct SplitArgs {
    /// wildrun's own options, with their values.
    pub(crate) own: Vec<String>,
    /// The recipe.
    pub(crate) script: Option<String>,
    /// The recipe's words.
    pub(crate) recipe: Vec<String>,
    /// `--help` came after the script.
    pub(crate) recipe_help: bool,
}

/// Splits `argv` (without the program name) into wildrun's options and the recipe's words.
pub(crate) fn split_args(argv: &[String]) -> SplitArgs {
    let cmd = Cli::command();
    let mut own: Vec<String> = Vec::new();
    let mut script: Option<String> = None;
    let mut recipe: Vec<String> = Vec::new();
    let mut recipe_help = false;
    let mut i = 0;
    while i < argv.len() {
        let word = &argv[i];
        i += 1;
        if script.is_some() && word == "--" {
            recipe.extend(argv[i..].iter().cloned());
            break;
        }
        if script.is_some() && (word == "--help" || word == "-h") {
            recipe_help = true;
            continue;
        }
        if word.starts_with('-') && word.len() > 1 {
            match option_takes_next(&cmd, word) {
                Some(takes_next) => {
                    own.push(word.clone());
                    if takes_next {
                        if let Some(v) = argv.get(i) {
                            own.push(v.clone());
                            i += 1;
                        }
                    }
                }
                // Before the script, clap reports the unknown option; after it, it is the recipe's.
                None if script.is_none() => own.push(word.clone()),
                None => {
                    recipe.push(word.clone());
                    // A recipe parameter's value follows it, unless it is itself an option.
                    if !word.contains('=') {
                        if let Some(v) = argv.get(i).filter(|v| !v.starts_with('-')) {
                            recipe.push(v.clone());
                            i += 1;
                        }
                    }
                }
            }
        } else if script.is_none() {
            script = Some(word.clone());
        } else {
            recipe.push(word.clone());
        }
    }
    SplitArgs {
        own,
        script,
        recipe,
        recipe_help,
    }
}

impl Invocation {
    /// Parses the process's command line (program name first).
    pub(crate) fn parse(argv: Vec<OsString>) -> Result<Invocation, clap::Error> {
        // Every word must be text: a value silently changed (U+FFFD in an
        // image name) would end up in the cluster. The program name may be anything.
        let mut words: Vec<String> = Vec::with_capacity(argv.len());
        for (index, word) in argv.into_iter().enumerate() {
            match word.into_string() {
                Ok(text) => words.push(text),
                Err(raw) if index == 0 => words.push(raw.to_string_lossy().into_owned()),
                Err(raw) => {
                    return Err(Cli::command().error(
                        clap::error::ErrorKind::InvalidUtf8,
                        format!(
                            "the argument {:?} is not valid UTF-8; wildrun takes text only",
                            raw.to_string_lossy()
                        ),
                    ))
                }
            }
        }
        let program = if words.is_empty() {
            "wildrun".to_string()
        } else {
            words.remove(0)
        };
        let split = split_args(&words);
        let mut clap_words = vec![program];
        clap_words.extend(split.own);
        clap_words.extend(split.script);
        let cli = Cli::try_parse_from(clap_words)?;
        Ok(Invocation {
            cli,
            recipe_words: split.recipe,
            recipe_help: split.recipe_help,
        })
    }
}

/// Runs one invocation to completion on the current thread.
///
/// The Rhai engine lives on this thread; host functions that need the
/// network block on `runtime`. `--watch` re-runs through [`crate::watch`].
pub(crate) fn run(inv: &Invocation, runtime: tokio::runtime::Handle) -> Result<Outcome, Failure> {
    if let Some(shell) = inv.cli.completions {
        return Ok(completions(shell));
    }
    if let Some(dir) = &inv.cli.definitions {
        return definitions(dir);
    }
    let request = inv.request();
    if inv.cli.watch && !inv.recipe_help {
        // Options that do not go together are not fixed by editing a file.
        request.action.clone().map_err(Failure::usage)?;
        return crate::watch::watch_files(runtime.clone(), |last_change| {
            let step = RunRequest {
                last_change,
                ..request.clone()
            };
            recipe_run::run_once(&step, runtime.clone())
        });
    }
    recipe_run::run_once(&request, runtime).0
}

/// `--completions SHELL`: the completion script, for the shell to load.
fn completions(shell: clap_complete::Shell) -> Outcome {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "wildrun", &mut script);
    Outcome::new(String::from_utf8_lossy(&script).into_owned(), EXIT_OK)
}

/// `--definitions DIR`: the script API's definition files, written; their
/// paths on stdout.
fn definitions(dir: &std::path::Path) -> Result<Outcome, Failure> {
    let files = crate::script::definitions::write_definitions(dir)
        .map_err(|e| anyhow!("cannot write definition files to {}: {e}", dir.display()))?;
    tracing::info!(
        "wrote {} definition file(s) to {}",
        files.len(),
        dir.display()
    );
    let stdout: String = files.iter().map(|f| format!("{}\n", f.display())).collect();
    Ok(Outcome::new(stdout, EXIT_OK))
}

impl Invocation {
    /// What the command line asks a run to do.
    pub(crate) fn request(&self) -> RunRequest {
        let cli = &self.cli;
        RunRequest {
            script: cli.script.clone(),
            recipe_words: self.recipe_words.clone(),
            recipe_help: self.recipe_help,
            action: action(cli),
            prune: cli.prune,
            allow_prune_all: cli.allow_prune_all,
            allow_prune_data: cli.allow_prune_data,
            rotate_secrets: cli.rotate_secrets.clone(),
            wait: cli
                .wait
                .then(|| cli.timeout.unwrap_or(crate::reach::DEFAULT_TIMEOUT)),
            output: cli.output,
            secret_values: if cli.show_secrets {
                crate::plan::SecretValues::Shown
            } else {
                crate::plan::SecretValues::Masked
            },
            exec: ExecOptions {
                server_dry_run: cli.dry_run == Some(DryRun::Server),
                force: cli.force,
                require_tls: cli.require_tls,
                adopt: cli.adopt,
                quiet_unchanged: false,
                recipe_dir: cli
                    .script
                    .as_deref()
                    .and_then(|s| s.parent())
                    .map(Into::into),
            },
            connect: ConnectOptions {
                kubeconfig: cli.kubeconfig.clone(),
                context: cli.context.clone(),
                request_timeout: cli
                    .request_timeout
                    .unwrap_or(crate::kube::transport::DEFAULT_REQUEST_TIMEOUT),
            },
            sources: Sources {
                explicit_file: cli.config.clone(),
                sets: cli.sets.clone(),
            },
            allow_read: cli.allow_read.clone(),
            own_options: own_option_names(),
            file_watch: cli.watch,
            last_change: None,
            wait_display: spinner::Spinner::on_stderr,
        }
    }
}

/// The long names of wildrun's own options (`help` and `version` included),
/// from clap's own table: a recipe cannot declare them.
pub fn own_option_names() -> Vec<String> {
    let mut cmd = Cli::command();
    cmd.build();
    cmd.get_arguments()
        .filter_map(|a| a.get_long().map(str::to_string))
        .collect()
}

/// `--rotate-secret`'s `NAMESPACE/NAME`, checked as Kubernetes names.
fn parse_secret_name(text: &str) -> Result<String, String> {
    use crate::objects::validate;
    let Some((namespace, name)) = text.split_once('/') else {
        return Err(format!(
            "{text:?} is not NAMESPACE/NAME (the Secret's namespace, a slash, its name)"
        ));
    };
    validate::dns1123_label(namespace).map_err(|e| format!("namespace {namespace:?} {e}"))?;
    validate::dns1123_subdomain(name).map_err(|e| format!("name {name:?} {e}"))?;
    Ok(text.to_string())
}

/// The action the options ask for, or why they do not go together.
fn action(cli: &Cli) -> Result<Action, String> {
    if cli.watch && (cli.diff || cli.delete) {
        return Err(
            "--watch re-applies on every change; it does not go with --diff or --delete".into(),
        );
    }
    if cli.diff && cli.delete {
        return Err(
            "--diff and --delete do not go together: --diff shows what applying would change"
                .into(),
        );
    }
    if cli.allow_prune_all && !cli.prune {
        return Err("--allow-prune-all widens what --prune may delete; add --prune".into());
    }
    if cli.allow_prune_data && !(cli.prune || cli.delete) {
        return Err(
            "--allow-prune-data widens what --prune and --delete may delete; add one of them"
                .into(),
        );
    }
    if !cli.rotate_secrets.is_empty() && (cli.delete || cli.watch) {
        return Err("--rotate-secret makes new values once, when applying: it does not go with --delete or --watch (which would rotate on every change)".into());
    }
    if cli.delete && cli.prune {
        return Err("--delete already removes everything of the instance; drop --prune".into());
    }
    let client_dry_run = cli.dry_run == Some(DryRun::Client);
    if client_dry_run && (cli.diff || cli.delete || cli.prune) {
        return Err("--dry-run contacts no cluster, so it cannot --diff, --delete or --prune; use --dry-run=server to have the API server check without persisting".into());
    }
    if cli.diff && cli.dry_run.is_some() {
        return Err("--diff never changes the cluster; drop --dry-run".into());
    }
    if cli.wait && (cli.dry_run.is_some() || cli.diff || cli.delete || cli.watch) {
        return Err("--wait waits after applying until the service answers; it does not go with --dry-run, --diff, --delete or --watch".into());
    }
    if cli.timeout.is_some() && !cli.wait {
        return Err("--timeout is how long --wait waits; add --wait".into());
    }
    Ok(match cli.dry_run {
        Some(DryRun::Client) => Action::Render,
        _ if cli.diff => Action::Diff,
        _ if cli.delete => Action::Delete,
        Some(DryRun::Server) => Action::ServerDryRun,
        None => Action::Apply,
    })
}

/// Sets up logging on stderr for the verbosity asked for.
pub(crate) fn init_logging(verbose: u8, quiet: u8) {
    use tracing_subscriber::EnvFilter;
    let level = match (verbose, quiet) {
        (0, 0) => "info",
        (0, 1) => "warn",
        (0, _) => "error",
        (1, _) => "debug",
        _ => "trace",
    };
    // Libraries' own logs (kube, hyper) only with -vv: wildrun reports their errors itself.
    let others = if verbose >= 2 { "debug" } else { "off" };
    let filter = EnvFilter::try_from_env("WILDRUN_LOG")
        .unwrap_or_else(|_| EnvFilter::new(format!("{others},wildrun={level},script={level}")));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .event_format(crate::log::PeopleFormat)
        .try_init();
}

/// The program: parse, run on an engine thread, print, exit.
pub fn main() -> ExitCode {
    let inv = match Invocation::parse(std::env::args_os().collect()) {
        Ok(inv) => inv,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_USAGE } else { EXIT_OK });
        }
    };
    init_logging(inv.cli.verbose, inv.cli.quiet);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let handle = runtime.handle().clone();
    // The engine runs on its own thread with a roomy stack (deep scripts),
    // blocking on the runtime's handle for network calls: no nested runtimes.
    let worker = std::thread::Builder::new()
        .name("wildrun-engine".into())
        .stack_size(64 * 1024 * 1024)
        .spawn(move || run(&inv, handle));
    let result = match worker.map(|w| w.join()) {
        Ok(Ok(result)) => result,
        Ok(Err(_)) => Err(Failure::from(anyhow!(
            "internal error: the engine thread panicked"
        ))),
        Err(e) => Err(Failure::from(anyhow!(
            "cannot start the engine thread: {e}"
        ))),
    };
    let (stdout, code) = match result {
        Ok(outcome) => (outcome.stdout, outcome.code),
        Err(failure) => {
            eprintln!("error: {:#}", failure.error);
            (failure.stdout, failure.code)
        }
    };
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if out
        .write_all(stdout.as_bytes())
        .and_then(|_| out.flush())
        .is_err()
    {
        return ExitCode::from(EXIT_FAILED);
    }
    ExitCode::from(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(words: &[&str]) -> SplitArgs {
        split_args(&words.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn options_before_and_after_the_script() {
        let SplitArgs {
            own,
            script,
            recipe,
            recipe_help: help,
        } = split(&[
            "--set",
            "a=b",
            "r.rhai",
            "--name",
            "x",
            "--dry-run",
            "-o",
            "json",
            "--port=80",
        ]);
        assert_eq!(own, ["--set", "a=b", "--dry-run", "-o", "json"]);
        assert_eq!(script.as_deref(), Some("r.rhai"));
        assert_eq!(recipe, ["--name", "x", "--port=80"]);
        assert!(!help);
    }

    #[test]
    fn dry_run_value_needs_equals() {
        let SplitArgs { own, recipe, .. } = split(&["r.rhai", "--dry-run=server", "--name", "x"]);
        assert_eq!(own, ["--dry-run=server"]);
        assert_eq!(recipe, ["--name", "x"]);
    }

    #[test]
    fn help_after_script_is_the_recipes() {
        assert!(split(&["r.rhai", "--help"]).recipe_help);
    }

    #[test]
    fn short_clusters() {
        assert_eq!(split(&["-vv", "r.rhai", "-ojson"]).own, ["-vv", "-ojson"]);
    }

    #[test]
    fn double_dash_passes_everything_to_the_recipe() {
        let SplitArgs { own, recipe, .. } = split(&["r.rhai", "--", "--dry-run"]);
        assert!(own.is_empty());
        assert_eq!(recipe, ["--dry-run"]);
    }

    #[test]
    fn every_own_option_is_reserved_for_wildrun() {
        let own = own_option_names();
        for name in [
            "config",
            "set",
            "dry-run",
            "diff",
            "delete",
            "prune",
            "allow-prune-all",
            "allow-prune-data",
            "rotate-secret",
            "watch",
            "force",
            "adopt",
            "allow-read",
            "wait",
            "timeout",
            "request-timeout",
            "output",
            "help",
            "version",
        ] {
            assert!(own.iter().any(|o| o == name), "{name} missing from {own:?}");
        }
    }

    #[test]
    fn options_that_do_not_go_together_are_refused() {
        let parse = |words: &[&str]| {
            let mut all = vec!["wildrun", "r.rhai"];
            all.extend_from_slice(words);
            Invocation::parse(all.iter().map(OsString::from).collect())
                .unwrap()
                .request()
                .action
        };
        for words in [
            &["--diff", "--delete"][..],
            &["--delete", "--prune"],
            &["--dry-run", "--prune"],
            &["--diff", "--dry-run=server"],
            &["--wait", "--dry-run"],
            &["--timeout", "5m"],
            &["--watch", "--diff"],
            &["--allow-prune-all"],
            &["--allow-prune-data"],
            &["--rotate-secret", "shop/db", "--delete"],
            &["--rotate-secret", "shop/db", "--watch"],
        ] {
            assert!(parse(words).is_err(), "{words:?}");
        }
        assert_eq!(parse(&["--dry-run"]), Ok(Action::Render));
        assert_eq!(parse(&["--dry-run=server"]), Ok(Action::ServerDryRun));
        assert_eq!(parse(&["--diff", "--prune"]), Ok(Action::Diff));
        assert_eq!(parse(&["--delete"]), Ok(Action::Delete));
        assert_eq!(
            parse(&["--rotate-secret", "shop/db", "--rotate-secret", "shop/api"]),
            Ok(Action::Apply)
        );
        for bad in ["db", "Shop/db", "shop/"] {
            let words = ["wildrun", "r.rhai", "--rotate-secret", bad];
            assert!(
                Invocation::parse(words.iter().map(OsString::from).collect()).is_err(),
                "{bad}"
            );
        }
        assert_eq!(
            parse(&["--delete", "--allow-prune-data"]),
            Ok(Action::Delete)
        );
        assert_eq!(parse(&["--prune", "--wait"]), Ok(Action::Apply));
        assert_eq!(
            parse(&[
                "--prune",
                "--allow-prune-all",
                "--allow-prune-data",
                "--watch"
            ]),
            Ok(Action::Apply)
        );
        assert_eq!(
            parse(&["--diff", "--prune", "--allow-prune-data"]),
            Ok(Action::Diff)
        );
    }

    #[test]
    fn invocation_parses() {
        let inv = Invocation::parse(
            ["wildrun", "r.rhai", "--name", "x", "--dry-run", "-q"]
                .iter()
                .map(OsString::from)
                .collect(),
        )
        .unwrap();
        assert_eq!(inv.cli.dry_run, Some(DryRun::Client));
        assert_eq!(inv.cli.quiet, 1);
        assert_eq!(inv.recipe_words, ["--name", "x"]);
    }
}
