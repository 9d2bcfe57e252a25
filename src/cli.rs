//! The command line: `wildrun [OPTIONS] <SCRIPT> [--<param> <value>]...`.
//!
//! wildrun's own options may stand before or after the script; every other
//! word after the script is a recipe parameter. The options are split out
//! with clap's own table of them, so the two can never disagree.

use crate::config::{self, Sources};
use crate::kube;
use crate::params::{self, UsageError};
use crate::plan::{Format, Plan};
use crate::script::engine::{self, Recipe};
use crate::script::support::{Mode, RunHandle, RunState};
use anyhow::{anyhow, bail, Context, Result};
use clap::{CommandFactory, Parser, ValueEnum};
use serde_json::Value;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Exit code: success (and, with `--diff`, no differences).
pub const EXIT_OK: u8 = 0;
/// Exit code: the recipe failed (validation, API error, a failed check).
pub const EXIT_FAILED: u8 = 1;
/// Exit code: the command line is wrong.
pub const EXIT_USAGE: u8 = 2;

/// `--dry-run` modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DryRun {
    /// Render locally; contact no cluster.
    Client,
    /// Let the API server validate without persisting.
    Server,
}

/// `-o` formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum OutputFormat {
    /// Multi-document YAML.
    #[default]
    Yaml,
    /// One JSON array.
    Json,
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
pub struct Cli {
    /// The recipe to run (a .rhai file).
    #[arg(value_name = "SCRIPT")]
    pub script: Option<PathBuf>,

    /// Configuration file (default: wildrun.yaml in this folder or a parent, or $WILDRUN_CONFIG).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Override a configuration key, e.g. --set cloud.domain=example.com (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,

    /// Print the objects instead of applying them (client: no cluster contact; server: the API server validates).
    #[arg(long, value_name = "MODE", num_args = 0..=1, require_equals = true, default_missing_value = "client", value_enum)]
    pub dry_run: Option<DryRun>,

    /// Show the differences between the cluster and the recipe (exit 1 when there are some).
    #[arg(long)]
    pub diff: bool,

    /// Delete everything this recipe instance made.
    #[arg(long)]
    pub delete: bool,

    /// After applying, delete objects of this instance the recipe no longer produces.
    #[arg(long)]
    pub prune: bool,

    /// Re-run whenever the recipe, a module, a template or the configuration changes.
    #[arg(long)]
    pub watch: bool,

    /// Fail when the TLS secret to copy does not exist yet (default: warn).
    #[arg(long)]
    pub require_tls: bool,

    /// Take over fields another field manager owns (server-side apply conflicts).
    #[arg(long)]
    pub force: bool,

    /// Take over objects another instance of a recipe made (their wildrun.dev/instance label differs); without it they are refused.
    #[arg(long)]
    pub adopt: bool,

    /// Let the recipe read files in this folder too (repeatable); by default only the recipe's folder tree and the configuration file's folder.
    #[arg(long = "allow-read", value_name = "DIR")]
    pub allow_read: Vec<PathBuf>,

    /// After applying, wait until the service answers: rollouts, each Ingress host's DNS record (at its zone's nameservers), TLS Secret, then an HTTPS request.
    #[arg(long)]
    pub wait: bool,

    /// How long --wait waits (300, 90s, 5m, 1h30m; default 5m); then exit 1 naming the link and why.
    #[arg(long, value_name = "DURATION", value_parser = crate::reach::parse_duration)]
    pub timeout: Option<std::time::Duration>,

    /// kubeconfig context to use.
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,

    /// kubeconfig file to use (default: $KUBECONFIG or ~/.kube/config).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,

    /// Output format: of the objects with --dry-run (default yaml), of the report otherwise (default none).
    #[arg(short = 'o', long = "output", value_enum)]
    pub output: Option<OutputFormat>,

    /// More output on stderr (-v debug, -vv trace).
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Less output on stderr: only warnings and errors (-qq: only errors).
    #[arg(short, long, action = clap::ArgAction::Count, conflicts_with = "verbose")]
    pub quiet: u8,
}

/// The command line, split into wildrun's options and the recipe's words.
#[derive(Debug)]
pub struct Invocation {
    /// wildrun's options.
    pub cli: Cli,
    /// Words for the recipe (`--name myservice ...`).
    pub recipe_words: Vec<String>,
    /// `--help` (or `-h`) came after the script: show the recipe's parameters.
    pub recipe_help: bool,
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

/// Splits `argv` (without the program name) into wildrun's options and the recipe's words.
pub fn split_args(argv: &[String]) -> (Vec<String>, Option<String>, Vec<String>, bool) {
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
    (own, script, recipe, recipe_help)
}

impl Invocation {
    /// Parses the process's command line (program name first).
    pub fn parse(argv: Vec<OsString>) -> Result<Invocation, clap::Error> {
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
        let (own, script, recipe_words, recipe_help) = split_args(&words);
        let mut clap_words = vec![program];
        clap_words.extend(own);
        if let Some(s) = script {
            clap_words.push(s);
        }
        let cli = Cli::try_parse_from(clap_words)?;
        Ok(Invocation {
            cli,
            recipe_words,
            recipe_help,
        })
    }
}

/// A failure with the exit code it maps to.
#[derive(Debug)]
pub struct Failure {
    /// Process exit code.
    pub code: u8,
    /// What went wrong.
    pub error: anyhow::Error,
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Failure {
        let code = if error.downcast_ref::<UsageError>().is_some() {
            EXIT_USAGE
        } else {
            EXIT_FAILED
        };
        Failure { code, error }
    }
}

fn usage(message: impl Into<String>) -> Failure {
    Failure {
        code: EXIT_USAGE,
        error: anyhow::Error::new(UsageError(message.into())),
    }
}

/// What a finished run produced.
#[derive(Debug)]
pub struct Outcome {
    /// Text for stdout (manifests, help).
    pub stdout: String,
    /// Exit code.
    pub code: u8,
}

/// Runs one invocation to completion on the current thread.
///
/// The Rhai engine lives on this thread; host functions that need the
/// network block on `runtime`. `--watch` re-runs through [`crate::watch`].
pub fn run(inv: &Invocation, runtime: tokio::runtime::Handle) -> Result<Outcome, Failure> {
    if inv.cli.watch && !inv.recipe_help {
        // Options that do not go together are not fixed by editing a file.
        action(&inv.cli)?;
        return crate::watch::watch_files(inv, runtime);
    }
    run_once(inv, runtime).0
}

/// One run of the recipe, and every file it read (script, modules,
/// templates, configuration), also when it failed.
pub fn run_once(
    inv: &Invocation,
    runtime: tokio::runtime::Handle,
) -> (Result<Outcome, Failure>, Vec<PathBuf>) {
    let cli = &inv.cli;
    let Some(script) = &cli.script else {
        return (Err(usage("no recipe given: wildrun [OPTIONS] <SCRIPT> [--<param> <value>]... (try wildrun --help)")), Vec::new());
    };
    if !script.is_file() {
        return (
            Err(usage(format!("recipe {} does not exist", script.display()))),
            vec![script.clone()],
        );
    }
    let mode = if matches!(cli.dry_run, Some(DryRun::Client)) {
        Mode::DryRun
    } else {
        Mode::Cluster
    };
    let recipe_dir = match script.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let run = RunHandle::new(RunState {
        config: config::Config {
            value: Value::Object(Default::default()),
            file: None,
            warnings: Vec::new(),
        },
        instance: String::new(),
        plan: Plan::default(),
        files_read: Default::default(),
        recipe_dir: recipe_dir.clone(),
        recipe_display: crate::files::display_path(script),
        mode,
        connect: kube::cluster::ConnectOptions {
            kubeconfig: cli.kubeconfig.clone(),
            context: cli.context.clone(),
        },
        cluster: None,
        stdout: String::new(),
        exit_code: None,
        watches: Vec::new(),
        file_watch: cli.watch,
        read_scope: crate::files::ReadScope::new(
            std::iter::once(recipe_dir.clone()).chain(cli.allow_read.iter().cloned()),
        ),
        action: script_action(cli),
        force: cli.force,
        runtime,
    });
    let result = run_with(inv, script, &run, &recipe_dir);
    let state = run.state();
    let mut files: Vec<PathBuf> = state.files_read.iter().cloned().collect();
    if let Some(f) = &state.config.file {
        files.push(f.clone());
    }
    (result, files)
}

fn run_with(
    inv: &Invocation,
    script: &Path,
    run: &RunHandle,
    recipe_dir: &Path,
) -> Result<Outcome, Failure> {
    let cli = &inv.cli;
    run.track_file(script);
    let engine = engine::new_engine(run, recipe_dir);
    let recipe = Recipe::compile(&engine, script)?;
    let declared = recipe.params(&engine)?;
    if inv.recipe_help {
        return Ok(Outcome {
            stdout: params::help_text(&recipe.display, &recipe.about, &declared),
            code: EXIT_OK,
        });
    }
    let args =
        params::parse_args(&declared, &inv.recipe_words, &recipe.display).map_err(|e| Failure {
            code: EXIT_USAGE,
            error: anyhow::Error::new(e),
        })?;

    let action = action(cli)?;

    let cwd = std::env::current_dir().context("cannot read the working directory")?;
    let sources = Sources {
        explicit_file: cli.config.clone(),
        sets: cli.sets.clone(),
    };
    let config = config::load(&sources, &cwd, &|k| std::env::var(k).ok())?;
    run.state().config = config.clone();
    run.state().read_scope = read_scope(cli, recipe_dir, &config, &cwd)?;
    for w in &config.warnings {
        tracing::warn!("{w}");
    }
    // Each key is required where a script uses it (`config::require`), not here.

    let instance = instance_name(&recipe.path, &args)?;
    {
        let mut state = run.state();
        state.config = config.clone();
        state.instance = instance.clone();
    }
    let started = std::time::Instant::now();
    recipe.run(&engine, &Value::Object(args), &config.value)?;
    let (plan, script_stdout, script_code) = {
        let state = run.state();
        (
            state.plan.clone(),
            state.stdout.clone(),
            state.exit_code.unwrap_or(EXIT_OK),
        )
    };

    if action == Action::Render {
        let format = match cli.output.unwrap_or_default() {
            OutputFormat::Yaml => Format::Yaml,
            OutputFormat::Json => Format::Json,
        };
        let mut stdout = script_stdout;
        if !plan.is_empty() {
            stdout.push_str(&plan.render(format)?);
            tracing::info!(
                "{}: {} object(s) planned for instance {instance} (dry run: nothing was applied)",
                recipe.display,
                plan.len(),
            );
        }
        return Ok(Outcome {
            stdout,
            code: script_code,
        });
    }
    // A script that only reads and reports (a doctor) has nothing to apply.
    let watches = std::mem::take(&mut run.state().watches);
    if !watches.is_empty() && action != Action::Apply {
        tracing::info!("the script watches {} kind(s); watches run only when applying (without --dry-run, --diff or --delete)", watches.len());
    }
    if plan.is_empty() && action == Action::Apply && !cli.prune && watches.is_empty() {
        return Ok(Outcome {
            stdout: script_stdout,
            code: script_code,
        });
    }

    let cluster = run.cluster()?;
    let server_dry_run = cli.dry_run == Some(DryRun::Server);
    let options = kube::apply::ExecOptions {
        server_dry_run,
        force: cli.force,
        require_tls: cli.require_tls,
        adopt: cli.adopt,
        quiet_unchanged: false,
    };
    let (report, diff_count, stdout) = run.block_on(async {
        match action {
            Action::Diff => {
                let removed = if cli.prune {
                    kube::cleanup::stale_objects(&cluster, &plan, &instance).await?
                } else {
                    Vec::new()
                };
                let diffs = kube::diff::diff_plan(&cluster, &plan, &removed).await?;
                let changed: Vec<&kube::diff::ObjectDiff> =
                    diffs.iter().filter(|d| !d.text.is_empty()).collect();
                let colour = std::io::IsTerminal::is_terminal(&std::io::stdout());
                let text: String = changed
                    .iter()
                    .map(|d| {
                        if colour {
                            kube::diff::colour(&d.text)
                        } else {
                            d.text.clone()
                        }
                    })
                    .collect();
                anyhow::Ok((None, Some(changed.len()), text))
            }
            Action::Delete => {
                let report =
                    kube::cleanup::delete_instance(&cluster, &plan, &instance, server_dry_run)
                        .await?;
                anyhow::Ok((Some(report), None, String::new()))
            }
            Action::Apply | Action::Render => {
                // Every verb the run needs, delete included, before the first write.
                if cli.prune {
                    kube::cleanup::check_prune(&cluster, &plan, &instance).await?;
                }
                let mut report = kube::apply::execute(&cluster, &plan, &options).await?;
                if cli.prune {
                    kube::cleanup::prune_instance(
                        &cluster,
                        &plan,
                        &instance,
                        server_dry_run,
                        &mut report,
                    )
                    .await?;
                }
                anyhow::Ok((Some(report), None, String::new()))
            }
        }
    })?;
    let elapsed = started.elapsed().as_secs_f64();
    if let Some(n) = diff_count {
        if n == 0 {
            tracing::info!("{instance}: the cluster matches the recipe");
        } else {
            tracing::info!("{instance}: {n} object(s) differ");
        }
        return Ok(Outcome {
            stdout,
            code: if n == 0 { EXIT_OK } else { EXIT_FAILED },
        });
    }
    let report = report.unwrap_or_default();
    let dry = if server_dry_run {
        " (server dry run: nothing persisted)"
    } else {
        ""
    };
    if !plan.is_empty() || cli.prune {
        tracing::info!("{instance}: {} in {elapsed:.2}s{dry}", report.summary());
    }
    if cli.wait && action == Action::Apply {
        let timeout = cli.timeout.unwrap_or(crate::reach::DEFAULT_TIMEOUT);
        let settings = crate::reach::Settings::from_config(&config, timeout);
        run.block_on(crate::reach::until_reachable(&cluster, &plan, &settings))
            .map_err(anyhow::Error::from)?;
    }
    if !watches.is_empty() && action == Action::Apply {
        crate::script::events::serve(
            run,
            &engine,
            &recipe.ast,
            &cluster,
            watches,
            &options,
            std::sync::mpsc::channel(),
        )?;
    }
    let report_text = match cli.output {
        None => String::new(),
        Some(OutputFormat::Json) => {
            serde_json::to_string_pretty(&report.entries).map_err(anyhow::Error::from)? + "\n"
        }
        Some(OutputFormat::Yaml) => {
            let entries = serde_json::to_value(&report.entries).map_err(anyhow::Error::from)?;
            crate::yaml::emit_document(&entries).map_err(anyhow::Error::msg)?
        }
    };
    Ok(Outcome {
        stdout: format!("{script_stdout}{report_text}"),
        code: script_code,
    })
}

/// What a run does after the script has built its plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    /// `--dry-run`: print the plan.
    Render,
    /// Apply (or `--dry-run=server`), then `--prune`.
    Apply,
    /// `--diff`.
    Diff,
    /// `--delete`.
    Delete,
}

/// The action the options ask for, or a usage error for combinations that make no sense.
/// What the run does, as scripts see it (`run::action()`); the options
/// that do not go together are refused later, by [`action`].
fn script_action(cli: &Cli) -> crate::action::Action {
    use crate::action::Action as A;
    match cli.dry_run {
        _ if cli.delete => A::Delete,
        _ if cli.diff => A::Diff,
        Some(DryRun::Client) => A::Render,
        Some(DryRun::Server) => A::ServerDryRun,
        None => A::Apply,
    }
}

fn action(cli: &Cli) -> Result<Action, Failure> {
    if cli.watch && (cli.diff || cli.delete) {
        return Err(usage(
            "--watch re-applies on every change; it does not go with --diff or --delete",
        ));
    }
    if cli.diff && cli.delete {
        return Err(usage(
            "--diff and --delete do not go together: --diff shows what applying would change",
        ));
    }
    if cli.delete && cli.prune {
        return Err(usage(
            "--delete already removes everything of the instance; drop --prune",
        ));
    }
    let client_dry_run = cli.dry_run == Some(DryRun::Client);
    if client_dry_run && (cli.diff || cli.delete || cli.prune) {
        return Err(usage(
            "--dry-run contacts no cluster, so it cannot --diff, --delete or --prune; use --dry-run=server to have the API server check without persisting",
        ));
    }
    if cli.diff && cli.dry_run.is_some() {
        return Err(usage("--diff never changes the cluster; drop --dry-run"));
    }
    if cli.wait && (cli.dry_run.is_some() || cli.diff || cli.delete || cli.watch) {
        return Err(usage(
            "--wait waits after applying until the service answers; it does not go with --dry-run, --diff, --delete or --watch",
        ));
    }
    if cli.timeout.is_some() && !cli.wait {
        return Err(usage("--timeout is how long --wait waits; add --wait"));
    }
    Ok(if client_dry_run {
        Action::Render
    } else if cli.diff {
        Action::Diff
    } else if cli.delete {
        Action::Delete
    } else {
        Action::Apply
    })
}

/// The folders a recipe may read: its own folder tree, the configuration
/// file's folder, `--allow-read` and `sandbox.allowRead` (relative to the
/// configuration file's folder, or the working directory without a file).
fn read_scope(
    cli: &Cli,
    recipe_dir: &Path,
    config: &config::Config,
    cwd: &Path,
) -> Result<crate::files::ReadScope, Failure> {
    let config_dir = config
        .file
        .as_deref()
        .and_then(Path::parent)
        .map(|d| cwd.join(d));
    let mut roots = vec![recipe_dir.to_path_buf()];
    roots.extend(config_dir.clone());
    for dir in &cli.allow_read {
        if !dir.is_dir() {
            return Err(usage(format!(
                "--allow-read {}: no such folder",
                dir.display()
            )));
        }
        roots.push(dir.clone());
    }
    let listed = config
        .get("sandbox.allowRead")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for dir in listed.iter().filter_map(Value::as_str) {
        let dir = config_dir.as_deref().unwrap_or(cwd).join(dir);
        if !dir.is_dir() {
            return Err(anyhow!("sandbox.allowRead: {} is not a folder", dir.display()).into());
        }
        roots.push(dir);
    }
    Ok(crate::files::ReadScope::new(roots))
}

/// `<recipe>.<name>`, or `<recipe>` for recipes without a `name` parameter.
fn instance_name(script: &Path, args: &serde_json::Map<String, Value>) -> Result<String> {
    let stem = script
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .ok_or_else(|| anyhow!("recipe {} has no file name", script.display()))?;
    let instance = match args.get("name").and_then(Value::as_str) {
        Some(name) => format!("{stem}.{name}"),
        None => stem,
    };
    if let Err(e) = crate::objects::validate::label_value(&instance) {
        bail!(
            "the instance label {instance:?} (recipe file name and --name) {e}; rename the recipe file to letters, digits, '-' and '_'"
        );
    }
    Ok(instance)
}

/// Sets up logging on stderr for the verbosity asked for.
pub fn init_logging(verbose: u8, quiet: u8) {
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
        Ok(Err(_)) => Err(Failure {
            code: EXIT_FAILED,
            error: anyhow!("internal error: the engine thread panicked"),
        }),
        Err(e) => Err(Failure {
            code: EXIT_FAILED,
            error: anyhow!("cannot start the engine thread: {e}"),
        }),
    };
    match result {
        Ok(outcome) => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            if out
                .write_all(outcome.stdout.as_bytes())
                .and_then(|_| out.flush())
                .is_err()
            {
                return ExitCode::from(EXIT_FAILED);
            }
            ExitCode::from(outcome.code)
        }
        Err(failure) => {
            eprintln!("error: {:#}", failure.error);
            ExitCode::from(failure.code)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(words: &[&str]) -> (Vec<String>, Option<String>, Vec<String>, bool) {
        split_args(&words.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn options_before_and_after_the_script() {
        let (own, script, recipe, help) = split(&[
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
        let (own, _, recipe, _) = split(&["r.rhai", "--dry-run=server", "--name", "x"]);
        assert_eq!(own, ["--dry-run=server"]);
        assert_eq!(recipe, ["--name", "x"]);
    }

    #[test]
    fn help_after_script_is_the_recipes() {
        let (_, _, _, help) = split(&["r.rhai", "--help"]);
        assert!(help);
    }

    #[test]
    fn short_clusters() {
        let (own, _, _, _) = split(&["-vv", "r.rhai", "-ojson"]);
        assert_eq!(own, ["-vv", "-ojson"]);
    }

    #[test]
    fn double_dash_passes_everything_to_the_recipe() {
        let (own, _, recipe, _) = split(&["r.rhai", "--", "--dry-run"]);
        assert!(own.is_empty());
        assert_eq!(recipe, ["--dry-run"]);
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
