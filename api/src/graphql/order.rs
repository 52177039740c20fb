//! Puts a response's fields in the order the query selected them, as the
//! GraphQL spec's `CollectFields` orders the response map.
//!
//! async-graphql resolves an object's fields concurrently and inserts each
//! into the result as it completes, so a fast `__typename` overtakes a slow
//! `article`. The order is restored here, once, after execution.

use std::cell::OnceCell;

use async_graphql::Value;
use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, Field, OperationDefinition, Selection, SelectionSet,
};
use async_graphql::{Name, Positioned};

/// Reorders `data`, the result of `operation_name` in `doc`, into selection order.
pub fn in_selection_order(
    data: &mut Value,
    doc: &ExecutableDocument,
    operation_name: Option<&str>,
) {
    if let Some(op) = operation(doc, operation_name) {
        order(data, &Plan::of(&[&op.selection_set], doc), doc);
    }
}

/// The operation `name` picks in `doc` (the only one when `name` is `None`).
pub(crate) fn operation<'d>(
    doc: &'d ExecutableDocument,
    name: Option<&str>,
) -> Option<&'d OperationDefinition> {
    match (&doc.operations, name) {
        (DocumentOperations::Single(op), _) => Some(&op.node),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name).map(|op| &op.node),
        (DocumentOperations::Multiple(ops), None) => ops
            .values()
            .next()
            .filter(|_| ops.len() == 1)
            .map(|op| &op.node),
    }
}

/// The response keys of one place in the selection, in selection order.
/// Made once per place and shared by every object answered there (the 20
/// articles of a page, their links), not once per object; a key's own plan
/// is made when an answer first needs it, so its cost follows the data.
struct Plan<'d> {
    keys: IndexMap<&'d str, Child<'d>>,
}

/// The selection sets of every field that answers under a key (same-named
/// fields merge), and their plan once needed.
struct Child<'d> {
    sets: Vec<&'d Positioned<SelectionSet>>,
    plan: OnceCell<Plan<'d>>,
}

impl<'d> Plan<'d> {
    fn of(sets: &[&'d Positioned<SelectionSet>], doc: &'d ExecutableDocument) -> Self {
        let mut plan = Plan {
            keys: IndexMap::new(),
        };
        plan.collect(sets, doc);
        plan
    }

    fn collect(&mut self, sets: &[&'d Positioned<SelectionSet>], doc: &'d ExecutableDocument) {
        for set in sets {
            for item in &set.node.items {
                match &item.node {
                    Selection::Field(field) => {
                        let key = field.node.response_key().node.as_str();
                        self.keys
                            .entry(key)
                            .or_insert_with(|| Child {
                                sets: Vec::new(),
                                plan: OnceCell::new(),
                            })
                            .sets
                            .push(&field.node.selection_set);
                    }
                    Selection::InlineFragment(inline) => {
                        self.collect(&[&inline.node.selection_set], doc);
                    }
                    Selection::FragmentSpread(spread) => {
                        // Validation has refused cycles before execution.
                        if let Some(fragment) = doc.fragments.get(&spread.node.fragment_name.node) {
                            self.collect(&[&fragment.node.selection_set], doc);
                        }
                    }
                }
            }
        }
    }
}

fn order<'d>(value: &mut Value, plan: &Plan<'d>, doc: &'d ExecutableDocument) {
    match value {
        Value::List(items) => {
            for item in items {
                order(item, plan, doc);
            }
        }
        Value::Object(map) => {
            // Most objects come out in order already: rebuild only the others.
            let in_order = map.len() == plan.keys.len()
                && map
                    .keys()
                    .zip(plan.keys.keys())
                    .all(|(a, b)| a.as_str() == *b);
            if !in_order {
                let mut unordered: IndexMap<Name, Value> = std::mem::take(map);
                for key in plan.keys.keys() {
                    if let Some((name, v)) = unordered.swap_remove_entry(*key) {
                        map.insert(name, v);
                    }
                }
                // Nothing else is expected; whatever is left keeps a place.
                map.extend(unordered);
            }
            for (key, value) in map.iter_mut() {
                if let Some(child) = plan.keys.get(key.as_str())
                    && child.sets.iter().any(|s| !s.node.items.is_empty())
                {
                    let inner = child.plan.get_or_init(|| Plan::of(&child.sets, doc));
                    order(value, inner, doc);
                }
            }
        }
        _ => {}
    }
}

/// Sets `description` to null in every `__schema` object of `data`, the
/// result of `operation_name` in `doc`: async-graphql answers a fixed text
/// of its own, but the SDL has no description (graphql-js would then print
/// a `schema` block the SDL lacks), and async-graphql has no way to set one.
pub fn null_schema_description(
    data: &mut Value,
    doc: &ExecutableDocument,
    operation_name: Option<&str>,
) {
    let (Some(op), Value::Object(root)) = (operation(doc, operation_name), data) else {
        return;
    };
    for schema in fields(&[&op.selection_set], doc) {
        if schema.name.node != "__schema" {
            continue;
        }
        let key = schema.response_key().node.as_str();
        let Some(Value::Object(answer)) = root.get_mut(key) else {
            continue;
        };
        for field in fields(&[&schema.selection_set], doc) {
            if field.name.node == "description"
                && let Some(value) = answer.get_mut(field.response_key().node.as_str())
            {
                *value = Value::Null;
            }
        }
    }
}

/// The fields of `sets`, fragments spread.
fn fields<'d>(
    sets: &[&'d Positioned<SelectionSet>],
    doc: &'d ExecutableDocument,
) -> Vec<&'d Field> {
    let mut out = Vec::new();
    for set in sets {
        for item in &set.node.items {
            match &item.node {
                Selection::Field(field) => out.push(&field.node),
                Selection::InlineFragment(inline) => {
                    out.extend(fields(&[&inline.node.selection_set], doc));
                }
                Selection::FragmentSpread(spread) => {
                    if let Some(fragment) = doc.fragments.get(&spread.node.fragment_name.node) {
                        out.extend(fields(&[&fragment.node.selection_set], doc));
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reorders_nested_objects_lists_and_fragments() {
        let doc = async_graphql::parser::parse_query(
            "{ z: a { y x ...F } b { ... on T { q p } } } fragment F on A { w }",
        )
        .expect("parses");
        let mut data = Value::from_json(serde_json::json!({
            "b": [{ "p": 1, "q": 2 }],
            "z": { "w": 0, "x": 1, "y": 2 }
        }))
        .expect("value");
        in_selection_order(&mut data, &doc, None);
        let text = data.into_json().expect("json").to_string();
        assert_eq!(text, r#"{"z":{"y":2,"x":1,"w":0},"b":[{"q":2,"p":1}]}"#);
    }
}
