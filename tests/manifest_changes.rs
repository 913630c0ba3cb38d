//! What an update review shows: exactly what a new manifest version adds, raises, lowers or
//! drops compared with the approved one.

use appgrant::model::{Level, Manifest, ManifestChange, Reach, Tool};

fn change(reach: Reach, tool: &str, from: Level, to: Level) -> ManifestChange {
    ManifestChange {
        reach,
        tool: Tool::new(tool),
        from,
        to,
    }
}

#[test]
fn an_update_lists_each_added_raised_lowered_and_dropped_tool_and_nothing_unchanged() {
    let approved = Manifest::new(1)
        .company_tool("directory", Level::ReadOnly)
        .company_tool("budget", Level::Standard)
        .project_tool("rfis", Level::ReadOnly)
        .project_tool("photos", Level::Admin)
        .project_tool("drawings", Level::Standard);
    let next = Manifest::new(2)
        .company_tool("directory", Level::ReadOnly)
        .company_tool("schedule", Level::ReadOnly)
        .project_tool("rfis", Level::Standard)
        .project_tool("photos", Level::ReadOnly)
        .project_tool("drawings", Level::Standard);
    let changes = next.changes_from(&approved);
    assert_eq!(
        changes,
        vec![
            change(Reach::Company, "budget", Level::Standard, Level::None),
            change(Reach::Company, "schedule", Level::None, Level::ReadOnly),
            change(
                Reach::EachPermittedProject,
                "photos",
                Level::Admin,
                Level::ReadOnly
            ),
            change(
                Reach::EachPermittedProject,
                "rfis",
                Level::ReadOnly,
                Level::Standard
            ),
        ]
    );
    let more: Vec<&str> = changes
        .iter()
        .filter(|change| change.asks_more())
        .map(|change| change.tool.as_str())
        .collect();
    assert_eq!(more, ["schedule", "rfis"]);
    assert!(next.asks_more_than(&approved));
}

#[test]
fn the_same_tool_company_wide_and_per_project_are_separate_changes() {
    let approved = Manifest::new(1).company_tool("rfis", Level::ReadOnly);
    let next = Manifest::new(2).project_tool("rfis", Level::ReadOnly);
    assert_eq!(
        next.changes_from(&approved),
        vec![
            change(Reach::Company, "rfis", Level::ReadOnly, Level::None),
            change(
                Reach::EachPermittedProject,
                "rfis",
                Level::None,
                Level::ReadOnly
            ),
        ]
    );
}

#[test]
fn an_identical_manifest_has_no_changes() {
    let approved = Manifest::new(1).project_tool("rfis", Level::Standard);
    let mut next = approved.clone();
    next.version = 2;
    assert!(next.changes_from(&approved).is_empty());
}
