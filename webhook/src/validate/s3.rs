//! Rule 9: with the s3 backend, an S3 section with a valid bucket name and a region
//! (the credentials' presence is the Secrets rule's business).

use crds::SupabaseProjectSpec;
use crds::project::StorageBackend;

use super::field::{Cause, Rule, quoted};

/// Why `bucket` is not a valid S3 bucket name, if it is not.
pub fn bucket_problem(bucket: &str) -> Option<&'static str> {
    let b = bucket.as_bytes();
    if !(3..=63).contains(&b.len()) {
        return Some("must be 3 to 63 characters");
    }
    if !b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'.' || *c == b'-') {
        return Some("may contain only lowercase letters, digits, '.' and '-'");
    }
    if !b[0].is_ascii_alphanumeric() || !b[b.len() - 1].is_ascii_alphanumeric() {
        return Some("must start and end with a letter or digit");
    }
    if bucket.contains("..") {
        return Some("must not contain two adjacent periods");
    }
    if bucket.parse::<std::net::Ipv4Addr>().is_ok() {
        return Some("must not be formatted as an IP address");
    }
    None
}

pub(super) fn check(spec: &SupabaseProjectSpec, causes: &mut Vec<Cause>) {
    let Some(storage) = &spec.storage else { return };
    if storage.backend != Some(StorageBackend::S3) {
        return;
    }
    let Some(s3) = &storage.s3 else {
        causes.push(Cause::required(Rule::S3, "spec.storage.s3", "required when spec.storage.backend is s3"));
        return;
    };
    if let Some(problem) = bucket_problem(&s3.bucket) {
        causes.push(Cause::invalid(Rule::S3, "spec.storage.s3.bucket", quoted(&s3.bucket), problem));
    }
    if s3.region.trim().is_empty() {
        causes.push(Cause::required(Rule::S3, "spec.storage.s3.region", "the bucket's region, e.g. us-east-1"));
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::Case;
    use super::*;

    fn s3(case: Case, f: impl FnOnce(&mut crds::project::S3Spec)) -> Case {
        case.with(|s| f(s.storage.as_mut().unwrap().s3.as_mut().unwrap()))
    }

    #[test]
    fn valid_buckets_pass() {
        for good in ["abc", "my-bucket.v2", "0bucket9"] {
            assert_eq!(bucket_problem(good), None, "{good}");
        }
    }

    #[test]
    fn bad_buckets_and_missing_region_are_named() {
        for bad in ["ab", "My-Bucket", "-abc", "a..b", "192.168.1.1", &"a".repeat(64), "under_score"] {
            assert_eq!(s3(Case::valid(), |s| s.bucket = bad.into()).fields(), ["spec.storage.s3.bucket"], "{bad}");
        }
        assert_eq!(s3(Case::valid(), |s| s.region = " ".into()).fields(), ["spec.storage.s3.region"]);
    }

    #[test]
    fn s3_backend_needs_an_s3_section_and_credentials() {
        let case = Case::valid().with(|s| s.storage.as_mut().unwrap().s3 = None);
        assert_eq!(case.fields(), ["spec.storage.s3"]);
        let mut case = Case::valid();
        case.set_key("s3", "secretAccessKey", Some(b""));
        assert_eq!(case.fields(), ["spec.storage.s3.secretRef.secretAccessKeyKey"]);
    }
}
