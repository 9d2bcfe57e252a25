//! One run of a recipe, from the request the command line made to the
//! outcome: prepare the run (recipe, parameters, configuration, instance),
//! run the body, then one function per action: render, apply (and prune),
//! diff, delete; then `--wait` and the script's watches.
//!
//! The request is plain data ([`RunRequest`]), so this module does not know the
//! command line; [`crate::cli`] builds it and [`crate::watch`] repeats it.

use crate::action::Action;
use crate::config::{self, Config, Sources};
use crate::files::ReadScope;
use crate::kube::apply::ExecOptions;
use crate::kube::cleanup::{PruneRules, Pruning, WatchStep};
use crate::kube::cluster::{Cluster, ConnectOptions};
use crate::kube::report::{Entry, ObjectAction as ReportAction, Report};
use crate::outcome::{Failure, Outcome, EXIT_FAILED, EXIT_OK};
use crate::plan::{Format, Instance, Plan};
use crate::script::engine::{ScriptRun, Session};
use crate::script::support::{Mode, Produced, RunContext, RunFiles};
use crate::{kube, params};
use anyhow::{anyhow, Context, Result};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

/// Everything a run needs from the command line.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// The recipe.
    pub(crate) script: Option<PathBuf>,
    /// Words for the recipe (`--name myservice ...`).
    pub(crate) recipe_words: Vec<String>,
    /// Show the recipe's parameters instead of running it.
    pub(crate) recipe_help: bool,
    /// What to do with the plan; a usage error for options that do not go together.
    pub(crate) action: Result<Action, String>,
    /// `--prune`.
    pub(crate) prune: bool,
    /// `--allow-prune-all`: `--prune` may remove every object of the instance.
    pub(crate) allow_prune_all: bool,
    /// `--allow-prune-data`: `--prune` and `--delete` may remove objects that hold data.
    pub(crate) allow_prune_data: bool,
    /// `--rotate-secret`: the Secrets (`namespace/name`) whose generated
    /// values are made again.
    pub(crate) rotate_secrets: Vec<String>,
    /// `--wait`, and for how long.
    pub(crate) wait: Option<Duration>,
    /// `--show-secrets`: whether `--dry-run` prints Secret values.
    pub(crate) secret_values: crate::plan::SecretValues,
    /// `-o`.
    pub(crate) output: Option<Format>,
    /// How to apply (`--force`, `--adopt`, `--require-tls`, `--dry-run=server`).
    pub(crate) exec: ExecOptions,
    /// How to reach the cluster.
    pub(crate) connect: ConnectOptions,
    /// Where the configuration comes from.
    pub(crate) sources: Sources,
    /// `--allow-read`.
    pub(crate) allow_read: Vec<PathBuf>,
    /// Long names of wildrun's own options, which recipes cannot declare.
    pub(crate) own_options: Vec<String>,
    /// The run is one of `--watch`'s re-runs.
    pub(crate) file_watch: bool,
    /// With `--watch`: when the watch last saw a file of the run change
    /// (`None` for the first run), for the prune's settling time.
    pub(crate) last_change: Option<std::time::SystemTime>,
    /// How `--wait` (and a prune's wait for a replacing route) shows its progress.
    pub(crate) wait_display: crate::reach::NewWaitDisplay,
}

/// One run of the recipe, and every file it read (script, modules,
/// templates, configuration), also when it failed.
pub(crate) fn run_once(
    request: &RunRequest,
    runtime: tokio::runtime::Handle,
) -> (Result<Outcome, Failure>, Vec<PathBuf>) {
    let Some(script) = &request.script else {
        return (Err(Failure::usage("no recipe given: wildrun [OPTIONS] <SCRIPT> [--<param> <value>]... (try wildrun --help)")), Vec::new());
    };
    if !script.is_file() {
        return (
            Err(Failure::usage(format!(
                "recipe {} does not exist",
                script.display()
            ))),
            vec![script.clone()],
        );
    }
    let recipe_dir = match script.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let files = Rc::new(RunFiles::default());
    let mut config_file = None;
    let result = Session::open(&files, script, &recipe_dir)
        .map_err(Failure::from)
        .and_then(|session| {
            let start = Start {
                files: files.clone(),
                recipe_dir: &recipe_dir,
                runtime,
                config_file: &mut config_file,
            };
            run_session(request, session, start)
        });
    let mut read = files.read();
    read.extend(config_file);
    (result, read)
}

/// What [`run_once`] gives a session to start its run with, and where it
/// learns the configuration file the run read.
struct Start<'a> {
    files: Rc<RunFiles>,
    recipe_dir: &'a Path,
    runtime: tokio::runtime::Handle,
    config_file: &'a mut Option<PathBuf>,
}

/// What a prepared run knows before its body runs.
struct PreparedRun {
    args: serde_json::Map<String, Value>,
    config: Config,
    read_scope: ReadScope,
    instance: Instance,
}

/// Runs the recipe's body and carries out the action. With `-o` for a
/// report, a run that fails before it has one still prints one: empty.
fn run_session(request: &RunRequest, session: Session, start: Start) -> Result<Outcome, Failure> {
    let wants_report = matches!(
        request.action,
        Ok(Action::Apply | Action::ServerDryRun | Action::Delete)
    );
    carry_out(request, session, start).map_err(|failure| match request.output {
        Some(format) if wants_report && failure.stdout.is_empty() => {
            with_report(failure, format, &[])
        }
        _ => failure,
    })
}

/// [`run_session`]'s work.
fn carry_out(request: &RunRequest, session: Session, start: Start) -> Result<Outcome, Failure> {
    let declared = session.params(&request.own_options)?;
    let recipe = &session.recipe;
    if request.recipe_help {
        return Ok(Outcome::new(
            params::help_text(&recipe.display, &recipe.about, &declared),
            EXIT_OK,
        ));
    }
    let args = params::parse_args(&declared, &request.recipe_words, &recipe.display)
        .map_err(Failure::usage)?;
    let action = request.action.clone().map_err(Failure::usage)?;
    let prepared = prepare(request, &recipe.path, start.recipe_dir, args)?;
    let recipe_display = recipe.display.clone();
    start.config_file.clone_from(&prepared.config.file);
    let instance = prepared.instance;
    let context = RunContext {
        config: prepared.config,
        instance: instance.label.clone(),
        recipe_dir: start.recipe_dir.to_path_buf(),
        recipe_display: recipe_display.clone(),
        mode: Mode::of(&action),
        connect: request.connect.clone(),
        read_scope: prepared.read_scope,
        action,
        force: request.exec.force,
        adopt: request.exec.adopt,
        rotate_secrets: request.rotate_secrets.iter().cloned().collect(),
        runtime: start.runtime,
    };
    let run = session.start(context, start.files);
    let started = std::time::Instant::now();
    let produced = run.run_body(&Value::Object(prepared.args))?;
    check_rotations(&request.rotate_secrets, &produced.plan)?;
    let script_code = produced.exit_code.unwrap_or(EXIT_OK);
    let config = &run.context().config;
    let instance = &instance;
    match action {
        Action::Render => render(&produced, request, &recipe_display, instance),
        Action::Diff => {
            note_unserved_watches(&produced);
            let rules = prune_rules(request, config, None);
            diff(&run, request, &produced.plan, instance, &rules)
        }
        Action::Delete => {
            note_unserved_watches(&produced);
            let cluster = run.cluster()?;
            let mut report = Report::default();
            let rules = prune_rules(request, config, None);
            run.block_on(kube::cleanup::delete_instance(
                &cluster,
                &produced.plan,
                &instance.label,
                &rules,
                request.exec.server_dry_run,
                &mut report,
            ))
            .map_err(|e| reported(request, e, &report.entries))?;
            summarize(request, &produced.plan, instance, &report, started);
            finish(request, produced.stdout, &report, script_code)
        }
        Action::Apply | Action::ServerDryRun => {
            apply_and_serve(&run, request, produced, instance, config, started)
        }
    }
}

/// Refuses a `--rotate-secret` that names no Secret the recipe generates:
/// a typo would otherwise rotate nothing, silently.
fn check_rotations(rotate: &[String], plan: &Plan) -> Result<(), Failure> {
    let generated = plan.generated_secrets();
    for wanted in rotate {
        if !generated.iter().any(|g| g == wanted) {
            let made = if generated.is_empty() {
                "it generates none".to_string()
            } else {
                format!("it generates {}", generated.join(", "))
            };
            return Err(Failure::usage(format!(
                "--rotate-secret {wanted}: the recipe generates no Secret {wanted} with kube::generated_secret ({made})"
            )));
        }
    }
    Ok(())
}

/// The configuration and the instance, before the body runs.
fn prepare(
    request: &RunRequest,
    script: &Path,
    recipe_dir: &Path,
    args: serde_json::Map<String, Value>,
) -> Result<PreparedRun, Failure> {
    let cwd = std::env::current_dir().context("cannot read the working directory")?;
    let config = config::load(&request.sources, &cwd, &|k| std::env::var(k).ok())?;
    let read_scope = read_scope(request, recipe_dir, &config, &cwd)?;
    for w in &config.warnings {
        tracing::warn!("{w}");
    }
    for n in &config.notes {
        tracing::debug!("{n}");
    }
    // Each key is required where a script uses it (`config::require`), not here.
    let instance = Instance::of_recipe(script, args.get("name").and_then(Value::as_str))?;
    Ok(PreparedRun {
        args,
        config,
        read_scope,
        instance,
    })
}

/// Watches run only when applying.
fn note_unserved_watches(produced: &Produced) {
    if !produced.watches.is_empty() {
        tracing::info!("the script watches {} kind(s); watches run only when applying (without --dry-run, --diff or --delete)", produced.watches.len());
    }
}

/// `--dry-run`: the plan, printed.
fn render(
    produced: &Produced,
    request: &RunRequest,
    recipe: &str,
    instance: &Instance,
) -> Result<Outcome, Failure> {
    let mut stdout = produced.stdout.clone();
    if !produced.plan.is_empty() {
        let format = request.output.unwrap_or_default();
        stdout.push_str(&produced.plan.render(format, request.secret_values)?);
        tracing::info!(
            "{recipe}: {} object(s) planned for instance {} (dry run: nothing was applied)",
            produced.plan.len(),
            instance.name,
        );
    }
    Ok(Outcome::new(stdout, produced.exit_code.unwrap_or(EXIT_OK)))
}

/// `--diff` (with `--prune`: also what pruning would remove); exit 1 when
/// something differs.
fn diff(
    run: &ScriptRun,
    request: &RunRequest,
    plan: &Plan,
    instance: &Instance,
    rules: &PruneRules,
) -> Result<Outcome, Failure> {
    let cluster = run.cluster()?;
    let diffs = run.block_on(async {
        let removed = if request.prune {
            // What the prune would leave in place is said, as the prune would.
            let preview =
                kube::cleanup::preview_prune(&cluster, plan, &instance.label, rules).await?;
            for entry in &preview.spared {
                entry.log(false, false);
            }
            preview.removed
        } else {
            Vec::new()
        };
        kube::diff::diff_plan(&cluster, plan, &removed, request.exec.force).await
    })?;
    for conflicted in diffs.iter().filter(|d| !d.conflicts.is_empty()) {
        tracing::warn!(
            "{}: applying would fail with a conflict: another field manager owns {}; the diff shows what --force would do, which takes them over",
            conflicted.target,
            conflicted.conflicts.join(", ")
        );
    }
    let changed: Vec<&kube::diff::ObjectDiff> =
        diffs.iter().filter(|d| !d.text.is_empty()).collect();
    let colour = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let stdout: String = changed
        .iter()
        .map(|d| {
            if colour {
                kube::diff::colour(&d.text)
            } else {
                d.text.clone()
            }
        })
        .collect();
    let name = &instance.name;
    if changed.is_empty() {
        tracing::info!("{name}: the cluster matches the recipe");
    } else {
        tracing::info!("{name}: {} object(s) differ", changed.len());
    }
    let code = if changed.is_empty() {
        EXIT_OK
    } else {
        EXIT_FAILED
    };
    Ok(Outcome::new(stdout, code))
}

/// Applies the plan (and prunes), then `--wait`, then serves the script's
/// watches until stopped.
fn apply_and_serve(
    run: &ScriptRun,
    request: &RunRequest,
    produced: Produced,
    instance: &Instance,
    config: &Config,
    started: std::time::Instant,
) -> Result<Outcome, Failure> {
    let Produced {
        plan,
        stdout,
        exit_code,
        watches,
        reads,
    } = produced;
    let script_code = exit_code.unwrap_or(EXIT_OK);
    // A script that only reads and reports (a doctor) has nothing to apply.
    if plan.is_empty() && !request.prune && watches.is_empty() {
        return Ok(Outcome::new(stdout, script_code));
    }
    if !watches.is_empty() {
        for (given, option) in [
            (request.prune, "--prune"),
            (request.wait.is_some(), "--wait"),
            (request.file_watch, "--watch"),
            (!request.rotate_secrets.is_empty(), "--rotate-secret"),
        ] {
            if given {
                return Err(Failure::usage(format!("{option} does not go with a script that calls kube::watch: it runs until stopped, and its copies elect the one that applies the plan")));
            }
        }
    }
    let cluster = run
        .cluster()
        .map_err(|e| reported(request, e, &not_done(&plan)))?;
    if !watches.is_empty() {
        // Copies of an automation elect a leader: the body's plan is the
        // leader's to apply, like the handlers' (see script::events).
        // The body's reads are not used (see script::events::serve): not
        // kept for as long as the watches run either.
        drop(reads);
        run.serve(&cluster, watches, &plan, &request.exec)?;
        return Ok(Outcome::new(stdout, script_code));
    }
    // In --watch, a prune waits until the files the run read have settled.
    let unsettled = request.file_watch.then(|| {
        let mut files = run.files_read();
        files.extend(config.file.iter().cloned());
        crate::watch::settled(&files, request.last_change, std::time::SystemTime::now()).err()
    });
    let watch_step = unsettled.clone().map(|u| WatchStep {
        unsettled: u.map(|u| u.to_string()),
    });
    let rules = prune_rules(request, config, watch_step);
    // A prune that removes routes the plan replaces waits for the new
    // route to answer first, as long as --wait would.
    let replacing = crate::reach::Settings::from_config(
        config,
        request.wait.unwrap_or(crate::reach::DEFAULT_TIMEOUT),
    );
    let (report, error) = run.block_on(apply(
        &cluster, request, &plan, instance, &reads, &rules, &replacing,
    ));
    if let Some(error) = error {
        return Err(reported(request, error, &report.entries));
    }
    summarize(request, &plan, instance, &report, started);
    if let Some(timeout) = request.wait {
        wait_until_reachable(run, &cluster, &plan, config, timeout, request.wait_display)
            .map_err(|f| reported(request, f, &report.entries))?;
    }
    let mut outcome = finish(request, stdout, &report, script_code)?;
    // Held for the files to settle: the watch runs again once they have.
    let held = report.count(ReportAction::Held) > 0;
    outcome.prune_due = unsettled.flatten().filter(|_| held).map(|u| u.due);
    Ok(outcome)
}

/// What narrows or widens `--prune` for this run: the options,
/// `prune.keepKinds`, and in `--watch` the step's state.
fn prune_rules(request: &RunRequest, config: &Config, watch: Option<WatchStep>) -> PruneRules {
    let keep_kinds = config
        .get("prune.keepKinds")
        .and_then(Value::as_array)
        .map(|kinds| {
            kinds
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    PruneRules {
        allow_all: request.allow_prune_all,
        allow_data: request.allow_prune_data,
        keep_kinds,
        watch,
    }
}

/// How long a prune that replaces a route waits, once the new route
/// answers, before removing the old: Traefik serves a route it has taken
/// only after its providers' throttle (`providersThrottleDuration`, 2 s by
/// default), with room for a loaded machine.
const ROUTE_SETTLE: std::time::Duration = std::time::Duration::from_secs(5);

/// Applies the plan; with `--prune`, decides what to prune and checks the
/// delete permission before the first write, and removes what the recipe
/// stopped producing after. When that removes routes (an Ingress the plan
/// replaced by an HTTPRoute, or back), it first waits, with `replacing`,
/// until the plan's service answers, so the move never stops answering.
/// The report is there whatever happens: after a failure it says what was
/// done, what failed and what was not done.
async fn apply(
    cluster: &Cluster,
    request: &RunRequest,
    plan: &Plan,
    instance: &Instance,
    script_reads: &kube::reads::Reads,
    rules: &PruneRules,
    replacing: &crate::reach::Settings,
) -> (Report, Option<kube::KubeError>) {
    let not_done = |extra: Vec<Entry>| Report {
        entries: not_done(plan).into_iter().chain(extra).collect(),
        ..Report::default()
    };
    let pruning = if request.prune {
        match kube::cleanup::check_prune(cluster, plan, &instance.label, rules).await {
            Ok(pruning) => Some(pruning),
            Err(e) => return (not_done(Vec::new()), Some(e)),
        }
    } else {
        None
    };
    let prune_not_done = || pruning.as_ref().map(Pruning::not_done).unwrap_or_default();
    let mut report = match kube::apply::execute(cluster, plan, &request.exec, script_reads).await {
        Ok(report) => report,
        Err(e) => {
            let report = match &e {
                kube::KubeError::Failed { entries, .. } => Report {
                    entries: entries.iter().cloned().chain(prune_not_done()).collect(),
                    ..Report::default()
                },
                _ => not_done(prune_not_done()),
            };
            return (report, Some(e));
        }
    };
    if let Some(pruning) = pruning {
        let dry_run = request.exec.server_dry_run;
        let planned_hosts: Vec<String> = plan
            .ordered()
            .iter()
            .filter_map(|p| match &p.step {
                crate::plan::Step::Apply(a) => Some(&a.object),
                _ => None,
            })
            .flat_map(|o| kube::cleanup::route_hosts(&o.kind, &o.value))
            .collect();
        let replaced = pruning.replaced_routes(&planned_hosts);
        if !dry_run && !replaced.is_empty() {
            tracing::info!(
                "--prune: the plan replaces {}; waiting until the new route answers before removing it",
                kube::error::first_few(&replaced)
            );
            if let Err(e) = crate::reach::until_reachable(
                cluster,
                plan,
                replacing,
                &mut *(request.wait_display)(),
            )
            .await
            {
                report.entries.extend(pruning.not_done());
                let reason = e.to_string();
                return (
                    report,
                    Some(kube::KubeError::RouteNotAnswering { replaced, reason }),
                );
            }
            // The answer may still come through the old route: Traefik
            // reports a route taken when it reads it, and serves it once it
            // applies its providers' configuration (throttled, 2 s by
            // default).
            tracing::info!(
                "--prune: giving Traefik {}s to serve the new route before removing the old",
                ROUTE_SETTLE.as_secs()
            );
            tokio::time::sleep(ROUTE_SETTLE).await;
        }
        let pruned =
            kube::cleanup::prune_instance(cluster, plan, pruning, dry_run, &mut report).await;
        if let Err(e) = pruned {
            return (report, Some(e));
        }
    }
    (report, None)
}

/// Every step of `plan` as not done, for the report of a run that failed
/// before its first write.
fn not_done(plan: &Plan) -> Vec<Entry> {
    plan.ordered()
        .iter()
        .map(|p| Entry::for_step(ReportAction::NotDone, &p.step, None))
        .collect()
}

/// `--wait`: until the service answers over HTTPS, or the timeout.
fn wait_until_reachable(
    run: &ScriptRun,
    cluster: &Rc<Cluster>,
    plan: &Plan,
    config: &Config,
    timeout: Duration,
    display: crate::reach::NewWaitDisplay,
) -> Result<(), Failure> {
    let settings = crate::reach::Settings::from_config(config, timeout);
    run.block_on(crate::reach::until_reachable(
        cluster,
        plan,
        &settings,
        &mut *display(),
    ))
    .map_err(|e| Failure::from(anyhow::Error::from(e)))
}

/// The one-line summary of what the run did, on stderr.
fn summarize(
    request: &RunRequest,
    plan: &Plan,
    instance: &Instance,
    report: &Report,
    started: std::time::Instant,
) {
    if plan.is_empty() && !request.prune {
        return;
    }
    let dry = if request.exec.server_dry_run {
        " (server dry run: nothing persisted)"
    } else {
        ""
    };
    tracing::info!(
        "{}: {} in {:.2}s{dry}",
        instance.name,
        report.summary(),
        started.elapsed().as_secs_f64()
    );
}

/// The script's stdout, then the report in the `-o` format.
fn finish(
    request: &RunRequest,
    script_stdout: String,
    report: &Report,
    code: u8,
) -> Result<Outcome, Failure> {
    let report_text = match request.output {
        None => String::new(),
        Some(format) => render_report(format, &report.entries)?,
    };
    Ok(Outcome::new(format!("{script_stdout}{report_text}"), code))
}

/// Report `entries` in `format`, for stdout.
fn render_report(format: Format, entries: &[Entry]) -> anyhow::Result<String> {
    Ok(match format {
        Format::Json => serde_json::to_string_pretty(entries)? + "\n",
        Format::Yaml => crate::yaml::emit_document(&serde_json::to_value(entries)?)
            .map_err(anyhow::Error::msg)?,
    })
}

/// `failure` with the report `entries` for stdout, in `format`; a report
/// that cannot be written is said on stderr (the failure matters more).
fn with_report(mut failure: Failure, format: Format, entries: &[Entry]) -> Failure {
    match render_report(format, entries) {
        Ok(text) => failure.stdout = text,
        Err(e) => tracing::error!("cannot write the report: {e:#}"),
    }
    failure
}

/// The failure of a run that stopped on `error`, with the report of what
/// was done, what failed and what was not done (`entries`) when `-o` asks
/// for one.
fn reported(request: &RunRequest, error: impl Into<Failure>, entries: &[Entry]) -> Failure {
    let failure = error.into();
    match request.output {
        Some(format) => with_report(failure, format, entries),
        None => failure,
    }
}

/// The folders a recipe may read: its own folder tree, the configuration
/// file's folder, `--allow-read` and `sandbox.allowRead` (relative to the
/// configuration file's folder, or the working directory without a file).
fn read_scope(
    request: &RunRequest,
    recipe_dir: &Path,
    config: &Config,
    cwd: &Path,
) -> Result<ReadScope, Failure> {
    let config_dir = config
        .file
        .as_deref()
        .and_then(Path::parent)
        .map(|d| cwd.join(d));
    let mut roots = vec![recipe_dir.to_path_buf()];
    roots.extend(config_dir.clone());
    for dir in &request.allow_read {
        if !dir.is_dir() {
            return Err(Failure::usage(format!(
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
    Ok(ReadScope::new(roots))
}
