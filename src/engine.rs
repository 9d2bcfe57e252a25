//! The Rhai engine that runs recipes: host modules, module resolution,
//! limits, and error messages that name the file and line.
//!
//! A run's shared state ([`RunState`]: configuration, the plan, the files the
//! script read) sits in the engine's default tag, so every host function finds
//! it through its `NativeCallContext` ([`RunHandle::from_context`]).

use crate::config::Config;
use crate::params::{self, Param};
use crate::plan::{Origin, Plan};
use anyhow::{anyhow, Context, Result};
use rhai::module_resolvers::ModuleResolver;
use rhai::{
    Dynamic, Engine, EvalAltResult, Module, NativeCallContext, Position, Scope, Shared, AST,
};
use serde_json::Value;
use std::cell::{RefCell, RefMut};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// Operations one script run may take before it is stopped as runaway.
pub const MAX_OPERATIONS: u64 = 20_000_000;
/// Deepest function-call nesting a script may reach.
pub const MAX_CALL_LEVELS: usize = 64;
/// Largest string a script may build (bytes).
pub const MAX_STRING_SIZE: usize = 16 * 1024 * 1024;
/// Largest array or map a script may build (items).
pub const MAX_COLLECTION_SIZE: usize = 100_000;
/// CPU time one evaluation (the recipe, or one call of an event handler)
/// may take. Operations are counted too, but one operation can cost much:
/// growing nested data in a loop copies the whole of it each time, so a
/// loop well inside [`MAX_OPERATIONS`] could run for hours. Time spent
/// waiting on the cluster is not CPU time and does not count.
pub const MAX_CPU_TIME: std::time::Duration = std::time::Duration::from_secs(10);
/// Every this many operations the CPU time is read (a system call).
const CPU_CHECK_INTERVAL: u64 = 64;
/// What the progress hook returns when [`MAX_CPU_TIME`] is spent.
const CPU_TIME_SPENT: &str = "wildrun:cpu-time";

/// Deepest nesting of maps and lists a script may hand to wildrun
/// (`out::json`, `kube::apply`, `yaml::emit`, ...), as for source.
pub const MAX_DATA_DEPTH: usize = 100;

/// The stdlib modules built into the binary, so an installed wildrun works
/// without the source tree. A `stdlib/` folder on disk takes precedence.
pub const EMBEDDED_STDLIB: &[(&str, &str)] = &[
    ("visibility", include_str!("../stdlib/visibility.rhai")),
    ("reachability", include_str!("../stdlib/reachability.rhai")),
    ("layer", include_str!("../stdlib/layer.rhai")),
    ("layer_health", include_str!("../stdlib/layer_health.rhai")),
];

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
    pub watches: Vec<crate::kube::events::WatchSpec>,
    /// The run is one of `--watch`'s re-runs.
    pub file_watch: bool,
    /// The folders `template::file` and `yaml::file` may read.
    pub read_scope: crate::files::ReadScope,
    /// What the run does with the plan (`run::action()`).
    pub action: crate::run::Action,
    /// `--force` (`run::force()`).
    pub force: bool,
    /// Runtime for host functions that need the network.
    pub runtime: tokio::runtime::Handle,
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
    pub fn from_context(ctx: &NativeCallContext) -> Result<RunHandle, Box<EvalAltResult>> {
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
pub fn to_script<T: serde::Serialize>(
    ctx: &NativeCallContext,
    value: &T,
) -> Result<Dynamic, Box<EvalAltResult>> {
    let json = serde_json::to_value(value).map_err(|e| script_error(ctx, e))?;
    from_json(&json)
}

/// Converts a script value (map, array, ...) to JSON; data nested deeper
/// than [`MAX_DATA_DEPTH`] is refused before it is copied.
pub fn to_json(value: &Dynamic) -> Result<Value, Box<EvalAltResult>> {
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
pub fn from_json(value: &Value) -> Result<Dynamic, Box<EvalAltResult>> {
    rhai::serde::to_dynamic(value)
}

/// The path shown to people: relative to the working directory when inside it.
pub fn display_path(path: &Path) -> String {
    let cwd = std::env::current_dir().ok();
    let abs = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    match cwd.as_deref().and_then(|c| abs.strip_prefix(c).ok()) {
        Some(rel) if !rel.as_os_str().is_empty() => rel.display().to_string(),
        _ => abs.display().to_string(),
    }
}

/// Resolves `import "name"` for recipes.
///
/// Search order: the importing file's folder, the recipe's folder,
/// `$WILDRUN_STDLIB`, the nearest `stdlib/` folder above the recipe, and
/// last the stdlib built into the binary.
struct RecipeResolver {
    dirs: Vec<PathBuf>,
    run: RunHandle,
    cache: RefCell<HashMap<PathBuf, Shared<Module>>>,
}

impl RecipeResolver {
    fn new(recipe_dir: &Path, run: RunHandle) -> RecipeResolver {
        let mut dirs = vec![recipe_dir.to_path_buf()];
        if let Some(dir) = std::env::var_os("WILDRUN_STDLIB") {
            dirs.push(PathBuf::from(dir));
        }
        if let Some(dir) = recipe_dir
            .canonicalize()
            .ok()
            .and_then(|d| d.ancestors().map(|a| a.join("stdlib")).find(|s| s.is_dir()))
        {
            dirs.push(dir);
        }
        RecipeResolver {
            dirs,
            run,
            cache: RefCell::new(HashMap::new()),
        }
    }

    fn compile_module(
        &self,
        engine: &Engine,
        key: PathBuf,
        source_name: String,
        text: &str,
        pos: Position,
    ) -> Result<Shared<Module>, Box<EvalAltResult>> {
        if let Some(m) = self.cache.borrow().get(&key) {
            return Ok(m.clone());
        }
        let mut ast = engine
            .compile(text)
            .map_err(|e| EvalAltResult::ErrorInModule(source_name.clone(), e.into(), pos))?;
        ast.set_source(source_name.clone());
        let mut module = Module::eval_ast_as_new(Scope::new(), &ast, engine)
            .map_err(|e| EvalAltResult::ErrorInModule(source_name, e, pos))?;
        module.build_index();
        let module: Shared<Module> = module.into();
        self.cache.borrow_mut().insert(key, module.clone());
        Ok(module)
    }
}

impl ModuleResolver for RecipeResolver {
    fn resolve(
        &self,
        engine: &Engine,
        source: Option<&str>,
        path: &str,
        pos: Position,
    ) -> Result<Shared<Module>, Box<EvalAltResult>> {
        let file = if path.ends_with(".rhai") {
            path.to_string()
        } else {
            format!("{path}.rhai")
        };
        let importer_dir = source
            .filter(|s| !s.starts_with('<'))
            .and_then(|s| Path::new(s).parent().map(Path::to_path_buf));
        for dir in importer_dir.iter().chain(&self.dirs) {
            let candidate = dir.join(&file);
            if candidate.is_file() {
                let text = crate::files::read_text(&candidate).map_err(|e| {
                    EvalAltResult::ErrorInModule(
                        candidate.display().to_string(),
                        format!("cannot read module: {e}").into(),
                        pos,
                    )
                })?;
                self.run.track_file(&candidate);
                // A module may read the files beside it.
                if let Some(dir) = candidate.parent() {
                    self.run.0.borrow_mut().read_scope.allow(dir);
                }
                let key = candidate.canonicalize().unwrap_or(candidate.clone());
                return self.compile_module(engine, key, display_path(&candidate), &text, pos);
            }
        }
        if let Some((name, text)) = EMBEDDED_STDLIB.iter().find(|(n, _)| *n == path) {
            let key = PathBuf::from(format!("<stdlib>/{name}.rhai"));
            return self.compile_module(engine, key.clone(), key.display().to_string(), text, pos);
        }
        Err(EvalAltResult::ErrorModuleNotFound(path.to_string(), pos).into())
    }
}

/// Registers the script namespaces (`kube::`, `template::`, ...).
fn register_host_modules(engine: &mut Engine) {
    crate::kube::register(engine);
    crate::dns::register(engine);
    crate::cert::register(engine);
    crate::https::register(engine);
    crate::template::register(engine);
    crate::yaml::register(engine);
    crate::log::register(engine);
    crate::config::register(engine);
    crate::out::register(engine);
    crate::run::register(engine);
}

/// Builds the engine for one run: limits, host modules, module resolver.
pub fn new_engine(run: &RunHandle, recipe_dir: &Path) -> Engine {
    let mut engine = Engine::new();
    engine
        .set_max_operations(MAX_OPERATIONS)
        .set_max_call_levels(MAX_CALL_LEVELS)
        .set_max_expr_depths(128, 64)
        .set_max_string_size(MAX_STRING_SIZE)
        .set_max_array_size(MAX_COLLECTION_SIZE)
        .set_max_map_size(MAX_COLLECTION_SIZE)
        .set_max_modules(256)
        .set_fail_on_invalid_map_property(false);
    engine.on_progress(cpu_budget());
    // stdout carries only data (manifests, diffs); script output is for people.
    engine.on_print(|text| eprintln!("{text}"));
    engine.on_debug(|text, source, pos| {
        let at = match (source, pos.line()) {
            (Some(s), Some(l)) => format!("{s}:{l}: "),
            _ => String::new(),
        };
        eprintln!("{at}{text}");
    });
    register_host_modules(&mut engine);
    engine.set_module_resolver(RecipeResolver::new(recipe_dir, run.clone()));
    engine.set_default_tag(Dynamic::from(run.clone()));
    engine
}

/// CPU time the engine's thread has used.
fn thread_cpu_time() -> std::time::Duration {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    std::time::Duration::new(
        u64::try_from(now.tv_sec).unwrap_or_default(),
        u32::try_from(now.tv_nsec).unwrap_or_default(),
    )
}

/// The progress hook that stops an evaluation after [`MAX_CPU_TIME`].
/// Rhai counts operations from zero in every evaluation, so passing the
/// first interval marks where an evaluation's CPU time starts.
fn cpu_budget() -> impl Fn(u64) -> Option<Dynamic> {
    let started = std::cell::Cell::new(std::time::Duration::ZERO);
    move |operations| {
        if operations % CPU_CHECK_INTERVAL != 0 {
            return None;
        }
        let now = thread_cpu_time();
        if operations == CPU_CHECK_INTERVAL {
            started.set(now);
            return None;
        }
        (now.saturating_sub(started.get()) > MAX_CPU_TIME).then(|| Dynamic::from(CPU_TIME_SPENT))
    }
}

/// Every host function scripts can call, as `namespace::name`, sorted.
pub fn script_functions() -> Vec<String> {
    let mut engine = Engine::new_raw();
    register_host_modules(&mut engine);
    let mut names: Vec<String> = engine
        .gen_fn_signatures(false)
        .into_iter()
        .filter_map(|sig| sig.split('(').next().map(str::to_string))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// A compiled recipe.
#[derive(Debug)]
pub struct Recipe {
    /// The script file.
    pub path: PathBuf,
    /// The path as shown to people.
    pub display: String,
    /// The recipe's description: its leading `//!` comment lines.
    pub about: String,
    /// The compiled script.
    pub ast: AST,
}

impl Recipe {
    /// Reads and compiles a recipe. A syntax error names file:line:column.
    pub fn compile(engine: &Engine, path: &Path) -> Result<Recipe> {
        let text = crate::files::read_text(path).context("cannot read the recipe")?;
        let display = display_path(path);
        let mut ast = engine.compile(&text).map_err(|e| {
            let (line, col) = (e.1.line().unwrap_or(0), e.1.position().unwrap_or(0));
            anyhow!("{display}:{line}:{col}: syntax error: {}", e.0)
        })?;
        ast.set_source(display.clone());
        let about = text
            .lines()
            .take_while(|l| l.trim_start().starts_with("//!") || l.trim().is_empty())
            .filter_map(|l| l.trim_start().strip_prefix("//!"))
            .map(|l| l.strip_prefix(' ').unwrap_or(l))
            .collect::<Vec<_>>()
            .join("\n")
            .trim()
            .to_string();
        Ok(Recipe {
            path: path.to_path_buf(),
            display,
            about,
            ast,
        })
    }

    /// The parameters the recipe declares in `fn params()`; none if it has no such function.
    ///
    /// Only `params()` runs, not the recipe's body.
    pub fn params(&self, engine: &Engine) -> Result<Vec<Param>> {
        let declared = self
            .ast
            .iter_functions()
            .any(|f| f.name == "params" && f.params.is_empty());
        if !declared {
            return Ok(Vec::new());
        }
        let options = rhai::CallFnOptions::new().eval_ast(false);
        let value: Dynamic = engine
            .call_fn_with_options(options, &mut Scope::new(), &self.ast, "params", ())
            .map_err(|e| anyhow!(describe_error(&e, &self.display)))?;
        let value = to_json(&value).map_err(|e| anyhow!("{}: params(): {e}", self.display))?;
        params::from_declaration(&value).map_err(|e| anyhow!("{}: {e}", self.display))
    }

    /// Runs the recipe's body with `args` and `config` in scope.
    pub fn run(&self, engine: &Engine, args: &Value, config: &Value) -> Result<()> {
        let mut scope = Scope::new();
        scope.push_constant("args", from_json(args).map_err(|e| anyhow!("args: {e}"))?);
        scope.push_constant(
            "config",
            from_json(config).map_err(|e| anyhow!("config: {e}"))?,
        );
        engine
            .run_ast_with_scope(&mut scope, &self.ast)
            .map_err(|e| anyhow!(describe_error(&e, &self.display)))
    }
}

fn at(source: &str, pos: Position) -> String {
    match (pos.line(), pos.position()) {
        (Some(l), Some(c)) => format!("{source}:{l}:{c}"),
        (Some(l), None) => format!("{source}:{l}"),
        _ => source.to_string(),
    }
}

/// Turns a script error into a message for people: the outermost script
/// location first, then the message, then the call chain inside modules.
pub fn describe_error(err: &EvalAltResult, main_source: &str) -> String {
    let mut chain: Vec<String> = Vec::new();
    let mut source = main_source.to_string();
    let mut first_at: Option<String> = None;
    let mut err = err;
    loop {
        match err {
            EvalAltResult::ErrorInFunctionCall(name, fn_source, inner, pos) => {
                let here = at(&source, *pos);
                if pos.is_none() {
                    // A call from Rust (a watch handler): no script location to show.
                } else if first_at.is_none() {
                    first_at = Some(here);
                } else {
                    chain.push(format!("  in {name}() called at {here}"));
                }
                if !fn_source.is_empty() {
                    source = fn_source.clone();
                }
                err = inner;
            }
            EvalAltResult::ErrorInModule(module, inner, pos) => {
                let here = at(&source, *pos);
                if first_at.is_none() {
                    first_at = Some(here);
                } else {
                    chain.push(format!("  importing {module} at {here}"));
                }
                if let EvalAltResult::ErrorParsing(kind, p) = inner.as_ref() {
                    chain.push(format!("  {}: syntax error: {kind}", at(module, *p)));
                    break;
                }
                source = module.clone();
                err = inner;
            }
            other => {
                let pos = other.position();
                let message = leaf_message(other);
                let here = at(&source, pos);
                let head = match &first_at {
                    None => format!("{here}: {message}"),
                    Some(outer) => {
                        chain.insert(0, format!("  at {here}"));
                        format!("{outer}: {message}")
                    }
                };
                chain.insert(0, head);
                return chain.join("\n");
            }
        }
    }
    let head = format!("{}: error in imported module", first_at.unwrap_or(source));
    chain.insert(0, head);
    chain.join("\n")
}

fn leaf_message(err: &EvalAltResult) -> String {
    match err {
        EvalAltResult::ErrorRuntime(value, _) => {
            if value.is_string() {
                value.clone().into_string().unwrap_or_default()
            } else {
                format!("script threw {value}")
            }
        }
        EvalAltResult::ErrorTooManyOperations(_) => format!(
            "the script was stopped after {MAX_OPERATIONS} operations; does a loop never end?"
        ),
        EvalAltResult::ErrorStackOverflow(_) => format!(
            "the script was stopped at {MAX_CALL_LEVELS} nested function calls; does a function call itself forever?"
        ),
        EvalAltResult::ErrorDataTooLarge(what, _) => {
            // Rhai names the limit ("Length of string", "Size of array", ...).
            let what = what.to_lowercase();
            let built = if what.contains("string") {
                format!("a string longer than {} MiB", MAX_STRING_SIZE >> 20)
            } else if what.contains("array") {
                format!("a list of more than {MAX_COLLECTION_SIZE} items")
            } else if what.contains("map") {
                format!("a map of more than {MAX_COLLECTION_SIZE} items")
            } else {
                format!("data larger than wildrun allows ({what})")
            };
            format!("the script built {built}, more than wildrun allows")
        }
        EvalAltResult::ErrorModuleNotFound(name, _) => format!(
            "module {name:?} not found (looked in the recipe's folder, $WILDRUN_STDLIB, the nearest stdlib/ folder and the built-in stdlib)"
        ),
        EvalAltResult::ErrorTerminated(token, _)
            if token.clone().into_string().ok().as_deref() == Some(CPU_TIME_SPENT) =>
        {
            format!(
                "the script was stopped after {} s of computing; does it grow nested data in a loop, or copy large data again and again?",
                MAX_CPU_TIME.as_secs()
            )
        }
        EvalAltResult::ErrorTerminated(_, _) => "the script was stopped".to_string(),
        other => {
            let mut text = other.to_string();
            // Rhai appends " (line N, position M)"; we print the location first.
            if let Some(idx) = text.rfind(" (line ") {
                text.truncate(idx);
            }
            text
        }
    }
}
