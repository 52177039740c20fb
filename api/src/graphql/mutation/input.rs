//! The input objects of the mutations, and how `ArticleInput` names each
//! submitted value by its row of the field table.

use async_graphql::{ID, InputObject, MaybeUndefined, Result};
use serde_json::Value;

use crate::fields::Field;
use crate::graphql::error::bad_input;
use crate::graphql::types::Date;
use crate::service::edit::Submitted;

/// SEO metadata to change; absent fields stay as they are, `null` clears.
#[derive(InputObject, Debug, Default)]
pub struct SeoInput {
    /// Page title for search engines.
    pub title: MaybeUndefined<String>,
    /// Page description for search engines.
    pub description: MaybeUndefined<String>,
    /// Keywords, in order (no commas inside a keyword).
    pub keywords: Option<Vec<String>>,
}

/// Fields of an article to change; absent fields stay as they are.
#[derive(InputObject, Debug, Default)]
pub struct ArticleInput {
    /// Display title.
    pub title: Option<String>,
    /// Title on the article page.
    pub article_title: Option<String>,
    /// The question answered.
    pub question: Option<String>,
    /// Markdown answer.
    pub answer: Option<String>,
    /// Subject name; a new name creates the subject. Changes the url.
    pub subject: Option<String>,
    /// Slug; changes the url (the old one keeps finding the article).
    pub slug: Option<String>,
    /// Publication date; `null` clears it.
    pub date: MaybeUndefined<Date>,
    /// Display pattern of the date.
    pub date_format: Option<String>,
    /// Label before the date.
    pub post_on_text: Option<String>,
    /// Author name; `null` clears it.
    pub author: MaybeUndefined<String>,
    /// SEO metadata.
    pub seo: Option<SeoInput>,
    /// Language, a BCP 47 tag such as `en` or `pt-BR`.
    pub language: Option<String>,
}

/// A new article.
#[derive(InputObject, Debug)]
pub struct NewArticleInput {
    /// Id; defaults to the largest id + 1.
    pub id: Option<ID>,
    /// Display title.
    pub title: String,
    /// The question answered.
    pub question: String,
    /// Markdown answer.
    pub answer: String,
    /// Subject name; a new name creates the subject.
    pub subject: String,
    /// Slug; defaults to one made from the title.
    pub slug: Option<String>,
    /// Publication date.
    pub date: Option<Date>,
    /// Author name.
    pub author: Option<String>,
    /// Score; null or absent for unscored.
    pub score: Option<f64>,
    /// SEO metadata.
    pub seo: Option<SeoInput>,
    /// Ids of related (loaded) articles, in order.
    pub related: Option<Vec<ID>>,
}

pub(super) fn text(value: &str) -> Value {
    Value::String(value.to_owned())
}

fn maybe_text(value: &MaybeUndefined<String>) -> Option<Value> {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(Value::Null),
        MaybeUndefined::Value(v) => Some(text(v)),
    }
}

pub(super) fn score_value(field: &str, score: Option<f64>) -> Result<Value> {
    match score {
        None => Ok(Value::Null),
        Some(s) if !s.is_finite() => Err(bad_input(field, "`score` must be a finite number")),
        // -1 is the seed's spelling of "unscored".
        Some(-1.0) => Ok(Value::Null),
        Some(s) => Ok(Value::from(s)),
    }
}

fn seo_submitted(seo: &SeoInput, out: &mut Submitted) {
    if let Some(v) = maybe_text(&seo.title) {
        out.push((Field::SeoTitle, v));
    }
    if let Some(v) = maybe_text(&seo.description) {
        out.push((Field::SeoDescription, v));
    }
    if let Some(k) = &seo.keywords {
        let keywords: Vec<String> = k
            .iter()
            .map(|k| k.trim().to_owned())
            .filter(|k| !k.is_empty())
            .collect();
        out.push((Field::SeoKeywords, Value::from(keywords)));
    }
}

impl ArticleInput {
    /// The submitted fields, each named by its row of the field table
    /// (every field whose [`Edit`] is `Input`; a test holds them equal).
    pub(super) fn submitted(&self) -> Submitted {
        let mut out: Submitted = Vec::new();
        let plain = [
            (Field::Title, &self.title),
            (Field::ArticleTitle, &self.article_title),
            (Field::Question, &self.question),
            (Field::Answer, &self.answer),
            (Field::Subject, &self.subject),
            (Field::Slug, &self.slug),
            (Field::DateFormat, &self.date_format),
            (Field::PostOnText, &self.post_on_text),
            (Field::Language, &self.language),
        ];
        for (field, value) in plain {
            if let Some(v) = value {
                out.push((field, text(v)));
            }
        }
        match &self.date {
            MaybeUndefined::Undefined => {}
            MaybeUndefined::Null => out.push((Field::Date, Value::Null)),
            MaybeUndefined::Value(d) => {
                out.push((Field::Date, text(&d.0.format("%Y-%m-%d").to_string())))
            }
        }
        if let Some(v) = maybe_text(&self.author) {
            out.push((Field::Author, v));
        }
        if let Some(seo) = &self.seo {
            seo_submitted(seo, &mut out);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::table::Edit;

    /// `ArticleInput` offers exactly the fields the table lets editors change.
    #[test]
    fn article_input_covers_the_editable_fields() {
        let full = ArticleInput {
            title: Some("t".into()),
            article_title: Some("t".into()),
            question: Some("q".into()),
            answer: Some("a".into()),
            subject: Some("s".into()),
            slug: Some("s".into()),
            date: MaybeUndefined::Null,
            date_format: Some("f".into()),
            post_on_text: Some("p".into()),
            author: MaybeUndefined::Null,
            seo: Some(SeoInput {
                title: MaybeUndefined::Null,
                description: MaybeUndefined::Null,
                keywords: Some(vec![]),
            }),
            language: Some("en".into()),
        };
        let mut submitted: Vec<Field> = full.submitted().into_iter().map(|(f, _)| f).collect();
        submitted.sort();
        let editable: Vec<Field> = Field::ALL
            .into_iter()
            .filter(|f| f.edit() == Edit::Input)
            .collect();
        assert_eq!(submitted, editable);
    }
}
