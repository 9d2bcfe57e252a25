//! The Rhai engine that runs recipes: limits, the script namespaces,
//! module resolution, compiling and running a recipe.

use super::errors::describe_error;
use super::limits::{
    self, MAX_CALL_LEVELS, MAX_COLLECTION_SIZE, MAX_IMPORT_DEPTH, MAX_OPERATIONS, MAX_STRING_SIZE,
};
use super::support::{
    from_json, to_json, Produced, RhaiResultOf, RunContext, RunFiles, RunHandle, Watch,
};
use crate::kube::apply::ExecOptions;
use crate::kube::cluster::Cluster;
use crate::params::{self, Param};
use crate::plan::Plan;
use anyhow::{anyhow, Context, Result};
use rhai::module_resolvers::ModuleResolver;
use rhai::{Dynamic, Engine, EvalAltResult, Module, Position, Scope, Shared, AST};
use serde_json::Value;
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// The stdlib modules built into the binary, so an installed wildrun works
/// without the source tree. A `stdlib/` folder on disk takes precedence.
pub(crate) const EMBEDDED_STDLIB: &[(&str, &str)] = &[
    ("visibility", include_str!("../../stdlib/visibility.rhai")),
    (
        "reachability",
        include_str!("../../stdlib/reachability.rhai"),
    ),
    ("layer", include_str!("../../stdlib/layer.rhai")),
    ("gateway", include_str!("../../stdlib/gateway.rhai")),
    (
        "layer_health",
        include_str!("../../stdlib/layer_health.rhai"),
    ),
];

/// Resolves `import "name"` for recipes.
///
/// Search order: the importing file's folder, the recipe's folder,
/// `$WILDRUN_STDLIB`, the nearest `stdlib/` folder above the recipe, and
/// last the stdlib built into the binary.
///
/// A module is compiled and run once per run (then cached). The files being
/// loaded, each inside the one that imports it, are kept in order, starting
/// with the recipe: an import of one of them is a cycle, which would
/// otherwise load modules until the thread's stack overflows, and the chain
/// is bounded by [`MAX_IMPORT_DEPTH`].
struct RecipeResolver {
    dirs: Vec<PathBuf>,
    files: Rc<RunFiles>,
    cache: RefCell<HashMap<PathBuf, Shared<Module>>>,
    /// The recipe, then each module being loaded: key and name as shown.
    loading: RefCell<Vec<(PathBuf, String)>>,
}

impl RecipeResolver {
    fn new(recipe: &Path, recipe_dir: &Path, files: Rc<RunFiles>) -> RecipeResolver {
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
        let root = (module_key(recipe), crate::files::display_path(recipe));
        RecipeResolver {
            dirs,
            files,
            cache: RefCell::new(HashMap::new()),
            loading: RefCell::new(vec![root]),
        }
    }

    /// Refuses to load `key` while it is loading (an import cycle), or
    /// deeper than [`MAX_IMPORT_DEPTH`]; the message names the chain.
    fn check_chain(&self, key: &Path, name: &str) -> Result<(), String> {
        let loading = self.loading.borrow();
        let names = |from: usize| {
            loading[from..]
                .iter()
                .map(|(_, n)| n.as_str())
                .chain([name])
                .collect::<Vec<_>>()
        };
        if let Some(start) = loading.iter().position(|(k, _)| k == key) {
            return Err(format!(
                "import cycle: {}; a module cannot import one that imports it back",
                names(start).join(" → ")
            ));
        }
        // The recipe is not an import.
        if loading.len() > MAX_IMPORT_DEPTH {
            let chain = names(0);
            let (first, last) = (chain[0], &chain[chain.len() - 2..]);
            return Err(format!(
                "imports nested more than {MAX_IMPORT_DEPTH} deep ({first} → … → {}); does a chain of modules import more and more modules?",
                last.join(" → ")
            ));
        }
        Ok(())
    }

    fn compile_module(
        &self,
        engine: &Engine,
        key: PathBuf,
        source_name: String,
        text: &str,
        pos: Position,
    ) -> RhaiResultOf<Shared<Module>> {
        if let Some(m) = self.cache.borrow().get(&key) {
            return Ok(m.clone());
        }
        self.check_chain(&key, &source_name)
            .map_err(|message| EvalAltResult::ErrorRuntime(message.into(), pos))?;
        let mut ast = engine
            .compile(text)
            .map_err(|e| EvalAltResult::ErrorInModule(source_name.clone(), e.into(), pos))?;
        ast.set_source(source_name.clone());
        self.loading
            .borrow_mut()
            .push((key.clone(), source_name.clone()));
        let evaluated = Module::eval_ast_as_new(Scope::new(), &ast, engine);
        self.loading.borrow_mut().pop();
        let mut module =
            evaluated.map_err(|e| EvalAltResult::ErrorInModule(source_name, e, pos))?;
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
    ) -> RhaiResultOf<Shared<Module>> {
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
                self.files.track(&candidate);
                // A module may read the files beside it.
                if let Some(dir) = candidate.parent() {
                    self.files.allow_module_dir(dir);
                }
                let key = module_key(&candidate);
                return self.compile_module(
                    engine,
                    key,
                    crate::files::display_path(&candidate),
                    &text,
                    pos,
                );
            }
        }
        if let Some((name, text)) = EMBEDDED_STDLIB.iter().find(|(n, _)| *n == path) {
            let key = PathBuf::from(format!("<stdlib>/{name}.rhai"));
            return self.compile_module(engine, key.clone(), key.display().to_string(), text, pos);
        }
        Err(EvalAltResult::ErrorModuleNotFound(path.to_string(), pos).into())
    }
}

/// What identifies a module file: its path after following links and `..`.
fn module_key(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

/// Installs the script namespaces (`kube::`, `template::`, ...), each a
/// package under its own name.
pub(super) fn register_host_modules(engine: &mut Engine) {
    use rhai::packages::Package;
    // Typed results' getters are global: property access looks only there.
    super::results::ResultsPackage::new().register_into_engine(engine);
    super::kube::KubePackage::new().register_into_engine_as(engine, "kube");
    super::dns::DnsPackage::new().register_into_engine_as(engine, "dns");
    super::doctor::DoctorPackage::new().register_into_engine_as(engine, "doctor");
    super::discover::DiscoverPackage::new().register_into_engine_as(engine, "discover");
    super::cert::CertPackage::new().register_into_engine_as(engine, "cert");
    super::https::HttpsPackage::new().register_into_engine_as(engine, "https");
    super::template::TemplatePackage::new().register_into_engine_as(engine, "template");
    super::yaml::YamlPackage::new().register_into_engine_as(engine, "yaml");
    super::files::FilesPackage::new().register_into_engine_as(engine, "files");
    super::log::LogPackage::new().register_into_engine_as(engine, "log");
    super::config::ConfigPackage::new().register_into_engine_as(engine, "config");
    super::out::OutPackage::new().register_into_engine_as(engine, "out");
    super::run::RunPackage::new().register_into_engine_as(engine, "run");
}

/// Builds the engine for one run of the recipe at `recipe`: limits, host
/// modules, module resolver (which records the modules it loads in `files`).
/// The run itself is given to the engine once prepared ([`Session::start`]).
fn new_engine(files: &Rc<RunFiles>, recipe: &Path, recipe_dir: &Path) -> Engine {
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
    engine.on_progress(limits::cpu_budget());
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
    engine.set_module_resolver(RecipeResolver::new(recipe, recipe_dir, files.clone()));
    engine
}

/// Every host function scripts can call, as `namespace::name`, sorted
/// (not the getters and printing of typed results, which are properties).
pub fn script_functions() -> Vec<String> {
    let mut engine = Engine::new_raw();
    register_host_modules(&mut engine);
    let mut names: Vec<String> = engine
        .gen_fn_signatures(false)
        .into_iter()
        .filter_map(|sig| sig.split('(').next().map(str::to_string))
        .filter(|name| name.contains("::"))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// A compiled recipe.
#[derive(Debug)]
pub(crate) struct Recipe {
    /// The script file.
    pub(crate) path: PathBuf,
    /// The path as shown to people.
    pub(crate) display: String,
    /// The recipe's description: its leading `//!` comment lines.
    pub(crate) about: String,
    /// The compiled script.
    pub(crate) ast: AST,
}

impl Recipe {
    /// Reads and compiles a recipe. A syntax error names file:line:column.
    pub(crate) fn compile(engine: &Engine, path: &Path) -> Result<Recipe> {
        let text = crate::files::read_text(path).context("cannot read the recipe")?;
        let display = crate::files::display_path(path);
        let mut ast = engine.compile(&text).map_err(|e| {
            let (line, col) = (e.1.line().unwrap_or(0), e.1.position().unwrap_or(0));
            anyhow!(
                "{display}:{line}:{col}: syntax error: {}",
                super::errors::syntax_error_words(&e.0)
            )
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

    /// The parameters the recipe declares in `fn params()`; none if it has
    /// no such function. A name in `reserved` (wildrun's own options) is refused.
    ///
    /// Only `params()` runs, not the recipe's body.
    pub(crate) fn params(&self, engine: &Engine, reserved: &[String]) -> Result<Vec<Param>> {
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
        params::from_declaration(&value, reserved).map_err(|e| anyhow!("{}: {e}", self.display))
    }

    /// Runs the recipe's body with `args` and `config` in scope.
    pub(crate) fn run(&self, engine: &Engine, args: &Value, config: &Value) -> Result<()> {
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

/// A compiled recipe, before its run is prepared: enough to read the
/// parameters it declares. [`Session::start`] gives it its run.
pub(crate) struct Session {
    engine: Engine,
    /// The compiled recipe.
    pub(crate) recipe: Recipe,
}

impl Session {
    /// Compiles the recipe at `script`; the files it and its modules read
    /// are recorded in `files`.
    pub(crate) fn open(files: &Rc<RunFiles>, script: &Path, recipe_dir: &Path) -> Result<Session> {
        files.track(script);
        let engine = new_engine(files, script, recipe_dir);
        let recipe = Recipe::compile(&engine, script)?;
        Ok(Session { engine, recipe })
    }

    /// The parameters the recipe declares (see [`Recipe::params`]).
    pub(crate) fn params(&self, reserved: &[String]) -> Result<Vec<Param>> {
        self.recipe.params(&self.engine, reserved)
    }

    /// The prepared run of this recipe: host functions find `context`
    /// through the engine's tag from now on.
    pub(crate) fn start(mut self, context: RunContext, files: Rc<RunFiles>) -> ScriptRun {
        let run = RunHandle::new(context, files);
        self.engine.set_default_tag(Dynamic::from(run.clone()));
        ScriptRun {
            run,
            engine: self.engine,
            recipe: self.recipe,
        }
    }
}

/// A prepared recipe run: its context, its engine and the compiled recipe.
///
/// Host functions add to the evaluation under way (the engine's tag is
/// Rhai's only way to reach them); each evaluation is returned as
/// [`Produced`], so nothing outside the script layer reads the run back.
pub(crate) struct ScriptRun {
    run: RunHandle,
    engine: Engine,
    recipe: Recipe,
}

impl ScriptRun {
    /// Runs the recipe's body with `args` and the configuration in scope,
    /// and returns what it produced.
    pub(crate) fn run_body(&self, args: &Value) -> Result<Produced> {
        let config = &self.run.context().config.value;
        let (result, produced) = self
            .run
            .evaluate(|| self.recipe.run(&self.engine, args, config));
        result.map(|()| produced)
    }

    /// What the run knows.
    pub(crate) fn context(&self) -> &RunContext {
        self.run.context()
    }

    /// Every file the run has read so far: the recipe, its modules, the
    /// files of `template::file` and `yaml::file`.
    pub(crate) fn files_read(&self) -> Vec<PathBuf> {
        self.run.files_read()
    }

    /// The cluster, connected on first use.
    pub(crate) fn cluster(&self) -> Result<Rc<Cluster>> {
        self.run.cluster()
    }

    /// Runs a future to completion on the run's runtime.
    pub(crate) fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.run.block_on(future)
    }

    /// Serves `watches` until stopped: the copy that leads applies `body`
    /// (the plan of the script's body), then each event calls its handler
    /// and applies what the handler planned.
    pub(crate) fn serve(
        &self,
        cluster: &Rc<Cluster>,
        watches: Vec<Watch>,
        body: &Plan,
        options: &ExecOptions,
    ) -> Result<()> {
        super::events::serve(
            &self.run,
            &self.engine,
            &self.recipe.ast,
            cluster,
            watches,
            body,
            options,
            std::sync::mpsc::channel(),
        )
    }
}
