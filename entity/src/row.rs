//! Reading a model from a row by column position, for the hot reads that
//! select a model's columns in declaration order (`Column::iter()`). By
//! position is cheaper than sea-orm's lookup by name, and the same decoder
//! serves every driver that implements [`Row`]: sea-orm's `QueryResult`
//! here, and the server's rusqlite reads of SQLite.

use sea_orm::prelude::{Date, DateTimeUtc};
use sea_orm::{DbErr, QueryResult};

/// One result row, read by column position.
pub trait Row {
    /// A 32-bit integer column.
    fn i32(&self, at: usize) -> Result<Option<i32>, DbErr>;
    /// A 64-bit integer column.
    fn i64(&self, at: usize) -> Result<Option<i64>, DbErr>;
    /// A floating-point column.
    fn f64(&self, at: usize) -> Result<Option<f64>, DbErr>;
    /// A text column.
    fn text(&self, at: usize) -> Result<Option<String>, DbErr>;
    /// A date column.
    fn date(&self, at: usize) -> Result<Option<Date>, DbErr>;
    /// A UTC timestamp column.
    fn timestamp(&self, at: usize) -> Result<Option<DateTimeUtc>, DbErr>;
}

impl Row for QueryResult {
    fn i32(&self, at: usize) -> Result<Option<i32>, DbErr> {
        self.try_get_by_index(at)
    }
    fn i64(&self, at: usize) -> Result<Option<i64>, DbErr> {
        self.try_get_by_index(at)
    }
    fn f64(&self, at: usize) -> Result<Option<f64>, DbErr> {
        self.try_get_by_index(at)
    }
    fn text(&self, at: usize) -> Result<Option<String>, DbErr> {
        self.try_get_by_index(at)
    }
    fn date(&self, at: usize) -> Result<Option<Date>, DbErr> {
        self.try_get_by_index(at)
    }
    fn timestamp(&self, at: usize) -> Result<Option<DateTimeUtc>, DbErr> {
        self.try_get_by_index(at)
    }
}

/// A value a [`Row`] column decodes to.
pub trait Value: Sized {
    /// The value at `at`.
    fn get(row: &dyn Row, at: usize) -> Result<Self, DbErr>;
}

macro_rules! values {
    ($($t:ty => $method:ident),* $(,)?) => {$(
        impl Value for Option<$t> {
            fn get(row: &dyn Row, at: usize) -> Result<Self, DbErr> {
                row.$method(at)
            }
        }
        impl Value for $t {
            fn get(row: &dyn Row, at: usize) -> Result<Self, DbErr> {
                row.$method(at)?.ok_or_else(|| {
                    DbErr::Type(format!("column {at} is null where a value is required"))
                })
            }
        }
    )*};
}

values!(
    i32 => i32,
    i64 => i64,
    f64 => f64,
    String => text,
    Date => date,
    DateTimeUtc => timestamp,
);

/// The columns of a row, read one after the other from a starting position.
pub struct Columns<'r> {
    row: &'r dyn Row,
    at: usize,
}

impl<'r> Columns<'r> {
    /// The columns of `row` from position `at`.
    pub fn new(row: &'r dyn Row, at: usize) -> Self {
        Self { row, at }
    }

    /// The next column's value.
    pub fn read<T: Value>(&mut self) -> Result<T, DbErr> {
        let value = T::get(self.row, self.at)?;
        self.at += 1;
        Ok(value)
    }

    /// The position of the next column.
    pub fn position(&self) -> usize {
        self.at
    }
}

/// A model read from consecutive columns, in the order its `Column::iter()`
/// lists them (the order of the struct's fields).
pub trait FromColumns: Sized {
    /// The model from the next columns of `columns`.
    fn from_columns(columns: &mut Columns<'_>) -> Result<Self, DbErr>;
}

impl FromColumns for crate::article::Model {
    fn from_columns(c: &mut Columns<'_>) -> Result<Self, DbErr> {
        Ok(Self {
            id: c.read()?,
            slug: c.read()?,
            url: c.read()?,
            file_name: c.read()?,
            subject_id: c.read()?,
            title: c.read()?,
            article_title: c.read()?,
            question: c.read()?,
            answer: c.read()?,
            template: c.read()?,
            date: c.read()?,
            date_format: c.read()?,
            post_on_text: c.read()?,
            author: c.read()?,
            seo_title: c.read()?,
            seo_description: c.read()?,
            seo_keywords: c.read()?,
            score: c.read()?,
            body: c.read()?,
            language: c.read()?,
            answer_html: c.read()?,
            answer_text: c.read()?,
            version: c.read()?,
            created_at: c.read()?,
            updated_at: c.read()?,
            deleted_at: c.read()?,
            source_text: c.read()?,
            source_hash: c.read()?,
            source_path: c.read()?,
            imported_version: c.read()?,
        })
    }
}

impl FromColumns for crate::article_link::Model {
    fn from_columns(c: &mut Columns<'_>) -> Result<Self, DbErr> {
        Ok(Self {
            article_id: c.read()?,
            position: c.read()?,
            target_id: c.read()?,
            title: c.read()?,
            subject_name: c.read()?,
            subject_id: c.read()?,
            url: c.read()?,
        })
    }
}

impl FromColumns for crate::subject::Model {
    fn from_columns(c: &mut Columns<'_>) -> Result<Self, DbErr> {
        Ok(Self {
            id: c.read()?,
            slug: c.read()?,
            name: c.read()?,
            created_at: c.read()?,
        })
    }
}
