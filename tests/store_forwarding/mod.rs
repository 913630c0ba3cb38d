//! Forwarding of whole store traits to a wrapped store, for the tests' store wrappers: each
//! wrapper writes by hand only the trait whose calls it intercepts and forwards the others
//! with these macros (`forward_code_store!(Wrapper, inner);`), so a new trait method is added
//! here once, not in every wrapper.
#![allow(unused_macros)]

macro_rules! forward_app_store {
    ($wrapper:ty, $inner:ident) => {
        impl appgrant::store::AppStore for $wrapper {
            async fn app(
                &self,
                id: &appgrant::model::ClientId,
            ) -> appgrant::store::StoreResult<Option<appgrant::model::App>> {
                appgrant::store::AppStore::app(&self.$inner, id).await
            }
            async fn save_app(
                &self,
                app: appgrant::model::App,
            ) -> appgrant::store::StoreResult<()> {
                appgrant::store::AppStore::save_app(&self.$inner, app).await
            }
            async fn update_app(
                &self,
                revision: u64,
                app: appgrant::model::App,
            ) -> appgrant::store::StoreResult<bool> {
                appgrant::store::AppStore::update_app(&self.$inner, revision, app).await
            }
            async fn apps(&self) -> appgrant::store::StoreResult<Vec<appgrant::model::App>> {
                appgrant::store::AppStore::apps(&self.$inner).await
            }
            async fn delete_app(
                &self,
                id: &appgrant::model::ClientId,
            ) -> appgrant::store::StoreResult<bool> {
                appgrant::store::AppStore::delete_app(&self.$inner, id).await
            }
        }
    };
}

macro_rules! forward_installation_store {
    ($wrapper:ty, $inner:ident) => {
        impl appgrant::store::InstallationStore for $wrapper {
            async fn installation(
                &self,
                app: &appgrant::model::ClientId,
                company: &appgrant::model::CompanyId,
            ) -> appgrant::store::StoreResult<Option<appgrant::model::Installation>> {
                appgrant::store::InstallationStore::installation(&self.$inner, app, company).await
            }
            async fn save_installation(
                &self,
                installation: appgrant::model::Installation,
            ) -> appgrant::store::StoreResult<()> {
                appgrant::store::InstallationStore::save_installation(&self.$inner, installation)
                    .await
            }
            async fn insert_installation(
                &self,
                installation: appgrant::model::Installation,
            ) -> appgrant::store::StoreResult<bool> {
                appgrant::store::InstallationStore::insert_installation(&self.$inner, installation)
                    .await
            }
            async fn update_installation(
                &self,
                revision: u64,
                installation: appgrant::model::Installation,
            ) -> appgrant::store::StoreResult<bool> {
                appgrant::store::InstallationStore::update_installation(
                    &self.$inner,
                    revision,
                    installation,
                )
                .await
            }
            async fn installations_of(
                &self,
                app: &appgrant::model::ClientId,
            ) -> appgrant::store::StoreResult<Vec<appgrant::model::Installation>> {
                appgrant::store::InstallationStore::installations_of(&self.$inner, app).await
            }
            async fn installations_in(
                &self,
                company: &appgrant::model::CompanyId,
            ) -> appgrant::store::StoreResult<Vec<appgrant::model::Installation>> {
                appgrant::store::InstallationStore::installations_in(&self.$inner, company).await
            }
        }
    };
}

macro_rules! forward_code_store {
    ($wrapper:ty, $inner:ident) => {
        impl appgrant::store::CodeStore for $wrapper {
            async fn save_code(
                &self,
                record: appgrant::grant::CodeRecord,
            ) -> appgrant::store::StoreResult<()> {
                appgrant::store::CodeStore::save_code(&self.$inner, record).await
            }
            async fn code(
                &self,
                digest: &appgrant::model::SecretDigest,
            ) -> appgrant::store::StoreResult<Option<appgrant::grant::CodeRecord>> {
                appgrant::store::CodeStore::code(&self.$inner, digest).await
            }
            async fn redeem_code(
                &self,
                digest: &appgrant::model::SecretDigest,
            ) -> appgrant::store::StoreResult<appgrant::grant::Redemption> {
                appgrant::store::CodeStore::redeem_code(&self.$inner, digest).await
            }
            async fn purge_codes(
                &self,
                before: chrono::DateTime<chrono::Utc>,
            ) -> appgrant::store::StoreResult<u64> {
                appgrant::store::CodeStore::purge_codes(&self.$inner, before).await
            }
        }
    };
}

macro_rules! forward_refresh_store {
    ($wrapper:ty, $inner:ident) => {
        impl appgrant::store::RefreshStore for $wrapper {
            async fn save_family(
                &self,
                family: appgrant::grant::RefreshFamily,
            ) -> appgrant::store::StoreResult<()> {
                appgrant::store::RefreshStore::save_family(&self.$inner, family).await
            }
            async fn family(
                &self,
                grant: &appgrant::model::GrantId,
            ) -> appgrant::store::StoreResult<Option<appgrant::grant::RefreshFamily>> {
                appgrant::store::RefreshStore::family(&self.$inner, grant).await
            }
            async fn commit_rotation(
                &self,
                expected: &appgrant::model::SecretDigest,
                family: appgrant::grant::RefreshFamily,
            ) -> appgrant::store::StoreResult<bool> {
                appgrant::store::RefreshStore::commit_rotation(&self.$inner, expected, family).await
            }
            async fn families_of(
                &self,
                user: &appgrant::model::UserId,
                app: &appgrant::model::ClientId,
            ) -> appgrant::store::StoreResult<Vec<appgrant::grant::RefreshFamily>> {
                appgrant::store::RefreshStore::families_of(&self.$inner, user, app).await
            }
            async fn purge_families(
                &self,
                now: chrono::DateTime<chrono::Utc>,
            ) -> appgrant::store::StoreResult<u64> {
                appgrant::store::RefreshStore::purge_families(&self.$inner, now).await
            }
        }
    };
}

macro_rules! forward_revocation_store {
    ($wrapper:ty, $inner:ident) => {
        impl appgrant::store::RevocationStore for $wrapper {
            async fn revoke_grant(
                &self,
                grant: &appgrant::model::GrantId,
                at: chrono::DateTime<chrono::Utc>,
            ) -> appgrant::store::StoreResult<()> {
                appgrant::store::RevocationStore::revoke_grant(&self.$inner, grant, at).await
            }
            async fn is_revoked(
                &self,
                grant: &appgrant::model::GrantId,
            ) -> appgrant::store::StoreResult<bool> {
                appgrant::store::RevocationStore::is_revoked(&self.$inner, grant).await
            }
            async fn purge_revocations(
                &self,
                before: chrono::DateTime<chrono::Utc>,
            ) -> appgrant::store::StoreResult<u64> {
                appgrant::store::RevocationStore::purge_revocations(&self.$inner, before).await
            }
        }
    };
}

macro_rules! forward_consent_store {
    ($wrapper:ty, $inner:ident) => {
        impl appgrant::store::ConsentStore for $wrapper {
            async fn save_consent(
                &self,
                user: &appgrant::model::UserId,
                app: &appgrant::model::ClientId,
                at: chrono::DateTime<chrono::Utc>,
            ) -> appgrant::store::StoreResult<()> {
                appgrant::store::ConsentStore::save_consent(&self.$inner, user, app, at).await
            }
            async fn consent(
                &self,
                user: &appgrant::model::UserId,
                app: &appgrant::model::ClientId,
            ) -> appgrant::store::StoreResult<Option<chrono::DateTime<chrono::Utc>>> {
                appgrant::store::ConsentStore::consent(&self.$inner, user, app).await
            }
            async fn consents_of(
                &self,
                user: &appgrant::model::UserId,
            ) -> appgrant::store::StoreResult<
                Vec<(appgrant::model::ClientId, chrono::DateTime<chrono::Utc>)>,
            > {
                appgrant::store::ConsentStore::consents_of(&self.$inner, user).await
            }
            async fn forget_consent(
                &self,
                user: &appgrant::model::UserId,
                app: &appgrant::model::ClientId,
            ) -> appgrant::store::StoreResult<()> {
                appgrant::store::ConsentStore::forget_consent(&self.$inner, user, app).await
            }
        }
    };
}

macro_rules! forward_key_store {
    ($wrapper:ty, $inner:ident) => {
        impl appgrant::store::KeyStore for $wrapper {
            async fn signing_keys(
                &self,
            ) -> appgrant::store::StoreResult<Vec<appgrant::token::StoredKey>> {
                appgrant::store::KeyStore::signing_keys(&self.$inner).await
            }
            async fn add_signing_key(
                &self,
                key: appgrant::token::StoredKey,
            ) -> appgrant::store::StoreResult<bool> {
                appgrant::store::KeyStore::add_signing_key(&self.$inner, key).await
            }
            async fn delete_signing_key(&self, kid: &str) -> appgrant::store::StoreResult<()> {
                appgrant::store::KeyStore::delete_signing_key(&self.$inner, kid).await
            }
        }
    };
}

macro_rules! forward_replay_store {
    ($wrapper:ty, $inner:ident) => {
        impl appgrant::store::ReplayStore for $wrapper {
            async fn first_use(
                &self,
                digest: &appgrant::model::SecretDigest,
                until: chrono::DateTime<chrono::Utc>,
            ) -> appgrant::store::StoreResult<bool> {
                appgrant::store::ReplayStore::first_use(&self.$inner, digest, until).await
            }
            async fn purge_used(
                &self,
                now: chrono::DateTime<chrono::Utc>,
            ) -> appgrant::store::StoreResult<u64> {
                appgrant::store::ReplayStore::purge_used(&self.$inner, now).await
            }
        }
    };
}

macro_rules! forward_directory {
    ($wrapper:ty, $inner:ident) => {
        impl appgrant::store::Directory for $wrapper {
            async fn company(
                &self,
                id: &appgrant::model::CompanyId,
            ) -> appgrant::store::StoreResult<Option<appgrant::model::Company>> {
                appgrant::store::Directory::company(&self.$inner, id).await
            }
            async fn user(
                &self,
                id: &appgrant::model::UserId,
            ) -> appgrant::store::StoreResult<Option<appgrant::model::User>> {
                appgrant::store::Directory::user(&self.$inner, id).await
            }
            async fn membership(
                &self,
                company: &appgrant::model::CompanyId,
                user: &appgrant::model::UserId,
            ) -> appgrant::store::StoreResult<Option<appgrant::model::Permissions>> {
                appgrant::store::Directory::membership(&self.$inner, company, user).await
            }
            async fn member(
                &self,
                company: &appgrant::model::CompanyId,
                user: &appgrant::model::UserId,
            ) -> appgrant::store::StoreResult<(
                Option<appgrant::model::User>,
                Option<appgrant::model::Permissions>,
            )> {
                appgrant::store::Directory::member(&self.$inner, company, user).await
            }
            async fn memberships_of(
                &self,
                user: &appgrant::model::UserId,
            ) -> appgrant::store::StoreResult<
                Vec<(appgrant::model::CompanyId, appgrant::model::Permissions)>,
            > {
                appgrant::store::Directory::memberships_of(&self.$inner, user).await
            }
            async fn save_service_account(
                &self,
                account: &appgrant::store::ServiceAccount,
            ) -> appgrant::store::StoreResult<()> {
                appgrant::store::Directory::save_service_account(&self.$inner, account).await
            }
            async fn deactivate_service_account(
                &self,
                company: &appgrant::model::CompanyId,
                user: &appgrant::model::UserId,
            ) -> appgrant::store::StoreResult<()> {
                appgrant::store::Directory::deactivate_service_account(&self.$inner, company, user)
                    .await
            }
        }
    };
}

macro_rules! forward_directory_store {
    ($wrapper:ty, $inner:ident) => {
        impl appgrant::store::DirectoryStore for $wrapper {
            async fn save_company(
                &self,
                company: appgrant::model::Company,
            ) -> appgrant::store::StoreResult<()> {
                appgrant::store::DirectoryStore::save_company(&self.$inner, company).await
            }
            async fn save_user(
                &self,
                user: appgrant::model::User,
            ) -> appgrant::store::StoreResult<()> {
                appgrant::store::DirectoryStore::save_user(&self.$inner, user).await
            }
            async fn save_membership(
                &self,
                company: &appgrant::model::CompanyId,
                user: &appgrant::model::UserId,
                permissions: appgrant::model::Permissions,
            ) -> appgrant::store::StoreResult<()> {
                appgrant::store::DirectoryStore::save_membership(
                    &self.$inner,
                    company,
                    user,
                    permissions,
                )
                .await
            }
            async fn members(
                &self,
                company: &appgrant::model::CompanyId,
            ) -> appgrant::store::StoreResult<
                Vec<(appgrant::model::User, appgrant::model::Permissions)>,
            > {
                appgrant::store::DirectoryStore::members(&self.$inner, company).await
            }
        }
    };
}
