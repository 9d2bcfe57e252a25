//! The wait's progress through its links: what each look found, turned
//! into the changes worth telling people about.

use super::judging::LinkState;
use super::links::Link;
use std::time::Duration;

/// A reason without the time its look took (`404 Not Found in 12 ms`):
/// the same answer, slower or faster, is not news to print again.
pub(super) fn without_timings(reason: &str) -> String {
    let mut out = String::with_capacity(reason.len());
    let mut rest = reason;
    while let Some(at) = rest.find(" in ") {
        let after = &rest[at + 4..];
        let digits = after.chars().take_while(char::is_ascii_digit).count();
        out.push_str(&rest[..at]);
        if digits > 0 && after[digits..].starts_with(" ms") {
            rest = &after[digits + 3..];
        } else {
            out.push_str(" in ");
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// A change worth telling people about.
#[derive(Debug, Clone, PartialEq)]
pub enum WaitEvent {
    /// Now waiting on `link` because of `reason` (new link or new reason).
    Waiting {
        /// The link, in words.
        link: String,
        /// Why it does not hold.
        reason: String,
    },
    /// `link` holds after `after` (since the wait began).
    Holds {
        /// The link, in words.
        link: String,
        /// What it looks like.
        note: String,
        /// Since the wait began.
        after: Duration,
    },
    /// Every link holds.
    Done {
        /// Since the wait began.
        after: Duration,
    },
}

/// The wait's progress through its links: fed what each look found,
/// it says what changed.
#[derive(Debug)]
pub(crate) struct WaitProgress {
    links: Vec<Link>,
    current: usize,
    reason: Option<String>,
}

impl WaitProgress {
    /// Starts at the first link.
    pub(crate) fn new(links: Vec<Link>) -> WaitProgress {
        WaitProgress {
            links,
            current: 0,
            reason: None,
        }
    }

    /// The link waited on now, or `None` when all hold.
    pub(crate) fn current(&self) -> Option<&Link> {
        self.links.get(self.current)
    }

    /// The links after the current one.
    pub(crate) fn upcoming(&self) -> &[Link] {
        self.links.get(self.current + 1..).unwrap_or_default()
    }

    /// The last reason the current link gave.
    pub(crate) fn reason(&self) -> &str {
        self.reason.as_deref().unwrap_or("not looked at yet")
    }

    /// Records what a look at the current link found, `elapsed` since the
    /// wait began; returns what to tell people.
    pub(crate) fn observe(&mut self, seen: LinkState, elapsed: Duration) -> Vec<WaitEvent> {
        let Some(link) = self.current().map(ToString::to_string) else {
            return Vec::new();
        };
        match seen {
            LinkState::NotYet(reason) => {
                if self.reason.as_deref().map(without_timings) == Some(without_timings(&reason)) {
                    return Vec::new();
                }
                self.reason = Some(reason.clone());
                vec![WaitEvent::Waiting { link, reason }]
            }
            LinkState::Holds(note) => {
                self.current += 1;
                self.reason = None;
                let mut events = vec![WaitEvent::Holds {
                    link,
                    note,
                    after: elapsed,
                }];
                if self.current().is_none() {
                    events.push(WaitEvent::Done { after: elapsed });
                }
                events
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::ObjectRef;

    #[test]
    fn progress_reports_changes_only() {
        let mut p = WaitProgress::new(vec![
            Link::Rollout(ObjectRef::namespace("x")),
            Link::Https {
                host: "a.example.com".into(),
                internal: false,
            },
        ]);
        let s = Duration::from_secs(1);
        let first = p.observe(LinkState::NotYet("0/1 available".into()), s);
        assert_eq!(first.len(), 1);
        assert!(
            matches!(&first[0], WaitEvent::Waiting { reason, .. } if reason == "0/1 available")
        );
        assert!(p
            .observe(LinkState::NotYet("0/1 available".into()), s)
            .is_empty());
        assert_eq!(
            p.observe(LinkState::NotYet("1/1 available".into()), s)
                .len(),
            1
        );
        let events = p.observe(LinkState::Holds("rolled out".into()), s);
        assert!(
            matches!(&events[..], [WaitEvent::Holds { link, .. }] if link == "rollout of Namespace x")
        );
        assert_eq!(p.reason(), "not looked at yet");
        assert_eq!(
            p.current().unwrap().to_string(),
            "HTTPS https://a.example.com/"
        );
        let events = p.observe(LinkState::Holds("200 OK".into()), s * 3);
        assert!(
            matches!(&events[..], [WaitEvent::Holds { .. }, WaitEvent::Done { after }] if *after == s * 3)
        );
        assert!(p.current().is_none());
    }

    #[test]
    fn the_same_answer_slower_or_faster_is_said_once() {
        assert_eq!(
            without_timings("404 Not Found in 12 ms, asked from 127.0.0.1: no route in it"),
            "404 Not Found, asked from 127.0.0.1: no route in it"
        );
        let mut progress = WaitProgress::new(vec![Link::Https {
            host: "a.example.com".into(),
            internal: false,
        }]);
        let said = |p: &mut WaitProgress, r: &str| {
            p.observe(LinkState::NotYet(r.into()), Duration::ZERO).len()
        };
        assert_eq!(
            said(
                &mut progress,
                "404 Not Found in 12 ms, asked from 127.0.0.1"
            ),
            1
        );
        assert_eq!(
            said(&mut progress, "404 Not Found in 9 ms, asked from 127.0.0.1"),
            0
        );
        assert_eq!(
            said(
                &mut progress,
                "502 Bad Gateway in 9 ms, asked from 127.0.0.1"
            ),
            1
        );
    }
}
