//! The seed story: two people and a service account reach Acme's data through one app.

mod support;

#[tokio::test]
async fn placeholder_world_builds() {
    let world = support::world().await;
    let tokens = world.tokens_for(&world.john).await;
    assert!(tokens.refresh_token.is_some());
}
