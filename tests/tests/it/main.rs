//! Integration tests of quicktakes, run on SQLite and, with
//! `TEST_DATABASE_URL`, on PostgreSQL.

mod connections;
mod corpus;
mod graphql;
mod hostile;
mod http;
mod language;
mod mutations;
mod ops;
mod properties;
mod races;
mod robustness;
mod seed_job;
