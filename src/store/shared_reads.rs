//! Point reads that arrive together share one statement.
//!
//! On PostgreSQL each read is a round trip to another process, and a decision on every API
//! call makes one. Under load, most of a request's cost was that round trip's fixed part
//! (the socket, the backend's wake-up, the driver's encoding), not the index lookups. So reads
//! queue here: at most `readers` statements run at once, and each takes every read waiting
//! when it starts. A read joins the queue after its request arrived and is answered by a
//! statement that starts after that, so it sees every commit made before it, as a read of its
//! own would. A read that finds a reader free and nobody waiting runs alone at once, in its
//! caller's task, so light load pays no hand-off.
//!
//! A shared statement runs in a task of its own, so a caller that gives up (a client that
//! disconnects) never cancels the reads of the others sharing it. A reader's place is released
//! however its holder ends (done, cancelled, panicking) and handed on if reads are waiting.

use super::{StoreError, StoreResult};
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::hash::Hash;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
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
    /// How long a read waits for its answer before it is refused: a statement that hangs (a
    /// lock, a connection gone silent) must not hang every read queued behind it.
    patience: Duration,
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

/// No statement answered the read within the patience.
#[derive(Debug, thiserror::Error)]
#[error("the database did not answer a read within {0:?}")]
struct Overdue(Duration);

/// The reader task went away without answering (the runtime shutting down).
#[derive(Debug, thiserror::Error)]
#[error("the shared read was dropped before it answered")]
struct Unanswered;

impl<K: Eq + Hash + Send + 'static, R: Clone + Send + 'static> SharedReads<K, R> {
    /// Reads with `read`, at most `readers` statements at once, each read waiting at most
    /// `patience` for its answer.
    pub(super) fn new(readers: usize, patience: Duration, read: ReadBatch<K, R>) -> Arc<Self> {
        Arc::new(Self {
            read,
            readers: readers.max(1),
            patience,
            state: Mutex::new(Queue {
                waiting: VecDeque::new(),
                running: 0,
            }),
        })
    }

    /// The row for `key`, read by a statement that starts after this call, or a retryable
    /// error if none answers within the patience.
    pub(super) async fn read(self: &Arc<Self>, key: K) -> StoreResult<R> {
        tokio::time::timeout(self.patience, self.read_now(key))
            .await
            .unwrap_or_else(|_| Err(overdue(self.patience)))
    }

    async fn read_now(self: &Arc<Self>, key: K) -> StoreResult<R> {
        let (answer, answered) = oneshot::channel();
        let start = {
            // A panic while holding the lock cannot leave the queue half-changed: each change
            // below is one push, pop or counter step.
            let mut queue = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            let free = queue.running < self.readers;
            if free {
                queue.running += 1;
            }
            if free && queue.waiting.is_empty() {
                Start::Alone(key)
            } else {
                queue.waiting.push_back((key, answer));
                if free { Start::Reader } else { Start::Wait }
            }
        };
        match start {
            // Nobody to share with: read here, without a hand-off to another task.
            Start::Alone(key) => {
                let slot = Slot::running(Arc::clone(self));
                let read = (self.read)(vec![key]).await;
                // Released (or handed on to whoever queued meanwhile) even if this caller is
                // dropped while reading: the slot's drop does it.
                drop(slot);
                match read {
                    Ok(mut rows) if rows.len() == 1 => rows.pop().ok_or_else(|| mismatch(1, 0)),
                    Ok(rows) => Err(mismatch(1, rows.len())),
                    Err(error) => Err(error),
                }
            }
            Start::Reader => {
                self.start_reader();
                wait(answered).await
            }
            Start::Wait => wait(answered).await,
        }
    }

    /// Reads for whoever waits, one statement after another, until nobody does; then `slot`
    /// is released (or handed on, if someone queued after the last look).
    async fn drain(self: Arc<Self>, mut slot: Slot<K, R>) {
        slot.started = true;
        loop {
            let batch: Vec<_> = {
                let mut queue = self.state.lock().unwrap_or_else(PoisonError::into_inner);
                // A caller that gave up is not read for: under overload, the reads of clients
                // that went away are shed rather than made.
                queue.waiting.retain(|(_, answer)| !answer.is_closed());
                if queue.waiting.is_empty() {
                    break;
                }
                let take = queue.waiting.len().min(MOST_KEYS);
                queue.waiting.drain(..take).collect()
            };
            let (keys, answers): (Vec<K>, Vec<_>) = batch.into_iter().unzip();
            let (keys, places) = distinct(keys);
            let asked = keys.len();
            let mut waited = false;
            let mut read = std::pin::pin!((self.read)(keys));
            let watched = std::future::poll_fn(|context| {
                let poll = read.as_mut().poll(context);
                waited |= poll.is_pending();
                poll
            });
            // A statement that hangs is given up (its connection dropped with it), so the
            // reads queued behind it get a reader again.
            let read = tokio::time::timeout(self.patience, watched)
                .await
                .unwrap_or_else(|_| Err(overdue(self.patience)));
            match read {
                Ok(rows) if rows.len() == asked => {
                    for (answer, place) in answers.into_iter().zip(places) {
                        // A caller that gave up no longer listens; nothing to do for it.
                        let _ = answer.send(Ok(rows[place].clone()));
                    }
                }
                Ok(rows) => fail(answers, &Arc::new(mismatch(asked, rows.len()))),
                Err(error) => fail(answers, &Arc::new(error)),
            }
            // A read that completes at once (SQLite's) would keep this worker for as long as
            // reads keep coming: between such statements, others run. A read that waited on
            // the database has let them run already, and yielding would only delay the next.
            if !waited {
                tokio::task::yield_now().await;
            }
        }
        drop(slot);
    }

    /// Starts a reader task for the queue, in the slot the caller took for it.
    fn start_reader(self: &Arc<Self>) {
        let slot = Slot {
            reads: Arc::clone(self),
            started: false,
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(Arc::clone(self).drain(slot));
            }
            // No runtime to read in: the slot's drop answers whoever waits with an error.
            Err(_) => drop(slot),
        }
    }

    /// Gives a reader's slot back. A reader that ran hands it on if reads are still waiting;
    /// one that never ran (its task dropped unpolled: the runtime is shutting down) answers
    /// them with an error as their senders drop, rather than leave them waiting forever.
    fn release(self: &Arc<Self>, started: bool) {
        let hand_on = {
            let mut queue = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            if queue.waiting.is_empty() || !started {
                queue.running -= 1;
                queue.waiting.clear();
                false
            } else {
                true
            }
        };
        if hand_on {
            self.start_reader();
        }
    }
}

/// The distinct keys of a batch, in the order first asked, and for each key asked the place of
/// its answer among theirs. Reads of the same key in one statement share one row of it: the
/// same snapshot answers them alike, and under load most keys are the same few (every call of
/// an integration carries the one service-account token it was given).
fn distinct<K: Eq + Hash>(keys: Vec<K>) -> (Vec<K>, Vec<usize>) {
    let mut first: HashMap<&K, usize> = HashMap::with_capacity(keys.len());
    let mut kept = vec![false; keys.len()];
    let places: Vec<usize> = keys
        .iter()
        .enumerate()
        .map(|(at, key)| {
            let place = first.len();
            *first.entry(key).or_insert_with(|| {
                kept[at] = true;
                place
            })
        })
        .collect();
    drop(first);
    let keys = keys
        .into_iter()
        .zip(kept)
        .filter_map(|(key, kept)| kept.then_some(key))
        .collect();
    (keys, places)
}

/// How a read starts.
enum Start<K> {
    /// Alone, in the caller's task: no reader was busy and nobody was waiting.
    Alone(K),
    /// Queued, with a reader to start for the queue.
    Reader,
    /// Queued for a reader already running.
    Wait,
}

/// A reader's place among the `readers` allowed at once. Dropped however its holder ends
/// (done, cancelled or panicking), it is released or handed on, so no read is left waiting.
struct Slot<K: Eq + Hash + Send + 'static, R: Clone + Send + 'static> {
    reads: Arc<SharedReads<K, R>>,
    /// Whether its holder ran: a reader task dropped before its first poll must not start
    /// another (on a runtime shutting down, that one would be dropped at once too).
    started: bool,
}

impl<K: Eq + Hash + Send + 'static, R: Clone + Send + 'static> Slot<K, R> {
    /// The slot of a read running now, in its caller's task.
    fn running(reads: Arc<SharedReads<K, R>>) -> Self {
        Self {
            reads,
            started: true,
        }
    }
}

impl<K: Eq + Hash + Send + 'static, R: Clone + Send + 'static> Drop for Slot<K, R> {
    fn drop(&mut self) {
        self.reads.release(self.started);
    }
}

async fn wait<R>(answered: oneshot::Receiver<StoreResult<R>>) -> StoreResult<R> {
    answered
        .await
        .unwrap_or_else(|_| Err(StoreError::Backend(Box::new(Unanswered))))
}

fn overdue(patience: Duration) -> StoreError {
    StoreError::Backend(Box::new(Overdue(patience)))
}

fn mismatch(asked: usize, answered: usize) -> StoreError {
    StoreError::Backend(Box::new(RowsMismatch { asked, answered }))
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
    use std::sync::atomic::{AtomicBool, Ordering};

    const PATIENCE: Duration = Duration::from_secs(5);

    /// A reader that doubles each key, recording each statement's keys; each takes a few ms.
    fn doubling(statements: Arc<Mutex<Vec<Vec<u32>>>>) -> ReadBatch<u32, u32> {
        Arc::new(move |keys: Vec<u32>| {
            let statements = Arc::clone(&statements);
            Box::pin(async move {
                statements.lock().unwrap().push(keys.clone());
                tokio::time::sleep(Duration::from_millis(5)).await;
                Ok(keys.into_iter().map(|key| key * 2).collect())
            })
        })
    }

    fn running(reads: &SharedReads<u32, u32>) -> usize {
        reads.state.lock().unwrap().running
    }

    /// Waits until `condition` holds, failing the test if it does not within seconds (a fixed
    /// sleep would be flaky on a loaded machine).
    async fn eventually(what: &str, condition: impl Fn() -> bool) {
        for _ in 0..5000 {
            if condition() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        panic!("never happened: {what}");
    }

    fn waiting(reads: &SharedReads<u32, u32>) -> usize {
        reads.state.lock().unwrap().waiting.len()
    }

    /// Fails the test instead of hanging when a read is never answered.
    async fn answered<T>(read: impl Future<Output = T>) -> T {
        tokio::time::timeout(Duration::from_secs(5), read)
            .await
            .expect("a read was left waiting")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reads_in_flight_together_share_statements_and_each_gets_its_own_row() {
        let statements = Arc::new(Mutex::new(Vec::new()));
        let reads = SharedReads::new(1, PATIENCE, doubling(Arc::clone(&statements)));
        let calls: Vec<_> = (0..50u32)
            .map(|key| {
                let reads = Arc::clone(&reads);
                tokio::spawn(async move { (key, reads.read(key).await) })
            })
            .collect();
        for call in calls {
            let (key, row) = answered(call).await.unwrap();
            assert_eq!(row.unwrap(), key * 2);
        }
        let made = statements.lock().unwrap().len();
        assert!(made < 50, "50 reads in flight took {made} statements");
        eventually("every reader's place given back", || running(&reads) == 0).await;
    }

    #[tokio::test]
    async fn a_lone_read_runs_at_once_in_its_callers_task_and_gives_its_place_back() {
        let tasks = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&tasks);
        let read: ReadBatch<u32, u32> = Arc::new(move |keys: Vec<u32>| {
            seen.lock().unwrap().push(tokio::task::try_id());
            Box::pin(async move { Ok(keys) })
        });
        let reads = SharedReads::new(2, PATIENCE, read);
        let caller = tokio::spawn({
            let reads = Arc::clone(&reads);
            async move { (tokio::task::id(), reads.read(21).await.unwrap()) }
        });
        let (caller_task, row) = caller.await.unwrap();
        assert_eq!(row, 21);
        assert_eq!(*tasks.lock().unwrap(), vec![Some(caller_task)]);
        assert_eq!(running(&reads), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_statement_fails_every_read_in_it_and_the_next_reads_work() {
        let fail_next = Arc::new(AtomicBool::new(true));
        let flag = Arc::clone(&fail_next);
        let read: ReadBatch<u32, u32> = Arc::new(move |keys: Vec<u32>| {
            let failing = flag.swap(false, Ordering::SeqCst);
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(5)).await;
                if failing {
                    Err(StoreError::Backend("database down".into()))
                } else {
                    Ok(keys)
                }
            })
        });
        let reads = SharedReads::new(1, PATIENCE, read);
        let error = answered(reads.read(1)).await.unwrap_err();
        assert!(error.to_string().contains("database down"), "{error}");
        assert_eq!(answered(reads.read(2)).await.unwrap(), 2);
    }

    #[tokio::test]
    async fn a_statement_answering_the_wrong_number_of_rows_is_a_failure_not_a_wrong_answer() {
        let read: ReadBatch<u32, u32> = Arc::new(|_keys| Box::pin(async { Ok(Vec::new()) }));
        let reads = SharedReads::new(1, PATIENCE, read);
        assert!(answered(reads.read(7)).await.is_err());
    }

    /// A reader whose first statement waits for `gate`, recording every statement's keys.
    fn gated(
        gate: Arc<tokio::sync::Notify>,
        statements: Arc<Mutex<Vec<Vec<u32>>>>,
    ) -> ReadBatch<u32, u32> {
        let first = Arc::new(AtomicBool::new(true));
        Arc::new(move |keys: Vec<u32>| {
            let (gate, statements) = (Arc::clone(&gate), Arc::clone(&statements));
            let waits = first.swap(false, Ordering::SeqCst);
            Box::pin(async move {
                statements.lock().unwrap().push(keys.clone());
                if waits {
                    gate.notified().await;
                }
                Ok(keys.into_iter().map(|key| key * 2).collect())
            })
        })
    }

    fn spawn_read(
        reads: &Arc<SharedReads<u32, u32>>,
        key: u32,
    ) -> tokio::task::JoinHandle<StoreResult<u32>> {
        let reads = Arc::clone(reads);
        tokio::spawn(async move { reads.read(key).await })
    }

    /// Shared reads through a [`gated`] reader of one, and their first read (of key 1),
    /// running alone, holding the reader's place, stuck in its statement until `gate` opens.
    async fn holding_the_reader(
        gate: Arc<tokio::sync::Notify>,
        statements: &Arc<Mutex<Vec<Vec<u32>>>>,
    ) -> (
        Arc<SharedReads<u32, u32>>,
        tokio::task::JoinHandle<StoreResult<u32>>,
    ) {
        let reads = SharedReads::new(1, PATIENCE, gated(gate, Arc::clone(statements)));
        let first = spawn_read(&reads, 1);
        eventually("the first read in its statement", || {
            statements.lock().unwrap().len() == 1
        })
        .await;
        (reads, first)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reads_of_one_key_in_one_statement_ask_it_once_and_each_gets_its_row() {
        let (gate, statements) = (Arc::new(tokio::sync::Notify::new()), Arc::default());
        let (reads, first) = holding_the_reader(Arc::clone(&gate), &statements).await;
        let queued: Vec<_> = [5, 7, 5, 5, 7, 9]
            .into_iter()
            .map(|key| spawn_read(&reads, key))
            .collect();
        eventually("six reads queued", || waiting(&reads) == 6).await;
        gate.notify_one();
        assert_eq!(answered(first).await.unwrap().unwrap(), 2);
        let mut rows = Vec::new();
        for read in queued {
            rows.push(answered(read).await.unwrap().unwrap());
        }
        assert_eq!(rows, [10, 14, 10, 10, 14, 18]);
        // Queued by tasks on two threads, in whatever order they ran.
        let mut statements = statements.lock().unwrap().clone();
        statements[1].sort_unstable();
        assert_eq!(statements, [vec![1], vec![5, 7, 9]]);
    }

    #[test]
    fn distinct_keeps_each_key_once_in_first_asked_order_and_places_every_ask() {
        let (keys, places) = distinct(vec!["b", "a", "b", "c", "a", "b"]);
        assert_eq!(keys, ["b", "a", "c"]);
        assert_eq!(places, [0, 1, 0, 2, 1, 0]);
        let (keys, places) = distinct(Vec::<u8>::new());
        assert!(keys.is_empty() && places.is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_caller_that_gives_up_while_reading_for_others_does_not_strand_them() {
        let (gate, statements) = (Arc::new(tokio::sync::Notify::new()), Arc::default());
        let (reads, first) = holding_the_reader(gate, &statements).await;
        let (patient, impatient) = (spawn_read(&reads, 2), spawn_read(&reads, 3));
        eventually("two reads queued", || waiting(&reads) == 2).await;
        assert_eq!(running(&reads), 1);
        // One queued caller gives up, then the holder: the read still queued is made by a
        // reader the holder hands its place to; the abandoned one is not made at all.
        impatient.abort();
        assert!(answered(impatient).await.unwrap_err().is_cancelled());
        first.abort();
        assert_eq!(answered(patient).await.unwrap().unwrap(), 4);
        assert!(
            !statements
                .lock()
                .unwrap()
                .iter()
                .flatten()
                .any(|key| *key == 3),
            "a read whose caller gave up was still made"
        );
        eventually("the reader's place given back", || running(&reads) == 0).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_reader_that_panics_leaves_no_read_waiting() {
        let panicked = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&panicked);
        let read: ReadBatch<u32, u32> = Arc::new(move |keys: Vec<u32>| {
            let panics = keys.contains(&13) && !flag.swap(true, Ordering::SeqCst);
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(5)).await;
                assert!(!panics, "a reader's bug");
                Ok(keys)
            })
        });
        let reads = SharedReads::new(1, PATIENCE, read);
        let calls: Vec<_> = (10..20u32)
            .map(|key| {
                let reads = Arc::clone(&reads);
                tokio::spawn(async move { reads.read(key).await })
            })
            .collect();
        for call in calls {
            // Each read is answered, refused or its caller's task panicked; none hangs.
            let _ = answered(call).await;
        }
        assert!(panicked.load(Ordering::SeqCst));
        assert_eq!(answered(reads.read(42)).await.unwrap(), 42);
        eventually("the reader's place given back", || running(&reads) == 0).await;
    }

    #[test]
    fn reads_outside_a_runtime_are_refused_not_stranded() {
        let read: ReadBatch<u32, u32> = Arc::new(|keys| Box::pin(async { Ok(keys) }));
        let reads = SharedReads::new(1, PATIENCE, read);
        // Holding the one place, as a reader of another runtime would.
        reads.state.lock().unwrap().running = 1;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let queued = {
            let reads = Arc::clone(&reads);
            runtime.spawn(async move { reads.read(1).await })
        };
        runtime.block_on(tokio::task::yield_now());
        drop(runtime);
        // The holder ends outside any runtime: it cannot start a reader, and says so to the
        // queued read instead of leaving it queued.
        reads.release(true);
        assert_eq!(running(&reads), 0);
        assert!(reads.state.lock().unwrap().waiting.is_empty());
        drop(queued);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_statement_that_hangs_refuses_its_reads_and_those_behind_it_in_time() {
        let hang = Arc::new(AtomicBool::new(true));
        let hanging = Arc::clone(&hang);
        let read: ReadBatch<u32, u32> = Arc::new(move |keys: Vec<u32>| {
            let hangs = hanging.load(Ordering::SeqCst);
            Box::pin(async move {
                if hangs {
                    std::future::pending::<()>().await;
                }
                Ok(keys)
            })
        });
        let reads = SharedReads::new(1, Duration::from_millis(50), read);
        let calls: Vec<_> = (0..5u32)
            .map(|key| {
                let reads = Arc::clone(&reads);
                tokio::spawn(async move { reads.read(key).await })
            })
            .collect();
        for call in calls {
            let error = answered(call).await.unwrap().unwrap_err();
            assert!(error.to_string().contains("did not answer"), "{error}");
        }
        // Once the database answers again, so do the reads: at the latest once the hung
        // statement is given up (within one patience), its place goes to a reader that works.
        hang.store(false, Ordering::SeqCst);
        let mut answer = Err(StoreError::Backend("not read yet".into()));
        for _ in 0..10 {
            answer = answered(reads.read(8)).await;
            if answer.is_ok() {
                break;
            }
        }
        assert_eq!(answer.unwrap(), 8);
    }
}
