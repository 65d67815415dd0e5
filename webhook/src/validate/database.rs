//! Rule 7: the database is reachable in principle: a numeric port from 1 to 65535 and a
//! non-empty host name, whether written in the spec or read from the Secret.

use crds::refs::{KeyRef, Value};

use super::field::{Cause, Rule, quoted};
use super::{Input, secret_value};

fn host_problem(host: &str) -> Option<&'static str> {
    if host.trim().is_empty() {
        Some("must not be empty")
    } else if host.contains("://") || host.contains('/') || host.contains(char::is_whitespace) {
        Some("must be a host name or IP address, not a URL")
    } else {
        None
    }
}

fn port_ok(port: &str) -> bool {
    port.trim().parse::<u16>().is_ok_and(|p| p >= 1)
}

pub(super) fn check(input: &Input<'_>, refs: &[KeyRef], causes: &mut Vec<Cause>) {
    let db = &input.spec.database;
    if let Some(port) = db.port
        && !(1..=65535).contains(&port)
    {
        causes.push(Cause::invalid(
            Rule::Database,
            "spec.database.port",
            port.to_string(),
            "must be between 1 and 65535, inclusive",
        ));
    }
    if let Some(host) = &db.host
        && let Some(problem) = host_problem(host)
    {
        causes.push(Cause::invalid(Rule::Database, "spec.database.host", quoted(host), problem));
    }
    if let Some(name) = &db.name
        && name.trim().is_empty()
    {
        causes.push(Cause::required(Rule::Database, "spec.database.name", "the database name must not be empty"));
    }
    for r in refs {
        let Some(value) = secret_value(input, &r.secret, &r.key) else { continue };
        if value.trim().is_empty() {
            continue; // reported as empty by the Secrets rule
        }
        let problem = match r.value {
            Value::DbPort if !port_ok(value) => "must hold a port number from 1 to 65535",
            Value::DbHost => match host_problem(value) {
                Some(p) => p,
                None => continue,
            },
            _ => continue,
        };
        causes.push(Cause::invalid(
            Rule::Database,
            r.path,
            quoted(&r.key),
            format!("key {:?} of Secret {:?} {problem}", r.key, r.secret),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::Case;

    #[test]
    fn ports_from_the_secret_and_the_spec_are_checked() {
        for bad in ["0", "65536", "5432x", "-1"] {
            let mut case = Case::valid();
            case.set_key("db", "port", Some(bad.as_bytes()));
            assert_eq!(case.fields(), ["spec.database.secretRef.portKey"], "{bad}");
            assert!(!case.messages().contains(&format!("\"{bad}\"")) || bad == "0", "{}", case.messages());
        }
        let case = Case::valid().with(|s| s.database.port = Some(70000));
        assert_eq!(case.messages(), "spec.database.port: Invalid value: 70000: must be between 1 and 65535, inclusive");
        let case = Case::valid().with(|s| s.database.port = Some(5432));
        assert!(case.fields().is_empty());
    }

    #[test]
    fn hosts_must_be_names() {
        let case = Case::valid().with(|s| s.database.host = Some("  ".into()));
        assert_eq!(case.fields(), ["spec.database.host"]);
        let case = Case::valid().with(|s| s.database.host = Some("postgres://db:5432".into()));
        assert_eq!(case.fields(), ["spec.database.host"]);
        let mut case = Case::valid();
        case.set_key("db", "host", Some(b"postgresql://x"));
        assert_eq!(case.fields(), ["spec.database.secretRef.hostKey"]);
        let case = Case::valid().with(|s| s.database.name = Some(String::new()));
        assert_eq!(case.fields(), ["spec.database.name"]);
    }
}
