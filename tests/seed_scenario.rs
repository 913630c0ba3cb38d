//! The seed story end to end: Jane and John reach Acme's data through one app and get
//! different access; John's permission changes and the app follows at once; an admin approves
//! the app's service account on one project; uninstall cuts everything off.

mod support;

use appgrant::DenyReason;
use appgrant::model::{Level, Requirement, Scope};

#[tokio::test]
async fn the_seed_story() {
    let world = support::world().await;
    let read_tower = Requirement::new("acme", "rfis", Level::ReadOnly).on_project("tower");
    let write_tower = Requirement::new("acme", "rfis", Level::Standard).on_project("tower");
    let read_depot = Requirement::new("acme", "rfis", Level::ReadOnly).on_project("depot");

    // Jane and John each authorize the same app; it acts as each of them.
    let jane = world.tokens_for(&world.jane).await;
    let john = world.tokens_for(&world.john).await;
    assert!(world.allowed(&jane, &write_tower).await);
    assert!(world.allowed(&jane, &read_depot).await);
    assert!(world.allowed(&john, &read_tower).await);
    assert!(!world.allowed(&john, &write_tower).await);
    assert!(!world.allowed(&john, &read_depot).await);

    // John is made Standard on the tower: the app's access through him follows at once.
    world
        .server
        .set_permission(
            &world.acme,
            &world.john,
            Scope::Project(world.tower.clone()),
            "rfis",
            Level::Standard,
        )
        .await
        .unwrap();
    assert!(world.allowed(&john, &write_tower).await);

    // Jane sees the manifest and approves the service account on the tower only.
    let app = world.server.app(&world.app.client_id).await.unwrap();
    let manifest = app.manifest().unwrap();
    assert_eq!(manifest.project.get(&"rfis".into()), Some(&Level::Standard));
    world.install_service_account(&[&world.tower]).await;
    let sync = world.service_token(None).await;
    assert!(sync.refresh_token.is_none());
    assert!(world.allowed(&sync, &write_tower).await);
    let depot = world
        .server
        .decide(sync.access_token.expose(), &read_depot)
        .await
        .unwrap();
    assert_eq!(depot.deny_reason(), Some(&DenyReason::ProjectNotPermitted));

    // Uninstall cuts off every token of the app in Acme at the next decision.
    world
        .server
        .uninstall(&world.acme, &world.app.client_id, &world.jane)
        .await
        .unwrap();
    for token in [&jane, &john, &sync] {
        let decision = world
            .server
            .decide(token.access_token.expose(), &read_tower)
            .await
            .unwrap();
        assert_eq!(decision.deny_reason(), Some(&DenyReason::AppUninstalled));
    }
}
