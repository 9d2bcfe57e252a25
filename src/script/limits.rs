//! The limits every script runs under, and the progress hook that enforces
//! the one Rhai has no setting for (CPU time).

use rhai::Dynamic;

/// Operations one script run may take before it is stopped as runaway.
pub(crate) const MAX_OPERATIONS: u64 = 20_000_000;
/// Deepest function-call nesting a script may reach.
pub(crate) const MAX_CALL_LEVELS: usize = 64;
/// Largest string a script may build (bytes).
pub(crate) const MAX_STRING_SIZE: usize = crate::files::MAX_FILE_SIZE;
/// Largest array or map a script may build (items).
pub(crate) const MAX_COLLECTION_SIZE: usize = 100_000;
/// CPU time one evaluation (the recipe, or one call of an event handler)
/// may take. Operations are counted too, but one operation can cost much:
/// growing nested data in a loop copies the whole of it each time, so a
/// loop well inside [`MAX_OPERATIONS`] could run for hours. Time spent
/// waiting on the cluster is not CPU time and does not count.
pub(crate) const MAX_CPU_TIME: std::time::Duration = std::time::Duration::from_secs(10);
/// Every this many operations the CPU time is read (a system call).
const CPU_CHECK_INTERVAL: u64 = 64;
/// What the progress hook returns when [`MAX_CPU_TIME`] is spent.
pub(super) const CPU_TIME_SPENT: &str = "wildrun:cpu-time";

/// Deepest chain of imports a run may load at once (a recipe importing a
/// module importing a module ...), as source nesting is bounded: each level
/// compiles and runs a module inside the one importing it.
pub const MAX_IMPORT_DEPTH: usize = 64;

/// Deepest nesting of maps and lists a script may hand to wildrun
/// (`out::json`, `kube::apply`, `yaml::emit`, ...), as for source.
pub(crate) const MAX_DATA_DEPTH: usize = 100;

/// CPU time the engine's thread has used.
fn thread_cpu_time() -> std::time::Duration {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    std::time::Duration::new(
        u64::try_from(now.tv_sec).unwrap_or_default(),
        u32::try_from(now.tv_nsec).unwrap_or_default(),
    )
}

/// The progress hook that stops an evaluation after [`MAX_CPU_TIME`].
/// Rhai counts operations from zero in every evaluation, so passing the
/// first interval marks where an evaluation's CPU time starts.
pub(super) fn cpu_budget() -> impl Fn(u64) -> Option<Dynamic> {
    let started = std::cell::Cell::new(std::time::Duration::ZERO);
    move |operations| {
        if operations % CPU_CHECK_INTERVAL != 0 {
            return None;
        }
        let now = thread_cpu_time();
        if operations == CPU_CHECK_INTERVAL {
            started.set(now);
            return None;
        }
        (now.saturating_sub(started.get()) > MAX_CPU_TIME).then(|| Dynamic::from(CPU_TIME_SPENT))
    }
}
