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
//! - `http` (feature `axum`): the OAuth endpoints as an axum router, and an extractor for
//!   resource servers.
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
