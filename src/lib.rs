//! # appgrant
//!
//! An embeddable OAuth 2.0 authorization server for platforms that host many companies and let
//! third-party apps reach a company's data, in one of two ways or both:
//!
//! - **Authorization code**: a person signs in and authorizes the app, which then acts as that
//!   person with exactly that person's *current* permissions.
//! - **Service account**: the app's manifest declares the permissions it needs; a company admin
//!   approves them at install time, a service-account user with exactly those permissions (on the
//!   projects the admin permits) appears in the company directory, and the app gets tokens for it
//!   with the client-credentials grant.
//!
//! Uninstalling cuts every token of the app in that company at once.
//!
//! ## Layers
//! - [`model`]: the domain as plain data (companies, users, permissions, apps, installations).
//! - [`token`]: JWT access tokens (RFC 9068), signing keys and JWKS, opaque secrets.
//! - [`grant`]: the flows as pure functions of their inputs, the config, `now` and a random source.
//! - [`access`]: [`access::decide`], the pure access decision with its reason.
//! - [`store`]: storage traits and the in-memory store.
//! - [`server`]: [`AuthorizationServer`], the async façade that ties them together.
//! - [`audit`]: audit events and sinks.
//!
//! ```
//! use appgrant::{AuthorizationServer, Config, MemoryStore};
//! use appgrant::grant::{AppRegistration, ClientCredentials, TokenRequest};
//! use appgrant::model::*;
//! use std::collections::BTreeSet;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let server = AuthorizationServer::builder(MemoryStore::new(), Config::new("https://auth.example.com"))
//!     .build()?;
//!
//! // The host mirrors its directory: a company and its admin.
//! let acme = CompanyId::new("acme");
//! let jane = UserId::new("jane");
//! server.save_company(Company::new("acme", "Acme Construction")).await?;
//! server.save_user(User::person("jane", "Jane")).await?;
//! server.set_membership(&acme, &jane,
//!     Permissions::none().with(Scope::Company, "directory", Level::Admin)).await?;
//!
//! // A developer registers an app whose service account reads RFIs.
//! let registered = server.register_app(AppRegistration {
//!     name: "Sync".into(),
//!     client_type: ClientType::Confidential,
//!     redirect_uris: vec![],
//!     flows: AppFlows::ServiceAccount,
//!     manifest: Some(Manifest::new(1).project_tool("rfis", Level::ReadOnly)),
//!     ceiling: None,
//! }).await?;
//! let client_id = registered.app.client_id.clone();
//!
//! // Jane installs it on one project.
//! server.request_installation(&acme, &client_id, &jane).await?;
//! server.approve_installation(&acme, &client_id, &jane,
//!     BTreeSet::from([ProjectId::new("tower")])).await?;
//!
//! // The app gets a token for its service account and reads RFIs on that project only.
//! let credentials = ClientCredentials::Basic {
//!     client_id: client_id.clone(),
//!     secret: registered.client_secret.unwrap(),
//! };
//! let token = server.token(TokenRequest::ClientCredentials { company_id: None }, &credentials).await?;
//! let token = token.access_token.expose();
//! let tower = Requirement::project("acme", "tower", "rfis", Level::ReadOnly);
//! let other = Requirement::project("acme", "depot", "rfis", Level::ReadOnly);
//! assert!(server.check_access(token, &tower).await?.is_allowed());
//! assert!(!server.check_access(token, &other).await?.is_allowed());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod access;
pub mod audit;
pub mod config;
pub mod grant;
pub mod model;
pub mod server;
pub mod store;
pub mod token;

pub use access::{Decision, DenyReason, decide};
pub use config::Config;
pub use server::AuthorizationServer;
pub use store::MemoryStore;
