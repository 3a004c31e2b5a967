//! Single flight: concurrent callers asking for the same thing (a bearer token for one host and
//! scope set, one registry's credentials) wait for one lookup and share its result. Different
//! keys never wait for each other. A success is kept while it is fresh; a failure is given to
//! the callers that waited for it and then forgotten, so the next caller tries again.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

type Cell<V, E> = Arc<OnceCell<Result<V, Arc<E>>>>;

/// Results by key, each produced by at most one lookup at a time.
pub(crate) struct SingleFlight<K, V, E> {
    cells: Mutex<HashMap<K, Cell<V, E>>>,
}

impl<K, V, E> Default for SingleFlight<K, V, E> {
    fn default() -> Self {
        SingleFlight { cells: Mutex::new(HashMap::new()) }
    }
}

impl<K: Eq + Hash + Clone, V: Clone, E> SingleFlight<K, V, E> {
    /// The value for `key`: a kept one that `fresh` accepts, the result of the lookup under
    /// way, or the result of `lookup`, which this caller then runs for everyone who asks
    /// meanwhile. If the caller running the lookup is cancelled, a waiting one takes it over.
    pub(crate) async fn get<F, Fut>(&self, key: &K, fresh: impl Fn(&V) -> bool, lookup: F) -> Result<V, Arc<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        let cell = {
            // Never held across an await: only finding or replacing the cell.
            let mut cells = self.cells.lock().unwrap_or_else(|e| e.into_inner());
            let cell = cells.entry(key.clone()).or_default();
            let stale = match cell.get() {
                Some(Ok(v)) => !fresh(v),
                // A failure is not kept for callers that come after it.
                Some(Err(_)) => true,
                None => false,
            };
            if stale {
                *cell = Arc::default();
            }
            cell.clone()
        };
        cell.get_or_init(|| async { lookup().await.map_err(Arc::new) }).await.clone()
    }

    /// Forgets every kept value whose key `forget` selects (lookups under way finish for the
    /// callers waiting on them, and are not kept).
    pub(crate) fn forget(&self, forget: impl Fn(&K) -> bool) {
        self.cells.lock().unwrap_or_else(|e| e.into_inner()).retain(|k, _| !forget(k));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_lookup_per_key_failures_not_kept() {
        let flight: Arc<SingleFlight<String, u32, String>> = Arc::default();
        let calls = Arc::new(AtomicUsize::new(0));
        let run = |key: &'static str, fail: bool| {
            let (flight, calls) = (flight.clone(), calls.clone());
            tokio::spawn(async move {
                flight
                    .get(
                        &key.to_owned(),
                        |_| true,
                        || async move {
                            calls.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            if fail { Err("down".to_owned()) } else { Ok(7) }
                        },
                    )
                    .await
            })
        };
        let waiting: Vec<_> = (0..16).map(|_| run("a", false)).collect();
        for w in waiting {
            assert_eq!(w.await.unwrap().unwrap(), 7);
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1, "sixteen callers, one lookup");
        assert_eq!(run("a", true).await.unwrap().unwrap(), 7, "a fresh value is kept");

        let failing: Vec<_> = (0..8).map(|_| run("b", true)).collect();
        for f in failing {
            assert_eq!(*f.await.unwrap().unwrap_err(), "down");
        }
        assert_eq!(calls.load(Ordering::SeqCst), 2, "the waiters shared one failed lookup");
        assert_eq!(run("b", false).await.unwrap().unwrap(), 7, "the next caller tries again");
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        flight.forget(|k| k == "a");
        assert_eq!(run("a", false).await.unwrap().unwrap(), 7);
        assert_eq!(calls.load(Ordering::SeqCst), 4, "forgotten, so looked up again");
    }
}
