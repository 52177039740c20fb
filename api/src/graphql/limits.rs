//! Limits checked before a request runs: operations per batch, aliases,
//! directives per field and depth, each refused with `QUERY_LIMIT` and the
//! limit's name. async-graphql itself enforces complexity (with list fields
//! weighted by their page size); its refusal is renamed the same way.

use std::collections::HashMap;
use std::time::Duration;

use async_graphql::Positioned;
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};

/// The limits of SPEC §6, all configurable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Deepest selection nesting.
    pub depth: usize,
    /// Highest complexity (each field 1, list fields times their page size).
    pub complexity: usize,
    /// Most aliases in one request (fragments counted where they are spread).
    pub aliases: usize,
    /// Most directives on one field.
    pub directives: usize,
    /// Most operations in one batch.
    pub batch: usize,
    /// Longest a request may run.
    pub timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            depth: 12,
            complexity: 5_000,
            aliases: 50,
            directives: 10,
            batch: 10,
            timeout: Duration::from_secs(10),
        }
    }
}

/// A limit a request exceeds, or a fragment cycle (a validation error that
/// must be caught before anything walks the fragments).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// `QUERY_LIMIT` with this `limit` name.
    Limit {
        /// `depth`, `aliases`, `directives`, `batch`, `complexity` or `timeout`.
        limit: &'static str,
        /// What was exceeded and by how much.
        message: String,
    },
    /// A fragment that spreads itself, directly or not.
    FragmentCycle(String),
}

/// What a walk of the document measured; fragments are measured once each.
#[derive(Default)]
struct Walk<'a> {
    doc: Option<&'a ExecutableDocument>,
    /// Depth and alias count of each fragment, once known.
    fragments: HashMap<&'a str, (usize, usize)>,
    /// Fragments being walked (a spread of one of these is a cycle).
    open: Vec<&'a str>,
    directives_max: usize,
    directives_field: String,
}

impl<'a> Walk<'a> {
    /// Depth and aliases of a selection set (its fields at depth 1).
    fn selection_set(
        &mut self,
        set: &'a Positioned<SelectionSet>,
    ) -> Result<(usize, usize), Refusal> {
        let mut depth = 0;
        let mut aliases = 0usize;
        for item in &set.node.items {
            match &item.node {
                Selection::Field(field) => {
                    let f = &field.node;
                    if f.directives.len() > self.directives_max {
                        self.directives_max = f.directives.len();
                        self.directives_field = f.name.node.to_string();
                    }
                    let (d, a) = self.selection_set(&f.selection_set)?;
                    depth = depth.max(d + 1);
                    aliases = aliases
                        .saturating_add(a)
                        .saturating_add(usize::from(f.alias.is_some()));
                }
                Selection::InlineFragment(inline) => {
                    let (d, a) = self.selection_set(&inline.node.selection_set)?;
                    depth = depth.max(d);
                    aliases = aliases.saturating_add(a);
                }
                Selection::FragmentSpread(spread) => {
                    let (d, a) = self.fragment(spread.node.fragment_name.node.as_str())?;
                    depth = depth.max(d);
                    aliases = aliases.saturating_add(a);
                }
            }
        }
        Ok((depth, aliases))
    }

    fn fragment(&mut self, name: &'a str) -> Result<(usize, usize), Refusal> {
        if let Some(known) = self.fragments.get(name) {
            return Ok(*known);
        }
        if self.open.contains(&name) {
            return Err(Refusal::FragmentCycle(format!(
                "fragment `{name}` spreads itself (through {}); fragments may not form cycles",
                self.open.join(" → ")
            )));
        }
        let Some(fragment) = self.doc.and_then(|d| d.fragments.get(name)) else {
            // Unknown fragments are reported by validation.
            return Ok((0, 0));
        };
        self.open.push(name);
        let measured = self.selection_set(&fragment.node.selection_set)?;
        self.open.pop();
        self.fragments.insert(name, measured);
        Ok(measured)
    }
}

impl Limits {
    /// Checks a parsed document against the depth, alias and directive limits.
    pub fn check(&self, doc: &ExecutableDocument) -> Result<(), Refusal> {
        let mut walk = Walk {
            doc: Some(doc),
            ..Default::default()
        };
        let mut depth = 0;
        let mut aliases = 0usize;
        for (_, op) in doc.operations.iter() {
            let (d, a) = walk.selection_set(&op.node.selection_set)?;
            depth = depth.max(d);
            aliases = aliases.saturating_add(a);
        }
        // Fragments never spread are still walked: a cycle among them is an error too.
        let names: Vec<&str> = doc.fragments.keys().map(|n| n.as_str()).collect();
        for name in names {
            walk.fragment(name)?;
        }
        if walk.directives_max > self.directives {
            return Err(Refusal::Limit {
                limit: "directives",
                message: format!(
                    "field `{}` has {} directives; at most {} are allowed on one field",
                    walk.directives_field, walk.directives_max, self.directives
                ),
            });
        }
        if aliases > self.aliases {
            return Err(Refusal::Limit {
                limit: "aliases",
                message: format!(
                    "the request uses {aliases} aliases; at most {} are allowed",
                    self.aliases
                ),
            });
        }
        if depth > self.depth {
            return Err(Refusal::Limit {
                limit: "depth",
                message: format!(
                    "the query is {depth} levels deep; at most {} are allowed",
                    self.depth
                ),
            });
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
        Limits::default().check(&doc)
    }

    fn limit(r: Result<(), Refusal>) -> &'static str {
        match r {
            Err(Refusal::Limit { limit, .. }) => limit,
            other => panic!("expected a limit, got {other:?}"),
        }
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
}
