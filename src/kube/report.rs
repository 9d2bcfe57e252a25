//! What a run did, object by object: the lines `apply`, `--delete` and
//! `--prune` print as they go and the `-o json` report.
//!
//! Kept apart from the code that applies a plan, so that `--delete` and
//! `--prune` (cleanup) report in the same words without depending on it.

use crate::plan::{ObjectRef, Step};
use serde::Serialize;

/// What happened to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ObjectAction {
    /// It did not exist and was created.
    Created,
    /// It existed and changed.
    Configured,
    /// It existed and the apply changed nothing.
    Unchanged,
    /// The step was not carried out (see the note).
    Skipped,
    /// It existed and was deleted and created again (`#{ recreate: true }`).
    #[serde(rename = "re-created")]
    Recreated,
    /// It was deleted.
    Deleted,
    /// It was left in place on purpose (see the note).
    Kept,
    /// wildrun adopted it and let it go: its marks and field ownership
    /// were removed, the object stays.
    Released,
    /// A wait ended with the condition met.
    Ready,
    /// A deletion a prune would have made was held back (see the note):
    /// `--watch` waits for the files to settle, or for a run without
    /// `--watch` to confirm a large removal.
    Held,
    /// The step failed (see the note); it may or may not have taken effect.
    Failed,
    /// The step was not started because an earlier one failed.
    #[serde(rename = "not-done")]
    NotDone,
}

impl ObjectAction {
    /// The word printed in reports.
    pub(crate) fn word(self) -> &'static str {
        match self {
            ObjectAction::Created => "created",
            ObjectAction::Configured => "configured",
            ObjectAction::Unchanged => "unchanged",
            ObjectAction::Skipped => "skipped",
            ObjectAction::Recreated => "re-created",
            ObjectAction::Deleted => "deleted",
            ObjectAction::Kept => "kept",
            ObjectAction::Released => "released",
            ObjectAction::Ready => "ready",
            ObjectAction::Held => "held",
            ObjectAction::Failed => "failed",
            ObjectAction::NotDone => "not-done",
        }
    }
}

/// One line of a report.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// What happened.
    pub(crate) action: ObjectAction,
    /// The object.
    pub(crate) kind: String,
    /// Its namespace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) namespace: Option<String>,
    /// Its name.
    pub(crate) name: String,
    /// Why, for skipped and kept objects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) note: Option<String>,
}

impl Entry {
    /// An entry for `target`.
    pub(crate) fn new(action: ObjectAction, target: &ObjectRef, note: Option<String>) -> Entry {
        Entry {
            action,
            kind: target.kind.clone(),
            namespace: target.namespace.clone(),
            name: target.name.clone(),
            note,
        }
    }

    /// An entry for a planned step that did not happen as planned
    /// ([`ObjectAction::Failed`], [`ObjectAction::NotDone`]): its object, and for a
    /// wait or a delete what the step was, before `note`.
    pub(crate) fn for_step(action: ObjectAction, step: &Step, note: Option<String>) -> Entry {
        let what = matches!(step, Step::Wait(_) | Step::Delete(_)).then(|| step.display_name());
        let note = match (what, note) {
            (Some(what), Some(note)) => Some(format!("{what}: {note}")),
            (what, note) => what.or(note),
        };
        Entry::new(action, &step.object(), note)
    }

    /// `configured  Deployment web/web`, with the note if any.
    pub(crate) fn line(&self) -> String {
        let target = crate::objects::describe(&self.kind, self.namespace.as_deref(), &self.name);
        match &self.note {
            Some(n) => format!("{:<10} {target} ({n})", self.action.word()),
            None => format!("{:<10} {target}", self.action.word()),
        }
    }

    /// Logs the entry for people as it happens.
    pub(crate) fn log(&self, dry_run: bool, quiet_unchanged: bool) {
        let suffix = if dry_run { " [server dry run]" } else { "" };
        match self.action {
            // Watch handlers run on every event: the same skip is said once.
            ObjectAction::Skipped | ObjectAction::Held => {
                let line = self.line();
                if first_time(&line) || !quiet_unchanged {
                    tracing::warn!("{line}{suffix}")
                } else {
                    tracing::debug!("{line}{suffix}")
                }
            }
            ObjectAction::Unchanged if quiet_unchanged => {
                tracing::debug!("{}{suffix}", self.line())
            }
            _ => tracing::info!("{}{suffix}", self.line()),
        }
    }
}

/// Whether this process has not said `line` before (and now has).
fn first_time(line: &str) -> bool {
    static SAID: std::sync::OnceLock<std::sync::Mutex<std::collections::HashSet<String>>> =
        std::sync::OnceLock::new();
    let said = SAID.get_or_init(Default::default);
    // A poisoned lock only means another thread panicked while inserting.
    let mut said = said.lock().unwrap_or_else(|e| e.into_inner());
    said.insert(line.to_string())
}

/// Everything a run did, in order.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Report {
    /// One entry per object.
    pub(crate) entries: Vec<Entry>,
    /// Log unchanged objects at debug level only.
    #[serde(skip)]
    pub(crate) quiet_unchanged: bool,
}

impl Report {
    /// How many entries have `action`.
    pub(crate) fn count(&self, action: ObjectAction) -> usize {
        self.entries.iter().filter(|e| e.action == action).count()
    }

    /// `3 created, 1 configured, 2 unchanged`, leaving out zero counts other than these three.
    pub(crate) fn summary(&self) -> String {
        let mut parts = Vec::new();
        for action in [
            ObjectAction::Created,
            ObjectAction::Configured,
            ObjectAction::Unchanged,
            ObjectAction::Recreated,
            ObjectAction::Deleted,
            ObjectAction::Released,
            ObjectAction::Kept,
            ObjectAction::Held,
            ObjectAction::Skipped,
            ObjectAction::Ready,
        ] {
            let n = self.count(action);
            if n > 0
                || matches!(
                    action,
                    ObjectAction::Created | ObjectAction::Configured | ObjectAction::Unchanged
                )
            {
                parts.push(format!("{n} {}", action.word()));
            }
        }
        parts.join(", ")
    }

    /// Adds an entry and logs it for people.
    pub(crate) fn push_entry(&mut self, entry: Entry, dry_run: bool) {
        entry.log(dry_run, self.quiet_unchanged);
        self.entries.push(entry);
    }
}
