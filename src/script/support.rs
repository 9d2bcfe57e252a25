//! What every script namespace shares: the state of the running recipe
//! ([`RunHandle`]), errors placed at the calling script line, and the
//! conversion of script values to and from JSON.
//!
//! A run's shared state ([`RunState`]: configuration, the plan, the files the
//! script read) sits in the engine's default tag, so every host function finds
//! it through its `NativeCallContext` ([`RunHandle::from_context`]).

use super::limits::MAX_DATA_DEPTH;
use crate::config::Config;
use crate::plan::{Origin, Plan};
use rhai::{Dynamic, EvalAltResult, NativeCallContext};
use serde_json::Value;
use std::cell::{RefCell, RefMut};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// The result of a host function: a value, or an error for the script.
/// Named as Rhai's own alias, which its signature metadata shortens.
pub type RhaiResultOf<T> = Result<T, Box<EvalAltResult>>;

/// How a run treats the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Render only; contact no cluster (`--dry-run`).
    #[default]
    DryRun,
    /// Read the cluster while the script runs, then act on the plan
    /// (apply, `--diff`, `--delete`, `--dry-run=server`).
    Cluster,
}

/// The state of one recipe run, shared by every host function.
#[derive(Debug)]
pub struct RunState {
    /// The merged configuration.
    pub config: Config,
    /// Value of the `wildrun.dev/instance` label: `<recipe>.<name>`.
    pub instance: String,
    /// What the script asked to apply.
    pub plan: Plan,
    /// Every file the run read (script, modules, templates), for `--watch`.
    pub files_read: BTreeSet<PathBuf>,
    /// The folder of the recipe; relative paths of embedded modules resolve here.
    pub recipe_dir: PathBuf,
    /// The recipe's path as shown to people.
    pub recipe_display: String,
    /// Dry run or apply.
    pub mode: Mode,
    /// How to reach the cluster.
    pub connect: crate::kube::cluster::ConnectOptions,
    /// The cluster, once connected.
    pub cluster: Option<Rc<crate::kube::cluster::Cluster>>,
    /// Data the script wrote for stdout (`out::`).
    pub stdout: String,
    /// The exit code the script asked for (`out::exit_code`).
    pub exit_code: Option<u8>,
    /// Watches registered with `kube::watch`, served after the body.
    pub watches: Vec<Watch>,
    /// The folders `template::file` and `yaml::file` may read.
    pub read_scope: crate::files::ReadScope,
    /// What the run does with the plan (`run::action()`).
    pub action: crate::action::Action,
    /// `--force` (`run::force()`).
    pub force: bool,
    /// `--adopt` (`run::adopt()`).
    pub adopt: bool,
    /// `--rotate-secret`: the Secrets (`namespace/name`) whose generated
    /// values `kube::generated_secret` makes again instead of keeping.
    pub rotate_secrets: BTreeSet<String>,
    /// What the current evaluation read from the cluster (see
    /// [`crate::kube::reads`]): emptied when one starts.
    pub reads: crate::kube::reads::Reads,
    /// The keys `run::once` has seen in the current evaluation.
    pub once: BTreeSet<String>,
    /// Runtime for host functions that need the network.
    pub runtime: tokio::runtime::Handle,
}

impl RunState {
    /// Starts an evaluation (the recipe's body, or one handler call): its
    /// plan, its reads and its `run::once` keys are its own.
    pub fn start_evaluation(&mut self) {
        self.plan = Plan::default();
        self.reads = Default::default();
        self.once.clear();
    }
}

/// A watch a script registered with `kube::watch`: what to watch, and the
/// script function called per event (`|event, object| ...`).
#[derive(Debug, Clone)]
pub struct Watch {
    /// What to watch.
    pub spec: crate::kube::events::WatchSpec,
    /// The handler.
    pub handler: rhai::FnPtr,
}

/// A cheap handle to the [`RunState`] of the running script.
#[derive(Debug, Clone)]
pub struct RunHandle(Rc<RefCell<RunState>>);

impl RunHandle {
    /// Wraps a new run state.
    pub fn new(state: RunState) -> RunHandle {
        RunHandle(Rc::new(RefCell::new(state)))
    }

    /// The run of the engine that is calling a host function.
    pub fn from_context(ctx: &NativeCallContext) -> RhaiResultOf<RunHandle> {
        ctx.tag()
            .and_then(|t| t.clone().try_cast::<RunHandle>())
            .ok_or_else(|| "this function is only available while wildrun runs a recipe".into())
    }

    /// Mutable access to the state. Host functions must not hold it across
    /// a call back into the script.
    pub fn state(&self) -> RefMut<'_, RunState> {
        self.0.borrow_mut()
    }

    /// Runs a future to completion on the run's runtime (the engine thread
    /// is not a runtime thread, so this never nests runtimes).
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        let runtime = self.0.borrow().runtime.clone();
        runtime.block_on(future)
    }

    /// The cluster, connected on first use. A `--dry-run` contacts none.
    pub fn cluster(&self) -> anyhow::Result<Rc<crate::kube::cluster::Cluster>> {
        let (mode, cached, connect) = {
            let state = self.0.borrow();
            (state.mode, state.cluster.clone(), state.connect.clone())
        };
        if mode == Mode::DryRun {
            anyhow::bail!("reading the cluster is not possible with --dry-run, which contacts no cluster (use --dry-run=server)");
        }
        if let Some(c) = cached {
            return Ok(c);
        }
        let cluster = Rc::new(self.block_on(crate::kube::cluster::Cluster::connect(&connect))?);
        self.0.borrow_mut().cluster = Some(cluster.clone());
        Ok(cluster)
    }

    /// Reads a file a script named: inside the run's [`ReadScope`](crate::files::ReadScope),
    /// at most [`MAX_FILE_SIZE`](crate::files::MAX_FILE_SIZE) bytes.
    pub fn read_file(&self, path: &Path) -> Result<String, crate::files::ReadError> {
        let scope = self.0.borrow().read_scope.clone();
        scope.read(path)
    }

    /// Records that the run read `path` (the script, a module, a template).
    pub fn track_file(&self, path: &Path) {
        let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        self.0.borrow_mut().files_read.insert(path);
    }

    /// Resolves a path a script names, relative to the file that named it.
    pub fn resolve_path(&self, ctx: &NativeCallContext, path: &str) -> PathBuf {
        let p = Path::new(path);
        if p.is_absolute() {
            return p.to_path_buf();
        }
        let base = ctx
            .call_source()
            .filter(|s| !s.starts_with('<'))
            .and_then(|s| Path::new(s).parent().map(Path::to_path_buf))
            .unwrap_or_else(|| self.0.borrow().recipe_dir.clone());
        base.join(p)
    }
}

/// Where in the script a host function was called from. Code called back
/// later (a `kube::watch` handler) has no source of its own: it is the recipe's.
pub fn origin(ctx: &NativeCallContext) -> Origin {
    let source = match ctx.call_source() {
        Some(s) => s.to_string(),
        // `try_borrow`: a caller that holds the state must not make this panic.
        None => RunHandle::from_context(ctx)
            .ok()
            .and_then(|run| {
                run.0
                    .try_borrow()
                    .ok()
                    .map(|state| state.recipe_display.clone())
            })
            .unwrap_or_else(|| "<script>".to_string()),
    };
    Origin {
        source,
        line: ctx.call_position().line().unwrap_or(0),
    }
}

/// An error raised by a host function, placed at the script line that called it
/// (Rhai leaves errors of native functions without a position).
pub fn script_error(
    ctx: &NativeCallContext,
    message: impl std::fmt::Display,
) -> Box<EvalAltResult> {
    EvalAltResult::ErrorRuntime(message.to_string().into(), ctx.call_position()).into()
}

/// The error for an option a host function knows but was given a value it
/// cannot take: `dns::resolve: option tcp must be true or false, not 3`.
pub fn bad_option(
    ctx: &NativeCallContext,
    function: &str,
    key: &str,
    expected: &str,
    value: &Dynamic,
) -> Box<EvalAltResult> {
    script_error(
        ctx,
        format!("{function}: option {key} must be {expected}, not {value}"),
    )
}

/// A timeout option's value: a positive whole number of seconds.
pub fn positive_seconds(value: &Dynamic) -> Option<std::time::Duration> {
    value
        .as_int()
        .ok()
        .filter(|s| *s > 0)
        .map(|s| std::time::Duration::from_secs(s.unsigned_abs()))
}

/// The error for an option a host function does not know, naming the
/// nearest known one.
pub fn unknown_option(
    ctx: &NativeCallContext,
    function: &str,
    key: &str,
    known: &[&str],
) -> Box<EvalAltResult> {
    let hint = crate::objects::strict::nearest(key, known.iter().copied())
        .map(|s| format!(" (did you mean {s}?)"))
        .unwrap_or_default();
    script_error(
        ctx,
        format!(
            "{function}: unknown option {key}{hint}; known: {}",
            known.join(", ")
        ),
    )
}

/// Converts any serializable value to a script value.
pub fn to_script<T: serde::Serialize>(ctx: &NativeCallContext, value: &T) -> RhaiResultOf<Dynamic> {
    let json = serde_json::to_value(value).map_err(|e| script_error(ctx, e))?;
    from_json(&json)
}

/// Converts a script value (map, array, ...) to JSON; data nested deeper
/// than [`MAX_DATA_DEPTH`] is refused before it is copied.
pub fn to_json(value: &Dynamic) -> RhaiResultOf<Value> {
    if deeper_than(value, MAX_DATA_DEPTH) {
        return Err(format!(
            "the data is nested more than {MAX_DATA_DEPTH} levels deep (maps and lists in maps and lists); wildrun refuses it"
        )
        .into());
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
pub fn from_json(value: &Value) -> RhaiResultOf<Dynamic> {
    rhai::serde::to_dynamic(value)
}
