//! `--watch`: run the recipe, then again whenever a file it read changes.
//!
//! Each run records the files it read (the script, the modules it imported,
//! the templates and YAML files it loaded, the configuration file), so there
//! is no list to maintain: the next run watches what this run used. The
//! folders holding them are watched (editors often replace a file rather
//! than write it in place), bursts of events are folded into one run, an
//! error is reported and the watch goes on, and Ctrl-C or SIGTERM ends the
//! watch with exit 0 once the current run is done.
//!
//! With `--prune`, a run deletes nothing until the files it read have been
//! unchanged for [`PRUNE_SETTLE`]: an editor or a sync tool may be halfway
//! through writing one, and what is missing from it now may be back in a
//! moment. Such a run applies, holds its prune, and the watch runs again
//! once the files have settled.

use crate::outcome::{Failure, Outcome, EXIT_OK, EXIT_USAGE};
use anyhow::{anyhow, Context};
use notify::{EventKind, RecursiveMode, Watcher};
use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant, SystemTime};

/// Quiet time that ends a burst of file events (an editor's save, a `git checkout`).
pub(crate) const DEBOUNCE: Duration = Duration::from_millis(150);

/// How long the files a run read must stay unchanged before `--watch
/// --prune` deletes anything. Longer than the pause inside a slow save
/// (an editor that truncates a file and writes it seconds later, a sync
/// tool or `git` writing files one by one, seen to take 4 s), short enough
/// that a removal made on purpose is carried out soon after.
pub(crate) const PRUNE_SETTLE: Duration = Duration::from_secs(10);

/// Why the files a run read have not settled: which changed last, how long
/// ago, and when they will have settled if nothing changes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Unsettled {
    /// The file that changed last, when a file's time says it (not an event).
    pub(crate) file: Option<PathBuf>,
    /// How long ago it changed.
    pub(crate) age: Duration,
    /// When [`PRUNE_SETTLE`] will have passed since.
    pub(crate) due: SystemTime,
}

impl std::fmt::Display for Unsettled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match &self.file {
            Some(file) => crate::files::display_path(file),
            None => "a file the run read".to_string(),
        };
        write!(
            f,
            "{what} changed {:.1}s ago; --watch prunes once the files the run read are unchanged for {}s, then runs again",
            self.age.as_secs_f64(),
            PRUNE_SETTLE.as_secs()
        )
    }
}

/// Whether `files` have been unchanged for [`PRUNE_SETTLE`] at `now`, by
/// their modification times and by `last_change`, when the watch last saw
/// one of them change (a file replaced by an older one keeps its old time).
/// A file that cannot be read counts as changed just now; a time in the
/// future (another machine's clock) says nothing, and the events decide.
pub(crate) fn settled(
    files: &[PathBuf],
    last_change: Option<SystemTime>,
    now: SystemTime,
) -> Result<(), Unsettled> {
    // The file changed last, by its time.
    let mut newest: Option<(SystemTime, &PathBuf)> = None;
    for file in files {
        let changed = match std::fs::metadata(file).and_then(|m| m.modified()) {
            Ok(t) if t > now => continue,
            Ok(t) => t,
            Err(_) => now,
        };
        if newest.is_none_or(|(t, _)| changed > t) {
            newest = Some((changed, file));
        }
    }
    let latest = match (newest.map(|(t, _)| t), last_change) {
        (Some(a), Some(b)) => a.max(b),
        (a, b) => match a.or(b) {
            Some(t) => t,
            None => return Ok(()),
        },
    };
    let age = now.duration_since(latest).unwrap_or_default();
    if age >= PRUNE_SETTLE {
        return Ok(());
    }
    // Named when its own time is recent too (the event is its save).
    let file = newest
        .filter(|(t, _)| now.duration_since(*t).unwrap_or_default() < PRUNE_SETTLE)
        .map(|(_, f)| f.clone());
    Err(Unsettled {
        file,
        age,
        due: latest + PRUNE_SETTLE,
    })
}

fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

/// Whether a file event can change what a run reads (not mere reads or metadata).
fn changes_content(kind: &EventKind) -> bool {
    use notify::event::ModifyKind;
    match kind {
        EventKind::Create(_) | EventKind::Remove(_) => true,
        EventKind::Modify(ModifyKind::Metadata(_)) => false,
        EventKind::Modify(_) => true,
        _ => false,
    }
}

fn touches(paths: &[PathBuf], files: &BTreeSet<PathBuf>) -> bool {
    paths
        .iter()
        .any(|p| files.contains(&canonical(p)) || files.contains(p))
}

/// What ended a wait for changes.
/// What wakes the watch.
#[derive(Debug)]
enum FileWake {
    /// Files changed.
    Files(Vec<PathBuf>),
    /// Ctrl-C or SIGTERM: finish the run under way, then stop.
    Stop(&'static str),
}

#[derive(Debug, PartialEq)]
enum Woken {
    /// These files changed (a burst folded into one).
    Changed(Vec<PathBuf>),
    /// Nothing changed until the deadline.
    Due,
}

/// Waits for a change to one of `files`, or until `deadline`; folds a
/// burst into one. `Err` on stop.
fn wait_for_change(
    rx: &Receiver<FileWake>,
    files: &BTreeSet<PathBuf>,
    deadline: Option<SystemTime>,
) -> Result<Woken, &'static str> {
    loop {
        let next = match deadline {
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            Some(due) => match due.duration_since(SystemTime::now()) {
                Ok(left) if !left.is_zero() => rx.recv_timeout(left),
                _ => return Ok(Woken::Due),
            },
        };
        match next {
            Err(RecvTimeoutError::Timeout) => return Ok(Woken::Due),
            Err(RecvTimeoutError::Disconnected) => return Err("stopped"),
            Ok(FileWake::Stop(why)) => return Err(why),
            Ok(FileWake::Files(paths)) if touches(&paths, files) => {
                let mut changed = paths;
                loop {
                    match rx.recv_timeout(DEBOUNCE) {
                        Ok(FileWake::Files(more)) => changed.extend(more),
                        Ok(FileWake::Stop(why)) => return Err(why),
                        Err(RecvTimeoutError::Timeout) => break,
                        Err(RecvTimeoutError::Disconnected) => return Err("stopped"),
                    }
                }
                changed.retain(|p| files.contains(&canonical(p)) || files.contains(p));
                changed.sort();
                changed.dedup();
                return Ok(Woken::Changed(changed));
            }
            Ok(FileWake::Files(_)) => {}
        }
    }
}

fn print_stdout(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|_| out.flush());
}

/// Runs `run_once` (one run: its result and the files it read) until
/// stopped, again on every change of a file it read, and again when a run
/// held its prune until the files settle. `run_once` is given when the
/// watch last saw a file change (`None` for the first run).
pub(crate) fn watch_files(
    runtime: tokio::runtime::Handle,
    mut run_once: impl FnMut(Option<SystemTime>) -> (Result<Outcome, Failure>, Vec<PathBuf>),
) -> Result<Outcome, Failure> {
    let (tx, rx) = channel();
    let stop = tx.clone();
    crate::stop::on_stop(&runtime, move |why| {
        let _ = stop.send(FileWake::Stop(why));
    });
    let events = tx.clone();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if let Ok(event) = res {
            if changes_content(&event.kind) {
                let _ = events.send(FileWake::Files(event.paths));
            }
        }
    })
    .context("cannot watch files (inotify)")
    .map_err(Failure::from)?;
    let mut watched_dirs: BTreeSet<PathBuf> = BTreeSet::new();
    let mut last_good: BTreeSet<PathBuf> = BTreeSet::new();
    let mut runs = 0u64;
    let mut last_change: Option<SystemTime> = None;
    loop {
        runs += 1;
        let started = Instant::now();
        let (result, read) = run_once(last_change);
        // A command line the first run rejects (a missing --name) stays wrong: stop.
        if runs == 1 {
            if let Err(failure) = &result {
                if failure.code == EXIT_USAGE {
                    return result;
                }
            }
        }
        match &result {
            Ok(outcome) => print_stdout(&outcome.stdout),
            Err(failure) => {
                tracing::error!("{:#}", failure.error);
                print_stdout(&failure.stdout);
            }
        }
        let prune_due = result.as_ref().ok().and_then(|o| o.prune_due);
        let mut files: BTreeSet<PathBuf> = read.iter().map(|p| canonical(p)).collect();
        // A failed run may stop before it reads everything: keep watching what the last good run read.
        if result.is_ok() {
            last_good = files.clone();
        } else {
            files.extend(last_good.iter().cloned());
        }
        for dir in files.iter().filter_map(|f| f.parent()) {
            if watched_dirs.insert(dir.to_path_buf()) {
                watcher
                    .watch(dir, RecursiveMode::NonRecursive)
                    .map_err(|e| anyhow!("cannot watch {}: {e}", dir.display()))
                    .map_err(Failure::from)?;
            }
        }
        let verdict = if result.is_ok() { "done" } else { "failed" };
        tracing::info!(
            "run {runs} {verdict} in {:.2}s; watching {} file(s) for changes (Ctrl-C stops)",
            started.elapsed().as_secs_f64(),
            files.len()
        );
        match wait_for_change(&rx, &files, prune_due) {
            Ok(Woken::Changed(changed)) => {
                last_change = Some(SystemTime::now());
                let names: Vec<String> = changed
                    .iter()
                    .map(|p| crate::files::display_path(p))
                    .collect();
                tracing::info!("changed: {}", names.join(", "));
            }
            Ok(Woken::Due) => tracing::info!(
                "no file changed for {}s: running again to prune",
                PRUNE_SETTLE.as_secs()
            ),
            Err(why) => {
                tracing::info!("{why}: stopping the watch");
                return Ok(Outcome::new(String::new(), EXIT_OK));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_fold_into_one_change_and_unrelated_files_are_ignored() {
        let (tx, rx) = channel();
        let files: BTreeSet<PathBuf> = [
            PathBuf::from("/r/recipe.rhai"),
            PathBuf::from("/r/lib.rhai"),
        ]
        .into();
        tx.send(FileWake::Files(vec![PathBuf::from("/r/notes.txt")]))
            .unwrap();
        tx.send(FileWake::Files(vec![PathBuf::from("/r/recipe.rhai")]))
            .unwrap();
        tx.send(FileWake::Files(vec![
            PathBuf::from("/r/lib.rhai"),
            PathBuf::from("/r/.lib.rhai.swp"),
        ]))
        .unwrap();
        tx.send(FileWake::Files(vec![PathBuf::from("/r/recipe.rhai")]))
            .unwrap();
        let changed = wait_for_change(&rx, &files, None).unwrap();
        assert_eq!(
            changed,
            Woken::Changed(vec![
                PathBuf::from("/r/lib.rhai"),
                PathBuf::from("/r/recipe.rhai")
            ])
        );
        // With a deadline and no change: due.
        let soon = SystemTime::now() + Duration::from_millis(20);
        assert_eq!(wait_for_change(&rx, &files, Some(soon)), Ok(Woken::Due));
        tx.send(FileWake::Stop("interrupted")).unwrap();
        assert_eq!(wait_for_change(&rx, &files, None), Err("interrupted"));
    }

    #[test]
    fn files_settle_once_neither_their_times_nor_the_watch_saw_a_change_for_the_settle_time() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("objs.yaml");
        std::fs::write(&file, "a: 1\n").unwrap();
        let written = std::fs::metadata(&file).unwrap().modified().unwrap();
        let files = [file.clone()];
        // Just written.
        let err = settled(&files, None, written + Duration::from_secs(2)).unwrap_err();
        assert_eq!(err.file.as_deref(), Some(file.as_path()));
        assert_eq!(err.age, Duration::from_secs(2));
        assert_eq!(err.due, written + PRUNE_SETTLE);
        assert!(err.to_string().contains("objs.yaml changed 2.0s ago; --watch prunes once the files the run read are unchanged for 10s"), "{err}");
        let later = written + PRUNE_SETTLE;
        assert_eq!(settled(&files, None, later), Ok(()));
        // The watch saw a change after the file's time: that counts.
        let seen = written + Duration::from_secs(5);
        let err = settled(&files, Some(seen), later).unwrap_err();
        assert_eq!((err.file, err.due), (None, seen + PRUNE_SETTLE));
        let err = settled(&files, Some(seen), seen).unwrap_err();
        assert_eq!(err.age, Duration::ZERO);
        assert_eq!(
            err.file.as_deref(),
            Some(file.as_path()),
            "named by its own time"
        );
        // A time in the future says nothing; a file gone is a change now.
        assert_eq!(
            settled(&files, None, written - Duration::from_secs(60)),
            Ok(())
        );
        let gone = [dir.path().join("gone.yaml")];
        assert!(settled(&gone, None, later).is_err());
    }
}
