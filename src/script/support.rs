//! What every script namespace shares: the running recipe ([`RunHandle`]),
//! errors placed at the calling script line, and the conversion of script
//! values to and from JSON.
//!
//! A run is made of three parts, each owned by whom changes it:
//! - [`RunContext`]: what the run knows once prepared (configuration,
//!   instance, options), built once and never changed;
//! - [`Evaluation`]: what one evaluation (the recipe's body, or one handler
//!   call) produces, made fresh for each and returned as [`Produced`];
//! - [`RunFiles`]: the files the run read, which the module resolver shares.
//!
//! The engine's default tag holds the [`RunHandle`], so every host function
//! finds the run through its `NativeCallContext`
//! ([`RunHandle::from_context`]); it writes to the evaluation only through
//! [`RunHandle::record`], which lends it for the length of a closure.

use super::limits::MAX_DATA_DEPTH;
use crate::action::Action;
use crate::config::Config;
use crate::files::ReadScope;
use crate::kube::cluster::{Cluster, ConnectOptions};
use crate::plan::{Origin, Plan};
use rhai::{Dynamic, EvalAltResult, NativeCallContext};
use serde_json::Value;
use std::cell::{OnceCell, RefCell};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// The result of a host function: a value, or an error for the script.
/// Named as Rhai's own alias, which its signature metadata shortens.
pub(crate) type RhaiResultOf<T> = Result<T, Box<EvalAltResult>>;

/// How a run treats the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Render only; contact no cluster (`--dry-run`).
    DryRun,
    /// Read the cluster while the script runs, then act on the plan
    /// (apply, `--diff`, `--delete`, `--dry-run=server`).
    Cluster,
}

impl Mode {
    /// The mode of a run that does `action`.
    pub(crate) fn of(action: &Action) -> Mode {
        if *action == Action::Render {
            Mode::DryRun
        } else {
            Mode::Cluster
        }
    }
}

/// What a run knows once it is prepared (recipe, parameters,
/// configuration, instance): built once, then only read.
#[derive(Debug)]
pub(crate) struct RunContext {
    /// The merged configuration.
    pub(crate) config: Config,
    /// Value of the `wildrun.dev/instance` label: `<recipe>.<name>`.
    pub(crate) instance: String,
    /// The folder of the recipe; relative paths of embedded modules resolve here.
    pub(crate) recipe_dir: PathBuf,
    /// The recipe's path as shown to people.
    pub(crate) recipe_display: String,
    /// Dry run or apply.
    pub(crate) mode: Mode,
    /// How to reach the cluster.
    pub(crate) connect: ConnectOptions,
    /// The folders `template::file` and `yaml::file` may read (with the
    /// folders of the modules loaded, see [`RunFiles`]).
    pub(crate) read_scope: ReadScope,
    /// What the run does with the plan (`run::action()`).
    pub(crate) action: Action,
    /// `--force` (`run::force()`).
    pub(crate) force: bool,
    /// `--adopt` (`run::adopt()`).
    pub(crate) adopt: bool,
    /// `--rotate-secret`: the Secrets (`namespace/name`) whose generated
    /// values `kube::generated_secret` makes again instead of keeping.
    pub(crate) rotate_secrets: BTreeSet<String>,
    /// Runtime for host functions that need the network.
    pub(crate) runtime: tokio::runtime::Handle,
}

/// What one evaluation (the recipe's body, or one handler call) has
/// produced so far; host functions add to it through [`RunHandle::record`].
#[derive(Debug, Default)]
pub(crate) struct Evaluation {
    /// The plan, output, watches and reads, handed over when it ends.
    pub(crate) produced: Produced,
    /// The keys `run::once` has seen.
    pub(crate) once: BTreeSet<String>,
}

/// The files a run read (script, modules, templates), for `--watch`, and
/// the folders of the modules it loaded, which the modules may read.
/// Shared by the module resolver, from before the run is prepared.
#[derive(Debug, Default)]
pub(crate) struct RunFiles {
    read: RefCell<BTreeSet<PathBuf>>,
    module_dirs: RefCell<Vec<PathBuf>>,
}

impl RunFiles {
    /// Records that the run read `path`.
    pub(crate) fn track(&self, path: &Path) {
        let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        self.read.borrow_mut().insert(path);
    }

    /// Records that a module was loaded from `dir`: it may read the files
    /// beside it.
    pub(crate) fn allow_module_dir(&self, dir: &Path) {
        self.module_dirs.borrow_mut().push(dir.to_path_buf());
    }

    /// Every file read so far, in order.
    pub(crate) fn read(&self) -> Vec<PathBuf> {
        self.read.borrow().iter().cloned().collect()
    }

    /// `scope` widened by the folders of the modules loaded.
    fn widen(&self, scope: &ReadScope) -> ReadScope {
        let mut scope = scope.clone();
        for dir in self.module_dirs.borrow().iter() {
            scope.allow(dir);
        }
        scope
    }
}

/// What an evaluation (running a recipe's body, or one handler call) produced.
#[derive(Debug, Default)]
pub(crate) struct Produced {
    /// What the script asked to apply.
    pub(crate) plan: Plan,
    /// Data the script wrote for stdout (`out::`).
    pub(crate) stdout: String,
    /// The exit code the script asked for (`out::exit_code`).
    pub(crate) exit_code: Option<u8>,
    /// Watches registered with `kube::watch`, to serve after applying.
    pub(crate) watches: Vec<Watch>,
    /// What the script read from the cluster, for the preflight of `plan`
    /// if it is carried out at once (see [`crate::kube::reads`]).
    pub(crate) reads: crate::kube::reads::Reads,
}

/// A watch a script registered with `kube::watch`: what to watch, and the
/// script function called per event (`|event, object| ...`).
#[derive(Debug, Clone)]
pub(crate) struct Watch {
    /// What to watch.
    pub(crate) spec: crate::kube::events::WatchSpec,
    /// The handler.
    pub(crate) handler: rhai::FnPtr,
}

/// The run a host function belongs to.
#[derive(Debug)]
struct Run {
    context: RunContext,
    files: Rc<RunFiles>,
    /// The cluster, once connected.
    cluster: OnceCell<Rc<Cluster>>,
    /// The evaluation under way, if any.
    evaluation: RefCell<Option<Evaluation>>,
}

/// A cheap handle to the running recipe.
#[derive(Debug, Clone)]
pub(crate) struct RunHandle(Rc<Run>);

impl RunHandle {
    /// The run of `context`, which records the files it reads in `files`.
    pub(crate) fn new(context: RunContext, files: Rc<RunFiles>) -> RunHandle {
        RunHandle(Rc::new(Run {
            context,
            files,
            cluster: OnceCell::new(),
            evaluation: RefCell::new(None),
        }))
    }

    /// The run of the engine that is calling a host function.
    pub(crate) fn from_context(ctx: &NativeCallContext) -> RhaiResultOf<RunHandle> {
        ctx.tag()
            .and_then(|t| t.clone().try_cast::<RunHandle>())
            .ok_or_else(|| "this function is only available while wildrun runs a recipe".into())
    }

    /// What the run knows.
    pub(crate) fn context(&self) -> &RunContext {
        &self.0.context
    }

    /// Runs `evaluate` (the body, or one handler call) with an evaluation
    /// of its own, and returns what it produced with its result.
    pub(crate) fn evaluate<T>(&self, evaluate: impl FnOnce() -> T) -> (T, Produced) {
        *self.0.evaluation.borrow_mut() = Some(Evaluation::default());
        let result = evaluate();
        let evaluation = self.0.evaluation.borrow_mut().take().unwrap_or_default();
        (result, evaluation.produced)
    }

    /// Adds to the evaluation under way with `write`, which must not call
    /// back into the script (the evaluation is lent to it alone).
    pub(crate) fn record<T>(&self, write: impl FnOnce(&mut Evaluation) -> T) -> RhaiResultOf<T> {
        let mut evaluation = self.0.evaluation.borrow_mut();
        let evaluation = evaluation.as_mut().ok_or_else(|| {
            Box::<EvalAltResult>::from(
                "this function is only available while wildrun runs a recipe",
            )
        })?;
        Ok(write(evaluation))
    }

    /// Runs a future to completion on the run's runtime (the engine thread
    /// is not a runtime thread, so this never nests runtimes).
    pub(crate) fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.0.context.runtime.block_on(future)
    }

    /// The cluster, connected on first use. A `--dry-run` contacts none.
    pub(crate) fn cluster(&self) -> anyhow::Result<Rc<Cluster>> {
        let context = &self.0.context;
        if context.mode == Mode::DryRun {
            anyhow::bail!("reading the cluster is not possible with --dry-run, which contacts no cluster (use --dry-run=server)");
        }
        if let Some(c) = self.0.cluster.get() {
            return Ok(c.clone());
        }
        let cluster = Rc::new(self.block_on(Cluster::connect(&context.connect))?);
        Ok(self.0.cluster.get_or_init(|| cluster).clone())
    }

    /// Every file the run has read so far.
    pub(crate) fn files_read(&self) -> Vec<PathBuf> {
        self.0.files.read()
    }

    /// Reads a file a script named: inside the run's [`ReadScope`],
    /// at most [`MAX_FILE_SIZE`](crate::files::MAX_FILE_SIZE) bytes.
    pub(crate) fn read_file(&self, path: &Path) -> Result<String, crate::files::ReadError> {
        self.0.files.widen(&self.0.context.read_scope).read(path)
    }

    /// Records that the run read `path` (a template, a YAML file).
    pub(crate) fn track_file(&self, path: &Path) {
        self.0.files.track(path);
    }

    /// Resolves a path a script names, relative to the file that named it.
    pub(crate) fn resolve_path(&self, ctx: &NativeCallContext, path: &str) -> PathBuf {
        let p = Path::new(path);
        if p.is_absolute() {
            return p.to_path_buf();
        }
        let base = ctx
            .call_source()
            .filter(|s| !s.starts_with('<'))
            .and_then(|s| Path::new(s).parent().map(Path::to_path_buf))
            .unwrap_or_else(|| self.0.context.recipe_dir.clone());
        base.join(p)
    }
}

/// Where in the script a host function was called from. Code called back
/// later (a `kube::watch` handler) has no source of its own: it is the recipe's.
pub(crate) fn origin(ctx: &NativeCallContext) -> Origin {
    let source = match ctx.call_source() {
        Some(s) => s.to_string(),
        None => RunHandle::from_context(ctx)
            .map(|run| run.context().recipe_display.clone())
            .unwrap_or_else(|_| "<script>".to_string()),
    };
    Origin {
        source,
        line: ctx.call_position().line().unwrap_or(0),
    }
}

/// An error raised by a host function, placed at the script line that called it
/// (Rhai leaves errors of native functions without a position).
pub(crate) fn script_error(
    ctx: &NativeCallContext,
    message: impl std::fmt::Display,
) -> Box<EvalAltResult> {
    EvalAltResult::ErrorRuntime(message.to_string().into(), ctx.call_position()).into()
}

/// Converts any serializable value to a script value.
pub(crate) fn to_script<T: serde::Serialize>(
    ctx: &NativeCallContext,
    value: &T,
) -> RhaiResultOf<Dynamic> {
    let json = serde_json::to_value(value).map_err(|e| script_error(ctx, e))?;
    from_json(&json)
}

/// Converts a script value (map, array, ...) to JSON; data nested deeper
/// than [`MAX_DATA_DEPTH`] is refused before it is copied.
pub(crate) fn to_json(value: &Dynamic) -> RhaiResultOf<Value> {
    if deeper_than(value, MAX_DATA_DEPTH) {
        return Err(format!(
            "the data is nested more than {MAX_DATA_DEPTH} levels deep (maps and lists in maps and lists); wildrun refuses it"
        )
        .into());
    }
    // Typed results (`https::get`'s, `cert::inspect`'s) are data as the
    // maps they stand for.
    if super::results::holds_typed(value, MAX_DATA_DEPTH) {
        return rhai::serde::from_dynamic(&super::results::as_data(value)?);
    }
    rhai::serde::from_dynamic(value)
}

/// Whether `value` nests maps and lists more than `limit` levels deep. It
/// looks no deeper than `limit + 1`, so its cost is bounded by the data's size.
fn deeper_than(value: &Dynamic, limit: usize) -> bool {
    if let Some(map) = value.read_lock::<rhai::Map>() {
        return limit == 0 || map.values().any(|v| deeper_than(v, limit - 1));
    }
    if let Some(list) = value.read_lock::<rhai::Array>() {
        return limit == 0 || list.iter().any(|v| deeper_than(v, limit - 1));
    }
    false
}

/// Converts JSON to a script value.
pub(crate) fn from_json(value: &Value) -> RhaiResultOf<Dynamic> {
    rhai::serde::to_dynamic(value)
}
