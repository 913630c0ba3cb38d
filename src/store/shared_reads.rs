//! Point reads that arrive together share one statement.
//!
//! On PostgreSQL each read is a round trip to another process, and a decision on every API
//! call makes one. Under load, most of a request's cost was that round trip's fixed part
//! (the socket, the backend's wake-up, the driver's encoding), not the index lookups. So reads
//! queue here: at most `readers` statements run at once, and each takes every read waiting
//! when it starts. A read joins the queue after its request arrived and is answered by a
//! statement that starts after that, so it sees every commit made before it, as a read of its
//! own would. Under light load a read finds a free reader and runs alone at once.
//!
//! Each statement runs in a task of its own, so a caller that gives up (a client that
//! disconnects) never cancels the reads of the others sharing it.

use super::{StoreError, StoreResult};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::oneshot;

/// Reads a batch of keys in one statement, answering with one row per key, in order.
pub(super) type ReadBatch<K, R> =
    Arc<dyn Fn(Vec<K>) -> Pin<Box<dyn Future<Output = StoreResult<Vec<R>>> + Send>> + Send + Sync>;

/// The most keys one statement reads: enough to share a round trip among every request a
/// busy instance has in flight, small enough that a statement stays short.
const MOST_KEYS: usize = 128;

/// A queue of point reads of one kind, read in shared statements.
pub(super) struct SharedReads<K, R> {
    read: ReadBatch<K, R>,
    readers: usize,
    state: Mutex<Queue<K, R>>,
}

impl<K, R> std::fmt::Debug for SharedReads<K, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedReads")
            .field("readers", &self.readers)
            .finish_non_exhaustive()
    }
}

struct Queue<K, R> {
    waiting: VecDeque<(K, oneshot::Sender<StoreResult<R>>)>,
    running: usize,
}

/// Why a read that shared a failed statement failed: that statement's error, shared by every
/// read in it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct SharedFailure(#[source] Arc<StoreError>);

/// The statement answered fewer rows than it was asked keys: a bug in its SQL, reported as a
/// backend failure rather than an answer for the wrong key.
#[derive(Debug, thiserror::Error)]
#[error("a shared read answered {answered} rows for {asked} keys")]
struct RowsMismatch {
    asked: usize,
    answered: usize,
}

/// The reader task went away without answering (the runtime shutting down).
#[derive(Debug, thiserror::Error)]
#[error("the shared read was dropped before it answered")]
struct Unanswered;

impl<K: Send + 'static, R: Send + 'static> SharedReads<K, R> {
    /// Reads with `read`, at most `readers` statements at once.
    pub(super) fn new(readers: usize, read: ReadBatch<K, R>) -> Arc<Self> {
        Arc::new(Self {
            read,
            readers: readers.max(1),
            state: Mutex::new(Queue {
                waiting: VecDeque::new(),
                running: 0,
            }),
        })
    }

    /// The row for `key`, read by a statement that starts after this call.
    pub(super) async fn read(self: &Arc<Self>, key: K) -> StoreResult<R> {
        let (answer, answered) = oneshot::channel();
        let start_reader = {
            // A panic while holding the lock cannot leave the queue half-changed: each change
            // below is one push, pop or counter step.
            let mut queue = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            queue.waiting.push_back((key, answer));
            let free = queue.running < self.readers;
            if free {
                queue.running += 1;
            }
            free
        };
        if start_reader {
            tokio::spawn(Arc::clone(self).drain());
        }
        answered
            .await
            .unwrap_or_else(|_| Err(StoreError::Backend(Box::new(Unanswered))))
    }

    /// Reads for whoever waits, one statement after another, until nobody does.
    async fn drain(self: Arc<Self>) {
        loop {
            let batch: Vec<_> = {
                let mut queue = self.state.lock().unwrap_or_else(PoisonError::into_inner);
                if queue.waiting.is_empty() {
                    // Under the same lock a new read checks `running`: it either sees this
                    // reader gone and starts one, or was queued before and is taken here.
                    queue.running -= 1;
                    return;
                }
                let take = queue.waiting.len().min(MOST_KEYS);
                queue.waiting.drain(..take).collect()
            };
            let (keys, answers): (Vec<K>, Vec<_>) = batch.into_iter().unzip();
            let asked = keys.len();
            match (self.read)(keys).await {
                Ok(rows) if rows.len() == asked => {
                    for (answer, row) in answers.into_iter().zip(rows) {
                        // A caller that gave up no longer listens; nothing to do for it.
                        let _ = answer.send(Ok(row));
                    }
                }
                Ok(rows) => {
                    let error = Arc::new(StoreError::Backend(Box::new(RowsMismatch {
                        asked,
                        answered: rows.len(),
                    })));
                    fail(answers, &error);
                }
                Err(error) => fail(answers, &Arc::new(error)),
            }
        }
    }
}

fn fail<R>(answers: Vec<oneshot::Sender<StoreResult<R>>>, error: &Arc<StoreError>) {
    for answer in answers {
        let shared = SharedFailure(Arc::clone(error));
        let _ = answer.send(Err(StoreError::Backend(Box::new(shared))));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A reader that doubles each key, counting its statements, each taking a few ms.
    fn doubling(statements: Arc<AtomicUsize>) -> ReadBatch<u32, u32> {
        Arc::new(move |keys: Vec<u32>| {
            let statements = Arc::clone(&statements);
            Box::pin(async move {
                statements.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                Ok(keys.into_iter().map(|key| key * 2).collect())
            })
        })
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reads_in_flight_together_share_statements_and_each_gets_its_own_row() {
        let statements = Arc::new(AtomicUsize::new(0));
        let reads = SharedReads::new(1, doubling(Arc::clone(&statements)));
        let calls: Vec<_> = (0..50u32)
            .map(|key| {
                let reads = Arc::clone(&reads);
                tokio::spawn(async move { (key, reads.read(key).await) })
            })
            .collect();
        for call in calls {
            let (key, row) = call.await.unwrap();
            assert_eq!(row.unwrap(), key * 2);
        }
        let made = statements.load(Ordering::SeqCst);
        assert!(made < 50, "50 reads in flight took {made} statements");
    }

    #[tokio::test]
    async fn a_lone_read_runs_at_once_and_the_reader_stops_after() {
        let statements = Arc::new(AtomicUsize::new(0));
        let reads = SharedReads::new(2, doubling(Arc::clone(&statements)));
        assert_eq!(reads.read(21).await.unwrap(), 42);
        assert_eq!(reads.read(4).await.unwrap(), 8);
        assert_eq!(statements.load(Ordering::SeqCst), 2);
        tokio::task::yield_now().await;
        let running = reads.state.lock().unwrap().running;
        assert!(
            running <= 1,
            "{running} readers left running with nothing queued"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_statement_fails_every_read_in_it_and_the_next_reads_work() {
        let fail_next = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let flag = Arc::clone(&fail_next);
        let read: ReadBatch<u32, u32> = Arc::new(move |keys: Vec<u32>| {
            let failing = flag.swap(false, Ordering::SeqCst);
            Box::pin(async move {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                if failing {
                    Err(StoreError::Backend("database down".into()))
                } else {
                    Ok(keys)
                }
            })
        });
        let reads = SharedReads::new(1, read);
        let first = reads.read(1).await;
        let error = first.unwrap_err();
        assert!(error.to_string().contains("database down"), "{error}");
        assert_eq!(reads.read(2).await.unwrap(), 2);
    }

    #[tokio::test]
    async fn a_statement_answering_the_wrong_number_of_rows_is_a_failure_not_a_wrong_answer() {
        let read: ReadBatch<u32, u32> = Arc::new(|_keys| Box::pin(async { Ok(Vec::new()) }));
        let reads = SharedReads::new(1, read);
        assert!(reads.read(7).await.is_err());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_caller_that_gives_up_does_not_cancel_the_others() {
        let statements = Arc::new(AtomicUsize::new(0));
        let reads = SharedReads::new(1, doubling(Arc::clone(&statements)));
        let patient = {
            let reads = Arc::clone(&reads);
            tokio::spawn(async move { reads.read(5).await })
        };
        let impatient = {
            let reads = Arc::clone(&reads);
            tokio::spawn(async move { reads.read(6).await })
        };
        impatient.abort();
        assert_eq!(patient.await.unwrap().unwrap(), 10);
        assert_eq!(reads.read(8).await.unwrap(), 16);
    }
}
