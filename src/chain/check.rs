//! One check of the doctor: a link of the chain, what was found there, and
//! for a failure the fix.

use serde::{Deserialize, Serialize};

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum CheckStatus {
    /// The link holds.
    Pass,
    /// The link is broken; the hint says how to mend it.
    Fail,
    /// Not checked: a link before it is broken, or `--skip` named it.
    Skip,
}

/// A check's result, as the doctor prints it and `--json` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Check {
    /// The check's name (`dns`, `tls-secret`, ...).
    pub(crate) name: String,
    /// Pass, fail or skip.
    pub(crate) status: CheckStatus,
    /// What the check found, for people.
    pub(crate) found: String,
    /// The fix, for a failure only.
    pub(crate) hint: Option<String>,
}

impl Check {
    /// A check that passes when `ok`, else fails with `hint`.
    pub(crate) fn judged(
        name: &str,
        ok: bool,
        found: impl Into<String>,
        hint: impl Into<String>,
    ) -> Check {
        Check {
            name: name.to_string(),
            status: if ok {
                CheckStatus::Pass
            } else {
                CheckStatus::Fail
            },
            found: found.into(),
            hint: (!ok).then(|| hint.into()),
        }
    }

    /// A check that passes.
    pub(crate) fn pass(name: &str, found: impl Into<String>) -> Check {
        Check::judged(name, true, found, "")
    }

    /// A check that fails, with its fix.
    pub(crate) fn fail(name: &str, found: impl Into<String>, hint: impl Into<String>) -> Check {
        Check::judged(name, false, found, hint)
    }

    /// A check not made, and why.
    pub(crate) fn skip(name: &str, why: impl Into<String>) -> Check {
        Check {
            name: name.to_string(),
            status: CheckStatus::Skip,
            found: why.into(),
            hint: None,
        }
    }

    /// Whether it passed.
    pub(crate) fn passed(&self) -> bool {
        self.status == CheckStatus::Pass
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hint_only_for_a_failure() {
        let ok = Check::judged("dns", true, "fine", "fix it");
        assert_eq!(ok.hint, None);
        assert!(ok.passed());
        let bad = Check::judged("dns", false, "broken", "fix it");
        assert_eq!(bad.hint.as_deref(), Some("fix it"));
        assert_eq!(bad.status, CheckStatus::Fail);
        let json = serde_json::to_value(Check::skip("https", "not run")).unwrap();
        assert_eq!(json["status"], "skip");
        assert!(json["hint"].is_null());
    }
}
