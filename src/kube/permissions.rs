//! Checking the user's permissions before the first write.
//!
//! Cluster-scoped kinds are asked one SelfSubjectAccessReview per verb and
//! resource. Namespaced kinds are reviewed per namespace: one
//! SelfSubjectRulesReview tells what the user may do there (where it is
//! incomplete, e.g. with a webhook authorizer, one SelfSubjectAccessReview
//! per verb and resource). When a plan writes into more namespaces than it
//! needs distinct verbs on resources, each verb and resource is first asked
//! once for all namespaces (a SelfSubjectAccessReview with an empty
//! namespace): what a ClusterRole bound cluster-wide grants is settled
//! there, and only namespaces with needs left get their rules review. A run
//! the user may not finish is refused with nothing written.

use super::cluster::{retry, Cluster};
use super::error::Result;
use crate::plan::Origin;
use futures::stream::{self, StreamExt};
use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, ResourceRule, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
    SelfSubjectRulesReview, SelfSubjectRulesReviewSpec,
};
use kube::api::{Api, PostParams};
use std::collections::{BTreeMap, BTreeSet};

/// How many reviews are in flight at once (a plan into fifty namespaces
/// whose user is not granted its needs cluster-wide asks fifty rules
/// reviews).
const CONCURRENT_REVIEWS: usize = 8;

/// One permission a plan needs.
#[derive(Debug, Clone)]
pub(crate) struct Need {
    /// `create`, `patch`, `delete`, `get`, ...
    pub(crate) verb: String,
    /// API group (`""` for core).
    pub(crate) group: String,
    /// Plural resource name.
    pub(crate) resource: String,
    /// Namespace; `None` for cluster-scoped kinds.
    pub(crate) namespace: Option<String>,
    /// The object, for messages.
    pub(crate) what: String,
    /// The script line that asked for it.
    pub(crate) origin: Origin,
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

/// What one SelfSubjectAccessReview asks.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Question {
    verb: String,
    group: String,
    resource: String,
    /// `None` for a cluster-scoped kind, and for a namespaced kind in all
    /// namespaces: for a namespaced resource, Kubernetes reads an empty
    /// namespace in a SelfSubjectAccessReview as "all namespaces".
    namespace: Option<String>,
}

impl Question {
    /// `need`'s verb and resource, in `namespace`.
    fn of(need: &Need, namespace: Option<&str>) -> Question {
        Question {
            verb: need.verb.clone(),
            group: need.group.clone(),
            resource: need.resource.clone(),
            namespace: namespace.map(str::to_string),
        }
    }
}

/// One review to ask the API server.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Review {
    /// A SelfSubjectAccessReview.
    Access(Question),
    /// A SelfSubjectRulesReview of this namespace.
    Rules(String),
}

/// The answers so far.
#[derive(Debug, Default)]
struct Answers {
    /// Whether each question asked is allowed.
    access: BTreeMap<Question, bool>,
    /// Each namespace's rules; `None` when its review was incomplete.
    rules: BTreeMap<String, Option<Vec<ResourceRule>>>,
}

/// One review's answer.
#[derive(Debug)]
enum ReviewAnswer {
    /// Whether the question is allowed.
    Access(Question, bool),
    /// A namespace's rules; `None` when the review was incomplete.
    Rules(String, Option<Vec<ResourceRule>>),
}

impl Answers {
    fn record(&mut self, answer: ReviewAnswer) {
        match answer {
            ReviewAnswer::Access(question, allowed) => {
                self.access.insert(question, allowed);
            }
            ReviewAnswer::Rules(namespace, rules) => {
                self.rules.insert(namespace, rules);
            }
        }
    }
}

/// Whether to ask each (verb, group, resource) of the namespaced needs once
/// for all namespaces before reviewing namespaces one by one. That first
/// round costs one request per distinct (verb, group, resource) and can
/// save one rules review per namespace; asked only when it costs fewer
/// requests than it can save, so a plan into one namespace (or a few, with
/// many kinds) sends what it sent before, and one into many namespaces
/// sends a handful for a user granted its needs cluster-wide, at most a
/// few more (those it asked in vain) for one granted them per namespace.
fn ask_cluster_wide(needs: &[Need]) -> bool {
    let mut namespaces = BTreeSet::new();
    let mut kinds = BTreeSet::new();
    for need in needs {
        if let Some(ns) = &need.namespace {
            namespaces.insert(ns.as_str());
            kinds.insert((&need.verb, &need.group, &need.resource));
        }
    }
    namespaces.len() > kinds.len()
}

/// Whether `need` is allowed (`Some(true)`), denied (`Some(false)`) or not
/// settled by `answers` yet (`None`).
fn verdict(need: &Need, answers: &Answers) -> Option<bool> {
    let asked =
        |namespace: Option<&str>| answers.access.get(&Question::of(need, namespace)).copied();
    let Some(namespace) = &need.namespace else {
        return asked(None);
    };
    // Allowed in all namespaces settles it; denied there, a RoleBinding in
    // this namespace may still allow it.
    if asked(None) == Some(true) {
        return Some(true);
    }
    match answers.rules.get(namespace) {
        Some(Some(rules)) => Some(rules.iter().any(|r| allows(r, need))),
        Some(None) => asked(Some(namespace)),
        None => None,
    }
}

/// The review that would settle `need` next, given `answers` and whether
/// namespaced needs are first asked for all namespaces (`wide`); `None`
/// when it is settled.
fn next_review(need: &Need, wide: bool, answers: &Answers) -> Option<Review> {
    if verdict(need, answers).is_some() {
        return None;
    }
    let Some(namespace) = &need.namespace else {
        return Some(Review::Access(Question::of(need, None)));
    };
    let everywhere = Question::of(need, None);
    if wide && !answers.access.contains_key(&everywhere) {
        return Some(Review::Access(everywhere));
    }
    match answers.rules.get(namespace) {
        None => Some(Review::Rules(namespace.clone())),
        // An incomplete rules review: asked for this verb and resource.
        Some(None) => Some(Review::Access(Question::of(need, Some(namespace)))),
        // Unreachable: the rules settle it.
        Some(Some(_)) => None,
    }
}

/// The next round of reviews: what settles each need not settled yet,
/// each review once.
fn pending(needs: &[Need], wide: bool, answers: &Answers) -> BTreeSet<Review> {
    needs
        .iter()
        .filter_map(|need| next_review(need, wide, answers))
        .collect()
}

/// The needs `answers` do not allow, namespace by namespace, then the
/// cluster-scoped ones (the plan's order within each).
fn denied<'n>(needs: &'n [Need], answers: &Answers) -> Vec<&'n Need> {
    let mut denied: Vec<&Need> = needs
        .iter()
        .filter(|need| verdict(need, answers) != Some(true))
        .collect();
    denied.sort_by_key(|need| (need.namespace.is_none(), need.namespace.clone()));
    denied
}

/// Reviews a user's permissions on one cluster.
pub(crate) struct Permissions<'c> {
    cluster: &'c Cluster,
}

impl<'c> Permissions<'c> {
    /// A reviewer for `cluster`.
    pub(crate) fn new(cluster: &'c Cluster) -> Permissions<'c> {
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

    async fn access(&self, question: &Question) -> Result<bool> {
        let api: Api<SelfSubjectAccessReview> = Api::all(self.cluster.client.clone());
        let review = SelfSubjectAccessReview {
            spec: SelfSubjectAccessReviewSpec {
                resource_attributes: Some(ResourceAttributes {
                    verb: Some(question.verb.clone()),
                    group: Some(question.group.clone()),
                    resource: Some(question.resource.clone()),
                    namespace: question.namespace.clone(),
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

    async fn review(&self, review: Review) -> Result<ReviewAnswer> {
        Ok(match review {
            Review::Access(question) => {
                let allowed = self.access(&question).await?;
                ReviewAnswer::Access(question, allowed)
            }
            Review::Rules(namespace) => {
                let rules = self.rules(&namespace).await?;
                ReviewAnswer::Rules(namespace, rules)
            }
        })
    }

    /// Asks `reviews`, several at a time (they are independent of one
    /// another), and adds their answers to `answers`.
    async fn ask(&self, reviews: BTreeSet<Review>, answers: &mut Answers) -> Result<()> {
        let results: Vec<Result<ReviewAnswer>> =
            stream::iter(reviews.into_iter().map(|review| self.review(review)))
                .buffered(CONCURRENT_REVIEWS)
                .collect()
                .await;
        for answer in results {
            answers.record(answer?);
        }
        Ok(())
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
    pub(crate) async fn check(&self, needs: &[Need]) -> Result<Vec<String>> {
        let wide = ask_cluster_wide(needs);
        let mut answers = Answers::default();
        // Round by round until every need is settled: the cluster-scoped
        // questions with either each namespace's rules review or (`wide`)
        // each question for all namespaces; then the rules reviews of the
        // namespaces with needs left; then a question per need where a rules
        // review was incomplete. A round asks only what the answers so far
        // leave open, and each of its reviews is answered, so the loop ends.
        loop {
            let reviews = pending(needs, wide, &answers);
            if reviews.is_empty() {
                break;
            }
            self.ask(reviews, &mut answers).await?;
        }
        let denied = denied(needs, &answers);
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

    /// `verb` on `resource` (core group) in `namespace`, or cluster-scoped.
    fn in_ns(verb: &str, resource: &str, namespace: Option<&str>) -> Need {
        Need {
            verb: verb.into(),
            group: "".into(),
            resource: resource.into(),
            namespace: namespace.map(str::to_string),
            what: format!("{resource} {}/x", namespace.unwrap_or("")),
            origin: Origin::default(),
        }
    }

    fn ns(i: usize) -> String {
        format!("ns-{i}")
    }

    /// A user as the API server sees it: what it may do in all namespaces
    /// (and cluster-scoped), and the rules of each namespace (`None`: an
    /// incomplete review, then `per_namespace` answers each question).
    struct User {
        everywhere: Vec<(&'static str, &'static str)>,
        rules: fn(&str) -> Option<Vec<ResourceRule>>,
        per_namespace: fn(&Question) -> bool,
    }

    impl User {
        fn answer(&self, review: &Review) -> ReviewAnswer {
            match review {
                Review::Access(q) if q.namespace.is_none() => ReviewAnswer::Access(
                    q.clone(),
                    self.everywhere
                        .iter()
                        .any(|(v, r)| *v == q.verb && *r == q.resource),
                ),
                Review::Access(q) => ReviewAnswer::Access(q.clone(), (self.per_namespace)(q)),
                Review::Rules(namespace) => {
                    ReviewAnswer::Rules(namespace.clone(), (self.rules)(namespace))
                }
            }
        }
    }

    /// What `check` asks, round by round, and the needs it denies.
    fn run<'n>(needs: &'n [Need], user: &User) -> (Vec<BTreeSet<Review>>, Vec<&'n Need>) {
        let wide = ask_cluster_wide(needs);
        let mut answers = Answers::default();
        let mut rounds = Vec::new();
        loop {
            let reviews = pending(needs, wide, &answers);
            if reviews.is_empty() {
                break;
            }
            assert!(rounds.len() < 3, "a fourth round: {rounds:?}");
            for review in &reviews {
                answers.record(user.answer(review));
            }
            rounds.push(reviews);
        }
        (rounds, denied(needs, &answers))
    }

    fn rules_reviews(rounds: &[BTreeSet<Review>]) -> usize {
        rounds
            .iter()
            .flatten()
            .filter(|r| matches!(r, Review::Rules(_)))
            .count()
    }

    fn everywhere(verb: &str, resource: &str) -> Review {
        Review::Access(Question::of(&in_ns(verb, resource, None), None))
    }

    /// tls-sync copying a Secret into twenty namespaces.
    fn twenty_copies() -> Vec<Need> {
        (0..20)
            .map(|i| in_ns("create", "secrets", Some(&ns(i))))
            .collect()
    }

    #[test]
    fn cluster_wide_only_when_namespaces_outnumber_kinds() {
        let many = |namespaces: usize, kinds: &[&str]| -> Vec<Need> {
            (0..namespaces)
                .flat_map(|i| kinds.iter().map(move |k| in_ns("create", k, Some(&ns(i)))))
                .collect()
        };
        assert!(!ask_cluster_wide(&[]));
        assert!(!ask_cluster_wide(&many(1, &["configmaps"])));
        assert!(!ask_cluster_wide(&many(
            1,
            &["configmaps", "secrets", "services"]
        )));
        assert!(!ask_cluster_wide(&many(
            3,
            &["configmaps", "secrets", "services"]
        )));
        assert!(ask_cluster_wide(&many(2, &["configmaps"])));
        assert!(ask_cluster_wide(&many(
            4,
            &["configmaps", "secrets", "services"]
        )));
        assert!(ask_cluster_wide(&twenty_copies()));
        // Another verb on the same resource is another question.
        let mut two_verbs = many(2, &["configmaps"]);
        two_verbs.push(in_ns("patch", "configmaps", Some("ns-0")));
        assert!(!ask_cluster_wide(&two_verbs));
        // Cluster-scoped needs are asked anyway: they count for neither side.
        let mut scoped = many(1, &["configmaps"]);
        scoped.extend((0..5).map(|i| in_ns("create", &format!("kind{i}"), None)));
        assert!(!ask_cluster_wide(&scoped));
    }

    #[test]
    fn a_user_allowed_everywhere_needs_no_review_per_namespace() {
        let mut needs = twenty_copies();
        needs.push(in_ns("create", "namespaces", None));
        let admin = User {
            everywhere: vec![("create", "secrets"), ("create", "namespaces")],
            rules: |_| panic!("no rules review"),
            per_namespace: |_| panic!("no question per namespace"),
        };
        let (rounds, denied) = run(&needs, &admin);
        assert!(denied.is_empty(), "{denied:?}");
        assert_eq!(
            rounds,
            vec![BTreeSet::from([
                everywhere("create", "secrets"),
                everywhere("create", "namespaces"),
            ])]
        );
    }

    #[test]
    fn a_user_bound_per_namespace_is_reviewed_per_namespace() {
        // Allowed by RoleBindings in every namespace but ns-4.
        let user = User {
            everywhere: vec![],
            rules: |namespace| {
                Some(if namespace == "ns-4" {
                    vec![rule(&["get"], &[""], &["secrets"])]
                } else {
                    vec![rule(&["create", "patch"], &[""], &["secrets"])]
                })
            },
            per_namespace: |_| panic!("no question per namespace"),
        };
        let needs: Vec<Need> = (0..5)
            .map(|i| in_ns("create", "secrets", Some(&ns(i))))
            .collect();
        let (rounds, denied) = run(&needs, &user);
        assert_eq!(rounds.len(), 2, "{rounds:?}");
        assert_eq!(rounds[0], BTreeSet::from([everywhere("create", "secrets")]));
        assert_eq!(
            rounds[1],
            (0..5)
                .map(|i| Review::Rules(ns(i)))
                .collect::<BTreeSet<_>>()
        );
        let denied: Vec<_> = denied.iter().map(|n| n.namespace.as_deref()).collect();
        assert_eq!(denied, [Some("ns-4")]);
    }

    #[test]
    fn only_namespaces_with_needs_left_get_a_rules_review() {
        // A ClusterRole grants configmaps everywhere; secrets (only in ns-2)
        // come from a RoleBinding.
        let user = User {
            everywhere: vec![("create", "configmaps")],
            rules: |namespace| {
                assert_eq!(namespace, "ns-2");
                Some(vec![rule(&["create"], &[""], &["secrets"])])
            },
            per_namespace: |_| panic!("no question per namespace"),
        };
        let mut needs: Vec<Need> = (0..5)
            .map(|i| in_ns("create", "configmaps", Some(&ns(i))))
            .collect();
        needs.push(in_ns("create", "secrets", Some("ns-2")));
        let (rounds, denied) = run(&needs, &user);
        assert!(denied.is_empty(), "{denied:?}");
        assert_eq!(rules_reviews(&rounds), 1, "{rounds:?}");
    }

    #[test]
    fn one_namespace_is_reviewed_as_before_in_one_round() {
        // One rules review and one question for the cluster-scoped Namespace,
        // asked side by side; nothing asked for all namespaces.
        let needs = vec![
            in_ns("create", "namespaces", None),
            in_ns("create", "configmaps", Some("web")),
            in_ns("create", "services", Some("web")),
        ];
        let user = User {
            everywhere: vec![("create", "namespaces")],
            rules: |_| Some(vec![rule(&["create"], &[""], &["configmaps"])]),
            per_namespace: |_| panic!("no question per namespace"),
        };
        let (rounds, denied) = run(&needs, &user);
        assert_eq!(
            rounds,
            vec![BTreeSet::from([
                everywhere("create", "namespaces"),
                Review::Rules("web".into()),
            ])]
        );
        let denied: Vec<_> = denied.iter().map(|n| n.resource.as_str()).collect();
        assert_eq!(denied, ["services"]);
    }

    #[test]
    fn an_incomplete_rules_review_falls_back_to_a_question_per_need() {
        let user = User {
            everywhere: vec![],
            rules: |_| None,
            per_namespace: |q| q.namespace.as_deref() != Some("ns-1"),
        };
        let needs: Vec<Need> = (0..3)
            .map(|i| in_ns("patch", "secrets", Some(&ns(i))))
            .collect();
        let (rounds, denied) = run(&needs, &user);
        assert_eq!(rounds.len(), 3, "{rounds:?}");
        assert_eq!(rounds[2].len(), 3, "{rounds:?}");
        let denied: Vec<_> = denied.iter().map(|n| n.namespace.as_deref()).collect();
        assert_eq!(denied, [Some("ns-1")]);
    }

    #[test]
    fn an_answer_for_all_namespaces_settles_only_what_it_allows() {
        let need = in_ns("create", "secrets", Some("a"));
        let mut answers = Answers::default();
        assert_eq!(verdict(&need, &answers), None);
        answers.record(ReviewAnswer::Access(Question::of(&need, None), false));
        // Denied everywhere: a RoleBinding in the namespace may allow it.
        assert_eq!(verdict(&need, &answers), None);
        assert_eq!(
            next_review(&need, true, &answers),
            Some(Review::Rules("a".into()))
        );
        answers.record(ReviewAnswer::Rules(
            "a".into(),
            Some(vec![rule(&["create"], &[""], &["secrets"])]),
        ));
        assert_eq!(verdict(&need, &answers), Some(true));
        assert_eq!(next_review(&need, true, &answers), None);

        let mut answers = Answers::default();
        answers.record(ReviewAnswer::Access(Question::of(&need, None), true));
        answers.record(ReviewAnswer::Rules("a".into(), Some(vec![])));
        assert_eq!(verdict(&need, &answers), Some(true));
        // Another verb is another question.
        assert_eq!(
            verdict(&in_ns("patch", "secrets", Some("a")), &answers),
            Some(false)
        );
    }

    #[test]
    fn denied_needs_are_listed_by_namespace_then_cluster_wide() {
        let needs = vec![
            in_ns("create", "namespaces", None),
            in_ns("create", "services", Some("b")),
            in_ns("create", "configmaps", Some("a")),
            in_ns("create", "secrets", Some("b")),
        ];
        let user = User {
            everywhere: vec![],
            rules: |_| Some(vec![]),
            per_namespace: |_| false,
        };
        let (_, denied) = run(&needs, &user);
        let order: Vec<_> = denied.iter().map(|n| n.resource.as_str()).collect();
        assert_eq!(order, ["configmaps", "services", "secrets", "namespaces"]);
    }
}
