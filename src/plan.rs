//! The plan of a run: every object and secret copy a recipe asked for,
//! checked and ordered before anything is written.
//!
//! Scripts add to the plan through `kube::apply`, `kube::copy_secret` and
//! `kube::ensure_namespace`. The whole plan is validated while the script
//! runs; only a complete, valid plan is printed (`--dry-run`) or applied.

use crate::objects::TypedObject;
use serde_json::{json, Map, Value};
use std::path::PathBuf;

/// Label every object wildrun applies carries.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// The value of [`MANAGED_BY_LABEL`].
pub const MANAGED_BY: &str = "wildrun";
/// Label naming the run that made an object: `<recipe>.<name>`.
pub const INSTANCE_LABEL: &str = "wildrun.dev/instance";
/// Annotation on a copied Secret naming its source `namespace/name`.
pub(crate) const COPIED_FROM_ANNOTATION: &str = "wildrun.dev/copied-from";
/// Label marking an object to keep: several instances share it (the
/// wildcard Certificate), so `--delete` and `--prune` never remove it.
pub(crate) const KEEP_LABEL: &str = "wildrun.dev/keep";
/// Annotation on a Secret of generated values (`kube::generated_secret`):
/// the keys wildrun generated, comma-separated. Such a Secret holds what
/// cannot be made again (a database's password), so `--delete` and
/// `--prune` keep it as they keep PersistentVolumeClaims.
pub(crate) const GENERATED_ANNOTATION: &str = "wildrun.dev/generated";

/// Whether `object` (as listed or planned), of kind `kind`, is a Secret of
/// generated values.
pub(crate) fn is_generated(kind: &str, object: &Value) -> bool {
    kind == "Secret"
        && object
            .pointer(&format!(
                "/metadata/annotations/{}",
                GENERATED_ANNOTATION.replace('/', "~1")
            ))
            .is_some()
}

/// Annotation on an object another tool made and wildrun manages in place
/// (`--adopt`): the field manager that made it (`kubectl-client-side-apply`).
/// `--delete` releases such an object instead of deleting it.
pub(crate) const ADOPTED_ANNOTATION: &str = "wildrun.dev/adopted";
/// Annotation on an adopted object that carried another
/// `app.kubernetes.io/managed-by` value (`Helm`): the value, put back when
/// it is released.
pub(crate) const ADOPTED_MANAGED_BY_ANNOTATION: &str = "wildrun.dev/adopted-managed-by";

/// The longest label value Kubernetes accepts.
const MAX_LABEL_VALUE: usize = 63;
/// Hex digits of the hash that ends a shortened instance label.
const LABEL_HASH_DIGITS: usize = 10;

/// Why a run's instance or plan cannot be made, or a plan not printed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PlanError {
    /// The recipe's path has no file name to name the instance after.
    #[error("recipe {} has no file name", .0.display())]
    NoFileName(PathBuf),
    /// The instance name (recipe file name and `--name`) has a character a
    /// label cannot hold; the recipe file is what a person can rename.
    #[error("the instance label {name:?} (recipe file name and --name) {problem}; rename the recipe file to letters, digits, '-' and '_'")]
    InstanceLabel {
        /// `<recipe>.<name>`.
        name: String,
        /// What is wrong with its characters.
        problem: String,
    },
    /// The script asked twice for one object with different contents;
    /// both script lines are named so a person can pick one.
    #[error("{what} is planned twice with different contents: first at {first}, again at {again}")]
    PlannedTwice {
        /// The object, as [`Step::display_name`] names it.
        what: String,
        /// Where the script first asked for it.
        first: Origin,
        /// Where it asked again.
        again: Origin,
    },
    /// The plan could not be printed as JSON.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// The plan could not be printed as YAML.
    #[error(transparent)]
    Yaml(#[from] crate::yaml::YamlError),
}

/// Why a step a script asked for cannot be planned: a name or a label
/// Kubernetes would refuse. Said after the function's name
/// (`copy_secret: label key "a b" ...`).
#[derive(Debug, thiserror::Error)]
pub(crate) enum StepError {
    /// A namespace or a name.
    #[error("{what} {value:?} {problem}")]
    Name {
        /// Which name (`source namespace`, `secret name`).
        what: &'static str,
        /// The name given.
        value: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A label's key.
    #[error("label key {key:?} {problem}")]
    LabelKey {
        /// The key given.
        key: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A label's value that is not text.
    #[error("label {key} must be a string")]
    LabelNotText {
        /// The label's key.
        key: String,
    },
    /// A label's value.
    #[error("label {key} value {value:?} {problem}")]
    LabelValue {
        /// The label's key.
        key: String,
        /// The value given.
        value: String,
        /// What is wrong with it.
        problem: String,
    },
}

/// `value`, checked by `check` as the name `what`.
fn check_name(
    what: &'static str,
    value: &str,
    check: fn(&str) -> Result<(), String>,
) -> Result<(), StepError> {
    check(value).map_err(|problem| StepError::Name {
        what,
        value: value.to_string(),
        problem,
    })
}

/// Labels every object of a run carries (besides the recipe's own).
pub fn run_labels(instance: &str) -> [(&'static str, String); 2] {
    [
        (MANAGED_BY_LABEL, MANAGED_BY.to_string()),
        (INSTANCE_LABEL, instance.to_string()),
    ]
}

/// The instance a run acts for: `<recipe>.<name>` (or `<recipe>` for a
/// recipe without a `name` parameter), and the value of [`INSTANCE_LABEL`]
/// that finds its objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Instance {
    /// `<recipe>.<name>`, as people read it.
    pub(crate) name: String,
    /// The label value: the name itself when it fits in a label (63
    /// characters), else its first characters and a hash of all of it, so
    /// that every valid `--name` has one label, always the same.
    pub(crate) label: String,
}

impl Instance {
    /// The instance of the recipe at `script` run with `--name name`.
    pub(crate) fn of_recipe(
        script: &std::path::Path,
        name: Option<&str>,
    ) -> Result<Instance, PlanError> {
        let stem = script
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .ok_or_else(|| PlanError::NoFileName(script.to_path_buf()))?;
        let full = match name {
            Some(name) => format!("{stem}.{name}"),
            None => stem,
        };
        Instance::new(full)
    }

    /// Whether `label` is a shortened one (a name too long for a label):
    /// its full length, ending in `-` and the hash.
    pub(crate) fn is_shortened(label: &str) -> bool {
        let Some(cut) = label.len().checked_sub(LABEL_HASH_DIGITS + 1) else {
            return false;
        };
        label.len() == MAX_LABEL_VALUE
            && label.as_bytes()[cut] == b'-'
            && label[cut + 1..].bytes().all(|b| b.is_ascii_hexdigit())
    }

    /// The instance named `name`; its characters must be a label's.
    pub(crate) fn new(name: String) -> Result<Instance, PlanError> {
        let label = if name.len() <= MAX_LABEL_VALUE {
            name.clone()
        } else {
            let digest = ring::digest::digest(&ring::digest::SHA256, name.as_bytes());
            let hash: String = digest
                .as_ref()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
                .chars()
                .take(LABEL_HASH_DIGITS)
                .collect();
            let keep = MAX_LABEL_VALUE - LABEL_HASH_DIGITS - 1;
            let head: String = name.chars().take(keep).collect();
            format!("{}-{hash}", head.trim_end_matches(['.', '-', '_']))
        };
        // The whole name's characters, not only the label's: a shortened
        // label would hide a bad one past its cut.
        if let Err(problem) = crate::objects::validate::label_characters(&name) {
            return Err(PlanError::InstanceLabel { name, problem });
        }
        Ok(Instance { name, label })
    }
}

/// Where in a script a step was asked for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Origin {
    /// Script or module file, as shown to people.
    pub(crate) source: String,
    /// Line number (1-based), 0 when unknown.
    pub(crate) line: usize,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}", self.source, self.line)
        } else {
            f.write_str(&self.source)
        }
    }
}

/// A Secret to copy from one namespace into another.
#[derive(Debug, Clone, PartialEq)]
pub struct SecretCopy {
    /// Namespace of the source Secret.
    pub(crate) from_namespace: String,
    /// Name of the source Secret (and of the copy).
    pub(crate) name: String,
    /// Namespace the copy goes into.
    pub(crate) to_namespace: String,
    /// The Secret type the recipe expects the source to have, if it said.
    pub(crate) expected_type: Option<String>,
    /// Labels the copy carries.
    pub(crate) labels: Map<String, Value>,
}

impl SecretCopy {
    /// Checks the names of a copy of the Secret `from_namespace/name` into
    /// `to_namespace`.
    pub(crate) fn check_names(
        from_namespace: &str,
        name: &str,
        to_namespace: &str,
    ) -> Result<(), StepError> {
        use crate::objects::validate::{dns1123_label, dns1123_subdomain};
        check_name("source namespace", from_namespace, dns1123_label)?;
        check_name("secret name", name, dns1123_subdomain)?;
        check_name("target namespace", to_namespace, dns1123_label)
    }

    /// The copy of the Secret `from_namespace/name` into `to_namespace`,
    /// of the type `expected_type` if given, with `labels` (checked) and
    /// the labels of `instance`.
    pub(crate) fn new(
        from_namespace: &str,
        name: &str,
        to_namespace: &str,
        expected_type: Option<String>,
        mut labels: Map<String, Value>,
        instance: &str,
    ) -> Result<SecretCopy, StepError> {
        use crate::objects::validate::{label_key, label_value};
        SecretCopy::check_names(from_namespace, name, to_namespace)?;
        for (key, value) in &labels {
            label_key(key).map_err(|problem| StepError::LabelKey {
                key: key.clone(),
                problem,
            })?;
            let text = value
                .as_str()
                .ok_or_else(|| StepError::LabelNotText { key: key.clone() })?;
            label_value(text).map_err(|problem| StepError::LabelValue {
                key: key.clone(),
                value: text.to_string(),
                problem,
            })?;
        }
        for (key, value) in run_labels(instance) {
            labels.insert(key.to_string(), Value::String(value));
        }
        Ok(SecretCopy {
            from_namespace: from_namespace.to_string(),
            name: name.to_string(),
            to_namespace: to_namespace.to_string(),
            expected_type,
            labels,
        })
    }

    /// The copy as it is shown before the source is read: metadata and type, never data.
    pub(crate) fn placeholder(&self) -> Value {
        let mut secret = json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": self.name,
                "namespace": self.to_namespace,
                "labels": self.labels,
                "annotations": {
                    COPIED_FROM_ANNOTATION: format!("{}/{}", self.from_namespace, self.name),
                },
            },
        });
        if let Some(t) = &self.expected_type {
            secret["type"] = Value::String(t.clone());
        }
        secret
    }
}

/// Names one object in the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectRef {
    /// `apiVersion`.
    pub(crate) api_version: String,
    /// `kind`.
    pub(crate) kind: String,
    /// Namespace, for namespaced kinds.
    pub(crate) namespace: Option<String>,
    /// Name.
    pub(crate) name: String,
}

impl std::fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::objects::describe(
            &self.kind,
            self.namespace.as_deref(),
            &self.name,
        ))
    }
}

impl ObjectRef {
    /// The Secret `namespace/name`, its names checked.
    pub(crate) fn checked_secret(namespace: &str, name: &str) -> Result<ObjectRef, StepError> {
        use crate::objects::validate::{dns1123_label, dns1123_subdomain};
        check_name("namespace", namespace, dns1123_label)?;
        check_name("name", name, dns1123_subdomain)?;
        Ok(ObjectRef::secret(namespace, name))
    }

    /// The Secret `namespace/name`.
    pub(crate) fn secret(namespace: &str, name: &str) -> ObjectRef {
        ObjectRef {
            api_version: "v1".into(),
            kind: "Secret".into(),
            namespace: Some(namespace.into()),
            name: name.into(),
        }
    }

    /// The Namespace `name`.
    pub(crate) fn namespace(name: &str) -> ObjectRef {
        ObjectRef {
            api_version: "v1".into(),
            kind: "Namespace".into(),
            namespace: None,
            name: name.into(),
        }
    }

    /// The reference of a typed object.
    pub(crate) fn of(object: &TypedObject) -> ObjectRef {
        ObjectRef {
            api_version: object.api_version.clone(),
            kind: object.kind.clone(),
            namespace: object.namespace.clone(),
            name: object.name.clone(),
        }
    }
}

/// What `kube::wait` waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// A Deployment, StatefulSet or DaemonSet has rolled out completely.
    Rollout,
    /// `status.conditions[type=NAME].status` is `"True"` (Ready, Established, Available, ...).
    Named(String),
    /// The object no longer exists.
    Deleted,
}

impl std::fmt::Display for Condition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Condition::Rollout => f.write_str("rolled out"),
            Condition::Named(n) => write!(f, "{n}"),
            Condition::Deleted => f.write_str("deleted"),
        }
    }
}

/// Server-side apply of one object.
#[derive(Debug, Clone, PartialEq)]
pub struct ApplyStep {
    /// The object.
    pub(crate) object: TypedObject,
    /// Take over fields another field manager owns.
    pub(crate) force: bool,
    /// `#{ recreate: true }`: an object that exists is deleted (what it
    /// owns first: a Job's pods) and created again, so that a Job runs
    /// again on each deploy and its immutable template may change.
    pub(crate) recreate: bool,
}

impl ApplyStep {
    /// Labels `object` for `instance`: wildrun's labels, unless `patch`
    /// (an object wildrun did not make: only the fields given, so
    /// `--delete` and `--prune` never see it), and [`KEEP_LABEL`] if `keep`.
    pub(crate) fn label(object: &mut TypedObject, instance: &str, keep: bool, patch: bool) {
        if patch {
            return;
        }
        let labels = run_labels(instance);
        object.set_labels(labels.iter().map(|(k, v)| (*k, v.as_str())));
        if keep {
            object.set_labels([(KEEP_LABEL, "true")]);
        }
    }
}

/// Wait until an object reaches a condition.
#[derive(Debug, Clone, PartialEq)]
pub struct WaitStep {
    /// The object.
    pub(crate) target: ObjectRef,
    /// The condition.
    pub(crate) condition: Condition,
    /// How long at most.
    pub(crate) timeout: std::time::Duration,
}

/// How long a delete waits for the object to disappear when no time is
/// given: `kube::delete(.., #{ wait: true })` and `--delete`.
pub(crate) const DEFAULT_DELETE_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

/// What a delete does with the objects the deleted one owns (Kubernetes'
/// `propagationPolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Propagation {
    /// The object goes at once; the garbage collector removes what it owns afterwards.
    #[default]
    Background,
    /// What the object owns goes first, then the object.
    Foreground,
    /// The object goes; what it owns stays.
    Orphan,
}

/// A propagation other than `Background`, `Foreground` or `Orphan`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("propagation must be Background, Foreground or Orphan, not {0}")]
pub struct InvalidPropagation(pub String);

impl std::str::FromStr for Propagation {
    type Err = InvalidPropagation;

    /// Parses Kubernetes' spelling; anything else is refused rather than
    /// read as the default, so a typo never deletes differently than asked.
    fn from_str(text: &str) -> Result<Propagation, InvalidPropagation> {
        match text {
            "Background" => Ok(Propagation::Background),
            "Foreground" => Ok(Propagation::Foreground),
            "Orphan" => Ok(Propagation::Orphan),
            other => Err(InvalidPropagation(other.to_string())),
        }
    }
}

/// Delete an object.
#[derive(Debug, Clone, PartialEq)]
pub struct DeleteStep {
    /// The object.
    pub(crate) target: ObjectRef,
    /// What happens to the objects it owns.
    pub(crate) propagation: Propagation,
    /// Wait until it is gone, at most this long.
    pub(crate) wait: Option<std::time::Duration>,
}

/// One thing a run does.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Server-side apply of an object.
    Apply(ApplyStep),
    /// Copy a Secret between namespaces.
    CopySecret(SecretCopy),
    /// Wait for a condition.
    Wait(WaitStep),
    /// Delete an object.
    Delete(DeleteStep),
}

impl Step {
    /// What the step acts on, for messages.
    pub(crate) fn display_name(&self) -> String {
        match self {
            Step::Apply(a) => a.object.display_name(),
            Step::CopySecret(c) => format!(
                "Secret {}/{} (copy of {}/{})",
                c.to_namespace, c.name, c.from_namespace, c.name
            ),
            Step::Wait(w) => format!("wait for {} to be {}", w.target, w.condition),
            Step::Delete(d) => format!("delete {}", d.target),
        }
    }

    /// The object as printed by `--dry-run`; waits and deletes print nothing.
    pub(crate) fn rendered(&self) -> Option<Value> {
        match self {
            Step::Apply(a) => Some(a.object.value.clone()),
            Step::CopySecret(c) => Some(c.placeholder()),
            Step::Wait(_) | Step::Delete(_) => None,
        }
    }

    /// The object the step writes, if it writes one.
    pub(crate) fn target(&self) -> Option<ObjectRef> {
        matches!(self, Step::Apply(_) | Step::CopySecret(_)).then(|| self.object())
    }

    /// The object the step is about: the one it writes, waits for or deletes.
    pub(crate) fn object(&self) -> ObjectRef {
        match self {
            Step::Apply(a) => ObjectRef::of(&a.object),
            Step::CopySecret(c) => ObjectRef::secret(&c.to_namespace, &c.name),
            Step::Wait(w) => w.target.clone(),
            Step::Delete(d) => d.target.clone(),
        }
    }

    /// Namespaces and CRDs go before everything that may live in or use them.
    fn phase(&self) -> u8 {
        match self {
            Step::Apply(a)
                if matches!(
                    a.object.kind.as_str(),
                    "Namespace" | "CustomResourceDefinition"
                ) =>
            {
                0
            }
            _ => 1,
        }
    }
}

/// A planned step with the script line that asked for it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PlannedStep {
    /// What to do.
    pub(crate) step: Step,
    /// Where the script asked for it.
    pub(crate) origin: Origin,
}

/// All steps of a run, in the order they were asked for.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    steps: Vec<PlannedStep>,
}

/// Output format of a rendered plan (`-o`), and of a run's report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// Multi-document YAML.
    #[default]
    Yaml,
    /// One JSON array.
    Json,
}

impl Plan {
    /// Adds a step. Asking twice for the same object is allowed only when
    /// both requests are identical; otherwise the two origins are named.
    pub(crate) fn add(&mut self, step: Step, origin: Origin) -> Result<(), PlanError> {
        let target = step.target();
        if let Some(existing) = self
            .steps
            .iter()
            .find(|p| target.is_some() && p.step.target() == target)
        {
            if existing.step == step {
                return Ok(());
            }
            return Err(PlanError::PlannedTwice {
                what: step.display_name(),
                first: existing.origin.clone(),
                again: origin,
            });
        }
        self.steps.push(PlannedStep { step, origin });
        Ok(())
    }

    /// The steps in apply order: namespaces (and CRDs) first, then the rest
    /// in the order the script asked for them.
    pub(crate) fn ordered(&self) -> Vec<&PlannedStep> {
        let mut steps: Vec<&PlannedStep> = self.steps.iter().collect();
        steps.sort_by_key(|p| p.step.phase());
        steps
    }

    /// Every target the plan writes (objects and secret copies).
    pub(crate) fn targets(&self) -> Vec<ObjectRef> {
        self.ordered()
            .iter()
            .filter_map(|p| p.step.target())
            .collect()
    }

    /// The Secrets of generated values the plan applies, as `namespace/name`.
    pub(crate) fn generated_secrets(&self) -> Vec<String> {
        self.steps
            .iter()
            .filter_map(|p| match &p.step {
                Step::Apply(a) if is_generated(&a.object.kind, &a.object.value) => Some(format!(
                    "{}/{}",
                    a.object.namespace.as_deref().unwrap_or_default(),
                    a.object.name
                )),
                _ => None,
            })
            .collect()
    }

    /// Number of steps.
    pub(crate) fn len(&self) -> usize {
        self.steps.len()
    }

    /// Whether the plan has no steps.
    pub(crate) fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Renders every step, in apply order, as `--dry-run` prints it. The
    /// values of the Secrets the plan builds are masked unless `secrets` is
    /// [`SecretValues::Shown`] (`--show-secrets`): a dry run's output ends up
    /// in CI logs and pull-request comments.
    pub(crate) fn render(
        &self,
        format: Format,
        secrets: SecretValues,
    ) -> Result<String, PlanError> {
        let objects: Vec<Value> = self
            .ordered()
            .iter()
            .filter_map(|p| p.step.rendered())
            .map(|mut object| {
                if secrets == SecretValues::Masked {
                    mask_secret_values(&mut object);
                }
                object
            })
            .collect();
        match format {
            Format::Json => Ok(serde_json::to_string_pretty(&objects)? + "\n"),
            Format::Yaml => {
                let mut out = String::new();
                for obj in &objects {
                    out.push_str("---\n");
                    out.push_str(&crate::yaml::emit_document(obj)?);
                    if !out.ends_with('\n') {
                        out.push('\n');
                    }
                }
                Ok(out)
            }
        }
    }
}

/// Whether printed objects show the values of Secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SecretValues {
    /// Each value of `data` and `stringData` prints as `***` (the keys stay).
    #[default]
    Masked,
    /// `--show-secrets`: the values as the recipe built them.
    Shown,
}

/// The text a masked Secret value prints as.
pub(crate) const MASKED_VALUE: &str = "***";

/// Replaces every value of a core Secret's `data` and `stringData` with
/// [`MASKED_VALUE`]; other objects are left as they are.
pub(crate) fn mask_secret_values(object: &mut Value) {
    let is_secret = object.get("kind").and_then(Value::as_str) == Some("Secret")
        && object.get("apiVersion").and_then(Value::as_str) == Some("v1");
    if !is_secret {
        return;
    }
    for field in ["data", "stringData"] {
        if let Some(Value::Object(values)) = object.get_mut(field) {
            for value in values.values_mut() {
                *value = Value::String(MASKED_VALUE.to_string());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_copy_is_checked_and_labelled_for_its_instance() {
        let labels = |pairs: &[(&str, Value)]| -> Map<String, Value> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect()
        };
        let copy = SecretCopy::new(
            "tls",
            "wild",
            "web",
            None,
            labels(&[("tier", json!("edge"))]),
            "public.web",
        )
        .unwrap();
        assert_eq!(copy.labels["tier"], "edge");
        assert_eq!(copy.labels[INSTANCE_LABEL], "public.web");
        assert_eq!(copy.labels[MANAGED_BY_LABEL], MANAGED_BY);
        let refused = |from: &str, to: &str, given: &[(&str, Value)]| {
            SecretCopy::new(from, "wild", to, None, labels(given), "public.web")
                .unwrap_err()
                .to_string()
        };
        assert!(refused("TLS", "web", &[]).starts_with("source namespace \"TLS\" "));
        assert!(refused("tls", "we b", &[]).starts_with("target namespace \"we b\" "));
        assert!(refused("tls", "web", &[("a b", json!("x"))]).starts_with("label key \"a b\" "));
        assert_eq!(
            refused("tls", "web", &[("tier", json!(3))]),
            "label tier must be a string"
        );
        assert!(refused("tls", "web", &[("tier", json!("a b"))])
            .starts_with("label tier value \"a b\" "));
        assert!(ObjectRef::checked_secret("web", "-x")
            .unwrap_err()
            .to_string()
            .starts_with("name \"-x\" "));
    }

    #[test]
    fn an_applied_object_carries_the_instance_labels_unless_patched() {
        let labelled = |keep: bool, patch: bool| {
            let mut object = TypedObject::from_value(
                &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "web"}}),
            )
            .unwrap();
            ApplyStep::label(&mut object, "public.web", keep, patch);
            object.value["metadata"]["labels"].clone()
        };
        assert_eq!(labelled(false, false)[INSTANCE_LABEL], "public.web");
        assert_eq!(labelled(false, false).get(KEEP_LABEL), None);
        assert_eq!(labelled(true, false)[KEEP_LABEL], "true");
        assert_eq!(labelled(true, true), Value::Null);
    }

    #[test]
    fn an_instance_that_fits_a_label_is_its_own_label() {
        let instance = Instance::new("public.web".into()).unwrap();
        assert_eq!(instance.label, "public.web");
        let longest = format!("public.{}", "a".repeat(56));
        assert_eq!(Instance::new(longest.clone()).unwrap().label, longest);
    }

    #[test]
    fn a_longer_instance_gets_a_short_stable_label_of_its_own() {
        for recipe in ["public", "internal", "doctor"] {
            let name = format!("{recipe}.{}", "a".repeat(63));
            let label = Instance::new(name.clone()).unwrap().label;
            assert!(label.len() <= 63, "{label}");
            assert!(
                crate::objects::validate::label_value(&label).is_ok(),
                "{label}"
            );
            assert_eq!(Instance::new(name).unwrap().label, label, "stable");
        }
        let long = Instance::new(format!("public.{}", "a".repeat(63))).unwrap();
        assert!(Instance::is_shortened(&long.label));
        assert!(!Instance::is_shortened("public.web"));
        // Two names that share their first 52 characters still differ.
        let a = Instance::new(format!("internal.{}x", "a".repeat(62))).unwrap();
        let b = Instance::new(format!("internal.{}y", "a".repeat(62))).unwrap();
        assert_ne!(a.label, b.label);
        // A cut that ends in punctuation is trimmed so the label stays valid.
        let dotted = Instance::new(format!("{}.{}", "a".repeat(51), "b".repeat(20))).unwrap();
        assert!(crate::objects::validate::label_value(&dotted.label).is_ok());
    }

    #[test]
    fn an_instance_name_with_a_bad_character_is_refused_wherever_it_is() {
        let bad = format!("public.{}%", "a".repeat(70));
        let err = Instance::new(bad).unwrap_err().to_string();
        assert!(err.contains("contains '%'"), "{err}");
        let err = Instance::new("my recipe.web".into())
            .unwrap_err()
            .to_string();
        assert!(err.contains("rename the recipe file"), "{err}");
    }

    fn obj(kind: &str, api: &str, ns: Option<&str>, name: &str) -> Step {
        let mut v = json!({"apiVersion": api, "kind": kind, "metadata": {"name": name}});
        if let Some(ns) = ns {
            v["metadata"]["namespace"] = json!(ns);
        }
        Step::Apply(ApplyStep {
            object: TypedObject::from_value(&v).unwrap(),
            force: false,
            recreate: false,
        })
    }

    #[test]
    fn namespaces_first_then_script_order() {
        let mut plan = Plan::default();
        plan.add(obj("ConfigMap", "v1", Some("a"), "one"), Origin::default())
            .unwrap();
        plan.add(obj("Namespace", "v1", None, "a"), Origin::default())
            .unwrap();
        plan.add(obj("ConfigMap", "v1", Some("a"), "two"), Origin::default())
            .unwrap();
        let names: Vec<String> = plan
            .ordered()
            .iter()
            .map(|p| p.step.display_name())
            .collect();
        assert_eq!(names, ["Namespace a", "ConfigMap a/one", "ConfigMap a/two"]);
    }

    #[test]
    fn duplicates_identical_are_merged_different_are_errors() {
        let mut plan = Plan::default();
        let at = |line| Origin {
            source: "r.rhai".into(),
            line,
        };
        plan.add(obj("Namespace", "v1", None, "a"), at(1)).unwrap();
        plan.add(obj("Namespace", "v1", None, "a"), at(2)).unwrap();
        assert_eq!(plan.len(), 1);
        let copy = SecretCopy {
            from_namespace: "cm".into(),
            name: "s".into(),
            to_namespace: "a".into(),
            expected_type: None,
            labels: Map::new(),
        };
        plan.add(Step::CopySecret(copy), at(3)).unwrap();
        let err = plan
            .add(obj("Secret", "v1", Some("a"), "s"), at(4))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("first at r.rhai:3, again at r.rhai:4"),
            "{err}"
        );
    }

    #[test]
    fn propagation_is_parsed_exactly_and_defaults_to_background() {
        use std::str::FromStr;
        assert_eq!(
            Propagation::from_str("Background"),
            Ok(Propagation::Background)
        );
        assert_eq!(
            Propagation::from_str("Foreground"),
            Ok(Propagation::Foreground)
        );
        assert_eq!(Propagation::from_str("Orphan"), Ok(Propagation::Orphan));
        assert_eq!(Propagation::default(), Propagation::Background);
        // No silent fallback: a wrong case or an empty value is refused, with the value named.
        for wrong in ["background", "", "Cascade"] {
            let err = Propagation::from_str(wrong).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("propagation must be Background, Foreground or Orphan, not {wrong}")
            );
        }
    }

    #[test]
    fn placeholder_never_has_data() {
        let copy = SecretCopy {
            from_namespace: "cert-manager".into(),
            name: "tls".into(),
            to_namespace: "web".into(),
            expected_type: Some("kubernetes.io/tls".into()),
            labels: Map::new(),
        };
        let v = copy.placeholder();
        assert!(v.get("data").is_none() && v.get("stringData").is_none());
        assert_eq!(
            v["metadata"]["annotations"][COPIED_FROM_ANNOTATION],
            json!("cert-manager/tls")
        );
        assert_eq!(v["type"], json!("kubernetes.io/tls"));
    }

    #[test]
    fn secret_values_are_masked_unless_shown() {
        let mut plan = Plan::default();
        let secret = json!({
            "apiVersion": "v1", "kind": "Secret", "metadata": { "name": "db", "namespace": "a" },
            "data": { "k": "UzNjcmV0LXZhbHVl" }, "stringData": { "dbPassword": "S3cret-value" },
        });
        let step = Step::Apply(ApplyStep {
            object: TypedObject::from_value(&secret).unwrap(),
            force: false,
            recreate: false,
        });
        plan.add(step, Origin::default()).unwrap();
        for format in [Format::Yaml, Format::Json] {
            let masked = plan.render(format, SecretValues::Masked).unwrap();
            assert!(
                !masked.contains("S3cret-value") && !masked.contains("UzNjcmV0LXZhbHVl"),
                "{masked}"
            );
            assert!(
                masked.contains("dbPassword") && masked.contains(MASKED_VALUE),
                "{masked}"
            );
            let shown = plan.render(format, SecretValues::Shown).unwrap();
            assert!(
                shown.contains("S3cret-value") && shown.contains("UzNjcmV0LXZhbHVl"),
                "{shown}"
            );
        }
    }

    #[test]
    fn yaml_render_is_multi_document() {
        let mut plan = Plan::default();
        plan.add(obj("Namespace", "v1", None, "a"), Origin::default())
            .unwrap();
        plan.add(obj("ConfigMap", "v1", Some("a"), "b"), Origin::default())
            .unwrap();
        let out = plan.render(Format::Yaml, SecretValues::Masked).unwrap();
        let docs = crate::yaml::parse_documents(&out, "plan").unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1]["metadata"]["name"], json!("b"));
    }

    #[test]
    fn plan_errors_name_what_to_fix() {
        let err = Instance::of_recipe(std::path::Path::new("/"), Some("web")).unwrap_err();
        assert_eq!(err.to_string(), "recipe / has no file name");
        let err = Instance::new("my recipe.web".into()).unwrap_err();
        let PlanError::InstanceLabel { name, problem } = &err else {
            panic!("expected InstanceLabel, got {err:?}");
        };
        assert_eq!(name, "my recipe.web");
        assert_eq!(
            err.to_string(),
            format!("the instance label \"my recipe.web\" (recipe file name and --name) {problem}; rename the recipe file to letters, digits, '-' and '_'")
        );
        let twice = PlanError::PlannedTwice {
            what: "ConfigMap a/b".into(),
            first: Origin {
                source: "r.rhai".into(),
                line: 3,
            },
            again: Origin {
                source: "lib.rhai".into(),
                line: 0,
            },
        };
        assert_eq!(
            twice.to_string(),
            "ConfigMap a/b is planned twice with different contents: first at r.rhai:3, again at lib.rhai"
        );
    }
}
