//! What a script read from the cluster during one evaluation (the recipe's
//! body, or one call of a watch handler), so that the checks before the
//! writes of the plan it made ([`super::apply::execute`]) do not read it
//! again: a controller that lists what exists and plans what is missing
//! reads nothing more before writing.
//!
//! A list tells of the objects it did not return too: a list of every
//! Secret named `x` says that a namespace without one has none. An answer
//! is used while it is [`FRESH_FOR`] old at most, as fresh as the checks'
//! own reads are when the writes of a large plan reach them; a script that
//! read something and then waited has it read again. The script's own
//! `kube::get` always reads the cluster (a script may poll).

use crate::plan::ObjectRef;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How old a script's read may be for the checks to use it instead of
/// reading again.
pub(crate) const FRESH_FOR: Duration = Duration::from_secs(2);

/// How many listed objects one evaluation keeps: a script that lists a
/// large cluster's Pods does not hold them twice; past this, lists are not
/// kept (their objects are read again if the plan needs them).
const MAX_KEPT_OBJECTS: usize = 5_000;

/// What one evaluation read, by object.
#[derive(Debug, Default)]
pub struct Reads {
    /// Objects read (`None`: the read found none), and when.
    objects: HashMap<ObjectRef, (Instant, Option<Arc<Value>>)>,
    /// Lists read whole: every object in their scope was in the answer.
    lists: Vec<(Instant, ListScope)>,
}

/// The objects a list returned all of: those of `api_version` `kind` in
/// `namespace` (every namespace when `None`), named `name` when a field
/// selector asked for one name.
#[derive(Debug, Clone, PartialEq)]
struct ListScope {
    api_version: String,
    kind: String,
    namespace: Option<String>,
    name: Option<String>,
}

impl ListScope {
    fn covers(&self, target: &ObjectRef) -> bool {
        self.api_version == target.api_version
            && self.kind == target.kind
            && (self.namespace.is_none() || self.namespace == target.namespace)
            && self.name.as_ref().is_none_or(|name| *name == target.name)
    }
}

/// A list's scope narrowed by its field selector, or `None` when the
/// selector asks for something else than a name or a namespace (such a
/// list says nothing of the objects it left out). Terms are `a=b` or
/// `a==b`, separated by commas.
fn narrowed(mut scope: ListScope, fields: &str) -> Option<ListScope> {
    for term in fields.split(',').filter(|t| !t.trim().is_empty()) {
        let (key, value) = term.split_once("==").or_else(|| term.split_once('='))?;
        let (key, value) = (key.trim(), value.trim().to_string());
        if key.ends_with('!') {
            return None;
        }
        let slot = match key {
            "metadata.name" => &mut scope.name,
            "metadata.namespace" => &mut scope.namespace,
            _ => return None,
        };
        match slot {
            Some(existing) if *existing != value => return None,
            _ => *slot = Some(value),
        }
    }
    Some(scope)
}

/// The reference of a listed object of `api_version` `kind`.
fn reference(api_version: &str, kind: &str, object: &Value) -> Option<ObjectRef> {
    let text = |pointer: &str| object.pointer(pointer).and_then(Value::as_str);
    Some(ObjectRef {
        api_version: api_version.to_string(),
        kind: kind.to_string(),
        namespace: text("/metadata/namespace").map(str::to_string),
        name: text("/metadata/name")?.to_string(),
    })
}

impl Reads {
    /// Records the answer to a read of `target` (`None`: it does not exist).
    pub(crate) fn record_object(&mut self, target: ObjectRef, found: Option<Value>) {
        self.objects
            .insert(target, (Instant::now(), found.map(Arc::new)));
    }

    /// Records the answer to a list of `api_version` `kind` in `namespace`
    /// (every namespace when `None`) with the given selectors. A list
    /// narrowed by labels, or by fields other than a name or a namespace,
    /// is recorded for the objects it returned only.
    pub(crate) fn record_list(
        &mut self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        labels: Option<&str>,
        fields: Option<&str>,
        items: Vec<Value>,
    ) {
        if self.objects.len() + items.len() > MAX_KEPT_OBJECTS {
            return;
        }
        let scope = ListScope {
            api_version: api_version.to_string(),
            kind: kind.to_string(),
            namespace: namespace.map(str::to_string),
            name: None,
        };
        let whole = labels.is_none_or(|l| l.trim().is_empty());
        let scope = match fields {
            Some(fields) if whole => narrowed(scope, fields),
            _ if whole => Some(scope),
            _ => None,
        };
        let now = Instant::now();
        for item in items {
            if let Some(target) = reference(api_version, kind, &item) {
                self.objects.insert(target, (now, Some(Arc::new(item))));
            }
        }
        self.lists.extend(scope.map(|scope| (now, scope)));
    }

    /// What the evaluation learned of `target` in the last [`FRESH_FOR`]:
    /// `Some(None)` when it knows that the object does not exist, `None`
    /// when it did not read it (or too long ago).
    pub(crate) fn lookup(&self, target: &ObjectRef) -> Option<Option<Arc<Value>>> {
        self.lookup_at(target, Instant::now())
    }

    fn lookup_at(&self, target: &ObjectRef, now: Instant) -> Option<Option<Arc<Value>>> {
        let fresh = |at: &Instant| now.saturating_duration_since(*at) <= FRESH_FOR;
        // The newest answer wins: a list after a read, or a read after a list.
        let read = self
            .objects
            .get(target)
            .filter(|(at, _)| fresh(at))
            .map(|(at, found)| (*at, found.clone()));
        let listed = self
            .lists
            .iter()
            .filter(|(at, scope)| fresh(at) && scope.covers(target))
            .map(|(at, _)| *at)
            .max();
        match (read, listed) {
            (Some((read_at, found)), Some(listed_at)) if listed_at > read_at && found.is_some() => {
                // Listed after it was read, and not in that list: gone since.
                Some(None)
            }
            (Some((_, found)), _) => Some(found),
            (None, Some(_)) => Some(None),
            (None, None) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn secret(ns: &str, name: &str) -> ObjectRef {
        ObjectRef::secret(ns, name)
    }

    fn listed_secret(ns: &str, name: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"namespace": ns, "name": name}})
    }

    #[test]
    fn a_read_object_is_known_and_so_is_its_absence() {
        let mut reads = Reads::default();
        assert!(reads.lookup(&secret("a", "tls")).is_none());
        reads.record_object(secret("a", "tls"), Some(listed_secret("a", "tls")));
        reads.record_object(secret("b", "tls"), None);
        assert!(reads.lookup(&secret("a", "tls")).unwrap().is_some());
        assert_eq!(reads.lookup(&secret("b", "tls")), Some(None));
        assert!(reads.lookup(&secret("c", "tls")).is_none());
    }

    #[test]
    fn a_list_by_name_across_namespaces_tells_where_there_is_none() {
        let mut reads = Reads::default();
        reads.record_list(
            "v1",
            "Secret",
            None,
            None,
            Some("metadata.name=tls"),
            vec![listed_secret("a", "tls")],
        );
        assert!(reads.lookup(&secret("a", "tls")).unwrap().is_some());
        assert_eq!(reads.lookup(&secret("b", "tls")), Some(None));
        // Another name was not asked for.
        assert!(reads.lookup(&secret("b", "other")).is_none());
        // Another kind or version neither.
        let config_map = ObjectRef {
            kind: "ConfigMap".into(),
            ..secret("b", "tls")
        };
        assert!(reads.lookup(&config_map).is_none());
    }

    #[test]
    fn a_list_in_one_namespace_covers_that_namespace_only() {
        let mut reads = Reads::default();
        reads.record_list("v1", "Secret", Some("a"), None, None, vec![]);
        assert_eq!(reads.lookup(&secret("a", "x")), Some(None));
        assert!(reads.lookup(&secret("b", "x")).is_none());
    }

    #[test]
    fn a_list_narrowed_otherwise_tells_only_what_it_returned() {
        for (labels, fields) in [
            (Some("app=web"), None),
            (None, Some("type=kubernetes.io/tls")),
            (None, Some("metadata.name!=tls")),
            (None, Some("metadata.name=tls,metadata.name=other")),
        ] {
            let mut reads = Reads::default();
            reads.record_list(
                "v1",
                "Secret",
                None,
                labels,
                fields,
                vec![listed_secret("a", "tls")],
            );
            assert!(reads.lookup(&secret("a", "tls")).unwrap().is_some());
            assert!(
                reads.lookup(&secret("b", "tls")).is_none(),
                "{labels:?} {fields:?}"
            );
        }
    }

    #[test]
    fn namespaces_listed_whole_are_known_present_or_absent() {
        let mut reads = Reads::default();
        let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}});
        reads.record_list("v1", "Namespace", None, Some(""), None, vec![namespace]);
        assert!(reads.lookup(&ObjectRef::namespace("a")).unwrap().is_some());
        assert_eq!(reads.lookup(&ObjectRef::namespace("b")), Some(None));
    }

    #[test]
    fn an_answer_is_used_while_fresh_only() {
        let mut reads = Reads::default();
        reads.record_object(secret("a", "tls"), Some(listed_secret("a", "tls")));
        reads.record_list("v1", "Secret", Some("b"), None, None, vec![]);
        let now = Instant::now();
        assert!(reads.lookup_at(&secret("a", "tls"), now).is_some());
        assert_eq!(reads.lookup_at(&secret("b", "x"), now), Some(None));
        let later = now + FRESH_FOR + Duration::from_millis(1);
        assert!(reads.lookup_at(&secret("a", "tls"), later).is_none());
        assert!(reads.lookup_at(&secret("b", "x"), later).is_none());
    }

    #[test]
    fn a_later_list_without_the_object_says_it_is_gone() {
        let mut reads = Reads::default();
        reads.record_object(secret("a", "tls"), Some(listed_secret("a", "tls")));
        std::thread::sleep(Duration::from_millis(2));
        reads.record_list("v1", "Secret", Some("a"), None, None, vec![]);
        assert_eq!(reads.lookup(&secret("a", "tls")), Some(None));
        // And a later read wins over an earlier list.
        reads.record_object(secret("a", "tls"), Some(listed_secret("a", "tls")));
        assert!(reads.lookup(&secret("a", "tls")).unwrap().is_some());
    }

    #[test]
    fn a_list_too_large_to_keep_is_not_kept() {
        let mut reads = Reads::default();
        let items = (0..=MAX_KEPT_OBJECTS)
            .map(|i| listed_secret("a", &format!("s{i}")))
            .collect();
        reads.record_list("v1", "Secret", None, None, None, items);
        assert!(reads.lookup(&secret("a", "s0")).is_none());
        assert!(reads.lookup(&secret("b", "x")).is_none());
    }
}
