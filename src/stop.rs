//! The stop signal of the runs that go on until stopped (`kube::watch`,
//! `--watch`): Ctrl-C (SIGINT) or SIGTERM.

/// Calls `stop` with why (`"interrupted"`, `"terminated"`) on the first
/// Ctrl-C or SIGTERM, from a task on `runtime`.
pub(crate) fn on_stop(
    runtime: &tokio::runtime::Handle,
    stop: impl FnOnce(&'static str) + Send + 'static,
) {
    runtime.spawn(async move {
        #[cfg(unix)]
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let terminate = std::future::pending::<()>();
        let why = tokio::select! {
            _ = tokio::signal::ctrl_c() => "interrupted",
            _ = terminate => "terminated",
        };
        stop(why);
    });
}
