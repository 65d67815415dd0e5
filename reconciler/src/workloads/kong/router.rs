//! Which route Kong picks for a request path, for the kind of routes this operator renders:
//! a model of Kong 3.9's router priorities (Kong/kong kong/router/transform.lua,
//! `get_priority`, at tags 3.9.1 b724fc71 and 3.9.3 a643428b, identical there):
//! - a route with an `expression` carries `EXPRESSION_ONLY_BIT` and outranks every route
//!   built from `paths`;
//! - routes with `paths` only share one match weight, so the longest matching prefix wins
//!   (`max_length`).
//!
//! Only what the config uses is modelled: `paths` that are plain prefixes, and expressions of
//! the form `http.path == "<path>"`. Anything else makes the model panic rather than guess.

use serde_json::Value as Json;

/// The route a request matched, and the service it belongs to.
#[derive(Clone, Debug)]
pub(crate) struct Matched {
    pub route: Json,
    pub service: Json,
}

impl Matched {
    pub fn name(&self) -> &str {
        self.route["name"].as_str().unwrap_or_default()
    }

    /// The service's plugin named `name`, if any.
    pub fn plugin(&self, name: &str) -> Option<&Json> {
        self.service["plugins"].as_array()?.iter().find(|p| p["name"] == name)
    }

    /// The consumer groups the route's ACL admits, if it has one.
    pub fn acl(&self) -> Option<Vec<String>> {
        let allow = self.plugin("acl")?["config"]["allow"].as_array()?;
        Some(allow.iter().filter_map(|g| g.as_str().map(String::from)).collect())
    }

    /// The status the route answers with itself, without reaching its service.
    pub fn terminates(&self) -> Option<i64> {
        self.plugin("request-termination")?["config"]["status_code"].as_i64()
    }
}

/// Why a route matches `path`: an exact expression or a prefix of this length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Priority {
    Prefix(usize),
    Expression,
}

fn matches(route: &Json, path: &str) -> Option<Priority> {
    let fields = ["hosts", "methods", "headers", "snis", "sources", "destinations"];
    for field in fields {
        assert!(route.get(field).is_none_or(Json::is_null), "the model has no {field}: {route}");
    }
    if let Some(expression) = route.get("expression").and_then(Json::as_str) {
        let exact = expression
            .strip_prefix("http.path == \"")
            .and_then(|e| e.strip_suffix('"'))
            .unwrap_or_else(|| panic!("the model knows only `http.path == \"...\"`: {expression}"));
        return (exact == path).then_some(Priority::Expression);
    }
    let paths = route["paths"].as_array().unwrap_or_else(|| panic!("a route without paths: {route}"));
    paths
        .iter()
        .filter_map(Json::as_str)
        .inspect(|p| assert!(!p.starts_with('~'), "the model has no regex paths: {p}"))
        .filter(|p| path.starts_with(*p))
        .map(|p| Priority::Prefix(p.len()))
        .max()
}

/// The route Kong picks for `path` in `config`, if any; two routes of equal rank panic.
pub(crate) fn route_for(config: &Json, path: &str) -> Option<Matched> {
    let mut best: Option<(Priority, Matched)> = None;
    let mut tie = false;
    for service in config["services"].as_array().into_iter().flatten() {
        for route in service["routes"].as_array().into_iter().flatten() {
            let Some(priority) = matches(route, path) else { continue };
            let candidate = Matched { route: route.clone(), service: service.clone() };
            match &best {
                Some((p, _)) if *p > priority => {}
                Some((p, _)) if *p == priority => tie = true,
                _ => {
                    best = Some((priority, candidate));
                    tie = false;
                }
            }
        }
    }
    assert!(!tie, "two routes rank the same for {path}: Kong's choice would be arbitrary");
    best.map(|(_, m)| m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config() -> Json {
        json!({"services": [
            {"name": "a", "routes": [{"name": "short", "paths": ["/x/"]}]},
            {"name": "b", "routes": [{"name": "long", "paths": ["/x/y"]}]},
            {"name": "c", "routes": [{"name": "exact", "expression": "http.path == \"/x/\""}]},
        ]})
    }

    #[test]
    fn the_longest_prefix_wins_and_an_expression_outranks_every_prefix() {
        let c = config();
        assert_eq!(route_for(&c, "/x/z").map(|m| m.name().to_string()).as_deref(), Some("short"));
        assert_eq!(route_for(&c, "/x/y/z").map(|m| m.name().to_string()).as_deref(), Some("long"));
        assert_eq!(route_for(&c, "/x/").map(|m| m.name().to_string()).as_deref(), Some("exact"));
        assert!(route_for(&c, "/other").is_none());
    }

    #[test]
    #[should_panic(expected = "rank the same")]
    fn equal_ranks_are_refused() {
        let c = json!({"services": [
            {"routes": [{"name": "one", "paths": ["/x"]}]},
            {"routes": [{"name": "two", "paths": ["/x"]}]},
        ]});
        route_for(&c, "/x");
    }
}
