//! The store suite (tests/store_suite) run against every backend: the memory store always,
//! SQLite with feature `sqlite` (a fresh file per test), PostgreSQL with feature `postgres` (a
//! fresh database per test on the server `APPGRANT_TEST_POSTGRES_URL` names; without that
//! variable each PostgreSQL test returns at once and the binary says on stderr that they
//! were skipped).

mod store_suite;

/// Every suite test, once: `name: store` for tests that take a store, `name: handles` for
/// tests that open several handles on the same data. A test failing on a backend because of a
/// known bug carries `sql_bug = "…"` (both SQL backends) or `postgres_bug = "…"`, which marks
/// it ignored there with that reason.
macro_rules! suite {
    ($backend:ident) => {
        suite!(@tests $backend;
            apps_round_trip_and_are_replaced: store;
            companies_and_users_round_trip_and_are_replaced: store;
            memberships_round_trip_per_company_and_are_replaced: store;
            members_are_listed_sorted_by_user_id_with_their_permissions: store;
            installations_round_trip_are_replaced_and_listed_per_app: store;
            consents_round_trip_and_are_replaced: store;
            a_code_is_redeemed_first_then_reused_and_an_unknown_code_is_unknown: store;
            a_code_raced_by_many_redemptions_is_first_for_exactly_one: store;
            a_family_round_trips_and_each_rotation_replaces_its_one_record: store;
            rotation_is_a_compare_and_swap_that_a_stale_expectation_loses: store;
            many_concurrent_rotations_of_one_family_commit_exactly_once: store;
            revoking_a_grant_revokes_its_family_and_stops_its_rotation: store;
            a_family_saved_after_its_grant_was_revoked_is_stored_revoked: store;
            purge_removes_expired_codes_and_keeps_unexpired_ones_working: store;
            purge_removes_revoked_and_expired_families_and_keeps_active_ones: store;
            purge_forgets_only_revocations_older_than_the_cutoff: store;
            times_read_back_exactly_as_saved: store;
            purge_keeps_a_family_that_expires_a_fraction_of_a_millisecond_later: store;
            two_handles_see_each_others_writes_and_race_fairly: handles;
            the_whole_story_through_an_authorization_server: store;
            the_servers_purge_never_removes_anything_still_valid: store;
            any_earlier_refresh_token_replayed_after_any_number_of_rotations_revokes_the_family: store;
        );
    };
    (@tests $backend:ident; $( $name:ident : $takes:ident $( , $bug_kind:ident = $bug:literal )? ; )*) => {
        $( suite!(@test $backend $name $takes $( $bug_kind $bug )?); )*
    };
    // Which known bugs apply to which backend.
    (@test memory $name:ident $takes:ident $( $bug_kind:ident $bug:literal )?) => {
        suite!(@fn $name $takes);
    };
    (@test sqlite $name:ident $takes:ident sql_bug $bug:literal) => {
        suite!(@fn $name $takes #[ignore = $bug]);
    };
    (@test postgres $name:ident $takes:ident sql_bug $bug:literal) => {
        suite!(@fn $name $takes #[ignore = $bug]);
    };
    (@test postgres $name:ident $takes:ident postgres_bug $bug:literal) => {
        suite!(@fn $name $takes #[ignore = $bug]);
    };
    (@test $backend:ident $name:ident $takes:ident $( $bug_kind:ident $bug:literal )?) => {
        suite!(@fn $name $takes);
    };
    (@fn $name:ident store $( #[$attribute:meta] )*) => {
        $( #[$attribute] )*
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $name() {
            let Some(fixture) = fixture().await else { return };
            store_suite::$name(store_suite::Handles::open(&fixture).await).await;
        }
    };
    (@fn $name:ident handles $( #[$attribute:meta] )*) => {
        $( #[$attribute] )*
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $name() {
            let Some(fixture) = fixture().await else { return };
            store_suite::$name(&fixture).await;
        }
    };
}

mod memory {
    use super::store_suite;
    use store_suite::fixtures::Memory;

    async fn fixture() -> Option<Memory> {
        Some(Memory::new())
    }

    suite!(memory);
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use super::store_suite;
    use store_suite::fixtures::{Database, sqlite_file};

    async fn fixture() -> Option<Database> {
        Some(sqlite_file())
    }

    suite!(sqlite);
}

#[cfg(feature = "postgres")]
mod postgres {
    use super::store_suite;
    use store_suite::fixtures::{Database, postgres_database, postgres_database_collated_en_us};

    async fn fixture() -> Option<Database> {
        postgres_database().await
    }

    suite!(postgres);

    // Production databases usually sort text by a linguistic collation, not bytewise as the
    // test server's default `C.UTF-8` does; the order of members and installations must not
    // depend on it.

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn members_are_listed_sorted_by_user_id_in_a_database_with_an_en_us_collation() {
        let Some(fixture) = postgres_database_collated_en_us().await else {
            return;
        };
        let store = store_suite::Handles::open(&fixture).await;
        store_suite::members_are_listed_sorted_by_user_id_with_their_permissions(store).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn installations_are_listed_by_company_id_in_a_database_with_an_en_us_collation() {
        let Some(fixture) = postgres_database_collated_en_us().await else {
            return;
        };
        let store = store_suite::Handles::open(&fixture).await;
        store_suite::installations_round_trip_are_replaced_and_listed_per_app(store).await;
    }
}
