//! The store conformance suite (`appgrant::store::conformance`, feature `test-util`) and the
//! stories through an authorization server (tests/store_suite) run against every backend: the
//! memory store always, SQLite with feature `sqlite` (a fresh file per test), PostgreSQL with
//! feature `postgres` (a fresh database per test on the server `APPGRANT_TEST_POSTGRES_URL`
//! names; without that variable each PostgreSQL test returns at once and the binary says on
//! stderr that they were skipped). Each property is a test of its own; `run_all`, the one call a
//! host makes, runs them all again per backend.

mod store_suite;

use appgrant::store::conformance;

/// Every suite test, once: `conformance::name: store` for properties that take a store,
/// `conformance::name: directory` for properties of any directory (given the store, with a
/// company saved in it),
/// `conformance::name: handles` for properties that open several handles on the same data,
/// `store_suite::name: store` for the stories through an authorization server. A test failing
/// on a backend because of a known bug carries `sql_bug = "…"` (both SQL backends) or
/// `postgres_bug = "…"`, which marks it ignored there with that reason.
macro_rules! suite {
    ($backend:ident) => {
        suite!(@tests $backend;
            conformance::apps_round_trip_and_are_replaced: store;
            conformance::apps_are_listed_once_each_as_last_saved_sorted_by_client_id: store;
            conformance::deleting_an_app_removes_only_its_record_and_says_whether_there_was_one: store;
            conformance::an_app_is_updated_only_at_the_revision_it_was_read_at_and_never_re_created: store;
            conformance::many_concurrent_updates_of_one_app_commit_exactly_once: store;
            conformance::installations_round_trip_are_replaced_and_listed_per_app: store;
            conformance::an_app_read_with_its_installation_reads_as_each_alone: store;
            conformance::a_decisions_records_read_together_read_as_each_alone: store;
            conformance::many_concurrent_reads_each_answer_their_own_question: store;
            conformance::a_companys_installations_are_listed_sorted_by_client_id: store;
            conformance::an_installation_is_inserted_once_and_updated_only_at_the_revision_it_was_read_at: store;
            conformance::many_concurrent_inserts_and_updates_of_one_installation_commit_exactly_once: store;
            conformance::consents_round_trip_and_are_replaced: store;
            conformance::consents_are_listed_per_user_and_forgotten: store;
            conformance::a_persons_families_for_one_app_are_listed_without_anyone_elses: store;
            conformance::a_code_is_redeemed_first_then_reused_and_an_unknown_code_is_unknown: store;
            conformance::a_code_raced_by_many_redemptions_is_first_for_exactly_one: store;
            conformance::a_code_is_peeked_without_being_spent_and_still_known_once_spent: store;
            conformance::a_code_raced_by_peeks_and_redemptions_is_first_for_exactly_one_and_always_seen: store;
            conformance::a_family_round_trips_and_each_rotation_replaces_its_one_record: store;
            conformance::rotation_is_a_compare_and_swap_that_a_stale_expectation_loses: store;
            conformance::many_concurrent_rotations_of_one_family_commit_exactly_once: store;
            conformance::revoking_a_grant_revokes_its_family_and_stops_its_rotation: store;
            conformance::a_family_saved_after_its_grant_was_revoked_is_stored_revoked: store;
            conformance::purge_removes_expired_codes_and_keeps_unexpired_ones_working: store;
            conformance::purge_removes_revoked_and_expired_families_and_keeps_active_ones: store;
            conformance::purge_forgets_only_revocations_older_than_the_cutoff: store;
            conformance::a_value_is_used_first_once_and_forgotten_only_once_it_lapsed: store;
            conformance::a_value_raced_by_many_first_uses_is_first_for_exactly_one: store;
            conformance::signing_keys_are_added_once_per_kid_and_generation_listed_and_deleted: store;
            conformance::many_concurrent_additions_of_one_key_generation_store_exactly_one: store;
            conformance::times_read_back_exactly_as_saved: store;
            conformance::purge_keeps_a_family_that_expires_a_fraction_of_a_millisecond_later: store;
            conformance::two_handles_see_each_others_writes_and_race_fairly: handles;
            conformance::two_handles_insert_update_and_add_keys_exactly_once_between_them: handles;
            conformance::companies_and_users_round_trip_and_are_replaced: store;
            conformance::memberships_round_trip_per_company_and_are_replaced: store;
            conformance::members_are_listed_sorted_by_user_id_with_their_permissions: store;
            conformance::a_service_account_saved_over_a_persons_id_gives_the_person_nothing: store;
            conformance::a_decisions_member_read_in_store_is_the_one_its_installation_names: store;
            conformance::many_concurrent_decisions_each_read_their_own_member: store;
            conformance::unknown_ids_read_as_nothing: directory;
            conformance::a_member_reads_as_its_user_and_membership_read: directory;
            conformance::a_service_account_holds_exactly_what_was_saved_and_a_later_save_replaces_it: directory;
            conformance::a_deactivated_service_account_reads_as_deactivated_or_absent: directory;
            store_suite::the_whole_story_through_an_authorization_server: store;
            store_suite::the_servers_purge_never_removes_anything_still_valid: store;
            store_suite::any_earlier_refresh_token_replayed_after_any_number_of_rotations_revokes_the_family: store;
        );
    };
    (@tests $backend:ident; $( $module:ident :: $name:ident : $takes:ident $( , $bug_kind:ident = $bug:literal )? ; )*) => {
        $( suite!(@test $backend $module $name $takes $( $bug_kind $bug )?); )*

        /// A property added to the conformance suite is run here too, one test of its own.
        #[test]
        fn every_conformance_property_is_a_test_here() {
            let listed: Vec<&str> = [$( (stringify!($module), stringify!($name)) ),*]
                .into_iter()
                .filter(|(module, _)| *module == "conformance")
                .map(|(_, name)| name)
                .collect();
            assert_eq!(listed, conformance::PROPERTIES);
        }
    };
    // Which known bugs apply to which backend.
    (@test memory $module:ident $name:ident $takes:ident $( $bug_kind:ident $bug:literal )?) => {
        suite!(@fn $module $name $takes);
    };
    (@test sqlite $module:ident $name:ident $takes:ident sql_bug $bug:literal) => {
        suite!(@fn $module $name $takes #[ignore = $bug]);
    };
    (@test postgres $module:ident $name:ident $takes:ident sql_bug $bug:literal) => {
        suite!(@fn $module $name $takes #[ignore = $bug]);
    };
    (@test postgres $module:ident $name:ident $takes:ident postgres_bug $bug:literal) => {
        suite!(@fn $module $name $takes #[ignore = $bug]);
    };
    (@test $backend:ident $module:ident $name:ident $takes:ident $( $bug_kind:ident $bug:literal )?) => {
        suite!(@fn $module $name $takes);
    };
    (@fn $module:ident $name:ident store $( #[$attribute:meta] )*) => {
        $( #[$attribute] )*
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $name() {
            let Some(fixture) = fixture().await else { return };
            $module::$name(conformance::Handles::open(&fixture).await).await;
        }
    };
    (@fn $module:ident $name:ident directory $( #[$attribute:meta] )*) => {
        $( #[$attribute] )*
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $name() {
            use appgrant::store::DirectoryStore;
            let Some(fixture) = fixture().await else { return };
            let store = conformance::Handles::open(&fixture).await;
            let acme = appgrant::model::Company::new("acme", "Acme Construction")
                .with_project("tower", "Riverside Tower")
                .with_project("depot", "North Depot");
            store.save_company(acme).await.expect("the company is saved");
            $module::$name(store, appgrant::model::CompanyId::new("acme")).await;
        }
    };
    (@fn $module:ident $name:ident handles $( #[$attribute:meta] )*) => {
        $( #[$attribute] )*
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $name() {
            let Some(fixture) = fixture().await else { return };
            $module::$name(&fixture).await;
        }
    };
}

mod memory {
    use super::{conformance, store_suite};
    use appgrant::MemoryStore;

    async fn fixture() -> Option<MemoryStore> {
        Some(MemoryStore::new())
    }

    suite!(memory);

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn the_whole_conformance_suite_passes_in_one_call() {
        conformance::run_all(async || MemoryStore::new()).await;
    }

    /// Handles on one memory store shared through `Arc`, as a host holding one for its own
    /// code would hand it to the server.
    struct Shared(std::sync::Arc<MemoryStore>);

    impl conformance::Handles for Shared {
        type Store = std::sync::Arc<MemoryStore>;

        async fn open(&self) -> Self::Store {
            self.0.clone()
        }
    }

    /// Every store trait forwards through `Arc` to the store it holds, call for call.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_store_in_an_arc_passes_the_whole_suite() {
        conformance::run_all(async || Shared(std::sync::Arc::new(MemoryStore::new()))).await;
    }
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use super::{conformance, store_suite};
    use store_suite::fixtures::{Database, sqlite_file};

    async fn fixture() -> Option<Database> {
        Some(sqlite_file())
    }

    suite!(sqlite);

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn the_whole_conformance_suite_passes_in_one_call() {
        conformance::run_all(async || sqlite_file()).await;
    }
}

#[cfg(feature = "postgres")]
mod postgres {
    use super::{conformance, store_suite};
    use store_suite::fixtures::{Database, postgres_database, postgres_database_collated_en_us};

    async fn fixture() -> Option<Database> {
        postgres_database().await
    }

    suite!(postgres);

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn the_whole_conformance_suite_passes_in_one_call() {
        if postgres_database().await.is_none() {
            return;
        }
        conformance::run_all(async || {
            postgres_database()
                .await
                .expect("APPGRANT_TEST_POSTGRES_URL is set")
        })
        .await;
    }

    // Production databases usually sort text by a linguistic collation, not bytewise as the
    // test server's default `C.UTF-8` does; the order of members and installations must not
    // depend on it.

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn members_are_listed_sorted_by_user_id_in_a_database_with_an_en_us_collation() {
        let Some(fixture) = postgres_database_collated_en_us().await else {
            return;
        };
        let store = conformance::Handles::open(&fixture).await;
        conformance::members_are_listed_sorted_by_user_id_with_their_permissions(store).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn installations_are_listed_by_company_id_in_a_database_with_an_en_us_collation() {
        let Some(fixture) = postgres_database_collated_en_us().await else {
            return;
        };
        let store = conformance::Handles::open(&fixture).await;
        conformance::installations_round_trip_are_replaced_and_listed_per_app(store).await;
    }
}
