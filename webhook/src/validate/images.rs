//! Rule 4: images carry a tag or a digest, come from a registry the policy allows, and
//! are not `:latest` unless the policy allows it.

use crds::{CATALOG, SupabaseProjectSpec};

use super::field::{Cause, Rule, quoted};
use crate::policy::Policy;

/// An image reference split into its parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageRef<'a> {
    /// Registry host (`docker.io` when the reference names none).
    pub registry: &'a str,
    /// Repository path.
    pub repository: &'a str,
    /// Tag, if any.
    pub tag: Option<&'a str>,
    /// Digest, if any.
    pub digest: Option<&'a str>,
}

/// Parses `[registry/]repository[:tag][@digest]` the way container runtimes do.
pub fn parse(image: &str) -> Result<ImageRef<'_>, String> {
    if image.is_empty() {
        return Err("must not be empty".into());
    }
    if image.trim() != image || image.contains(char::is_whitespace) {
        return Err("must not contain whitespace".into());
    }
    let (rest, digest) = match image.split_once('@') {
        Some((rest, digest)) => {
            let valid = digest.split_once(':').is_some_and(|(alg, hex)| {
                !alg.is_empty()
                    && alg.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
                    && hex.len() >= 32
                    && hex.chars().all(|c| c.is_ascii_hexdigit())
            });
            if !valid {
                return Err("has a malformed digest (expected e.g. @sha256:<64 hex digits>)".into());
            }
            (rest, Some(digest))
        }
        None => (image, None),
    };
    // A first component with a dot or a port, or `localhost`, is a registry host.
    let (registry, path) = match rest.split_once('/') {
        Some((first, path)) if first.contains('.') || first.contains(':') || first == "localhost" => (first, path),
        _ => ("docker.io", rest),
    };
    let (repository, tag) = match path.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo, Some(tag)),
        _ => (path, None),
    };
    let repo_ok = !repository.is_empty()
        && repository.split('/').all(|part| {
            !part.is_empty()
                && part.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
                && part.starts_with(|c: char| c.is_ascii_alphanumeric())
        });
    if !repo_ok {
        return Err("has an invalid repository name (lowercase letters, digits, '.', '_', '-' and '/')".into());
    }
    if let Some(tag) = tag {
        let tag_ok = !tag.is_empty()
            && tag.len() <= 128
            && tag.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
            && tag.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
        if !tag_ok {
            return Err("has an invalid tag (letters, digits, '.', '_', '-', at most 128)".into());
        }
    }
    Ok(ImageRef { registry, repository, tag, digest })
}

pub(super) fn check(spec: &SupabaseProjectSpec, policy: &Policy, causes: &mut Vec<Cause>) {
    let Some(components) = &spec.components else { return };
    for entry in &CATALOG {
        let Some(image) = components.workload(entry.component).and_then(|w| w.image.as_deref()) else { continue };
        let field = format!("spec.components.{}.image", entry.name);
        let parsed = match parse(image) {
            Ok(p) => p,
            Err(problem) => {
                causes.push(Cause::invalid(Rule::Images, &field, quoted(image), problem));
                continue;
            }
        };
        if parsed.tag.is_none() && parsed.digest.is_none() {
            causes.push(Cause::invalid(
                Rule::Images,
                &field,
                quoted(image),
                "must carry a tag or a digest (e.g. :v1.2.3 or @sha256:...), so every pod runs the same code",
            ));
        }
        if parsed.tag == Some("latest") && parsed.digest.is_none() && !policy.allow_latest_tag {
            causes.push(Cause::invalid(
                Rule::Images,
                &field,
                quoted(image),
                "the tag latest is not allowed (it moves); pin a version, or allow it with allowLatestTag in the policy",
            ));
        }
        if !policy.registry_allowed(parsed.registry) {
            causes.push(Cause::forbidden(
                Rule::Policy,
                &field,
                format!(
                    "registry {:?} is not allowed by the platform policy (allowed: {})",
                    parsed.registry,
                    policy.allowed_registries.join(", ")
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::Case;
    use super::*;

    fn with_kong_image(image: &str) -> Case {
        Case::valid().with(|s| {
            s.components.as_mut().unwrap().kong.as_mut().unwrap().workload.image = Some(image.into());
        })
    }

    #[test]
    fn references_split_like_a_runtime_does() {
        let r = parse("kong/kong:3.9.1").unwrap();
        assert_eq!((r.registry, r.repository, r.tag, r.digest), ("docker.io", "kong/kong", Some("3.9.1"), None));
        let r = parse("registry.example.com:5000/team/kong@sha256:0123456789abcdef0123456789abcdef").unwrap();
        assert_eq!((r.registry, r.repository, r.tag), ("registry.example.com:5000", "team/kong", None));
        let r = parse("localhost/kong:1").unwrap();
        assert_eq!(r.registry, "localhost");
    }

    #[test]
    fn tags_and_digests_pass() {
        for good in ["kong/kong:3.9.1", "ghcr.io/supabase/gotrue:v2", "kong@sha256:0123456789abcdef0123456789abcdef"] {
            assert!(with_kong_image(good).fields().is_empty(), "{good}");
        }
    }

    #[test]
    fn untagged_latest_and_malformed_images_are_refused() {
        for bad in ["kong", "kong:latest", "", "Kong:1", "kong:", "kong@sha256:xyz", "kong: 1", "ghcr.io/:1"] {
            assert_eq!(with_kong_image(bad).fields(), ["spec.components.kong.image"], "{bad:?}");
        }
        let mut case = with_kong_image("kong:latest");
        case.policy.allow_latest_tag = true;
        assert!(case.fields().is_empty());
    }

    #[test]
    fn registries_outside_the_policy_are_refused() {
        let mut case = with_kong_image("quay.io/kong/kong:3.9.1");
        case.policy.allowed_registries = vec!["docker.io".into(), "ghcr.io".into()];
        assert_eq!(case.fields(), ["spec.components.kong.image"]);
        assert!(case.messages().contains(r#"registry "quay.io" is not allowed"#), "{}", case.messages());
        // The default images come from docker.io: allowed here.
        case.spec.components.as_mut().unwrap().kong.as_mut().unwrap().workload.image = Some("kong:3.9.1".into());
        assert!(case.fields().is_empty());
    }
}
