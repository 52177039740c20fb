//! What every request carries into the schema, made in one place for every
//! transport (HTTP, WebSocket, tests): fresh loaders, the pool it reads
//! through, the editor it runs as, and the id the log files it under.

use async_graphql::Request;
use sea_orm::DatabaseConnection;

use super::loaders::Loaders;
use crate::db::{Reader, SqliteReads};
use crate::service::token::Editor;

/// The pools a request may run on.
#[derive(Clone)]
pub struct Pools {
    /// Editors and writes.
    pub main: DatabaseConnection,
    /// Anonymous reads, with their own (smaller) statement budget, so a
    /// flood of costly reads cannot take the connections editors need.
    pub read: DatabaseConnection,
    /// Anonymous reads of article pages on a SQLite file, through rusqlite
    /// (see [`crate::db::SqliteReads`]); `None` on PostgreSQL.
    pub sqlite: Option<SqliteReads>,
}

/// The primary database, whatever pool the request reads through: what a
/// subscription reads an article from when its change is announced (a
/// replica may not have replayed that change yet).
#[derive(Clone)]
pub struct Primary(pub DatabaseConnection);

/// The id under which the server log holds a request's internal errors;
/// masked errors carry it as `extensions.requestId`.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Who sends a request, and under which id.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The editor its token names; `None` for anonymous readers.
    pub editor: Option<Editor>,
    /// Its id.
    pub request_id: String,
}

impl Pools {
    /// `request` with everything it runs with. The loaders are new, so
    /// nothing one request (or one subscription event) cached is seen by
    /// another.
    pub fn prepare(&self, caller: &Caller, request: Request) -> Request {
        // Request data overrides the schema's connection.
        let pool = if caller.editor.is_some() {
            &self.main
        } else {
            &self.read
        };
        let reader = match (&caller.editor, &self.sqlite) {
            (None, Some(sqlite)) => Reader::Sqlite(sqlite.clone()),
            _ => Reader::Pool(pool.clone()),
        };
        let texts = super::types::texts_named_in(&request.query);
        let request = request
            .data(Loaders::new(pool, &reader, texts))
            .data(reader)
            .data(pool.clone())
            .data(Primary(self.main.clone()))
            .data(RequestId(caller.request_id.clone()));
        match &caller.editor {
            Some(editor) => request.data(editor.clone()),
            None => request,
        }
    }
}

/// Whether `response` refuses its request before anything ran (a parse or
/// validation error, a limit): no data, and no error at a field's path.
/// HTTP answers it without `data`; WebSocket with an `error` message.
pub fn is_request_error(response: &async_graphql::Response) -> bool {
    response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty())
}
