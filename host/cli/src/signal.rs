//! Ctrl-C and SIGTERM: a mirror command stops cleanly (a whole prefix of an archive, the
//! run report written) and exits 130.

use tokio::signal::unix::{Signal, SignalKind, signal};

/// Ctrl-C (SIGINT) and SIGTERM, heard from the moment this is made (not from the first poll),
/// so a signal that comes while a command is busy is not lost to the default action.
pub(crate) struct Signals {
    int: Option<Signal>,
    term: Option<Signal>,
}

impl Signals {
    pub(crate) fn new() -> Signals {
        Signals { int: signal(SignalKind::interrupt()).ok(), term: signal(SignalKind::terminate()).ok() }
    }

    /// The next signal after those already received.
    pub(crate) async fn next(&mut self) {
        tokio::select! {
            () = received(self.int.as_mut()) => {}
            () = received(self.term.as_mut()) => {}
        }
    }
}

/// Resolves on the first Ctrl-C or SIGTERM from now on.
pub(crate) fn interrupted() -> impl Future<Output = ()> {
    let mut signals = Signals::new();
    async move { signals.next().await }
}

async fn received(signal: Option<&mut Signal>) {
    match signal {
        Some(s) => drop(s.recv().await),
        None => std::future::pending().await,
    }
}
