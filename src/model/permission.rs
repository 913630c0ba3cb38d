//! Permissions: a tool at a level, granted at company level or on one project.

use super::ids::{CompanyId, ProjectId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// A tool of the host platform (`rfis`, `budget`, `directory`…): an open set of names.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Tool(String);

impl Tool {
    /// The tool whose Admin level lets a user manage the company's apps.
    pub const DIRECTORY: &'static str = "directory";

    /// Names a tool.
    pub fn new(name: impl Into<String>) -> Self {
        Self(name.into())
    }

    /// The `directory` tool.
    pub fn directory() -> Self {
        Self::new(Self::DIRECTORY)
    }

    /// The tool's name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Tool {
    fn from(name: &str) -> Self {
        Self::new(name)
    }
}

impl fmt::Display for Tool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How much a permission allows, ordered `None < ReadOnly < Standard < Admin`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// No access.
    #[default]
    None,
    /// May read.
    ReadOnly,
    /// May read and write.
    Standard,
    /// May do everything, including manage others' access.
    Admin,
}

impl Level {
    /// Every level, lowest first.
    pub const ALL: [Level; 4] = [Level::None, Level::ReadOnly, Level::Standard, Level::Admin];
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::None => "none",
            Level::ReadOnly => "read_only",
            Level::Standard => "standard",
            Level::Admin => "admin",
        })
    }
}

/// Where a permission applies.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// The company as a whole (company-level tools).
    Company,
    /// One project of the company.
    Project(ProjectId),
}

/// Levels per tool; a tool that is absent is at [`Level::None`].
pub type ToolLevels = BTreeMap<Tool, Level>;

/// What one user holds in one company: company-level tools and per-project tools.
///
/// A company-level grant does not reach into projects and vice versa: each requirement is
/// answered by the grant of its own scope, so an admin can see exactly where access comes from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permissions {
    /// Company-level tools.
    pub company: ToolLevels,
    /// Project-level tools, per project.
    pub projects: BTreeMap<ProjectId, ToolLevels>,
}

impl Permissions {
    /// No permissions at all.
    pub fn none() -> Self {
        Self::default()
    }

    /// Grants `tool` at `level` in `scope`, replacing what was there.
    pub fn set(&mut self, scope: Scope, tool: impl Into<Tool>, level: Level) {
        let levels = match scope {
            Scope::Company => &mut self.company,
            Scope::Project(project) => self.projects.entry(project).or_default(),
        };
        levels.insert(tool.into(), level);
    }

    /// Builder form of [`Permissions::set`].
    pub fn with(mut self, scope: Scope, tool: impl Into<Tool>, level: Level) -> Self {
        self.set(scope, tool, level);
        self
    }

    /// The level held for `tool` at company level (`project` is `None`) or on `project`.
    pub fn level(&self, project: Option<&ProjectId>, tool: &Tool) -> Level {
        let levels = match project {
            None => Some(&self.company),
            Some(project) => self.projects.get(project),
        };
        levels
            .and_then(|levels| levels.get(tool))
            .copied()
            .unwrap_or_default()
    }
}

/// What an access needs: a tool at a minimum level, in a company, optionally on one project.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requirement {
    /// The company the access is for.
    pub company: CompanyId,
    /// The project, or `None` for a company-level tool.
    pub project: Option<ProjectId>,
    /// The tool.
    pub tool: Tool,
    /// The minimum level needed.
    pub level: Level,
}

impl Requirement {
    /// A company-wide requirement: `tool` at `level` or above in `company`; add
    /// [`on_project`](Self::on_project) for a project's.
    ///
    /// ```
    /// use appgrant::model::{Level, Requirement};
    /// let write_tower_rfis = Requirement::new("acme", "rfis", Level::Standard).on_project("tower");
    /// assert_eq!(write_tower_rfis.project.as_ref().map(|p| p.as_str()), Some("tower"));
    /// ```
    pub fn new(company: impl Into<CompanyId>, tool: impl Into<Tool>, level: Level) -> Self {
        Self {
            company: company.into(),
            project: None,
            tool: tool.into(),
            level,
        }
    }

    /// The same requirement on one project of the company.
    pub fn on_project(mut self, project: impl Into<ProjectId>) -> Self {
        self.project = Some(project.into());
        self
    }
}
