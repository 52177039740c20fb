//! A generator of realistic seed corpora, shaped exactly like the real seed
//! (`>-` blocks, 2- and 4-space indentation, `score: -1.0`), for tests and
//! benchmarks.

use std::path::Path;

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};

const SUBJECTS: &[&str] = &[
    "Medicine",
    "Health Studies",
    "Biology",
    "Chemistry",
    "Physics",
    "Computer Science",
    "History",
    "Economics",
    "Psychology",
    "Mathematics",
];

const WORDS: &[&str] = &[
    "imaging",
    "follow-up",
    "care",
    "patients",
    "diagnosis",
    "treatment",
    "response",
    "surveillance",
    "recurrence",
    "monitoring",
    "liver",
    "disease",
    "contrast",
    "agents",
    "diffusion",
    "weighted",
    "staging",
    "vascular",
    "features",
    "effectiveness",
    "clinical",
    "guidelines",
    "ultrasound",
    "tomography",
    "resonance",
    "specificity",
    "sensitivity",
    "biopsy",
    "lesions",
    "nodules",
    "outcomes",
    "management",
    "therapy",
    "assessment",
    "protein",
    "enzyme",
    "energy",
    "market",
    "theory",
    "network",
    "memory",
    "behaviour",
];

/// The first id of a generated corpus; ids then count up.
pub const FIRST_ID: i64 = 200_000;

fn slugify(text: &str) -> String {
    let kept: String = text
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == ' ')
        .collect();
    kept.split_whitespace()
        .collect::<Vec<_>>()
        .join("-")
        .to_lowercase()
}

fn sentence(rng: &mut StdRng, words: usize) -> String {
    let mut s: Vec<&str> = (0..words)
        .map(|_| *WORDS.choose(rng).unwrap_or(&"care"))
        .collect();
    s.dedup();
    let mut out = s.join(" ");
    if let Some(first) = out.get(..1) {
        out = first.to_uppercase() + &out[1..];
    }
    out
}

/// One generated article's title, subject and url, as links copy them.
struct Head {
    id: i64,
    title: String,
    subject: &'static str,
    url: String,
}

fn head(rng: &mut StdRng, id: i64) -> Head {
    let subject = *SUBJECTS.choose(rng).unwrap_or(&SUBJECTS[0]);
    let n = rng.random_range(6..12);
    let title = format!(
        "What is the role of {} ({id})?",
        sentence(rng, n).to_lowercase()
    );
    let url = format!("/learn/{}/questions/{}", slugify(subject), slugify(&title));
    Head {
        id,
        title,
        subject,
        url,
    }
}

/// The text of generated article `index` of a corpus of `count`.
pub fn article_text(seed: u64, index: u64, count: u64) -> String {
    let id = FIRST_ID + index as i64;
    let mut rng = StdRng::seed_from_u64(seed ^ (index.wrapping_mul(0x9E37_79B9_7F4A_7C15)));
    let me = head(&mut StdRng::seed_from_u64(seed.wrapping_add(index)), id);
    let slug = me.url.rsplit('/').next().unwrap_or_default().to_owned();

    let mut paragraphs = vec![format!(
        "{} plays a crucial role in {}.",
        sentence(&mut rng, 4),
        sentence(&mut rng, 8).to_lowercase()
    )];
    for n in 1..=rng.random_range(3..7) {
        let mut p = format!("{n}. **{}**: ", sentence(&mut rng, 3));
        for _ in 0..rng.random_range(2..5) {
            let n = rng.random_range(10..22);
            p.push_str(&sentence(&mut rng, n));
            p.push_str(". ");
        }
        if rng.random_bool(0.1) {
            p.push_str("With \\( \\nu \\neq 0 \\) and $$\\sum_{i} x_i$$ the estimate holds.");
        }
        paragraphs.push(p.trim_end().to_owned());
    }
    paragraphs.push(format!(
        "In summary, {}.",
        sentence(&mut rng, 16).to_lowercase()
    ));
    let answer = paragraphs.join("\\n\\n");
    let keywords: Vec<String> = (0..rng.random_range(5..14))
        .map(|_| {
            let n = rng.random_range(1..3);
            sentence(&mut rng, n).to_lowercase()
        })
        .collect();
    let date = format!(
        "20{:02}-{:02}-{:02}",
        rng.random_range(18..26),
        rng.random_range(1..13),
        rng.random_range(1..29)
    );
    let score = if rng.random_bool(0.5) {
        "-1.0".to_owned()
    } else {
        format!("{:.1}", f64::from(rng.random_range(0..100)) / 10.0)
    };

    let mut text = format!(
        "---\n_schema: default\nid: {id}\ndate: {date}\ntitle: >-\n    {title}\narticle_title: >-\n    {title}\ndate_format: MMM DD, YYYY\npost_on_text: Posted on\nseo:\n  title: QuickTakes | {subject}\n  page_description: >-\n    {description}\n  page_keywords: >-\n    {keywords}\nauthor: QuickTakes\nquestion: >-\n    {title}\nanswer: >-\n    {answer}\nsubject: {subject}\nfile_name: {slug}.md\nurl: {url}\nscore: {score}\n",
        title = me.title,
        subject = me.subject,
        description = sentence(&mut rng, 20),
        keywords = keywords.join(", "),
        url = me.url,
    );
    let mut linked = std::collections::HashSet::new();
    let mut position = 0;
    for _ in 0..rng.random_range(0..7) {
        // Mostly links within the corpus, some to articles not (yet) in it.
        let target = if rng.random_bool(0.85) && count > 1 {
            rng.random_range(0..count)
        } else {
            count + rng.random_range(0..1000)
        };
        if target == index || !linked.insert(target) {
            continue;
        }
        position += 1;
        let other = head(
            &mut StdRng::seed_from_u64(seed.wrapping_add(target)),
            FIRST_ID + target as i64,
        );
        text.push_str(&format!(
            "related_article{position}:\n    id: {}\n    title: >-\n        {}\n    subject: {}\n    url: {}\n",
            other.id, other.title, other.subject, other.url
        ));
    }
    text.push_str("---\n\n&nbsp;");
    text
}

/// Writes a corpus of `count` articles into `dir`; returns the paths written.
pub fn write_corpus(dir: &Path, count: u64, seed: u64) -> std::io::Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(dir)?;
    (0..count)
        .map(|i| {
            let text = article_text(seed, i, count);
            let name = text
                .lines()
                .find_map(|l| l.strip_prefix("file_name: "))
                .map_or_else(|| format!("article-{i}.md"), str::to_owned);
            let path = dir.join(name);
            std::fs::write(&path, text)?;
            Ok(path)
        })
        .collect()
}
