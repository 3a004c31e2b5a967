//! Ctrl-C and SIGTERM: a mirror command stops cleanly (a whole prefix of an archive, the
//! run report written) and exits 130.

use tokio::signal::unix::{Signal, SignalKind, signal};

/// Resolves on Ctrl-C (SIGINT) or SIGTERM. The handlers are installed when this is called,
/// not when the future is first polled, so a signal that comes while the command is busy
/// is not lost to the default action.
pub(crate) fn interrupted() -> impl Future<Output = ()> {
    let int = signal(SignalKind::interrupt()).ok();
    let term = signal(SignalKind::terminate()).ok();
    async move {
        tokio::select! {
            () = received(int) => {}
            () = received(term) => {}
        }
    }
}

async fn received(signal: Option<Signal>) {
    match signal {
        Some(mut s) => drop(s.recv().await),
        None => std::future::pending().await,
    }
}
