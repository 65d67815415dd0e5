//! Rule 15: `spec.gateway`. One of an Ingress or an HTTPRoute; the host they route comes
//! from `spec.apiExternalUrl`, so that URL must name a host an Ingress accepts (a DNS-1123
//! subdomain, not an IP address: kubernetes/kubernetes
//! `pkg/apis/networking/validation/validation.go`, `validateIngressRules`, which the
//! Gateway API repeats for `HTTPRoute.spec.hostnames`: "IPs are not allowed"). A port in
//! the URL is fine: neither object carries one, and both ignore the `Host` header's port.

use crds::SupabaseProjectSpec;
use crds::gateway::{CLUSTER_ISSUER_ANNOTATION, GatewaySpec, ISSUER_ANNOTATION, host_of};

use super::field::{Cause, Rule, quoted};

/// Kubernetes' DNS-1123 subdomain check (`validation.IsDNS1123Subdomain`): at most 253
/// characters, dot-separated labels of lowercase letters, digits and hyphens, each
/// starting and ending with a letter or digit.
pub fn is_dns1123_subdomain(s: &str) -> bool {
    s.len() <= 253
        && s.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
                && b[0] != b'-'
                && b[b.len() - 1] != b'-'
        })
}

/// Kubernetes' DNS-1123 label check (namespace names).
fn is_dns1123_label(s: &str) -> bool {
    s.len() <= 63 && !s.contains('.') && is_dns1123_subdomain(s)
}

const SUBDOMAIN: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";

fn name(field: &str, value: &str, causes: &mut Vec<Cause>) {
    if !is_dns1123_subdomain(value) {
        causes.push(Cause::invalid(Rule::Gateway, field, quoted(value), SUBDOMAIN));
    }
}

pub(super) fn check(spec: &SupabaseProjectSpec, causes: &mut Vec<Cause>) {
    let Some(gateway) = &spec.gateway else { return };
    let GatewaySpec { ingress, http_route } = gateway;
    match (ingress, http_route) {
        (Some(_), Some(_)) => causes.push(Cause::forbidden(
            Rule::Gateway,
            "spec.gateway.httpRoute",
            "may not be set together with spec.gateway.ingress: choose one",
        )),
        (None, None) => {
            causes.push(Cause::required(Rule::Gateway, "spec.gateway", "one of ingress or httpRoute"));
            return;
        }
        _ => {}
    }
    let url = &spec.api_external_url;
    // A URL that does not parse is the URL rule's to report.
    let parses = url::Url::parse(url).is_ok_and(|u| u.host().is_some());
    let host = host_of(url);
    if parses {
        match &host {
            None => causes.push(Cause::invalid(
                Rule::Gateway,
                "spec.apiExternalUrl",
                quoted(url),
                "must name a DNS host when spec.gateway is set: an Ingress or HTTPRoute host must be a DNS name, not an IP address",
            )),
            Some(h) if !is_dns1123_subdomain(h) => causes.push(Cause::invalid(
                Rule::Gateway,
                "spec.apiExternalUrl",
                quoted(url),
                format!("its host {h:?} must be a DNS name an Ingress accepts when spec.gateway is set: {SUBDOMAIN}"),
            )),
            Some(_) => {}
        }
    }
    let agrees = |field: &str, given: &Option<String>, causes: &mut Vec<Cause>| {
        if let (Some(given), Some(h)) = (given, &host)
            && !given.eq_ignore_ascii_case(h)
        {
            causes.push(Cause::invalid(
                Rule::Gateway,
                field,
                quoted(given),
                format!("must equal the host of spec.apiExternalUrl ({h:?}), from which it is taken"),
            ));
        }
    };
    if let Some(ingress) = ingress {
        agrees("spec.gateway.ingress.host", &ingress.host, causes);
        if let Some(class) = &ingress.class_name {
            name("spec.gateway.ingress.className", class, causes);
        }
        let annotations = ingress.annotations.clone().unwrap_or_default();
        if let Some(tls) = &ingress.tls {
            name("spec.gateway.ingress.tls.secretName", &tls.secret_name, causes);
            if parses && url::Url::parse(url).is_ok_and(|u| u.scheme() != "https") {
                causes.push(Cause::invalid(
                    Rule::Gateway,
                    "spec.apiExternalUrl",
                    quoted(url),
                    "must use https when spec.gateway.ingress.tls is set: clients open this URL and Auth builds its links from it",
                ));
            }
            if tls.cluster_issuer.is_some() && tls.issuer.is_some() {
                causes.push(Cause::forbidden(
                    Rule::Gateway,
                    "spec.gateway.ingress.tls.issuer",
                    "may not be set together with spec.gateway.ingress.tls.clusterIssuer",
                ));
            }
            for (field, value, annotation) in [
                ("spec.gateway.ingress.tls.clusterIssuer", &tls.cluster_issuer, CLUSTER_ISSUER_ANNOTATION),
                ("spec.gateway.ingress.tls.issuer", &tls.issuer, ISSUER_ANNOTATION),
            ] {
                let Some(value) = value else { continue };
                name(field, value, causes);
                // Either the field or the annotation names the issuer: two could disagree.
                for a in [CLUSTER_ISSUER_ANNOTATION, ISSUER_ANNOTATION] {
                    if annotations.contains_key(a) {
                        causes.push(Cause::forbidden(
                            Rule::Gateway,
                            format!("spec.gateway.ingress.annotations[{a}]"),
                            format!("may not be set together with {field}, which sets {annotation}"),
                        ));
                    }
                }
            }
        }
    }
    if let Some(route) = http_route {
        agrees("spec.gateway.httpRoute.host", &route.host, causes);
        if route.parent_refs.is_empty() {
            causes.push(Cause::required(
                Rule::Gateway,
                "spec.gateway.httpRoute.parentRefs",
                "the Gateway to attach to",
            ));
        }
        for (i, parent) in route.parent_refs.iter().enumerate() {
            let at = format!("spec.gateway.httpRoute.parentRefs[{i}]");
            if parent.name.is_empty() {
                causes.push(Cause::required(Rule::Gateway, format!("{at}.name"), "the Gateway's name"));
            } else {
                name(&format!("{at}.name"), &parent.name, causes);
            }
            if let Some(ns) = parent.namespace.as_ref().filter(|ns| !is_dns1123_label(ns)) {
                causes.push(Cause::invalid(
                    Rule::Gateway,
                    format!("{at}.namespace"),
                    quoted(ns),
                    "must be a namespace name (an RFC 1123 label)",
                ));
            }
            if let Some(section) = &parent.section_name {
                name(&format!("{at}.sectionName"), section, causes);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::Case;
    use super::*;
    use crds::gateway::{GatewayParentRef, HttpRouteSpec, IngressSpec, IngressTlsSpec};
    use std::collections::BTreeMap;

    fn ingress() -> IngressSpec {
        IngressSpec {
            class_name: Some("nginx".into()),
            host: None,
            annotations: None,
            tls: Some(IngressTlsSpec {
                secret_name: "api-tls".into(),
                cluster_issuer: Some("letsencrypt".into()),
                issuer: None,
            }),
        }
    }

    fn route() -> HttpRouteSpec {
        HttpRouteSpec {
            parent_refs: vec![GatewayParentRef {
                name: "public".into(),
                namespace: Some("gateways".into()),
                section_name: Some("https".into()),
            }],
            host: None,
        }
    }

    fn with(gateway: GatewaySpec) -> Case {
        Case::valid().with(|s| s.gateway = Some(gateway))
    }

    #[test]
    fn an_ingress_or_a_route_for_a_dns_host_passes() {
        assert!(with(GatewaySpec { ingress: Some(ingress()), http_route: None }).fields().is_empty());
        assert!(with(GatewaySpec { ingress: None, http_route: Some(route()) }).fields().is_empty());
        let mut matching = ingress();
        matching.host = Some("API.example.com".into());
        assert!(with(GatewaySpec { ingress: Some(matching), http_route: None }).fields().is_empty());
        // A port in the URL: the Ingress host drops it.
        let case = with(GatewaySpec { ingress: Some(ingress()), http_route: None })
            .with(|s| s.api_external_url = "https://api.example.com:8443".into());
        assert!(case.fields().is_empty(), "{}", case.messages());
    }

    #[test]
    fn both_or_neither_is_refused() {
        let both = with(GatewaySpec { ingress: Some(ingress()), http_route: Some(route()) });
        assert_eq!(both.fields(), ["spec.gateway.httpRoute"]);
        assert!(
            both.messages()
                .contains("spec.gateway.httpRoute: Forbidden: may not be set together with spec.gateway.ingress")
        );
        let neither = with(GatewaySpec::default());
        assert_eq!(neither.fields(), ["spec.gateway"]);
        assert!(neither.messages().contains("spec.gateway: Required value"), "{}", neither.messages());
    }

    #[test]
    fn a_url_without_a_dns_host_is_refused_only_with_a_gateway() {
        for url in ["https://10.0.0.1", "http://[::1]:8000", "https://api_x.example.com"] {
            let plain = Case::valid().with(|s| s.api_external_url = url.into());
            assert!(plain.fields().is_empty(), "{url}: without spec.gateway any host is fine");
            let routed = with(GatewaySpec { ingress: None, http_route: Some(route()) })
                .with(|s| s.api_external_url = url.into());
            assert_eq!(routed.fields(), ["spec.apiExternalUrl"], "{url}: {}", routed.messages());
            assert!(routed.messages().contains("spec.apiExternalUrl: Invalid value:"), "{}", routed.messages());
        }
    }

    #[test]
    fn a_host_that_differs_from_the_url_is_refused() {
        let mut other = ingress();
        other.host = Some("www.example.com".into());
        let case = with(GatewaySpec { ingress: Some(other), http_route: None });
        assert_eq!(case.fields(), ["spec.gateway.ingress.host"]);
        assert!(case.messages().contains(
            r#"spec.gateway.ingress.host: Invalid value: "www.example.com": must equal the host of spec.apiExternalUrl ("api.example.com")"#
        ), "{}", case.messages());
        let mut r = route();
        r.host = Some("www.example.com".into());
        assert_eq!(with(GatewaySpec { ingress: None, http_route: Some(r) }).fields(), ["spec.gateway.httpRoute.host"]);
    }

    #[test]
    fn tls_needs_https_and_one_way_of_naming_the_issuer() {
        let http = with(GatewaySpec { ingress: Some(ingress()), http_route: None }).with(|s| {
            s.api_external_url = "http://api.example.com".into();
            s.site_url = Some("https://app.example.com".into());
        });
        assert_eq!(http.fields(), ["spec.apiExternalUrl"], "{}", http.messages());
        let mut two = ingress();
        two.tls.as_mut().unwrap().issuer = Some("local".into());
        two.annotations = Some(BTreeMap::from([(CLUSTER_ISSUER_ANNOTATION.to_string(), "other".to_string())]));
        let case = with(GatewaySpec { ingress: Some(two), http_route: None });
        assert_eq!(
            case.fields(),
            [
                "spec.gateway.ingress.tls.issuer",
                "spec.gateway.ingress.annotations[cert-manager.io/cluster-issuer]",
                "spec.gateway.ingress.annotations[cert-manager.io/cluster-issuer]",
            ]
        );
        // The annotation alone is the other documented way, and passes.
        let mut annotated = ingress();
        annotated.tls.as_mut().unwrap().cluster_issuer = None;
        annotated.annotations = Some(BTreeMap::from([(CLUSTER_ISSUER_ANNOTATION.to_string(), "le".to_string())]));
        assert!(with(GatewaySpec { ingress: Some(annotated), http_route: None }).fields().is_empty());
    }

    #[test]
    fn names_are_checked_like_kubernetes_does() {
        let mut bad = ingress();
        bad.class_name = Some("Nginx".into());
        bad.tls.as_mut().unwrap().secret_name = "tls_secret".into();
        let case = with(GatewaySpec { ingress: Some(bad), http_route: None });
        assert_eq!(case.fields(), ["spec.gateway.ingress.className", "spec.gateway.ingress.tls.secretName"]);
        let mut r = route();
        r.parent_refs.push(GatewayParentRef { name: String::new(), namespace: Some("a.b".into()), section_name: None });
        let case = with(GatewaySpec { ingress: None, http_route: Some(r) });
        assert_eq!(
            case.fields(),
            ["spec.gateway.httpRoute.parentRefs[1].name", "spec.gateway.httpRoute.parentRefs[1].namespace"]
        );
        let none =
            with(GatewaySpec { ingress: None, http_route: Some(HttpRouteSpec { parent_refs: vec![], host: None }) });
        assert_eq!(none.fields(), ["spec.gateway.httpRoute.parentRefs"]);
    }

    #[test]
    fn subdomains_follow_rfc_1123() {
        for good in ["a", "api.example.com", "x-1.y2"] {
            assert!(is_dns1123_subdomain(good), "{good}");
        }
        for bad in ["", "A.example.com", "-a.example.com", "a..b", "a_b", &"a".repeat(254)] {
            assert!(!is_dns1123_subdomain(bad), "{bad}");
        }
    }
}
