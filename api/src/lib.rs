//! quicktakes: a GraphQL content server for a Q&A knowledge site.
//!
//! The library holds everything the `quicktakes` binary runs, so tests drive
//! the real thing: configuration, the database layer, the services shared
//! by resolvers and the seed job, the seed import/export, the GraphQL
//! schema and the HTTP router.

pub mod cli;
pub mod config;
pub mod db;
pub mod error;
pub mod fields;
pub mod graphql;
pub mod http;
pub mod limits;
pub mod metrics;
pub mod preview;
pub mod progress;
pub mod render;
pub mod seed;
pub mod server;
pub mod service;
pub mod surrogate;

pub use error::{Error, Result};
