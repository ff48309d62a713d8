//! The exported schema: schema.graphql is exactly `authql schema`, and it
//! covers the public contract (tests/contract.graphql) type by type.

use std::collections::{BTreeMap, BTreeSet};

use async_graphql::parser::parse_schema;
use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};

/// Contract members that later capabilities add. Each entry must really be
/// missing (or still of its old type); remove it when the capability lands.
const PENDING: &[&str] = &[];

/// Every member of an SDL document: `Type` -> kind, `Type.field` -> type,
/// `Type.field(arg)` -> type and default, `Enum.VALUE`.
fn members(sdl: &str) -> BTreeMap<String, String> {
    let doc = parse_schema(sdl).expect("valid SDL");
    let mut out = BTreeMap::new();
    for def in doc.definitions {
        let TypeSystemDefinition::Type(t) = def else {
            continue;
        };
        let name = t.node.name.node.to_string();
        match t.node.kind {
            TypeKind::Scalar => {
                out.insert(name, "scalar".into());
            }
            TypeKind::Object(o) => {
                out.insert(name.clone(), "type".into());
                for f in o.fields {
                    let field = format!("{name}.{}", f.node.name.node);
                    for a in f.node.arguments {
                        let default = a
                            .node
                            .default_value
                            .map(|d| format!(" = {}", d.node))
                            .unwrap_or_default();
                        out.insert(
                            format!("{field}({})", a.node.name.node),
                            format!("{}{default}", a.node.ty.node),
                        );
                    }
                    out.insert(field, f.node.ty.node.to_string());
                }
            }
            TypeKind::InputObject(i) => {
                out.insert(name.clone(), "input".into());
                for f in i.fields {
                    out.insert(format!("{name}.{}", f.node.name.node), f.node.ty.node.to_string());
                }
            }
            TypeKind::Enum(e) => {
                out.insert(name.clone(), "enum".into());
                for v in e.values {
                    out.insert(format!("{name}.{}", v.node.value.node), "value".into());
                }
            }
            other => panic!("unexpected kind in the contract: {other:?}"),
        }
    }
    out
}

fn is_pending(member: &str) -> bool {
    PENDING
        .iter()
        .any(|p| member == *p || member.starts_with(&format!("{p}.")) || member.starts_with(&format!("{p}(")))
}

#[test]
fn the_schema_covers_the_contract() {
    let contract = members(include_str!("contract.graphql"));
    let ours = members(&authql::graphql::sdl());
    let mut missing = Vec::new();
    let mut different = Vec::new();
    for (member, kind) in &contract {
        match ours.get(member) {
            None if is_pending(member) => {}
            None => missing.push(member.clone()),
            Some(got) if is_pending(member) && got == kind => {
                panic!("{member} is implemented now: remove it from PENDING")
            }
            // A member whose type the pending capability changes.
            Some(_) if is_pending(member) => {}
            Some(got) if got != kind => different.push(format!("{member}: contract {kind}, schema {got}")),
            Some(_) => {}
        }
    }
    assert!(missing.is_empty(), "missing from the schema: {missing:#?}");
    assert!(different.is_empty(), "differs from the contract: {different:#?}");
    let unknown: BTreeSet<_> = PENDING.iter().filter(|p| !contract.keys().any(|m| m == *p)).collect();
    assert!(
        unknown.is_empty(),
        "PENDING names what the contract does not have: {unknown:?}"
    );
}

#[test]
fn schema_graphql_is_the_exported_schema() {
    let exported = authql::graphql::sdl();
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql")).unwrap();
    assert!(committed == exported, "schema.graphql is stale: run `just schema`");
}

#[test]
fn the_binary_prints_the_same_schema() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_authql"))
        .arg("schema")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), authql::graphql::sdl());
}
