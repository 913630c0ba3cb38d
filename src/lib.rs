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
//! - [`store`]: storage traits for the OAuth state and the directory, and the stores.
//! - [`server`]: [`AuthorizationServer`], the async façade that ties them together.
//! - [`audit`]: audit events and sinks.
//! - `http` (feature `axum`): the OAuth endpoints as an axum router, an extractor for
//!   resource servers, and a developer portal's routes.
//!
//! ## Where to start
//! - [`AuthorizationServer::builder`]: a server over a store (memory, SQLite, PostgreSQL),
//!   one process or many instances sharing a deployment secret.
//! - [`AuthorizationServer::approve_authorization`]: the authorization-code flow, end to end.
//! - [`AuthorizationServer::token`]: the service-account flow (client credentials).
//! - [`AuthorizationServer::decide`]: the resource server's question, and `http::ResourceRequest`
//!   (feature `axum`), the extractor that asks it for a route; `http::router`, the OAuth
//!   endpoints.
//! - [`AuthorizationServer::update_app`], [`AuthorizationServer::rotate_client_secret`],
//!   [`AuthorizationServer::delete_app`]: an app as its developer manages it, and
//!   `http::developer_router` (feature `axum`), those as a developer portal's JSON routes.
//! - [`store::Directory`]: the platform's own directory, read live; [`store::Store`]: a store
//!   of the host's own; `store::conformance` (feature `test-util`): the suite both must pass.
//!
//! Every decision reads who is who now, and says why when it denies:
//!
//! ```
//! use appgrant::model::{Level, Requirement};
//! use appgrant::{AuthorizationServer, Config, DenyReason, MemoryStore};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let server = AuthorizationServer::builder(MemoryStore::new(), Config::new("https://auth.example.com"))
//!     .build()?;
//! let read_tower_rfis = Requirement::new("acme", "rfis", Level::ReadOnly).on_project("tower");
//! let decision = server.decide("not-a-token", &read_tower_rfis).await?;
//! assert!(matches!(decision.deny_reason(), Some(DenyReason::InvalidToken { .. })));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! The repository's README shows a complete service-account example; it is
//! compiled and run as a doc test.

#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

pub mod access;
pub mod audit;
pub mod config;
pub mod grant;
#[cfg(feature = "axum")]
pub mod http;
pub mod model;
pub mod server;
pub mod store;
pub mod token;

pub use access::{Decision, DenyReason, decide};
pub use config::Config;
pub use server::AuthorizationServer;
pub use store::MemoryStore;
