//! Puts a response's fields in the order the query selected them, as the
//! GraphQL spec's `CollectFields` orders the response map.
//!
//! async-graphql resolves an object's fields concurrently and inserts each
//! into the result as it completes, so a fast `__typename` overtakes a slow
//! `article`. The order is restored here, once, after execution.

use async_graphql::Value;
use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationDefinition, Selection, SelectionSet,
};
use async_graphql::{Name, Positioned};

/// Reorders `data`, the result of `operation_name` in `doc`, into selection order.
pub fn in_selection_order(
    data: &mut Value,
    doc: &ExecutableDocument,
    operation_name: Option<&str>,
) {
    if let Some(op) = operation(doc, operation_name) {
        order(data, &[&op.selection_set], doc);
    }
}

fn operation<'d>(
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

/// Response keys in selection order, each with the selection sets of every
/// field that answers under it (same-named fields merge).
type Keys<'d> = IndexMap<&'d str, Vec<&'d Positioned<SelectionSet>>>;

fn collect<'d>(
    sets: &[&'d Positioned<SelectionSet>],
    doc: &'d ExecutableDocument,
    keys: &mut Keys<'d>,
) {
    for set in sets {
        for item in &set.node.items {
            match &item.node {
                Selection::Field(field) => {
                    let key = field.node.response_key().node.as_str();
                    keys.entry(key).or_default().push(&field.node.selection_set);
                }
                Selection::InlineFragment(inline) => {
                    collect(&[&inline.node.selection_set], doc, keys);
                }
                Selection::FragmentSpread(spread) => {
                    // Validation has refused cycles before execution.
                    if let Some(fragment) = doc.fragments.get(&spread.node.fragment_name.node) {
                        collect(&[&fragment.node.selection_set], doc, keys);
                    }
                }
            }
        }
    }
}

fn order(value: &mut Value, sets: &[&Positioned<SelectionSet>], doc: &ExecutableDocument) {
    match value {
        Value::List(items) => {
            for item in items {
                order(item, sets, doc);
            }
        }
        Value::Object(map) => {
            let mut keys = Keys::new();
            collect(sets, doc, &mut keys);
            let mut unordered: IndexMap<Name, Value> = std::mem::take(map);
            for (key, inner) in &keys {
                if let Some((name, mut v)) = unordered.swap_remove_entry(*key) {
                    if inner.iter().any(|s| !s.node.items.is_empty()) {
                        order(&mut v, inner, doc);
                    }
                    map.insert(name, v);
                }
            }
            // Nothing else is expected; whatever is left keeps a place.
            map.extend(unordered);
        }
        _ => {}
    }
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
