//! Every user-facing string of the pages, in one place: a host translates or rewords them by
//! replacing [`Strings`] (all fields are public, and it deserializes from JSON or any serde
//! format). `{app}`, `{user}`, `{company}`, `{count}` and `{resource}` are filled in where a text names them.

use serde::{Deserialize, Serialize};
use std::borrow::Cow;

macro_rules! strings {
    ($( $name:ident : $english:literal , )*) => {
        /// The pages' strings (English by default). See the module docs.
        #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(default)]
        pub struct Strings {
            $(
                #[doc = concat!("Default: \"", $english, "\"")]
                pub $name: Cow<'static, str>,
            )*
        }

        impl Default for Strings {
            fn default() -> Self {
                Self { $( $name: Cow::Borrowed($english), )* }
            }
        }
    };
}

strings! {
    lang: "en",
    level_none: "No access",
    level_read_only: "Read only",
    level_standard: "Standard",
    level_admin: "Admin",
    reach_company: "Company-wide",
    reach_each_project: "On each permitted project",
    by_publisher: "by {publisher}",
    homepage: "Website",
    consent_title: "Allow {app} to act as you?",
    consent_signed_in_as: "You are signed in as {user}.",
    consent_switch_account: "Not you? Switch account",
    consent_in_company: "In {company}, {app} will be able to:",
    consent_nothing: "{app} will not be able to do anything in {company} through you: you hold no permission it may use.",
    consent_not_installed: "{app} is not installed in {company}, so it cannot reach {company}'s data through you until an administrator installs it.",
    consent_no_company: "{app} will be able to see and do what you can, no more, in each company where it is installed.",
    consent_follows: "This follows your permissions: when they change, so does what {app} can do through you.",
    consent_scopes: "{app} asks for no more than this, whatever your permissions:",
    consent_resource: "The access is for {resource} only.",
    consent_capped: "The app itself is limited to less than some of your permissions, and never gets more than that limit.",
    consent_revoke_later: "You can disconnect {app} at any time from your connected apps.",
    allow: "Allow",
    deny: "Deny",
    tool: "Tool",
    access: "Access",
    scope: "Where",
    admin_apps_title: "Apps in {company}",
    admin_apps_empty: "No app has been requested or installed yet.",
    admin_app: "App",
    admin_status: "Status",
    admin_requested_by: "Requested by {user} on {date}",
    stage_requested: "Waiting for approval",
    stage_service_account_requested: "Service account waiting for approval",
    stage_update_pending: "Update waiting for approval",
    stage_installed: "Installed",
    stage_denied: "Denied",
    stage_uninstalled: "Uninstalled",
    review: "Review",
    review_install_title: "Install {app} in {company}?",
    review_update_title: "Approve {app}'s update?",
    review_installed_title: "{app} in {company}",
    review_service_account_title: "Give {app} its service account in {company}?",
    review_service_account_installed: "{app} is installed in {company} for its users: it acts as each person who authorized it. It also asks for a service account of its own, with these permissions:",
    review_asks: "{app} asks for a service account with these permissions:",
    review_no_service_account: "{app} asks for no service account: it will act only as each person who authorizes it, with what they may do.",
    review_holds: "{app}'s service account holds:",
    review_projects: "Projects it may work on",
    review_projects_hint: "Project-level permissions apply only on the projects you choose.",
    review_no_projects: "This company lists no projects.",
    review_update_changes: "The new version asks for these changes:",
    review_update_in_force: "Until you approve, the approved permissions stay in force, unchanged.",
    review_change_from_to: "{from} → {to}",
    approve: "Approve",
    approve_update: "Approve update",
    save_projects: "Save projects",
    uninstall: "Uninstall…",
    uninstall_title: "Uninstall {app} from {company}?",
    uninstall_warning: "Every token of {app} in {company} stops working at once, for every person who connected it and for its service account, which is deactivated. This cannot be undone; the app would have to be installed and approved again.",
    uninstall_confirm: "Uninstall {app}",
    cancel: "Cancel",
    back_to_apps: "Back to apps",
    connected_title: "Your connected apps",
    connected_empty: "You have not connected any app.",
    connected_since: "Connected on {date}",
    disconnect: "Disconnect",
    disconnected: "{app} was disconnected: it can no longer act as you.",
    not_allowed: "Only an administrator of this company's directory can see this page.",
    form_expired: "The form expired or was not sent by this page; please start again.",
    changed_since_review: "This app's installation changed while you were looking at it (another admin decided, or the app published a new version). Nothing was changed; look at it again before you decide.",
    unavailable: "The service is temporarily unavailable. Nothing was lost: please try again in a few seconds.",
    not_found: "There is nothing here.",
}
