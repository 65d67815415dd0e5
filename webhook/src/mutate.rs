//! Defaulting: the RFC 6902 patch that adds what `crds::defaults` fills to the spec as
//! sent. Defaulting only ever fills omissions, so the patch is a walk over the
//! defaulted spec adding each member the sent spec lacks (`omitted`); what the user
//! wrote is never re-encoded or replaced. (A generic diff of two typed round trips gave
//! the same patch at twice the cost.)

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Error;
use crate::omitted::{Beside, Found};

fn not_a_spec(reason: impl ToString) -> Error {
    Error::NotASpec(reason.to_string())
}

/// The patch that fills every omitted field of `sent` (a SupabaseProject's spec as the
/// review carried it), as RFC 6902 JSON text; its paths start at the object
/// (`/spec/...`). A defaulted spec yields `None`. `admitted` says whether the project is
/// new (see `crds::Admitted`: only a new project's omitted `spec.jwt.keys` becomes
/// `both`).
pub fn patch(sent: &Value, admitted: crds::Admitted) -> Result<Option<Vec<u8>>, Error> {
    patch_update(sent, admitted, None)
}

/// [`patch`] for an UPDATE whose stored spec is `previous`: when `spec.release` changes,
/// the images that followed the old release move to the new one's (see
/// `crds::release::follow`). The patch then `add`s those images over the sent ones,
/// which RFC 6902 defines as replacing an existing member.
pub fn patch_update(
    sent: &Value,
    admitted: crds::Admitted,
    previous: Option<&crds::SupabaseProjectSpec>,
) -> Result<Option<Vec<u8>>, Error> {
    let mut spec = crds::SupabaseProjectSpec::deserialize(sent).map_err(not_a_spec)?;
    // A client that replaces the object without `release` (or a server-side apply that
    // drops the fields the webhook wrote) keeps the project's release: its omitted
    // images are then filled from it, never from a newer one.
    if let Some(previous) = previous
        && spec.release.is_none()
    {
        spec.release = crds::release::of(previous).map(|r| r.name.to_string());
    }
    let moved = previous.map(|p| crds::release::follow(&mut spec, p)).unwrap_or_default();
    let without_moved;
    let sent = if moved.is_empty() {
        sent
    } else {
        let mut copy = sent.clone();
        for c in &moved {
            if let Some(component) =
                copy.pointer_mut(&format!("/components/{}", c.name())).and_then(Value::as_object_mut)
            {
                component.remove("image");
            }
        }
        without_moved = copy;
        &without_moved
    };
    let mut found = Found::at("/spec");
    crds::defaults_as(spec, admitted).serialize(Beside { sent, found: &mut found }).map_err(not_a_spec)?;
    let (text, ops) = found.into_patch();
    Ok((ops > 0).then_some(text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    /// The patch for a whole object, as the webhook computes it from the object's spec,
    /// read back by json-patch (so it is also checked to be a well-formed RFC 6902 patch).
    fn of(object: &Value) -> Result<json_patch::Patch, Error> {
        of_as(object, crds::Admitted::Created)
    }

    fn of_as(object: &Value, admitted: crds::Admitted) -> Result<json_patch::Patch, Error> {
        let text = patch(object.get("spec").unwrap_or(&Value::Null), admitted)?;
        Ok(text.map(|t| serde_json::from_slice(&t).unwrap()).unwrap_or(json_patch::Patch(vec![])))
    }

    fn minimal() -> Value {
        json!({
            "apiVersion": "supabase-operator.io/v1alpha1",
            "kind": "SupabaseProject",
            "metadata": {"name": "demo", "namespace": "ns"},
            "spec": {"apiExternalUrl": "https://api.example.com", "database": {"secretRef": {"name": "db"}}}
        })
    }

    /// A one-field upgrade: the stored project on 0.8.0 with one image of its own, sent
    /// back with only `spec.release` changed.
    #[test]
    fn changing_the_release_replaces_the_images_that_followed_it_and_keeps_overrides() {
        let mut stored = minimal();
        stored["spec"]["release"] = json!("0.8.0");
        stored["spec"]["components"] = json!({"meta": {"image": "registry.example.com/meta:mine"}});
        let p = of(&stored).unwrap();
        json_patch::patch(&mut stored, &p).unwrap();
        assert_eq!(stored["spec"]["components"]["auth"]["image"], "supabase/gotrue:v2.189.0");
        let previous: crds::SupabaseProjectSpec = serde_json::from_value(stored["spec"].clone()).unwrap();

        let mut sent = stored.clone();
        sent["spec"]["release"] = json!("0.8.1");
        let text =
            patch_update(&sent["spec"], crds::Admitted::Stored(Default::default()), Some(&previous)).unwrap().unwrap();
        let p: json_patch::Patch = serde_json::from_slice(&text).unwrap();
        json_patch::patch(&mut sent, &p).unwrap();
        let c = &sent["spec"]["components"];
        assert_eq!(c["auth"]["image"], "supabase/gotrue:v2.196.0");
        assert_eq!(c["storage"]["image"], "supabase/storage-api:v1.74.0");
        assert_eq!(c["studio"]["image"], "supabase/studio:2026.09.07-sha-7996410");
        assert_eq!(c["meta"]["image"], "registry.example.com/meta:mine", "an override stays");
        assert_eq!(c["auth"]["replicas"], stored["spec"]["components"]["auth"]["replicas"]);

        // Sent again as stored now, nothing changes.
        let now: crds::SupabaseProjectSpec = serde_json::from_value(sent["spec"].clone()).unwrap();
        assert_eq!(patch_update(&sent["spec"], crds::Admitted::Stored(Default::default()), Some(&now)).unwrap(), None);
    }

    /// An UPDATE that omits the release and the images (a replace, or a server-side apply
    /// of a manifest without them) keeps the stored release's images.
    #[test]
    fn an_update_without_release_or_images_keeps_the_stored_release() {
        let mut stored = minimal();
        stored["spec"]["release"] = json!("0.8.0");
        let p = of(&stored).unwrap();
        json_patch::patch(&mut stored, &p).unwrap();
        let previous: crds::SupabaseProjectSpec = serde_json::from_value(stored["spec"].clone()).unwrap();
        let mut sent = minimal();
        let text =
            patch_update(&sent["spec"], crds::Admitted::Stored(Default::default()), Some(&previous)).unwrap().unwrap();
        let p: json_patch::Patch = serde_json::from_slice(&text).unwrap();
        json_patch::patch(&mut sent, &p).unwrap();
        assert_eq!(sent["spec"]["release"], "0.8.0");
        assert_eq!(sent["spec"]["components"]["auth"]["image"], "supabase/gotrue:v2.189.0");
    }

    #[test]
    fn a_new_project_is_on_the_newest_release_and_one_on_an_older_release_gets_its_images() {
        let mut object = minimal();
        let p = of(&object).unwrap();
        json_patch::patch(&mut object, &p).unwrap();
        assert_eq!(object["spec"]["release"], "0.8.1");
        let mut older = minimal();
        older["spec"]["release"] = json!("0.8.0");
        let p = of(&older).unwrap();
        json_patch::patch(&mut older, &p).unwrap();
        assert_eq!(older["spec"]["components"]["realtime"]["image"], "supabase/realtime:v2.102.3");
    }

    #[test]
    fn a_minimal_project_gets_every_default_and_keeps_what_was_written() {
        let mut object = minimal();
        let p = of(&object).unwrap();
        assert!(!p.0.is_empty());
        json_patch::patch(&mut object, &p).unwrap();
        let spec = &object["spec"];
        assert_eq!(spec["apiExternalUrl"], "https://api.example.com");
        assert_eq!(spec["siteUrl"], "https://api.example.com");
        assert_eq!(spec["database"]["secretRef"]["name"], "db");
        assert_eq!(spec["database"]["secretRef"]["passwordKey"], "password");
        assert_eq!(spec["database"]["sslMode"], "prefer");
        assert_eq!(spec["storage"]["backend"], "file");
        assert_eq!(spec["components"]["kong"]["image"], "kong/kong:3.9.3");
        assert_eq!(spec["components"]["kong"]["replicas"], 1);
        assert_eq!(spec["components"]["studio"]["enabled"], false);
        assert_eq!(object["metadata"], minimal()["metadata"], "metadata untouched");
    }

    /// Applying the patch to what was sent gives exactly the defaulted spec: for every
    /// sample a user might start from, and for a spec that sets fields deep inside.
    #[test]
    fn the_patched_spec_is_the_defaulted_spec() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/samples");
        let mut specs: Vec<Value> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
            .flat_map(|p| {
                let text = std::fs::read_to_string(p).unwrap();
                serde_yaml::Deserializer::from_str(&text).map(|d| Value::deserialize(d).unwrap()).collect::<Vec<_>>()
            })
            .filter(|doc| doc["kind"] == "SupabaseProject")
            .map(|doc| doc["spec"].clone())
            .collect();
        assert!(specs.len() >= 3, "samples: {}", specs.len());
        let mut deep = minimal()["spec"].clone();
        deep["components"] = json!({"auth": {"resources": {"limits": {"cpu": "2"}}}, "studio": {"enabled": true}});
        deep["smtp"] = json!({"host": "smtp.example.com", "sender": "noreply@example.com", "secretRef": {"name": "smtp"}, "senderName": null});
        specs.push(deep);
        for sent in specs {
            let mut object = json!({ "spec": sent.clone() });
            json_patch::patch(&mut object, &of(&json!({ "spec": sent.clone() })).unwrap()).unwrap();
            let typed: crds::SupabaseProjectSpec = serde_json::from_value(sent).unwrap();
            let defaulted = crds::defaults_as(typed, crds::Admitted::Created);
            assert_eq!(object["spec"], serde_json::to_value(defaulted).unwrap());
        }
    }

    #[test]
    fn only_a_new_project_gets_the_new_keys_by_default() {
        use crds::Admitted;
        use crds::project::KeyScheme;
        let keys_after = |admitted| {
            let mut object = minimal();
            let p = of_as(&object, admitted).unwrap();
            json_patch::patch(&mut object, &p).unwrap();
            object["spec"]["jwt"]["keys"].clone()
        };
        assert_eq!(keys_after(Admitted::Created), "both");
        // An UPDATE of a project stored before the field existed: legacy, written out.
        assert_eq!(keys_after(Admitted::Stored(crds::Previous::default())), "legacy");
        // A replace that drops the field keeps what was stored.
        let stored = crds::Previous { keys: Some(KeyScheme::Both), ..Default::default() };
        assert_eq!(keys_after(Admitted::Stored(stored)), "both");
        // What the user sends is never replaced.
        let mut object = minimal();
        object["spec"]["jwt"] = json!({"keys": "legacy"});
        let p = serde_json::to_value(of_as(&object, Admitted::Created).unwrap()).unwrap();
        assert!(p.as_array().unwrap().iter().all(|op| op["path"] != "/spec/jwt/keys"), "{p}");
    }

    #[test]
    fn only_a_new_project_gets_a_volume_claim_by_default() {
        use crds::Admitted;
        let volume_after = |admitted| {
            let mut object = minimal();
            let p = of_as(&object, admitted).unwrap();
            json_patch::patch(&mut object, &p).unwrap();
            object["spec"]["storage"].get("volume").cloned()
        };
        assert_eq!(
            volume_after(Admitted::Created),
            Some(json!({"size": "1Gi", "accessModes": ["ReadWriteOnce"], "whenDeleted": "retain"}))
        );
        // An UPDATE of a project stored before the field existed: its emptyDir stays.
        assert_eq!(volume_after(Admitted::Stored(crds::Previous::default())), None);
        // A replace that drops the field keeps the stored claim.
        let stored: crds::project::StorageVolumeSpec =
            serde_json::from_value(json!({"size": "5Gi", "accessModes": ["ReadWriteMany"], "whenDeleted": "delete"}))
                .unwrap();
        let previous = crds::Previous { volume: Some(stored), ..Default::default() };
        assert_eq!(
            volume_after(Admitted::Stored(previous)),
            Some(json!({"size": "5Gi", "accessModes": ["ReadWriteMany"], "whenDeleted": "delete"}))
        );
    }

    #[test]
    fn defaulting_is_idempotent() {
        let mut object = minimal();
        let p = of(&object).unwrap();
        json_patch::patch(&mut object, &p).unwrap();
        assert_eq!(of(&object).unwrap().0, vec![]);
    }

    #[test]
    fn user_values_are_never_replaced() {
        let mut object = minimal();
        object["spec"]["components"] = json!({"kong": {"replicas": 3, "image": "kong/kong:3.8.0"}});
        object["spec"]["siteUrl"] = json!("https://app.example.com");
        let p = of(&object).unwrap();
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
        assert!(of(&json!({"metadata": {}})).is_err());
        let e = of(&json!({"spec": {"apiExternalUrl": 5}})).unwrap_err();
        assert!(e.to_string().contains("schema"), "{e}");
        // Found by tests/fuzz.rs: a struct written as an array.
        let mut object = minimal();
        object["spec"]["jwt"] = json!([{"name": "jwt"}]);
        assert!(of(&object).is_err());
        // serde reads a component from an array too (see crds' component_decode).
        let mut object = minimal();
        object["spec"]["components"] = json!({"kong": ["kong/kong:3.9.1", 2]});
        assert!(of(&object).is_err());
    }
}
