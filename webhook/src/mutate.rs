//! Defaulting: the RFC 6902 patch between the spec as sent and as `crds::defaults`
//! fills it. Both sides go through the same typed round trip, so the patch holds only
//! what defaulting added, never a re-encoding of what the user wrote.

use serde_json::{Value, json};

use crate::Error;

fn not_a_spec(reason: impl ToString) -> Error {
    Error::NotASpec(reason.to_string())
}

/// The patch that fills every omitted field of `object` (a SupabaseProject as JSON).
/// An already defaulted object yields an empty patch.
pub fn patch(object: &Value) -> Result<json_patch::Patch, Error> {
    let spec_json = object.get("spec").cloned().ok_or_else(|| not_a_spec("spec is missing"))?;
    let spec: crds::SupabaseProjectSpec = serde_json::from_value(spec_json.clone()).map_err(not_a_spec)?;
    let before = serde_json::to_value(&spec).map_err(not_a_spec)?;
    let after = serde_json::to_value(crds::defaults(spec)).map_err(not_a_spec)?;
    let patch = json_patch::diff(&json!({ "spec": before }), &json!({ "spec": after }));
    // serde also reads a struct from an array (`jwt: [{name: jwt}]`); the apiserver could
    // not apply a patch made for the object form, and its schema check names the field.
    let mut sent = json!({ "spec": spec_json });
    json_patch::patch(&mut sent, &patch).map_err(|e| not_a_spec(format!("spec does not match the schema: {e}")))?;
    Ok(patch)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minimal() -> Value {
        json!({
            "apiVersion": "supabase-operator.io/v1alpha1",
            "kind": "SupabaseProject",
            "metadata": {"name": "demo", "namespace": "ns"},
            "spec": {"apiExternalUrl": "https://api.example.com", "database": {"secretRef": {"name": "db"}}}
        })
    }

    #[test]
    fn a_minimal_project_gets_every_default_and_keeps_what_was_written() {
        let mut object = minimal();
        let p = patch(&object).unwrap();
        assert!(!p.0.is_empty());
        json_patch::patch(&mut object, &p).unwrap();
        let spec = &object["spec"];
        assert_eq!(spec["apiExternalUrl"], "https://api.example.com");
        assert_eq!(spec["siteUrl"], "https://api.example.com");
        assert_eq!(spec["database"]["secretRef"]["name"], "db");
        assert_eq!(spec["database"]["secretRef"]["passwordKey"], "password");
        assert_eq!(spec["database"]["sslMode"], "prefer");
        assert_eq!(spec["storage"]["backend"], "file");
        assert_eq!(spec["components"]["kong"]["image"], "kong/kong:3.9.1");
        assert_eq!(spec["components"]["kong"]["replicas"], 1);
        assert_eq!(spec["components"]["studio"]["enabled"], false);
        assert_eq!(object["metadata"], minimal()["metadata"], "metadata untouched");
    }

    #[test]
    fn defaulting_is_idempotent() {
        let mut object = minimal();
        let p = patch(&object).unwrap();
        json_patch::patch(&mut object, &p).unwrap();
        assert_eq!(patch(&object).unwrap().0, vec![]);
    }

    #[test]
    fn user_values_are_never_replaced() {
        let mut object = minimal();
        object["spec"]["components"] = json!({"kong": {"replicas": 3, "image": "kong/kong:3.8.0"}});
        object["spec"]["siteUrl"] = json!("https://app.example.com");
        let p = patch(&object).unwrap();
        let ops = serde_json::to_value(&p).unwrap();
        for op in ops.as_array().unwrap() {
            assert_eq!(op["op"], "add", "{op}");
            let path = op["path"].as_str().unwrap();
            assert!(
                !["/spec/siteUrl", "/spec/components/kong/replicas", "/spec/components/kong/image"].contains(&path)
            );
        }
    }

    #[test]
    fn a_spec_of_the_wrong_shape_is_reported() {
        assert!(patch(&json!({"metadata": {}})).is_err());
        let e = patch(&json!({"spec": {"apiExternalUrl": 5}})).unwrap_err();
        assert!(e.to_string().contains("schema"), "{e}");
        // Found by tests/fuzz.rs: a struct written as an array.
        let mut object = minimal();
        object["spec"]["jwt"] = json!([{"name": "jwt"}]);
        assert!(patch(&object).is_err());
    }
}
