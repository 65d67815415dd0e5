//! Rule 2: the external URLs and the S3 endpoint are absolute http(s) URLs.

use crds::SupabaseProjectSpec;

use super::field::{Cause, Rule, quoted};

/// Why `value` is not an absolute http(s) URL with a host, if it is not.
pub fn url_problem(value: &str) -> Option<String> {
    match url::Url::parse(value) {
        Err(e) => Some(format!("must be an absolute http or https URL ({e})")),
        Ok(u) if u.scheme() != "http" && u.scheme() != "https" => {
            Some(format!("must use the http or https scheme, not {:?}", u.scheme()))
        }
        Ok(u) if u.host_str().is_none_or(str::is_empty) => Some("must name a host".into()),
        Ok(u) if !u.username().is_empty() || u.password().is_some() => {
            Some("must not carry credentials; put them in a Secret".into())
        }
        Ok(_) => None,
    }
}

fn url(field: &str, value: &str, causes: &mut Vec<Cause>) {
    if let Some(problem) = url_problem(value) {
        // A URL with credentials is not echoed: they may be real.
        let shown = if problem.contains("credentials") { "\"<redacted>\"".to_string() } else { quoted(value) };
        causes.push(Cause::invalid(Rule::Urls, field, shown, problem));
    }
}

pub(super) fn check(spec: &SupabaseProjectSpec, causes: &mut Vec<Cause>) {
    url("spec.apiExternalUrl", &spec.api_external_url, causes);
    // A defaulted siteUrl is a copy of apiExternalUrl: one report is enough.
    if let Some(site) = spec.site_url.as_ref().filter(|s| **s != spec.api_external_url) {
        url("spec.siteUrl", site, causes);
    }
    let endpoint = spec.storage.as_ref().and_then(|s| s.s3.as_ref()).and_then(|s3| s3.endpoint.as_ref());
    if let Some(endpoint) = endpoint {
        url("spec.storage.s3.endpoint", endpoint, causes);
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::Case;
    use super::*;

    #[test]
    fn http_and_https_urls_pass() {
        for good in ["https://api.example.com", "http://10.0.0.1:8000/", "https://x.example.com/base"] {
            assert_eq!(url_problem(good), None, "{good}");
        }
    }

    #[test]
    fn every_bad_url_is_named() {
        for bad in ["", "api.example.com", "/relative", "ftp://x", "https://", "https://user:pw@x.example.com"] {
            let case = Case::valid().with(|s| s.api_external_url = bad.into());
            assert_eq!(case.fields(), ["spec.apiExternalUrl"], "{bad}");
            let defaulted = case.with(|s| s.site_url = Some(bad.into()));
            assert_eq!(defaulted.fields(), ["spec.apiExternalUrl"], "a defaulted siteUrl is not reported twice");
        }
        let case = Case::valid().with(|s| s.site_url = Some("mailto:x@example.com".into()));
        assert_eq!(case.fields(), ["spec.siteUrl"]);
        let case = Case::valid()
            .with(|s| s.storage.as_mut().and_then(|s| s.s3.as_mut()).unwrap().endpoint = Some("minio:9000".into()));
        assert_eq!(case.fields(), ["spec.storage.s3.endpoint"]);
    }

    #[test]
    fn credentials_in_urls_are_not_echoed() {
        let case = Case::valid().with(|s| s.api_external_url = "https://user:hunter2@x.example.com".into());
        assert!(!case.messages().contains("hunter2"), "{}", case.messages());
    }
}
