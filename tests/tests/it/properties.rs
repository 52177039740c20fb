//! Property tests of the seed format, without a database: the answer escapes
//! invert exactly, and exporting an article then importing the file gives the
//! same values back, both for a fresh file and for a patched real seed.

use std::sync::LazyLock;

use chrono::NaiveDate;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError};
use quicktakes::fields::{ArticleFields, Link, Seo, article_url, validate};

const MAX_RELATED: usize = quicktakes::limits::Limits::DEFAULT.related;
use quicktakes::seed::escape::{decode_answer, encode_answer};
use quicktakes::seed::export::{render_new, render_seed};
use quicktakes::seed::parse::parse_seed;

/// Pieces that are special somewhere in YAML, the seed layout or Unicode.
const TEXT_PIECES: &[&str] = &[
    ":", ": ", " :", "#", " #", "\"", "'", "- ", "-", "---", "...", "? ", "|", ">", ">-", "&a",
    "*a", "!", "!!str ", "%", "@", "`", "{", "}", "[", "]", ",", "~", "null", "true", "no", "1.5",
    "0x1F", "-1", "1e3", "\n", "\r\n", "\r", "\t", " ", "  ", "\\", "\\n", "\\\"", "é", "ß",
    "漢字", "😀", "\u{85}", "\u{a0}", "\u{2028}", "\u{2029}", "\u{feff}", "\u{200b}", "\u{7f}",
    "\u{1b}",
];

/// Pieces of answers: the escapes and the math delimiters.
const ANSWER_PIECES: &[&str] = &[
    "\\(", "\\)", "\\[", "\\]", "$$", "$", "\\n", "\\\\", "\\", "\n", "\n\n", "\\nu", "\\neq", "n",
    "(", ")", "[", "]", "x", " ", "a b", ": ", "#", "\"", "é", "\r\n",
];

/// Any character a seed may hold (NUL is refused everywhere).
fn any_char() -> impl Strategy<Value = String> {
    any::<char>()
        .prop_filter("NUL is never valid", |c| *c != '\0')
        .prop_map(String::from)
}

fn piece(pieces: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(pieces).prop_map(str::to_owned),
        3 => "[a-zA-Z0-9 ]{1,6}",
        1 => any_char(),
    ]
}

/// Text of up to `max` pieces, possibly empty.
fn text(pieces: &'static [&'static str], max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(piece(pieces), 0..max).prop_map(|v| v.concat())
}

/// Text that is not blank: something around one letter.
fn required(pieces: &'static [&'static str]) -> impl Strategy<Value = String> {
    (text(pieces, 6), "[a-zA-Zé漢]", text(pieces, 6)).prop_map(|(a, b, c)| a + &b + &c)
}

/// A slug without `..`, so its default file name is valid too.
fn slug() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_~-]([A-Za-z0-9_~-]|\\.[A-Za-z0-9_~-]){0,12}"
}

fn date() -> impl Strategy<Value = NaiveDate> {
    (1i32..=9999, 1u32..=12, 1u32..=31)
        .prop_filter_map("a real day", |(y, m, d)| NaiveDate::from_ymd_opt(y, m, d))
}

/// `None` (unscored) or a finite score other than -1.
fn score() -> impl Strategy<Value = Option<f64>> {
    const SPECIAL: &[f64] = &[
        0.0,
        -0.0,
        0.5,
        -1.5,
        0.1,
        1e-7,
        1e15,
        -1e15,
        1e16,
        1e21,
        1e300,
        f64::MAX,
        f64::MIN,
        f64::MIN_POSITIVE,
        f64::EPSILON,
        5e-324,
        -0.999_999_999_999_999_9,
    ];
    prop_oneof![
        Just(None),
        (-1000i32..1000).prop_map(|v| Some(f64::from(v))),
        prop::sample::select(SPECIAL).prop_map(Some),
        any::<f64>().prop_map(Some),
    ]
    .prop_filter("finite and not -1", |s| {
        s.is_none_or(|v| v.is_finite() && v != -1.0)
    })
}

/// A keyword: non-empty, trimmed, without commas.
fn keyword() -> impl Strategy<Value = String> {
    text(TEXT_PIECES, 5).prop_filter_map("a non-empty keyword", |k| {
        let k = k.replace(',', "");
        let k = k.trim();
        (!k.is_empty()).then(|| k.to_owned())
    })
}

fn seo() -> impl Strategy<Value = Seo> {
    (
        proptest::option::of(text(TEXT_PIECES, 8)),
        proptest::option::of(text(TEXT_PIECES, 12)),
        prop::collection::vec(keyword(), 0..6),
    )
        .prop_map(|(title, description, keywords)| Seo {
            title,
            description,
            keywords,
        })
}

/// Up to ten links with distinct ids, at increasing (possibly sparse) positions.
fn related() -> impl Strategy<Value = Vec<Link>> {
    let link = (
        1i64..=i64::MAX,
        required(TEXT_PIECES),
        required(TEXT_PIECES),
        slug(),
        slug(),
    );
    // Gaps between positions; ten gaps stay below `i32::MAX`.
    let gaps = prop::collection::vec(
        prop_oneof![8 => 1i32..=2, 1 => 1i32..=i32::MAX / 16],
        MAX_RELATED,
    );
    let positions = gaps.prop_map(|gaps| {
        gaps.into_iter()
            .scan(0i32, |at, gap| {
                *at += gap;
                Some(*at)
            })
            .collect::<Vec<_>>()
    });
    (prop::collection::vec(link, 0..=MAX_RELATED), positions).prop_map(|(links, positions)| {
        let mut seen = std::collections::HashSet::new();
        links
            .into_iter()
            .filter(|l| seen.insert(l.0))
            .zip(positions)
            .map(
                |((id, title, subject, subject_slug, slug), position)| Link {
                    position,
                    id,
                    title,
                    subject,
                    url: article_url(&subject_slug, &slug),
                    subject_slug,
                },
            )
            .collect()
    })
}

/// Arbitrary articles that satisfy every rule of [`validate`].
fn article() -> impl Strategy<Value = ArticleFields> {
    let texts = (
        required(TEXT_PIECES),
        proptest::option::of(required(TEXT_PIECES)),
        required(TEXT_PIECES),
        text(ANSWER_PIECES, 40),
        required(TEXT_PIECES),
        required(TEXT_PIECES),
        text(TEXT_PIECES, 4),
        text(TEXT_PIECES, 4),
        proptest::option::of(text(TEXT_PIECES, 6)),
        text(TEXT_PIECES, 16),
    );
    let rest = (
        1i64..=i64::MAX,
        slug(),
        slug(),
        proptest::option::of("[a-z0-9][a-z0-9_-]{0,15}\\.md"),
        proptest::option::of(date()),
        score(),
        seo(),
        related(),
        prop::sample::select(&["en", "pt-BR", "de-CH", "zh-Hant-TW", "sr-Latn-RS"][..]),
    );
    (texts, rest).prop_map(|(texts, rest)| {
        let (
            title,
            article_title,
            question,
            answer,
            subject,
            template,
            date_format,
            post_on_text,
            author,
            body,
        ) = texts;
        let (id, subject_slug, slug, file_name, date, score, seo, mut related, language) = rest;
        related.retain(|l| l.id != id);
        ArticleFields {
            id,
            article_title: article_title.unwrap_or_else(|| title.clone()),
            title,
            question,
            answer,
            subject,
            url: article_url(&subject_slug, &slug),
            file_name: file_name.unwrap_or_else(|| format!("{slug}.md")),
            subject_slug,
            slug,
            template,
            date,
            date_format,
            post_on_text,
            author,
            seo,
            score,
            related,
            body,
            language: language.to_owned(),
        }
    })
}

fn fail(what: &str, detail: impl std::fmt::Debug) -> TestCaseError {
    TestCaseError::fail(format!("{what}: {detail:?}"))
}

/// Parses `text` and checks it reads back as `expected`.
fn assert_reads_back(text: &str, expected: &ArticleFields) -> Result<(), TestCaseError> {
    let parsed =
        parse_seed(text).map_err(|p| fail(&format!("rendered seed\n{text}\ndoes not parse"), p))?;
    prop_assert_eq!(&parsed.fields, expected, "rendered seed:\n{}", text);
    Ok(())
}

static REAL_SEED: LazyLock<String> = LazyLock::new(|| {
    std::fs::read_to_string(quicktakes_tests::real_seed()).expect("read the real seed")
});

static REAL_FIELDS: LazyLock<ArticleFields> =
    LazyLock::new(|| parse_seed(&REAL_SEED).expect("the real seed parses").fields);

/// The parts of an article a mutation can replace.
const PARTS: &[&str] = &[
    "id",
    "title",
    "article_title",
    "question",
    "answer",
    "subject",
    "url",
    "file_name",
    "template",
    "date",
    "date_format",
    "post_on_text",
    "author",
    "seo",
    "seo.title",
    "seo.description",
    "seo.keywords",
    "score",
    "related",
    "related.drop_first",
    "related.first_title",
    "body",
    "language",
];

/// `base` with the named parts taken from `from`.
fn mutate(base: &ArticleFields, from: &ArticleFields, parts: &[&str]) -> ArticleFields {
    let mut m = base.clone();
    for part in parts {
        match *part {
            "id" => m.id = from.id,
            "title" => m.title.clone_from(&from.title),
            "article_title" => m.article_title.clone_from(&from.article_title),
            "question" => m.question.clone_from(&from.question),
            "answer" => m.answer.clone_from(&from.answer),
            "subject" => m.subject.clone_from(&from.subject),
            "url" => {
                m.url.clone_from(&from.url);
                m.subject_slug.clone_from(&from.subject_slug);
                m.slug.clone_from(&from.slug);
            }
            "file_name" => m.file_name.clone_from(&from.file_name),
            "template" => m.template.clone_from(&from.template),
            "date" => m.date = from.date,
            "date_format" => m.date_format.clone_from(&from.date_format),
            "post_on_text" => m.post_on_text.clone_from(&from.post_on_text),
            "author" => m.author.clone_from(&from.author),
            "seo" => m.seo.clone_from(&from.seo),
            "seo.title" => m.seo.title.clone_from(&from.seo.title),
            "seo.description" => m.seo.description.clone_from(&from.seo.description),
            "seo.keywords" => m.seo.keywords.clone_from(&from.seo.keywords),
            "score" => m.score = from.score,
            "related" => m.related.clone_from(&from.related),
            "related.drop_first" => {
                if !m.related.is_empty() {
                    m.related.remove(0);
                }
            }
            "related.first_title" => {
                if let Some(first) = m.related.first_mut() {
                    first.title.clone_from(&from.title);
                }
            }
            "body" => m.body.clone_from(&from.body),
            "language" => m.language.clone_from(&from.language),
            other => unreachable!("unknown part {other}"),
        }
    }
    m
}

fn config(cases: u32) -> Config {
    Config {
        cases,
        // Failures are reported, not stored next to the sources.
        failure_persistence: None,
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn answer_escapes_invert_on_math_and_escape_pieces(s in text(ANSWER_PIECES, 40)) {
        prop_assert_eq!(decode_answer(&encode_answer(&s)), s);
    }

    #[test]
    fn answer_escapes_invert_on_any_string(s in any::<String>()) {
        prop_assert_eq!(decode_answer(&encode_answer(&s)), s);
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn new_seed_reads_back_as_written(f in article()) {
        prop_assert_eq!(validate(&f), vec![], "generated article must be valid: {:?}", f);
        let text = render_new(&f).map_err(|e| fail("render_new", e))?;
        assert_reads_back(&text, &f)?;
    }

    #[test]
    fn patched_real_seed_reads_back_as_changed(
        from in article(),
        parts in prop::sample::subsequence(PARTS, 1..=4),
    ) {
        let mutated = mutate(&REAL_FIELDS, &from, &parts);
        prop_assume!(validate(&mutated).is_empty());
        let text = render_seed(&mutated, Some(&REAL_SEED)).map_err(|e| fail("render_seed", e))?;
        assert_reads_back(&text, &mutated)?;
    }
}

#[test]
fn unchanged_real_seed_is_written_back_verbatim() {
    let text = render_seed(&REAL_FIELDS, Some(&REAL_SEED)).expect("render the real seed");
    assert_eq!(text, *REAL_SEED);
}
