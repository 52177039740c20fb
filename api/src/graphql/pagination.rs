//! Relay-style paging: `first`/`after` or `last`/`before`, opaque cursors,
//! at most the page-size limit of items a page.

use async_graphql::{Result, SimpleObject};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::error::bad_input;

/// Page size when neither `first` nor `last` is given.
pub const DEFAULT_PAGE: u64 = 20;

/// Largest offset a cursor may hold: far past any list this server keeps,
/// and far below where offset arithmetic or the databases' 64-bit `OFFSET`
/// would overflow.
pub const MAX_CURSOR_OFFSET: u64 = u32::MAX as u64;

/// Largest page size accepted (the page-size limit).
fn max_page() -> u64 {
    crate::limits::get().page_size
}

/// Where a connection stands in its list.
#[derive(Debug, Clone, SimpleObject)]
pub struct PageInfo {
    /// Whether items follow this page.
    pub has_next_page: bool,
    /// Whether items precede this page.
    pub has_previous_page: bool,
    /// Cursor of the first item of the page.
    pub start_cursor: Option<String>,
    /// Cursor of the last item of the page.
    pub end_cursor: Option<String>,
}

/// The paging arguments of a connection field.
#[derive(Debug, Clone, Copy, Default)]
pub struct PageArgs<'a> {
    /// Items after `after`.
    pub first: Option<i32>,
    /// Cursor to start after.
    pub after: Option<&'a str>,
    /// Items before `before`.
    pub last: Option<i32>,
    /// Cursor to end before.
    pub before: Option<&'a str>,
}

/// A resolved window: `limit` items from `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Index of the first item.
    pub offset: u64,
    /// How many items at most.
    pub limit: u64,
    /// When paging backwards, the end (exclusive) the window must not pass.
    pub end: Option<u64>,
}

/// The cursor of the item at `offset`.
pub fn cursor(offset: u64) -> String {
    URL_SAFE_NO_PAD.encode(format!("offset:{offset}"))
}

fn decode(arg: &str, value: &str) -> Result<u64> {
    let offset: u64 = URL_SAFE_NO_PAD
        .decode(value)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix("offset:").and_then(|n| n.parse().ok()))
        .ok_or_else(|| {
            bad_input(
                arg,
                format!(
                    "`{arg}` is not a cursor this server gave out; use a pageInfo or edge cursor"
                ),
            )
        })?;
    if offset > MAX_CURSOR_OFFSET {
        return Err(bad_input(
            arg,
            format!(
                "`{arg}` points past the end of any list this server holds; use a pageInfo or edge cursor"
            ),
        ));
    }
    Ok(offset)
}

fn size(arg: &str, value: Option<i32>) -> Result<Option<u64>> {
    match value {
        None => Ok(None),
        Some(n) if u64::try_from(n).is_ok_and(|n| n <= max_page()) => Ok(u64::try_from(n).ok()),
        Some(n) => Err(bad_input(
            arg,
            format!("`{arg}` must be between 0 and {}, not {n}", max_page()),
        )),
    }
}

impl PageArgs<'_> {
    /// The window the arguments select; `total` is asked for only when paging
    /// backwards from the end.
    pub async fn window<F, Fut>(&self, total: F) -> Result<Window>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<u64>>,
    {
        let first = size("first", self.first)?;
        let last = size("last", self.last)?;
        if first.is_some() && last.is_some() {
            return Err(bad_input("last", "give `first` or `last`, not both"));
        }
        let after = self.after.map(|c| decode("after", c)).transpose()?;
        let before = self.before.map(|c| decode("before", c)).transpose()?;
        let start = after.map_or(0, |a| a + 1);
        if let Some(last) = last {
            let end = match before {
                Some(b) => b,
                None => total().await?,
            };
            let offset = end.saturating_sub(last).max(start);
            return Ok(Window {
                offset,
                limit: end.saturating_sub(offset),
                end: Some(end),
            });
        }
        let mut limit = first.unwrap_or(DEFAULT_PAGE);
        if let Some(b) = before {
            limit = limit.min(b.saturating_sub(start));
        }
        Ok(Window {
            offset: start,
            limit,
            end: before,
        })
    }
}

/// Page info for `shown` items at `window`, where `more` says whether the
/// list continues past them.
pub fn page_info(window: Window, shown: u64, more: bool) -> PageInfo {
    PageInfo {
        has_next_page: more,
        has_previous_page: window.offset > 0,
        start_cursor: (shown > 0).then(|| cursor(window.offset)),
        end_cursor: (shown > 0).then(|| cursor(window.offset + shown - 1)),
    }
}
