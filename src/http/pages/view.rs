//! What the templates get: plain values with every word already in the page's language, so
//! templates stay free of logic and the strings stay in one place.

use super::Strings;
use crate::model::{App, Level, Permissions, Reach, Scopes, ToolLevels};
use serde::Serialize;

/// The app as pages show it (never its secret digest).
#[derive(Serialize)]
pub(crate) struct AppView<'a> {
    pub name: &'a str,
    pub publisher: Option<&'a str>,
    pub description: Option<&'a str>,
    pub homepage: Option<&'a str>,
    pub logo_url: Option<&'a str>,
}

impl<'a> AppView<'a> {
    pub fn of(app: &'a App) -> Self {
        Self {
            name: &app.name,
            publisher: app.profile.publisher.as_deref(),
            description: app.profile.description.as_deref(),
            homepage: app.profile.homepage.as_deref(),
            logo_url: app.profile.logo_url.as_deref(),
        }
    }
}

/// One row of a permissions table: a tool, its level in words, where it applies.
#[derive(Serialize)]
pub(crate) struct PermissionRow {
    pub tool: String,
    pub level: String,
    pub scope: String,
}

/// A level in the page's words.
pub(crate) fn level_words(strings: &Strings, level: Level) -> String {
    match level {
        Level::None => &strings.level_none,
        Level::ReadOnly => &strings.level_read_only,
        Level::Standard => &strings.level_standard,
        Level::Admin => &strings.level_admin,
    }
    .to_string()
}

/// Where a manifest's tools apply, in the page's words.
pub(crate) fn reach_words(strings: &Strings, reach: Reach) -> String {
    match reach {
        Reach::Company => strings.reach_company.to_string(),
        Reach::EachPermittedProject => strings.reach_each_project.to_string(),
    }
}

/// A manifest's tools as rows: company-wide ones first, then those on each project.
pub(crate) fn manifest_rows(
    strings: &Strings,
    company: &ToolLevels,
    project: &ToolLevels,
) -> Vec<PermissionRow> {
    let rows = |levels: &ToolLevels, reach: Reach| -> Vec<PermissionRow> {
        levels
            .iter()
            .filter(|(_, level)| **level > Level::None)
            .map(|(tool, level)| PermissionRow {
                tool: tool.to_string(),
                level: level_words(strings, *level),
                scope: reach_words(strings, reach),
            })
            .collect()
    };
    let mut all = rows(company, Reach::Company);
    all.extend(rows(project, Reach::EachPermittedProject));
    all
}

/// A person's (or an account's) permissions as rows, projects named by `project_name`.
pub(crate) fn permission_rows(
    strings: &Strings,
    held: &Permissions,
    project_name: impl Fn(&str) -> String,
) -> Vec<PermissionRow> {
    let mut rows: Vec<PermissionRow> = held
        .company
        .iter()
        .filter(|(_, level)| **level > Level::None)
        .map(|(tool, level)| PermissionRow {
            tool: tool.to_string(),
            level: level_words(strings, *level),
            scope: strings.reach_company.to_string(),
        })
        .collect();
    for (project, levels) in &held.projects {
        for (tool, level) in levels.iter().filter(|(_, level)| **level > Level::None) {
            rows.push(PermissionRow {
                tool: tool.to_string(),
                level: level_words(strings, *level),
                scope: project_name(project.as_str()),
            });
        }
    }
    rows
}

/// One scope an app asked for: the token as the app wrote it, and its tool and level in words.
#[derive(Serialize)]
pub(crate) struct ScopeRow {
    pub token: String,
    pub tool: String,
    pub level: String,
}

/// The scopes an app asked for, one row each, in order.
pub(crate) fn scope_rows(strings: &Strings, scopes: &Scopes) -> Vec<ScopeRow> {
    scopes
        .iter()
        .map(|(tool, level)| ScopeRow {
            token: Scopes::token(tool, level),
            tool: tool.to_string(),
            level: level_words(strings, level),
        })
        .collect()
}
