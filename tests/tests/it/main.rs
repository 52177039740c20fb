//! Integration tests of quicktakes, run on SQLite and, with
//! `TEST_DATABASE_URL`, on PostgreSQL.

mod corpus;
mod graphql;
mod http;
mod mutations;
mod seed_job;
