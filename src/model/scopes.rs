//! OAuth scopes as least privilege: `tool:level` tokens (`rfis:read`, `rfis:write`,
//! `budget:admin`) that cap, tool by tool, what one token may do. A scope never grants
//! anything by itself: a decision allows at most what the acting user or service account holds,
//! capped by the app's ceiling or approved manifest, and then by the token's scopes.

use super::permission::{Level, Tool, ToolLevels};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Why a `scope` parameter was refused (`invalid_scope`, RFC 6749 §3.3).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScopeError {
    /// A token is not `tool:level` with a tool name of letters, digits, `_`, `-` or `.` and a
    /// level of `read`, `write` or `admin`.
    #[error("scope {0:?} is not tool:read, tool:write or tool:admin")]
    Malformed(String),
    /// The tool is not one of the platform's tools.
    #[error("scope {0:?} names a tool this server does not know")]
    UnknownTool(String),
    /// The app can never reach the tool (outside its ceiling or manifest).
    #[error("the app may not use {0}")]
    OutOfReach(String),
    /// A refresh asked for more than the grant was given.
    #[error("the requested scope exceeds the scope originally granted")]
    Wider,
    /// Nothing asked for.
    #[error("scope names no tool")]
    Empty,
}

/// A set of `tool:level` scopes: the highest level asked for each tool. Written as the
/// space-separated scope string of RFC 6749 §3.3, tools in order, so two equal sets read the
/// same.
///
/// ```
/// use appgrant::model::{Level, Scopes, Tool};
/// let scopes = Scopes::parse("submittals:read rfis:write rfis:read").unwrap();
/// assert_eq!(scopes.to_string(), "rfis:write submittals:read");
/// assert_eq!(scopes.level(&Tool::new("rfis")), Level::Standard);
/// assert_eq!(scopes.level(&Tool::new("budget")), Level::None);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scopes(ToolLevels);

/// The word a level has in a scope token; `None` has none (it is never asked for).
fn level_word(level: Level) -> Option<&'static str> {
    match level {
        Level::None => None,
        Level::ReadOnly => Some("read"),
        Level::Standard => Some("write"),
        Level::Admin => Some("admin"),
    }
}

fn word_level(word: &str) -> Option<Level> {
    Level::ALL
        .into_iter()
        .find(|level| level_word(*level) == Some(word))
}

fn is_tool_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'-' | b'.'))
}

impl Scopes {
    /// Reads a scope string: space-separated `tool:level` tokens, at least one.
    pub fn parse(text: &str) -> Result<Self, ScopeError> {
        let mut levels = ToolLevels::new();
        for token in text.split(' ').filter(|token| !token.is_empty()) {
            let (tool, level) = token
                .split_once(':')
                .filter(|(tool, _)| is_tool_name(tool))
                .and_then(|(tool, word)| Some((tool, word_level(word)?)))
                .ok_or_else(|| ScopeError::Malformed(token.to_owned()))?;
            let held = levels.entry(Tool::new(tool)).or_default();
            *held = (*held).max(level);
        }
        if levels.is_empty() {
            return Err(ScopeError::Empty);
        }
        Ok(Self(levels))
    }

    /// The most these scopes allow for `tool` ([`Level::None`] if not named).
    pub fn level(&self, tool: &Tool) -> Level {
        self.0.get(tool).copied().unwrap_or_default()
    }

    /// The tools named, with their levels, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&Tool, Level)> {
        self.0.iter().map(|(tool, level)| (tool, *level))
    }

    /// Whether these scopes allow nothing that `granted` does not.
    pub fn is_within(&self, granted: &Scopes) -> bool {
        self.iter()
            .all(|(tool, level)| level <= granted.level(tool))
    }

    /// What a grant gives for these scopes asked for: each tool must be one of `known` (any,
    /// when `known` is empty) and within the app's `reach`, and is capped at that reach.
    pub fn granted(
        &self,
        known: &[Tool],
        reach: impl Fn(&Tool) -> Level,
    ) -> Result<Self, ScopeError> {
        self.check_known(known)?;
        self.capped_by(reach)
    }

    /// Each tool capped at what `reach` allows; a tool it allows nothing of is
    /// [`ScopeError::OutOfReach`].
    pub fn capped_by(&self, reach: impl Fn(&Tool) -> Level) -> Result<Self, ScopeError> {
        self.iter()
            .map(|(tool, level)| match level.min(reach(tool)) {
                Level::None => Err(ScopeError::OutOfReach(tool.to_string())),
                capped => Ok((tool.clone(), capped)),
            })
            .collect::<Result<ToolLevels, _>>()
            .map(Self)
    }

    /// Refuses a tool outside `tools`, unless `tools` is empty (any tool is known).
    fn check_known(&self, tools: &[Tool]) -> Result<(), ScopeError> {
        match self
            .0
            .keys()
            .find(|tool| !tools.is_empty() && !tools.contains(tool))
        {
            Some(unknown) => Err(ScopeError::UnknownTool(unknown.to_string())),
            None => Ok(()),
        }
    }

    /// The scope token for `tool` at `level` (`rfis:write`); empty for [`Level::None`].
    pub fn token(tool: &Tool, level: Level) -> String {
        level_word(level).map_or_else(String::new, |word| format!("{tool}:{word}"))
    }

    /// Every scope token `tools` can make, for `scopes_supported` (RFC 8414).
    pub fn supported(tools: &[Tool]) -> Vec<String> {
        tools
            .iter()
            .flat_map(|tool| {
                Level::ALL
                    .into_iter()
                    .filter(|level| *level > Level::None)
                    .map(move |level| Self::token(tool, level))
            })
            .collect()
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut separator = "";
        for (tool, level) in self.iter() {
            // Parsing and capping keep only levels above None, which all have a word.
            if let Some(word) = level_word(level) {
                write!(f, "{separator}{tool}:{word}")?;
                separator = " ";
            }
        }
        Ok(())
    }
}

impl Serialize for Scopes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Scopes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}
