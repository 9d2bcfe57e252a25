//! `--watch`: run the recipe, then again whenever a file it read changes.
//!
//! Each run records the files it read (the script, the modules it imported,
//! the templates and YAML files it loaded, the configuration file), so there
//! is no list to maintain: the next run watches what this run used. The
//! folders holding them are watched (editors often replace a file rather
//! than write it in place), bursts of events are folded into one run, an
//! error is reported and the watch goes on, and Ctrl-C or SIGTERM ends the
//! watch with exit 0 once the current run is done.

use crate::kube::events::{listen_for_stop, Wake};
use crate::outcome::{Failure, Outcome, EXIT_OK, EXIT_USAGE};
use anyhow::{anyhow, Context};
use notify::{EventKind, RecursiveMode, Watcher};
use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// Quiet time that ends a burst of file events (an editor's save, a `git checkout`).
pub const DEBOUNCE: Duration = Duration::from_millis(150);

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

/// Waits for a change to one of `files`; folds a burst into one. `Err` on stop.
fn wait_for_change(
    rx: &Receiver<Wake>,
    files: &BTreeSet<PathBuf>,
) -> Result<Vec<PathBuf>, &'static str> {
    loop {
        match rx.recv() {
            Err(_) => return Err("stopped"),
            Ok(Wake::Stop(why)) => return Err(why),
            Ok(Wake::Files(paths)) if touches(&paths, files) => {
                let mut changed = paths;
                loop {
                    match rx.recv_timeout(DEBOUNCE) {
                        Ok(Wake::Files(more)) => changed.extend(more),
                        Ok(Wake::Stop(why)) => return Err(why),
                        Ok(Wake::Cluster(..) | Wake::Lease) => {}
                        Err(RecvTimeoutError::Timeout) => break,
                        Err(RecvTimeoutError::Disconnected) => return Err("stopped"),
                    }
                }
                changed.retain(|p| files.contains(&canonical(p)) || files.contains(p));
                changed.sort();
                changed.dedup();
                return Ok(changed);
            }
            Ok(_) => {}
        }
    }
}

fn print_outcome(outcome: &Outcome) {
    let mut out = std::io::stdout().lock();
    let _ = out
        .write_all(outcome.stdout.as_bytes())
        .and_then(|_| out.flush());
}

/// Runs `run_once` (one run: its result and the files it read) until
/// stopped, again on every change of a file it read.
pub fn watch_files(
    runtime: tokio::runtime::Handle,
    mut run_once: impl FnMut() -> (Result<Outcome, Failure>, Vec<PathBuf>),
) -> Result<Outcome, Failure> {
    let (tx, rx) = channel();
    listen_for_stop(&runtime, tx.clone());
    let events = tx.clone();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if let Ok(event) = res {
            if changes_content(&event.kind) {
                let _ = events.send(Wake::Files(event.paths));
            }
        }
    })
    .context("cannot watch files (inotify)")
    .map_err(Failure::from)?;
    let mut watched_dirs: BTreeSet<PathBuf> = BTreeSet::new();
    let mut last_good: BTreeSet<PathBuf> = BTreeSet::new();
    let mut runs = 0u64;
    loop {
        runs += 1;
        let started = Instant::now();
        let (result, read) = run_once();
        // A command line the first run rejects (a missing --name) stays wrong: stop.
        if runs == 1 {
            if let Err(failure) = &result {
                if failure.code == EXIT_USAGE {
                    return result;
                }
            }
        }
        match &result {
            Ok(outcome) => print_outcome(outcome),
            Err(failure) => tracing::error!("{:#}", failure.error),
        }
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
        match wait_for_change(&rx, &files) {
            Ok(changed) => {
                let names: Vec<String> = changed
                    .iter()
                    .map(|p| crate::files::display_path(p))
                    .collect();
                tracing::info!("changed: {}", names.join(", "));
            }
            Err(why) => {
                tracing::info!("{why}: stopping the watch");
                return Ok(Outcome {
                    stdout: String::new(),
                    code: EXIT_OK,
                });
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
        tx.send(Wake::Files(vec![PathBuf::from("/r/notes.txt")]))
            .unwrap();
        tx.send(Wake::Files(vec![PathBuf::from("/r/recipe.rhai")]))
            .unwrap();
        tx.send(Wake::Files(vec![
            PathBuf::from("/r/lib.rhai"),
            PathBuf::from("/r/.lib.rhai.swp"),
        ]))
        .unwrap();
        tx.send(Wake::Files(vec![PathBuf::from("/r/recipe.rhai")]))
            .unwrap();
        let changed = wait_for_change(&rx, &files).unwrap();
        assert_eq!(
            changed,
            [
                PathBuf::from("/r/lib.rhai"),
                PathBuf::from("/r/recipe.rhai")
            ]
        );
        tx.send(Wake::Stop("interrupted")).unwrap();
        assert_eq!(wait_for_change(&rx, &files), Err("interrupted"));
    }
}
