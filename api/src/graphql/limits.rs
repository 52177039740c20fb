//! Limits checked before a request runs, each refused with `QUERY_LIMIT`
//! and the limit's name.
//!
//! Two passes, both linear in the document whatever its fragments do:
//! - [`Limits::check_source`] counts tokens and bracket nesting of the raw
//!   text, so a document too big to parse cheaply is refused before the
//!   parser (which no timeout can interrupt) ever sees it;
//! - [`Limits::check`] walks the parsed document once, measuring depth,
//!   complexity, aliases and directives with every fragment measured once
//!   and reused where it is spread. async-graphql's own depth and complexity
//!   visitors and its recursion check expand each spread anew, which lets a
//!   few hundred bytes of nested fragments cost seconds of CPU; the schema
//!   therefore does not use them, and this walk runs first (see
//!   [`super::policy`]).
//!
//! Introspection (`__schema`, `__type`) is measured apart from the data
//! query: clients' standard introspection queries (graphql-js, GraphiQL)
//! nest `ofType` nine deep, far past any depth a data query needs. Its
//! subtree counts as one field towards `depth` and `complexity`, and is
//! bounded by its own depth (not counting `ofType`), `ofType` chain and
//! complexity limits; its aliases count with all others.

use std::collections::HashMap;

use async_graphql::Positioned;
use async_graphql::Variables;
use async_graphql::parser::types::{ExecutableDocument, Field, Selection, SelectionSet};
use async_graphql::{Name, Value};

pub use crate::limits::Limits;

use super::pagination::DEFAULT_PAGE;

/// Deepest bracket nesting (`{`, `(`, `[`) the parser is handed: far above
/// any depth limit a deployment would set, and below the 64 nested
/// selection sets at which async-graphql's parser gives up with a parse
/// error, so a too-deep document is refused as `depth`, not as unparsable.
const MAX_NESTING: usize = 60;

/// How many items a list field returns at most, for the complexity of what
/// it holds. Every list-returning field of the schema is here (a unit test
/// compares this with the SDL): connections weigh their page size, other
/// lists their bound.
fn list_weight(limits: &Limits, field: &Field, variables: &Variables) -> Option<usize> {
    let full_page = usize::try_from(limits.page_size).unwrap_or(usize::MAX);
    match field.name.node.as_str() {
        "articles" | "relatedFrom" | "revisions" | "search" => {
            Some(page_weight(limits, field, variables))
        }
        "related" => Some(limits.related),
        // Every subject, unpaged: weighed as a full page.
        "subjects" => Some(full_page),
        // One change per article field at most.
        "changes" => Some(CHANGES_WEIGHT),
        _ => None,
    }
}

/// How many items an introspection list (`__Schema.types`, `__Type.fields`,
/// …) is weighed as. Its true length is bounded by the schema, so the
/// weight only has to make nested fan-outs (`types { fields { type {
/// fields … } } }`) grow as they do when run.
fn introspection_list_weight(field: &Field) -> Option<usize> {
    match field.name.node.as_str() {
        "types" | "directives" | "fields" | "args" | "inputFields" | "interfaces"
        | "enumValues" | "possibleTypes" => Some(INTROSPECTION_LIST_WEIGHT),
        _ => None,
    }
}

/// See [`introspection_list_weight`].
const INTROSPECTION_LIST_WEIGHT: usize = 10;

/// The root fields that introspect the schema.
fn is_introspection(field: &Field) -> bool {
    matches!(field.name.node.as_str(), "__schema" | "__type")
}

/// Weight of `Revision.changes`: a revision changes each field at most once.
const CHANGES_WEIGHT: usize = 24;

/// A connection's page size: `first`, else `last`, else the default, within
/// 1..=the page-size limit (an out-of-range size is refused when the field
/// runs).
fn page_weight(limits: &Limits, field: &Field, variables: &Variables) -> usize {
    let size = ["first", "last"].into_iter().find_map(|arg| {
        let value = field.get_argument(arg)?.node.clone();
        let value = value
            .into_const_with(|name| variables.get(&name).cloned().ok_or(()))
            .ok()?;
        match value {
            Value::Number(n) => n.as_i64(),
            _ => None,
        }
    });
    let size = size.map_or(DEFAULT_PAGE, |n| u64::try_from(n).unwrap_or(1));
    usize::try_from(size.clamp(1, limits.page_size.max(1))).unwrap_or(1)
}

/// A limit a request exceeds, or a fragment cycle (a validation error that
/// must be caught before anything walks the fragments).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// `QUERY_LIMIT` with this `limit` name.
    Limit {
        /// `depth`, `complexity`, `aliases`, `directives`, `batch`, `tokens`,
        /// `timeout`, `introspection_depth`, `introspection_of_type`,
        /// `introspection_complexity` or `introspection` (turned off).
        limit: &'static str,
        /// What was exceeded and by how much.
        message: String,
    },
    /// A fragment that spreads itself, directly or not.
    FragmentCycle(String),
}

/// What a document measures: the deepest operation, and the sums over all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Measure {
    /// Deepest field nesting.
    pub depth: usize,
    /// Fields counted once each, list fields times their weight.
    pub complexity: usize,
    /// Aliases, counted where their fragments are spread.
    pub aliases: usize,
    /// Field nesting not counting `ofType` (what `introspection_depth`
    /// bounds, once inside `__schema`/`__type`).
    pub type_depth: usize,
    /// Longest chain of nested `ofType`.
    pub of_type: usize,
    /// The introspection subtrees of the document, measured apart.
    pub introspection: Introspection,
}

/// What the `__schema`/`__type` subtrees of a document measure.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Introspection {
    /// How many introspection fields there are (0: no introspection).
    pub roots: usize,
    /// Deepest nesting, the root field included, `ofType` not counted.
    pub depth: usize,
    /// Longest chain of nested `ofType`.
    pub of_type: usize,
    /// Fields counted once each, introspection lists times their weight.
    pub complexity: usize,
}

impl Measure {
    fn add(&mut self, other: Measure) {
        self.depth = self.depth.max(other.depth);
        self.complexity = self.complexity.saturating_add(other.complexity);
        self.aliases = self.aliases.saturating_add(other.aliases);
        self.type_depth = self.type_depth.max(other.type_depth);
        self.of_type = self.of_type.max(other.of_type);
        let (mine, theirs) = (&mut self.introspection, other.introspection);
        mine.roots = mine.roots.saturating_add(theirs.roots);
        mine.depth = mine.depth.max(theirs.depth);
        mine.of_type = mine.of_type.max(theirs.of_type);
        mine.complexity = mine.complexity.saturating_add(theirs.complexity);
    }
}

/// One walk of a document; fragments are measured once each.
struct Walk<'a> {
    limits: &'a Limits,
    doc: &'a ExecutableDocument,
    variables: &'a Variables,
    /// The measure of each fragment, once known.
    fragments: HashMap<&'a Name, Measure>,
    /// Fragments being walked (a spread of one of these is a cycle).
    open: Vec<&'a Name>,
    directives_max: usize,
    directives_field: &'a str,
}

impl<'a> Walk<'a> {
    /// The measure of a selection set (its fields at depth 1).
    fn selection_set(&mut self, set: &'a Positioned<SelectionSet>) -> Result<Measure, Refusal> {
        let mut total = Measure::default();
        for item in &set.node.items {
            let measured = match &item.node {
                Selection::Field(field) => self.field(&field.node)?,
                Selection::InlineFragment(inline) => {
                    self.selection_set(&inline.node.selection_set)?
                }
                Selection::FragmentSpread(spread) => {
                    self.fragment(&spread.node.fragment_name.node)?
                }
            };
            total.add(measured);
        }
        Ok(total)
    }

    fn field(&mut self, f: &'a Field) -> Result<Measure, Refusal> {
        if f.directives.len() > self.directives_max {
            self.directives_max = f.directives.len();
            self.directives_field = f.name.node.as_str();
        }
        let inner = self.selection_set(&f.selection_set)?;
        let aliases = inner.aliases.saturating_add(usize::from(f.alias.is_some()));
        if is_introspection(f) {
            // One field of the data query; the subtree is measured apart.
            let mut introspection = inner.introspection;
            introspection.roots = introspection.roots.saturating_add(1);
            introspection.depth = inner.type_depth.saturating_add(1);
            introspection.of_type = inner.of_type;
            introspection.complexity = inner.complexity.saturating_add(1);
            return Ok(Measure {
                depth: 1,
                complexity: 1,
                aliases,
                type_depth: 1,
                of_type: 0,
                introspection,
            });
        }
        let weight =
            list_weight(self.limits, f, self.variables).or_else(|| introspection_list_weight(f));
        let complexity = match weight {
            Some(weight) => weight.saturating_mul(inner.complexity.max(1)),
            None => inner.complexity.saturating_add(1),
        };
        let of_type = f.name.node.as_str() == "ofType";
        Ok(Measure {
            depth: inner.depth.saturating_add(1),
            complexity,
            aliases,
            type_depth: inner.type_depth.saturating_add(usize::from(!of_type)),
            of_type: inner.of_type.saturating_add(usize::from(of_type)),
            introspection: inner.introspection,
        })
    }

    fn fragment(&mut self, name: &'a Name) -> Result<Measure, Refusal> {
        if let Some(known) = self.fragments.get(name) {
            return Ok(*known);
        }
        if self.open.contains(&name) {
            let path: Vec<&str> = self.open.iter().map(|n| n.as_str()).collect();
            return Err(Refusal::FragmentCycle(format!(
                "fragment `{name}` spreads itself (through {}); fragments may not form cycles",
                path.join(" → ")
            )));
        }
        let Some(fragment) = self.doc.fragments.get(name) else {
            // Unknown fragments are reported by validation.
            return Ok(Measure::default());
        };
        self.open.push(name);
        let measured = self.selection_set(&fragment.node.selection_set)?;
        self.open.pop();
        self.fragments.insert(name, measured);
        Ok(measured)
    }
}

impl Limits {
    /// Refuses a document with more tokens, or deeper brackets, than the
    /// parser should be handed. Costs one lexer pass that stops at the
    /// budget, and allocates nothing.
    pub fn check_source(&self, source: &str) -> Result<(), Refusal> {
        use apollo_parser::TokenKind;
        let mut tokens = 0usize;
        let mut nesting = 0usize;
        // Which open brackets an `ofType` opened, and how many are open:
        // the parser gives up at 64 nested selection sets, so a long
        // `ofType` chain is refused here, by its own limit.
        let mut opened_by_of_type = [false; MAX_NESTING + 1];
        let mut of_type = 0usize;
        let mut after_of_type = false;
        // Lexical errors are left to the parser, which reports them with a
        // position; only the counts matter here.
        for token in apollo_parser::Lexer::new(source).flatten() {
            match token.kind() {
                TokenKind::Whitespace | TokenKind::Comment | TokenKind::Comma => continue,
                TokenKind::Eof => break,
                TokenKind::LCurly | TokenKind::LParen | TokenKind::LBracket => {
                    nesting += 1;
                    let by_of_type = after_of_type && token.kind() == TokenKind::LCurly;
                    if let Some(slot) = opened_by_of_type.get_mut(nesting) {
                        *slot = by_of_type;
                    }
                    of_type += usize::from(by_of_type);
                    if of_type > self.introspection_of_type {
                        return Err(Refusal::Limit {
                            limit: "introspection_of_type",
                            message: format!(
                                "the introspection nests `ofType` more than {} deep, the most allowed",
                                self.introspection_of_type
                            ),
                        });
                    }
                    if nesting > MAX_NESTING {
                        return Err(Refusal::Limit {
                            limit: "depth",
                            message: format!(
                                "the document nests brackets more than {MAX_NESTING} deep; at most {} levels of fields are allowed",
                                self.depth
                            ),
                        });
                    }
                }
                TokenKind::RCurly | TokenKind::RParen | TokenKind::RBracket => {
                    if opened_by_of_type.get(nesting).copied().unwrap_or(false) {
                        of_type = of_type.saturating_sub(1);
                    }
                    nesting = nesting.saturating_sub(1);
                }
                _ => {}
            }
            after_of_type = token.kind() == TokenKind::Name && token.data() == "ofType";
            tokens += 1;
            if tokens > self.tokens {
                return Err(Refusal::Limit {
                    limit: "tokens",
                    message: format!(
                        "the document has more than {} tokens; send a smaller query",
                        self.tokens
                    ),
                });
            }
        }
        Ok(())
    }

    /// What a parsed document measures, or the fragment cycle it holds.
    pub fn measure(
        &self,
        doc: &ExecutableDocument,
        variables: &Variables,
    ) -> Result<(Measure, usize, String), Refusal> {
        let mut walk = Walk {
            limits: self,
            doc,
            variables,
            fragments: HashMap::new(),
            open: Vec::new(),
            directives_max: 0,
            directives_field: "",
        };
        let mut total = Measure::default();
        for (_, op) in doc.operations.iter() {
            total.add(walk.selection_set(&op.node.selection_set)?);
        }
        // Fragments never spread are still walked: a cycle among them is an error too.
        for name in doc.fragments.keys() {
            walk.fragment(name)?;
        }
        Ok((total, walk.directives_max, walk.directives_field.to_owned()))
    }

    /// Checks a parsed document against the depth, complexity, alias and
    /// directive limits.
    pub fn check(&self, doc: &ExecutableDocument, variables: &Variables) -> Result<(), Refusal> {
        let (measure, directives, directives_field) = self.measure(doc, variables)?;
        let refuse = |limit, message| Err(Refusal::Limit { limit, message });
        if directives > self.directives {
            return refuse(
                "directives",
                format!(
                    "field `{directives_field}` has {directives} directives; at most {} are allowed on one field",
                    self.directives
                ),
            );
        }
        if measure.aliases > self.aliases {
            return refuse(
                "aliases",
                format!(
                    "the request uses {} aliases; at most {} are allowed",
                    measure.aliases, self.aliases
                ),
            );
        }
        self.check_introspection(&measure.introspection)?;
        if measure.depth > self.depth {
            return refuse(
                "depth",
                format!(
                    "the query is {} levels deep; at most {} are allowed",
                    measure.depth, self.depth
                ),
            );
        }
        if measure.complexity > self.complexity {
            return refuse(
                "complexity",
                format!(
                    "the query is too complex ({}; at most {}, list fields counting once per item of their page size): ask for smaller pages or fewer fields",
                    measure.complexity, self.complexity
                ),
            );
        }
        Ok(())
    }

    /// Checks the introspection of a document against its own limits, and
    /// refuses it outright when introspection is turned off.
    fn check_introspection(&self, measured: &Introspection) -> Result<(), Refusal> {
        let refuse = |limit, message| Err(Refusal::Limit { limit, message });
        if measured.roots == 0 {
            return Ok(());
        }
        if !self.introspection_enabled() {
            return refuse(
                "introspection",
                "introspection (`__schema`, `__type`) is turned off on this server; the schema is published at /schema.graphql".to_owned(),
            );
        }
        if measured.of_type > self.introspection_of_type {
            return refuse(
                "introspection_of_type",
                format!(
                    "the introspection nests `ofType` {} deep; at most {} are allowed",
                    measured.of_type, self.introspection_of_type
                ),
            );
        }
        if measured.depth > self.introspection_depth {
            return refuse(
                "introspection_depth",
                format!(
                    "the introspection is {} levels deep (not counting `ofType`); at most {} are allowed",
                    measured.depth, self.introspection_depth
                ),
            );
        }
        if measured.complexity > self.introspection_complexity {
            return refuse(
                "introspection_complexity",
                format!(
                    "the introspection is too complex ({}; at most {}, each introspection list counting as {INTROSPECTION_LIST_WEIGHT} items): select fewer nested lists or introspect once per request",
                    measured.complexity, self.introspection_complexity
                ),
            );
        }
        Ok(())
    }

    /// Checks a batch's size.
    pub fn check_batch(&self, operations: usize) -> Result<(), Refusal> {
        if operations > self.batch {
            return Err(Refusal::Limit {
                limit: "batch",
                message: format!(
                    "the batch holds {operations} operations; at most {} are allowed",
                    self.batch
                ),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(query: &str) -> Result<(), Refusal> {
        let doc = async_graphql::parser::parse_query(query).expect("parses");
        Limits::default().check(&doc, &Variables::default())
    }

    fn limit(r: Result<(), Refusal>) -> &'static str {
        match r {
            Err(Refusal::Limit { limit, .. }) => limit,
            other => panic!("expected a limit, got {other:?}"),
        }
    }

    fn complexity(query: &str, variables: serde_json::Value) -> usize {
        let doc = async_graphql::parser::parse_query(query).expect("parses");
        let (m, _, _) = Limits::default()
            .measure(&doc, &Variables::from_json(variables))
            .expect("no fragment cycle");
        m.complexity
    }

    #[test]
    fn measures_depth_through_fragments() {
        assert_eq!(check("{ a { b { c } } }"), Ok(()));
        let deep = format!("{}{}", "{ a ".repeat(13), "}".repeat(13));
        assert_eq!(limit(check(&deep)), "depth");
        let via = "query { ...F } fragment F on Q { a { b { c { d { e { f { g { h { i { j { k { l { m } } } } } } } } } } } } }";
        assert_eq!(limit(check(via)), "depth");
    }

    #[test]
    fn counts_aliases_where_fragments_are_spread() {
        let fields: String = (0..10).map(|i| format!("a{i}: __typename ")).collect();
        let q = format!("{{ ...F ...F ...F ...F ...F ...F }} fragment F on Query {{ {fields} }}");
        assert_eq!(limit(check(&q)), "aliases");
    }

    #[test]
    fn refuses_fragment_cycles_without_recursing_forever() {
        let q = "{ ...A } fragment A on Q { ...B } fragment B on Q { ...A }";
        assert!(matches!(check(q), Err(Refusal::FragmentCycle(_))));
        let unused = "{ a } fragment A on Q { ...A }";
        assert!(matches!(check(unused), Err(Refusal::FragmentCycle(_))));
    }

    #[test]
    fn counts_directives_per_field() {
        let q = format!("{{ a {} }}", "@skip(if: false) ".repeat(11));
        assert_eq!(limit(check(&q)), "directives");
    }

    #[test]
    fn weighs_list_fields_by_their_page_size() {
        assert_eq!(complexity("{ a b }", serde_json::json!({})), 2);
        // 20 (the default page) × (nodes 1 + title 1).
        assert_eq!(
            complexity("{ articles { nodes { title } } }", serde_json::json!({})),
            40
        );
        assert_eq!(
            complexity(
                "query($n: Int) { articles(first: $n) { nodes { title } } }",
                serde_json::json!({ "n": 3 })
            ),
            6
        );
        assert_eq!(
            complexity(
                "{ articles(first: 100) { nodes { related { title } } } }",
                serde_json::json!({})
            ),
            100 * (1 + 10)
        );
    }

    #[test]
    fn nested_fragment_fan_out_is_measured_without_expanding_it() {
        // F1 holds one field; each F(n) spreads F(n-1) ten times: F12 stands
        // for 10^11 fields, and is measured in microseconds.
        let mut q = String::from("{ ...F12 } fragment F1 on Query { __typename }");
        for n in 2..=12 {
            let spreads = format!("...F{} ", n - 1).repeat(10);
            q.push_str(&format!(" fragment F{n} on Query {{ {spreads}}}"));
        }
        let started = std::time::Instant::now();
        assert_eq!(limit(check(&q)), "complexity");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "memoised walk"
        );
    }

    #[test]
    fn token_budget_and_nesting_are_checked_before_parsing() {
        let limits = Limits::default();
        assert_eq!(limits.check_source("{ a b c }"), Ok(()));
        let long = format!("{{ {} }}", "a ".repeat(limits.tokens));
        assert_eq!(limit(limits.check_source(&long)), "tokens");
        // Whitespace, commas and comments cost nothing.
        let airy = format!("{{ a {} }}", ", # x\n".repeat(50_000));
        assert_eq!(limits.check_source(&airy), Ok(()));
        let nested = format!("{}{}", "{ a ".repeat(300), "}".repeat(300));
        assert_eq!(limit(limits.check_source(&nested)), "depth");
        let of_type = |n: usize| {
            format!(
                "{{ __type(name: \"A\") {{ {} name {} }} }}",
                "ofType { ".repeat(n),
                "}".repeat(n)
            )
        };
        assert_eq!(limits.check_source(&of_type(10)), Ok(()));
        assert_eq!(
            limit(limits.check_source(&of_type(11))),
            "introspection_of_type"
        );
        // Siblings are not nested.
        let siblings = format!(
            "{{ __type(name: \"A\") {{ {} }} }}",
            "ofType { name } ".repeat(20)
        );
        assert_eq!(limits.check_source(&siblings), Ok(()));
    }

    #[test]
    fn introspection_is_measured_apart_from_the_data_query() {
        let all =
            include_str!("../../../tests/fixtures/introspection-graphql-js-16-all-options.graphql");
        let doc = async_graphql::parser::parse_query(all).expect("parses");
        let (m, _, _) = Limits::default()
            .measure(&doc, &Variables::default())
            .expect("no fragment cycle");
        eprintln!("graphql-js 16, all options: {m:?}");
        assert_eq!(
            (m.depth, m.complexity),
            (1, 1),
            "one field of the data query"
        );
        assert_eq!((m.introspection.depth, m.introspection.of_type), (6, 9));
        assert_eq!(check(all), Ok(()));
        // Beside data, the data query is still bounded as before.
        let deep = format!(
            "{{ __schema {{ types {{ name }} }} {}b{} }}",
            "a { ".repeat(12),
            "}".repeat(12)
        );
        assert_eq!(limit(check(&deep)), "depth");
        let of_type = format!(
            "{{ __type(name: \"A\") {{ {} name {} }} }}",
            "ofType { ".repeat(11),
            "}".repeat(11)
        );
        assert_eq!(limit(check(&of_type)), "introspection_of_type");
        let fan_out =
            "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }";
        assert_eq!(limit(check(fan_out)), "introspection_depth");
        let off = Limits {
            introspection: false,
            ..Limits::default()
        };
        let doc = async_graphql::parser::parse_query(
            "{ ...F } fragment F on Query { __type(name: \"A\") { name } }",
        )
        .expect("parses");
        assert_eq!(
            limit(off.check(&doc, &Variables::default())),
            "introspection"
        );
        let doc = async_graphql::parser::parse_query("{ __typename }").expect("parses");
        assert_eq!(off.check(&doc, &Variables::default()), Ok(()));
    }

    #[test]
    fn every_list_field_of_the_schema_has_a_weight() {
        use async_graphql::parser::types::{BaseType, TypeKind, TypeSystemDefinition};
        let sdl = crate::graphql::sdl();
        let schema = async_graphql::parser::parse_schema(&sdl).expect("the SDL parses");
        let doc = async_graphql::parser::parse_query(
            "{ articles relatedFrom revisions search related subjects changes }",
        )
        .expect("parses");
        let weighed: Vec<String> = match &doc.operations {
            async_graphql::parser::types::DocumentOperations::Single(op) => op
                .node
                .selection_set
                .node
                .items
                .iter()
                .filter_map(|s| match &s.node {
                    Selection::Field(f) => {
                        list_weight(&Limits::default(), &f.node, &Variables::default())
                            .map(|_| f.node.name.node.to_string())
                    }
                    _ => None,
                })
                .collect(),
            async_graphql::parser::types::DocumentOperations::Multiple(_) => Vec::new(),
        };
        for def in &schema.definitions {
            let TypeSystemDefinition::Type(ty) = def else {
                continue;
            };
            let ty = &ty.node;
            let TypeKind::Object(object) = &ty.kind else {
                continue;
            };
            // A connection's own lists are weighed at the connection field.
            if ty.name.node.ends_with("Connection") {
                continue;
            }
            for field in &object.fields {
                let f = &field.node;
                let name = f.name.node.to_string();
                let returns = f.ty.node.to_string();
                let is_object_list = matches!(f.ty.node.base, BaseType::List(_))
                    && !["String", "ID", "Int", "Float", "Boolean"]
                        .iter()
                        .any(|s| returns.contains(s));
                let is_connection = returns.contains("Connection");
                if is_object_list || is_connection {
                    assert!(
                        weighed.contains(&name),
                        "{}.{name}: {returns} has no weight in list_weight",
                        ty.name.node
                    );
                }
            }
        }
    }
}
