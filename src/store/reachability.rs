//! Whether the database can be reached, so that while it cannot every request is refused at
//! once instead of each waiting out the pool's acquire timeout.
//!
//! sqlx keeps trying to connect to a database that refuses connections (it takes that for a
//! server starting up) until the acquire timeout, so with the database down every store call
//! took that long to fail, and requests piled up behind one another. Here, once a connection
//! could not be had, calls that would have to open one are refused at once with a retryable
//! error (an idle open connection still serves), while one call at a time, every
//! [`RETRY_EVERY`], tries the database again; the first that connects opens the way for
//! everyone.

use super::{StoreError, StoreResult};
use sqlx::AnyPool;
use sqlx::pool::PoolConnection;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How often, while the database cannot be reached, one call tries it again: short enough
/// that service resumes within a moment of the database's return.
pub(super) const RETRY_EVERY: Duration = Duration::from_millis(250);

/// What is known of the database's reach; shared by every clone of a store.
#[derive(Debug, Default)]
pub(super) struct Reachability {
    /// Set while a connection could not be had: the one thing a call reads when all is well.
    unreachable: AtomicBool,
    outage: Mutex<Outage>,
}

/// The current outage, when there is one.
#[derive(Debug, Default)]
struct Outage {
    /// When a call may try the database again.
    retry_at: Option<Instant>,
    /// Whether a call is trying it now.
    probing: bool,
}

/// The database could not be reached lately, so the call was not tried.
#[derive(Debug, thiserror::Error)]
#[error("the database could not be reached; trying again every {RETRY_EVERY:?}")]
pub(super) struct Unreachable;

/// How a call goes to the database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Attempt {
    /// As usual: the database was reachable.
    Usual,
    /// As the one call trying an unreachable database again.
    Probe,
}

impl Reachability {
    /// Whether a call may go to the database now, and how; refused while it cannot be reached
    /// and another call is trying it, or before it is time to try again.
    pub(super) fn admit(&self, now: Instant) -> Result<Attempt, Unreachable> {
        if !self.unreachable.load(Ordering::Acquire) {
            return Ok(Attempt::Usual);
        }
        // A panic cannot leave the outage half-changed: each change is one assignment.
        let mut outage = self.outage.lock().unwrap_or_else(PoisonError::into_inner);
        let due = outage.retry_at.is_none_or(|retry_at| now >= retry_at);
        if outage.probing || !due {
            return Err(Unreachable);
        }
        outage.probing = true;
        Ok(Attempt::Probe)
    }

    /// A call got a connection: the database is reachable.
    pub(super) fn connected(&self) {
        // Read first: a write on every connection taken would bounce the flag's cache line
        // between cores for nothing.
        if self.unreachable.load(Ordering::Acquire)
            && self.unreachable.swap(false, Ordering::AcqRel)
        {
            *self.outage.lock().unwrap_or_else(PoisonError::into_inner) = Outage::default();
        }
    }

    /// A call could not get a connection at `now`: calls are refused until `RETRY_EVERY` later.
    pub(super) fn could_not_connect(&self, now: Instant) {
        let mut outage = self.outage.lock().unwrap_or_else(PoisonError::into_inner);
        *outage = Outage {
            retry_at: Some(now + RETRY_EVERY),
            probing: false,
        };
        self.unreachable.store(true, Ordering::Release);
    }

    /// A probe ended without learning anything (its caller gave up, or it failed for another
    /// reason): another call may try.
    pub(super) fn probe_ended(&self) {
        self.outage
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .probing = false;
    }
}

/// A connection from `pool`. While the database is known unreachable, only an open one idle
/// now or within about 30 ms, else a retryable error without trying to connect.
pub(super) async fn connection(
    pool: &AnyPool,
    reachability: &Reachability,
) -> StoreResult<PoolConnection<sqlx::Any>> {
    let attempt = match reachability.admit(Instant::now()) {
        Ok(attempt) => attempt,
        // Refused only what would open a connection: a database that turned away a new one
        // (at its connection limit, say) still answers on those open, so an idle one serves.
        // It proves nothing of reachability (it is not tested before use), so it changes
        // nothing here.
        Err(unreachable) => {
            return idle_connection(pool)
                .await
                .ok_or_else(|| StoreError::Backend(Box::new(unreachable)));
        }
    };
    // Dropped unsettled (the caller gave up while connecting), a probe lets another try.
    let mut probe = ProbeGuard {
        reachability,
        open: attempt == Attempt::Probe,
    };
    let acquired = pool.acquire().await;
    probe.open = false;
    match acquired {
        Ok(connection) => {
            reachability.connected();
            Ok(connection)
        }
        Err(error) => {
            if could_not_connect(&error, pool) {
                reachability.could_not_connect(Instant::now());
            } else if attempt == Attempt::Probe {
                reachability.probe_ended();
            }
            Err(StoreError::Backend(Box::new(error)))
        }
    }
}

/// An open connection that is idle now or within about 30 ms, without opening one. A
/// connection given back is tested by sqlx before it is idle again (a round trip), so one
/// call right after another would otherwise find none.
async fn idle_connection(pool: &AnyPool) -> Option<PoolConnection<sqlx::Any>> {
    let mut pause = Duration::from_millis(1);
    for _ in 0..IDLE_LOOKS {
        if let Some(connection) = pool.try_acquire() {
            return Some(connection);
        }
        if pool.size() == 0 {
            return None;
        }
        tokio::time::sleep(pause).await;
        pause *= 2;
    }
    pool.try_acquire()
}

/// How many times a refused call looks for an idle connection, pausing 1, 2, 4, 8 and 16 ms.
const IDLE_LOOKS: usize = 5;

/// Whether acquiring failed because no connection could be opened, rather than because every
/// connection was busy: it timed out while the pool had room to connect (sqlx retries a
/// refused connection until then), or connecting failed outright.
fn could_not_connect(error: &sqlx::Error, pool: &AnyPool) -> bool {
    match error {
        sqlx::Error::PoolTimedOut => pool.size() < pool.options().get_max_connections(),
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) => true,
        _ => false,
    }
}

struct ProbeGuard<'a> {
    reachability: &'a Reachability,
    open: bool,
}

impl Drop for ProbeGuard<'_> {
    fn drop(&mut self) {
        if self.open {
            self.reachability.probe_ended();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reachable_database_admits_every_call() {
        let reachability = Reachability::default();
        for _ in 0..3 {
            assert_eq!(
                reachability.admit(Instant::now()).ok(),
                Some(Attempt::Usual)
            );
        }
    }

    #[test]
    fn after_a_failed_connect_calls_are_refused_until_it_is_time_to_try_again() {
        let reachability = Reachability::default();
        let failed = Instant::now();
        reachability.could_not_connect(failed);
        assert!(reachability.admit(failed).is_err());
        assert!(reachability.admit(failed + RETRY_EVERY / 2).is_err());
        assert_eq!(
            reachability.admit(failed + RETRY_EVERY).ok(),
            Some(Attempt::Probe)
        );
    }

    #[test]
    fn one_call_at_a_time_tries_an_unreachable_database() {
        let reachability = Reachability::default();
        let failed = Instant::now();
        reachability.could_not_connect(failed);
        let later = failed + RETRY_EVERY * 2;
        assert_eq!(reachability.admit(later).ok(), Some(Attempt::Probe));
        assert!(reachability.admit(later).is_err(), "a second probe at once");
        reachability.probe_ended();
        assert_eq!(reachability.admit(later).ok(), Some(Attempt::Probe));
    }

    #[test]
    fn a_probe_that_fails_to_connect_puts_the_next_try_off_again() {
        let reachability = Reachability::default();
        let failed = Instant::now();
        reachability.could_not_connect(failed);
        let probed = failed + RETRY_EVERY;
        assert_eq!(reachability.admit(probed).ok(), Some(Attempt::Probe));
        reachability.could_not_connect(probed);
        assert!(reachability.admit(probed + RETRY_EVERY / 2).is_err());
        assert!(reachability.admit(probed + RETRY_EVERY).is_ok());
    }

    #[test]
    fn a_connection_had_opens_the_way_for_every_call() {
        let reachability = Reachability::default();
        let failed = Instant::now();
        reachability.could_not_connect(failed);
        assert_eq!(
            reachability.admit(failed + RETRY_EVERY).ok(),
            Some(Attempt::Probe)
        );
        reachability.connected();
        for _ in 0..3 {
            assert_eq!(reachability.admit(failed).ok(), Some(Attempt::Usual));
        }
    }
}
