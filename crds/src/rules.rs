//! The admission rules the reconciler checks again before it acts: the project name
//! leaves room for every derived name, and every referenced Secret and key is there
//! and non-empty. Pure functions that return what they found (field, Secret, key),
//! never a message: the webhook words its denial and the reconciler its refusal from
//! the same findings, so the two cannot disagree about what is wrong.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use crate::names;
use crate::refs::KeyRef;

/// A project name too long for the names derived from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameTooLong {
    /// The longest name that fits.
    pub max: usize,
    /// The longest derived name, which does not fit.
    pub longest: String,
}

/// Whether every name derived from `name` fits in a DNS label.
pub fn name_length(name: &str) -> Result<(), NameTooLong> {
    let max = names::max_project_name_len();
    if name.len() <= max {
        return Ok(());
    }
    let longest = names::derived(name).into_iter().max_by_key(String::len).unwrap_or_default();
    Err(NameTooLong { max, longest })
}

/// A Secret's data as the caller holds it.
pub trait SecretKeys {
    /// The value of `key`, if the Secret has it.
    fn value(&self, key: &str) -> Option<&[u8]>;
}

impl SecretKeys for BTreeMap<String, Vec<u8>> {
    fn value(&self, key: &str) -> Option<&[u8]> {
        self.get(key).map(Vec::as_slice)
    }
}

/// What the caller knows of one referenced Secret.
#[derive(Clone, Copy)]
pub enum Held<'a> {
    /// Read: its data.
    Found(&'a dyn SecretKeys),
    /// No Secret of that name in the project's namespace.
    Missing,
    /// It could not be read; why (a reason that names no value).
    Unreadable(&'a str),
}

impl std::fmt::Debug for Held<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the data.
        match self {
            Held::Found(_) => f.write_str("Found"),
            Held::Missing => f.write_str("Missing"),
            Held::Unreadable(why) => f.debug_tuple("Unreadable").field(why).finish(),
        }
    }
}

/// What is wrong with a reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// It names no Secret.
    NoName,
    /// The Secret does not exist.
    NotFound,
    /// The Secret could not be read, and why.
    Unreadable(String),
    /// The Secret has no such key.
    NoKey,
    /// The key's value is empty or only whitespace.
    Empty,
    /// The key's value is not UTF-8 text.
    NotText,
}

/// One problem of one reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding<'r> {
    /// The reference.
    pub reference: &'r KeyRef,
    /// Where to report it: the reference's `name` field for a problem of the whole
    /// Secret (reported once however many keys it holds), its key field otherwise.
    pub field: Cow<'static, str>,
    /// What is wrong.
    pub problem: Problem,
}

/// The path of the `name` field next to a key field (`...secretRef.passwordKey` →
/// `...secretRef.name`).
pub fn name_field(key_path: &str) -> String {
    match key_path.rsplit_once('.') {
        Some((parent, _)) => format!("{parent}.name"),
        None => key_path.to_string(),
    }
}

fn key_problem(value: Option<&[u8]>) -> Option<Problem> {
    match value {
        None => Some(Problem::NoKey),
        Some(v) if v.iter().all(u8::is_ascii_whitespace) => Some(Problem::Empty),
        Some(v) if std::str::from_utf8(v).is_err() => Some(Problem::NotText),
        Some(_) => None,
    }
}

/// Every referenced Secret exists and holds every key it is read for, non-empty and
/// text. `lookup` says what the caller holds of a Secret, by name.
pub fn secret_references<'r, 'a>(refs: &'r [KeyRef], lookup: impl Fn(&str) -> Held<'a>) -> Vec<Finding<'r>> {
    let mut out = Vec::new();
    let mut reported = BTreeSet::new();
    for r in refs {
        let problem = if r.secret.is_empty() {
            Problem::NoName
        } else {
            match lookup(&r.secret) {
                Held::Found(data) => {
                    if let Some(problem) = key_problem(data.value(&r.key)) {
                        out.push(Finding { reference: r, field: Cow::Borrowed(r.path), problem });
                    }
                    continue;
                }
                Held::Missing => Problem::NotFound,
                Held::Unreadable(why) => Problem::Unreadable(why.to_string()),
            }
        };
        // Only a problem needs the field's name; building it for every reference of
        // every review showed up in the webhook's profiles.
        let field = name_field(r.path);
        if reported.insert(field.clone()) {
            out.push(Finding { reference: r, field: Cow::Owned(field), problem });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::SupabaseProjectSpec;
    use crate::refs::referenced;

    fn spec(yaml: &str) -> SupabaseProjectSpec {
        serde_yaml::from_str(yaml).expect("spec")
    }

    fn data(pairs: &[(&str, &[u8])]) -> BTreeMap<String, Vec<u8>> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_vec())).collect()
    }

    #[test]
    fn names_that_fit_pass_and_longer_ones_name_the_longest_derived_name() {
        let max = names::max_project_name_len();
        assert_eq!(name_length(&"a".repeat(max)), Ok(()));
        let long = "a".repeat(max + 1);
        let found = name_length(&long).expect_err("too long");
        assert_eq!(found.max, max);
        assert!(found.longest.starts_with(&long) && found.longest.len() > names::MAX_LABEL, "{found:?}");
    }

    #[test]
    fn a_missing_secret_is_found_once_at_its_name_field() {
        let refs = referenced(&spec("apiExternalUrl: https://x\ndatabase: {secretRef: {name: db}}\n"));
        assert_eq!(refs.len(), 4, "host, port, database and password");
        let found = secret_references(&refs, |_| Held::Missing);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].field, "spec.database.secretRef.name");
        assert_eq!((found[0].reference.secret.as_str(), &found[0].problem), ("db", &Problem::NotFound));
        let found = secret_references(&refs, |_| Held::Unreadable("timeout"));
        assert_eq!(found[0].problem, Problem::Unreadable("timeout".into()));
    }

    #[test]
    fn missing_blank_and_binary_keys_are_found_at_their_key_fields() {
        let refs = referenced(&spec("apiExternalUrl: https://x\ndatabase: {secretRef: {name: db}}\n"));
        let db = data(&[("host", b"pg"), ("port", b" \n"), ("database", &[0xff, 0xfe])]);
        let found = secret_references(&refs, |_| Held::Found(&db));
        let got: Vec<(&str, Problem)> = found.iter().map(|f| (f.field.as_ref(), f.problem.clone())).collect();
        assert_eq!(
            got,
            [
                ("spec.database.secretRef.portKey", Problem::Empty),
                ("spec.database.secretRef.databaseKey", Problem::NotText),
                ("spec.database.secretRef.passwordKey", Problem::NoKey),
            ]
        );
        let full = data(&[("host", b"pg"), ("port", b"5432"), ("database", b"postgres"), ("password", b"pw")]);
        assert!(secret_references(&refs, |_| Held::Found(&full)).is_empty());
    }

    #[test]
    fn a_reference_without_a_name_is_found_at_its_name_field() {
        let refs = referenced(&spec("apiExternalUrl: https://x\ndatabase: {secretRef: {name: ''}}\n"));
        let found = secret_references(&refs, |_| panic!("nothing to look up"));
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].field.as_ref(), &found[0].problem), ("spec.database.secretRef.name", &Problem::NoName));
    }
}
