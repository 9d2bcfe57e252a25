//! Checking the user's permissions before the first write.
//!
//! One SelfSubjectRulesReview per namespace tells what the user may do
//! there; cluster-scoped kinds (and namespaces whose review is incomplete,
//! e.g. with a webhook authorizer) are asked one SelfSubjectAccessReview per
//! verb and resource. A run the user may not finish is refused with nothing
//! written.

use super::cluster::{retry, Cluster};
use crate::plan::Origin;
use anyhow::Result;
use futures::stream::{self, StreamExt};
use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, ResourceRule, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
    SelfSubjectRulesReview, SelfSubjectRulesReviewSpec,
};
use kube::api::{Api, PostParams};
use std::collections::{BTreeMap, BTreeSet};

/// How many reviews are in flight at once (one per namespace the plan
/// writes into: fifty for fifty services).
const CONCURRENT_REVIEWS: usize = 8;

/// One permission a plan needs.
#[derive(Debug, Clone)]
pub struct Need {
    /// `create`, `patch`, `delete`, `get`, ...
    pub verb: String,
    /// API group (`""` for core).
    pub group: String,
    /// Plural resource name.
    pub resource: String,
    /// Namespace; `None` for cluster-scoped kinds.
    pub namespace: Option<String>,
    /// The object, for messages.
    pub what: String,
    /// The script line that asked for it.
    pub origin: Origin,
}

impl Need {
    fn resource_name(&self) -> String {
        if self.group.is_empty() {
            self.resource.clone()
        } else {
            format!("{}.{}", self.resource, self.group)
        }
    }
}

fn matches(list: &[String], value: &str) -> bool {
    list.iter().any(|v| v == "*" || v == value)
}

/// Whether a rule from a rules review allows `need`.
fn allows(rule: &ResourceRule, need: &Need) -> bool {
    let groups = rule.api_groups.as_deref().unwrap_or_default();
    let resources = rule.resources.as_deref().unwrap_or_default();
    let names = rule.resource_names.as_deref().unwrap_or_default();
    matches(&rule.verbs, &need.verb)
        && matches(groups, &need.group)
        && matches(resources, &need.resource)
        // A rule limited to names allows only those objects; creating is never name-limited.
        && (names.is_empty() || (need.verb != "create" && names.iter().any(|n| need.what.ends_with(&format!("/{n}")) || need.what.ends_with(&format!(" {n}")))))
}

/// Reviews a user's permissions on one cluster.
pub struct Permissions<'c> {
    cluster: &'c Cluster,
}

impl<'c> Permissions<'c> {
    /// A reviewer for `cluster`.
    pub fn new(cluster: &'c Cluster) -> Permissions<'c> {
        Permissions { cluster }
    }

    async fn rules(&self, namespace: &str) -> Result<Option<Vec<ResourceRule>>> {
        let api: Api<SelfSubjectRulesReview> = Api::all(self.cluster.client.clone());
        let review = SelfSubjectRulesReview {
            spec: SelfSubjectRulesReviewSpec {
                namespace: Some(namespace.to_string()),
            },
            ..Default::default()
        };
        let post = PostParams::default();
        let answer = retry(|| api.create(&post, &review)).await.map_err(|e| {
            self.cluster
                .explain(e, &format!("review permissions in namespace {namespace}"))
        })?;
        let Some(status) = answer.status else {
            return Ok(None);
        };
        if status.incomplete {
            return Ok(None);
        }
        Ok(Some(status.resource_rules))
    }

    async fn access(&self, need: &Need) -> Result<bool> {
        let api: Api<SelfSubjectAccessReview> = Api::all(self.cluster.client.clone());
        let review = SelfSubjectAccessReview {
            spec: SelfSubjectAccessReviewSpec {
                resource_attributes: Some(ResourceAttributes {
                    verb: Some(need.verb.clone()),
                    group: Some(need.group.clone()),
                    resource: Some(need.resource.clone()),
                    namespace: need.namespace.clone(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            ..Default::default()
        };
        let post = PostParams::default();
        let answer = retry(|| api.create(&post, &review))
            .await
            .map_err(|e| self.cluster.explain(e, "review permissions"))?;
        Ok(answer.status.is_some_and(|s| s.allowed))
    }

    /// The name the cluster knows the user by.
    async fn user(&self) -> String {
        let api: Api<SelfSubjectReview> = Api::all(self.cluster.client.clone());
        match api
            .create(&PostParams::default(), &SelfSubjectReview::default())
            .await
        {
            Ok(r) => r
                .status
                .and_then(|s| s.user_info)
                .and_then(|u| u.username)
                .unwrap_or_else(|| "the current user".into()),
            Err(_) => "the current user".into(),
        }
    }

    /// Problems, one per missing permission, each naming the verb, resource,
    /// namespace, user and the script line; empty when everything is allowed.
    pub async fn check(&self, needs: &[Need]) -> Result<Vec<String>> {
        let mut by_namespace: BTreeMap<&str, Vec<&Need>> = BTreeMap::new();
        let mut single: Vec<&Need> = Vec::new();
        for need in needs {
            match &need.namespace {
                Some(ns) => by_namespace.entry(ns).or_default().push(need),
                None => single.push(need),
            }
        }
        // The reviews are independent of one another: asked several at a time.
        let reviews: Vec<Result<Option<Vec<ResourceRule>>>> =
            stream::iter(by_namespace.keys().map(|namespace| self.rules(namespace)))
                .buffered(CONCURRENT_REVIEWS)
                .collect()
                .await;
        let mut denied: Vec<&Need> = Vec::new();
        for ((_, list), rules) in by_namespace.into_iter().zip(reviews) {
            match rules? {
                Some(rules) => denied.extend(
                    list.into_iter()
                        .filter(|n| !rules.iter().any(|r| allows(r, n))),
                ),
                None => single.extend(list),
            }
        }
        type Question = (String, String, String, Option<String>);
        let question = |need: &Need| -> Question {
            (
                need.verb.clone(),
                need.group.clone(),
                need.resource.clone(),
                need.namespace.clone(),
            )
        };
        let mut questions: BTreeMap<Question, &Need> = BTreeMap::new();
        for need in &single {
            questions.entry(question(need)).or_insert(need);
        }
        let answers: Vec<Result<bool>> =
            stream::iter(questions.values().map(|need| self.access(need)))
                .buffered(CONCURRENT_REVIEWS)
                .collect()
                .await;
        let mut asked: BTreeMap<Question, bool> = BTreeMap::new();
        for (key, allowed) in questions.into_keys().zip(answers) {
            asked.insert(key, allowed?);
        }
        denied.extend(
            single
                .into_iter()
                .filter(|need| !asked.get(&question(need)).copied().unwrap_or(false)),
        );
        if denied.is_empty() {
            return Ok(Vec::new());
        }
        let user = self.user().await;
        let mut seen = BTreeSet::new();
        let mut problems = Vec::new();
        for need in denied {
            let place = match &need.namespace {
                Some(ns) => format!("in namespace {ns}"),
                None => "(cluster-wide)".to_string(),
            };
            let line = format!(
                "{}: user {user:?} may not {} {} {place} (needed for {}); grant it, e.g. with examples/rbac.yaml",
                need.origin,
                need.verb,
                need.resource_name(),
                need.what
            );
            if seen.insert(line.clone()) {
                problems.push(line);
            }
        }
        Ok(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(verbs: &[&str], groups: &[&str], resources: &[&str]) -> ResourceRule {
        ResourceRule {
            verbs: verbs.iter().map(|s| s.to_string()).collect(),
            api_groups: Some(groups.iter().map(|s| s.to_string()).collect()),
            resources: Some(resources.iter().map(|s| s.to_string()).collect()),
            resource_names: None,
        }
    }

    fn need(verb: &str, group: &str, resource: &str) -> Need {
        Need {
            verb: verb.into(),
            group: group.into(),
            resource: resource.into(),
            namespace: Some("ns".into()),
            what: "Ingress ns/web".into(),
            origin: Origin::default(),
        }
    }

    #[test]
    fn rule_matching() {
        let r = rule(&["get", "patch"], &["networking.k8s.io"], &["ingresses"]);
        assert!(allows(&r, &need("patch", "networking.k8s.io", "ingresses")));
        assert!(!allows(
            &r,
            &need("create", "networking.k8s.io", "ingresses")
        ));
        assert!(!allows(&r, &need("patch", "", "ingresses")));
        assert!(allows(
            &rule(&["*"], &["*"], &["*"]),
            &need("create", "apps", "deployments")
        ));
        let mut named = rule(&["patch", "create"], &["networking.k8s.io"], &["ingresses"]);
        named.resource_names = Some(vec!["web".into()]);
        assert!(allows(
            &named,
            &need("patch", "networking.k8s.io", "ingresses")
        ));
        assert!(!allows(
            &named,
            &need("create", "networking.k8s.io", "ingresses")
        ));
    }
}
