//! Integration tests of quicktakes, run on SQLite and, with
//! `TEST_DATABASE_URL`, on PostgreSQL.

mod cache;
mod changes;
mod compression;
mod connections;
mod corpus;
mod errors;
mod graphiql;
mod graphql;
mod hostile;
mod http;
mod instances;
mod introspection;
mod language;
mod mutations;
mod ops;
mod preview;
mod properties;
mod races;
mod robustness;
mod search_bounds;
mod seed_job;
mod statement_budget;
mod webhooks;
mod websocket;
