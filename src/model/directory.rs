//! Companies and their directories: who the users are and what each holds in each company.

use super::ids::{ClientId, CompanyId, ProjectId, UserId};
use super::installation::InstallationError;
use super::permission::Permissions;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// A project of a company, as its directory lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Project {
    /// Its id, as requirements and permitted projects name it.
    pub id: ProjectId,
    /// Its name, as pages show it.
    pub name: String,
}

/// Whether a person's consent to an app may install it in their company.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentInstall {
    /// Only a directory admin installs apps.
    #[default]
    AdminOnly,
    /// A user's consent installs the app for user-level access only; its service account
    /// still needs an admin's approval.
    ForUserAccess,
}

/// Company-wide settings that change how apps get in.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompanySettings {
    /// Whether a user's consent installs an app for user-level access.
    pub consent_install: ConsentInstall,
}

/// A tenant of the host platform.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Company {
    /// Its id.
    pub id: CompanyId,
    /// Its display name.
    pub name: String,
    /// Its settings.
    pub settings: CompanySettings,
    /// Its projects: the only ones an admin may permit an app's service account on.
    #[serde(default)]
    pub projects: Vec<Project>,
}

impl Company {
    /// A company with default settings.
    pub fn new(id: impl Into<CompanyId>, name: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            settings: CompanySettings::default(),
            projects: Vec::new(),
        }
    }

    /// The company with one more project.
    pub fn with_project(mut self, id: impl Into<ProjectId>, name: impl Into<String>) -> Self {
        self.projects.push(Project {
            id: id.into(),
            name: name.into(),
        });
        self
    }

    /// The project with this id, if the company has it.
    pub fn project(&self, id: &ProjectId) -> Option<&Project> {
        self.projects.iter().find(|project| project.id == *id)
    }

    /// Refuses any of `projects` the company does not list, naming them.
    pub fn check_projects(&self, projects: &BTreeSet<ProjectId>) -> Result<(), InstallationError> {
        let unknown: Vec<ProjectId> = projects
            .iter()
            .filter(|project| self.project(project).is_none())
            .cloned()
            .collect();
        if unknown.is_empty() {
            Ok(())
        } else {
            Err(InstallationError::UnknownProjects {
                company: self.id.clone(),
                projects: unknown,
            })
        }
    }
}

/// What kind of user this is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum UserKind {
    /// A person who signs in.
    Person,
    /// The service account of an app, created when a company admin approves its install.
    ServiceAccount {
        /// The app it acts for.
        app: ClientId,
    },
}

/// Whether a user may act at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    /// May act.
    Active,
    /// May not act; every decision for this user denies.
    Deactivated,
}

/// A person or a service account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Its id.
    pub id: UserId,
    /// Display name.
    pub name: String,
    /// Person or service account.
    pub kind: UserKind,
    /// Active or deactivated.
    pub status: UserStatus,
}

impl User {
    /// An active person.
    pub fn person(id: impl Into<UserId>, name: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            kind: UserKind::Person,
            status: UserStatus::Active,
        }
    }

    /// Whether the user may act.
    pub fn is_active(&self) -> bool {
        self.status == UserStatus::Active
    }

    /// Whether the user is an active person: the only kind that may authorize an app and act
    /// through it (a service account acts only through its own app's client credentials).
    pub fn is_active_person(&self) -> bool {
        self.is_active() && self.kind == UserKind::Person
    }
}

/// A user's membership of one company, with what they hold there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    /// The company.
    pub company: CompanyId,
    /// The user.
    pub user: UserId,
    /// What the user holds in that company.
    pub permissions: Permissions,
}

/// A user acting on a company's settings, with what they hold there (`None` if not a member).
#[derive(Clone, Copy, Debug)]
pub struct Actor<'a> {
    /// The acting user.
    pub user: &'a User,
    /// The user's permissions in the company acted on, if a member.
    pub permissions: Option<&'a Permissions>,
}
