//! A failing store loses nothing it acknowledged: writes that failed answer an error, and the
//! writes answered as done are in the database, during and after the failure, without a
//! restart.
#![cfg(feature = "sqlite")]

mod store_suite;

use appgrant::grant::TokenResponse;
use appgrant::store::{RefreshStore, SqlStore};
use appgrant::token::Secret;
use store_suite::{World, seed, server_on};

/// The disk fills up: from now on this process may not make any file larger than it is
/// (RLIMIT_FSIZE), so SQLite's writes past the end fail as on a full disk and it rolls back
/// the transaction they were in. `SIGXFSZ` must be handled, or the first such write kills the
/// process instead of failing.
fn fill_the_disk(files: &[std::path::PathBuf]) {
    let largest = files
        .iter()
        .filter_map(|file| std::fs::metadata(file).ok())
        .map(|metadata| metadata.len())
        .max()
        .unwrap_or(0);
    set_file_size_limit(Some(largest));
}

fn free_the_disk() {
    set_file_size_limit(None);
}

fn set_file_size_limit(bytes: Option<u64>) {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Fsize);
    limit.current = bytes.or(limit.maximum);
    setrlimit(Resource::Fsize, limit).unwrap();
}

fn temp_file(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!(
        "appgrant-{name}-{}-{}.db",
        std::process::id(),
        rand::random::<u64>()
    ))
}

/// One family rotated, and new families started, over and over while the file is full; what
/// each call answered.
struct Outcomes {
    /// The newest refresh tokens the long-lived family answered with, in order.
    rotations: Vec<TokenResponse>,
    /// The tokens of every family whose exchange was answered as done.
    exchanges: Vec<TokenResponse>,
    failures: usize,
}

async fn work_through_a_full_disk(
    world: &World<SqlStore>,
    codes: Vec<Secret>,
    mut latest: TokenResponse,
) -> Outcomes {
    let mut outcomes = Outcomes {
        rotations: Vec::new(),
        exchanges: Vec::new(),
        failures: 0,
    };
    for code in codes {
        world.clock.advance(chrono::TimeDelta::seconds(1));
        // The exchange saves its family in a transaction, which the full disk aborts.
        match world.exchange(&code).await {
            Ok(tokens) => outcomes.exchanges.push(tokens),
            Err(_) => outcomes.failures += 1,
        }
        match world.refresh(&latest).await {
            Ok(tokens) => {
                latest = tokens.clone();
                outcomes.rotations.push(tokens);
            }
            Err(_) => outcomes.failures += 1,
        }
    }
    outcomes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_keeps_every_acknowledged_write_through_a_full_disk_and_recovers_without_restart() {
    let _sigxfsz = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::from_raw(25))
        .expect("a SIGXFSZ handler");
    let path = temp_file("disk-full");
    let url = format!("sqlite://{}", path.display());
    let store = SqlStore::connect(&url).await.unwrap();
    let clock = store_suite::new_clock();
    let world = seed(
        server_on(
            store.clone(),
            appgrant::Config::new(store_suite::ISSUER),
            store_suite::new_keys(),
            clock.clone(),
        ),
        clock,
    )
    .await;
    let first = world.tokens_for(&world.jane).await;
    let mut codes = Vec::new();
    for _ in 0..60 {
        codes.push(world.code_for(&world.jane).await);
    }

    // The disk fills.
    let files: Vec<std::path::PathBuf> = ["", "-wal", "-shm"]
        .iter()
        .map(|suffix| format!("{}{suffix}", path.display()).into())
        .collect();
    fill_the_disk(&files);
    let outcomes = work_through_a_full_disk(&world, codes, first.clone()).await;
    assert!(outcomes.failures > 0, "the disk never filled up");

    // Space comes back: the same store, no restart.
    free_the_disk();
    let reopened = SqlStore::connect(&url).await.unwrap();
    // Every exchange answered as done has its family in the database.
    for tokens in &outcomes.exchanges {
        let grant = world.grant_of(tokens);
        assert!(
            reopened.family(&grant).await.unwrap().is_some(),
            "an acknowledged exchange is not in the database"
        );
    }
    // The last rotation answered as done is the family's current token: none was lost.
    let last = outcomes.rotations.last().unwrap_or(&first).clone();
    let family = reopened
        .family(&world.grant_of(&first))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        family.current,
        last.refresh_token.as_ref().unwrap().digest(),
        "{} rotations were answered 200; the database has generation {}",
        outcomes.rotations.len(),
        family.generation
    );
    assert_eq!(family.generation, outcomes.rotations.len() as u64 + 1);
    // And the store works again: the newest token rotates, and new grants are saved.
    let next = world.refresh(&last).await.unwrap();
    let fresh = world.tokens_for(&world.jane).await;
    let reread = SqlStore::connect(&url).await.unwrap();
    let family = reread
        .family(&world.grant_of(&first))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(family.current, next.refresh_token.unwrap().digest());
    assert!(
        reread
            .family(&world.grant_of(&fresh))
            .await
            .unwrap()
            .is_some()
    );
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}
