//! From what the database preflight reported (`workloads/preflight.sql`, one JSON line,
//! or psql's error when it could not connect) to findings: what is missing, which
//! component needs it, and how to fix it. Pure: the preflight step feeds it the Job's
//! termination message, the tests feed it the SQL's output from a real server.

use std::collections::{BTreeMap, BTreeSet};

use crds::status::{DatabaseFinding, DatabaseStatus};
use crds::{CATALOG, Component};
use serde::Deserialize;

/// `severity` of a finding that holds its component back.
pub const REQUIRED: &str = "required";
/// `severity` of a warning.
pub const OPTIONAL: &str = "optional";
/// `component` of a finding about every component that uses the database.
pub const ALL: &str = "all";

/// The preflight's facts, as preflight.sql writes them.
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct Facts {
    version: String,
    version_num: i64,
    wal_level: String,
    slots_max: i64,
    slots_used: i64,
    user: String,
    superuser: bool,
    create_role: bool,
    create_in_database: bool,
    #[serde(default)]
    extensions: BTreeMap<String, String>,
    #[serde(default)]
    roles: BTreeMap<String, Role>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
struct Role {
    login: bool,
    #[serde(default)]
    member_of: Vec<String>,
}

/// Where database initialization stands, as far as the findings care.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Init {
    /// `spec.database.initialize` is off: the user set the database up.
    Off,
    /// db-init will run (or is running): what it creates is not missing yet.
    Pending,
    /// db-init succeeded: what it should have created must be there.
    Done,
}

/// Extensions: name, component, severity, what it is for.
const EXTENSIONS: [(&str, Component, &str, &str); 7] = [
    ("uuid-ossp", Component::Storage, REQUIRED, "Storage's tables use extensions.uuid_generate_v4()"),
    ("pgcrypto", Component::Auth, REQUIRED, "Auth's migrations use it"),
    ("pg_graphql", Component::Rest, OPTIONAL, "/graphql/v1 answers through it (PostgREST serves /rest/v1 without it)"),
    ("pg_net", Component::Studio, OPTIONAL, "database webhooks use it"),
    ("pgsodium", Component::Studio, OPTIONAL, "Vault's encryption uses it"),
    ("supabase_vault", Component::Studio, OPTIONAL, "Vault (secrets in the database) uses it"),
    ("pg_cron", Component::Studio, OPTIONAL, "scheduled jobs (Cron) use it"),
];

fn finding(check: &str, component: &str, severity: &str, message: String) -> DatabaseFinding {
    DatabaseFinding { check: check.into(), component: component.into(), severity: severity.into(), message }
}

/// The status from the preflight's termination message. A message that is not the
/// facts' JSON is psql's error: the database was not reachable.
pub fn evaluate(message: &str, init: Init) -> DatabaseStatus {
    match serde_json::from_str::<Facts>(message.trim()) {
        Ok(facts) => DatabaseStatus {
            reachable: Some(true),
            server_version: Some(facts.version.clone()),
            findings: from_facts(&facts, init),
            ..Default::default()
        },
        Err(_) => {
            // psql prints `psql: error: connection to server at ... failed: ...`: names,
            // addresses and the server's reason, never the password.
            let error: String = message.trim().chars().take(600).collect();
            let error = if error.is_empty() { "the preflight Job ended without a message".into() } else { error };
            DatabaseStatus {
                reachable: Some(false),
                findings: vec![finding(
                    "reachable",
                    ALL,
                    REQUIRED,
                    format!(
                        "cannot connect with spec.database (host, port, database, sslMode) and the password from \
                         its Secret: {error}; fix the settings or the network, then the check runs again"
                    ),
                )],
                ..Default::default()
            }
        }
    }
}

/// The findings from the facts.
pub fn from_facts(f: &Facts, init: Init) -> Vec<DatabaseFinding> {
    let mut out = Vec::new();
    if f.version_num < 150000 {
        out.push(finding(
            "version",
            ALL,
            OPTIONAL,
            format!("PostgreSQL {} is older than the 15 Supabase supports (15 and 17); upgrade the server", f.version),
        ));
    }
    let realtime = Component::Realtime.name();
    if f.wal_level != "logical" {
        out.push(finding(
            "walLevel",
            realtime,
            REQUIRED,
            format!(
                "wal_level is {}, Realtime needs logical: set wal_level = logical (RDS and Aurora: parameter \
                 rds.logical_replication = 1; Cloud SQL: flag cloudsql.logical_decoding = on; CloudNativePG and \
                 Zalando: postgresql parameters) and restart the server",
                f.wal_level
            ),
        ));
    }
    if f.slots_used >= f.slots_max {
        out.push(finding(
            "replicationSlots",
            realtime,
            REQUIRED,
            format!(
                "no free replication slot ({} of max_replication_slots = {} used), Realtime needs one: raise \
                 max_replication_slots or drop an unused slot",
                f.slots_used, f.slots_max
            ),
        ));
    }
    for (name, component, severity, why) in EXTENSIONS {
        let state = f.extensions.get(name).map(String::as_str);
        let missing = match (state, init) {
            (None, _) => Some(format!("extension {name} is not available on the server ({why}): install its package")),
            (Some("installed"), _) | (Some(_), Init::Pending) => None,
            // db-init creates only uuid-ossp and pgcrypto; the others are the user's to create.
            (Some(_), _) if severity == REQUIRED => Some(format!(
                "extension {name} is available but not created ({why}): CREATE EXTENSION \"{name}\" WITH SCHEMA extensions"
            )),
            (Some(_), _) => None,
        };
        if let Some(message) = missing {
            out.push(finding(&format!("extension:{name}"), component.name(), severity, message));
        }
    }
    if init != Init::Pending {
        let mut seen = BTreeSet::new();
        // Each component's login and the roles it must be a member of: its description.
        for (component, login) in CATALOG.iter().filter_map(|e| Some((e.component, e.database?))) {
            let (role, members) = (login.role, login.member_of);
            let message = match f.roles.get(role) {
                None => Some(format!("role {role} does not exist: create it with LOGIN and the project password")),
                Some(r) if !r.login => Some(format!("role {role} cannot log in: ALTER ROLE {role} LOGIN")),
                Some(r) => {
                    let lacking: Vec<&str> =
                        members.iter().copied().filter(|m| !r.member_of.iter().any(|x| x == m)).collect();
                    (!lacking.is_empty())
                        .then(|| format!("role {role} is not a member of {}: GRANT {0} TO {role}", lacking.join(", ")))
                }
            };
            if let Some(message) = message
                && seen.insert((component, role))
            {
                out.push(finding(&format!("role:{role}"), component.name(), REQUIRED, message));
            }
        }
    }
    if init == Init::Pending && !f.superuser {
        let mut lacks = Vec::new();
        if !f.create_role {
            lacks.push("create roles (CREATEROLE)");
        }
        if !f.create_in_database {
            lacks.push("create schemas and extensions (CREATE on the database)");
        }
        lacks.push("grant SUPERUSER, REPLICATION or BYPASSRLS, or create untrusted extensions");
        out.push(finding(
            "privileges",
            ALL,
            OPTIONAL,
            format!(
                "{} is not a superuser: db-init cannot {}; it creates what it can and the check after it names \
                 what is still missing",
                f.user,
                lacks.join(", ")
            ),
        ));
    }
    out
}

/// The enabled components a required finding holds back.
pub fn held(findings: &[DatabaseFinding], enabled: &[Component]) -> BTreeSet<Component> {
    let mut out = BTreeSet::new();
    for f in findings.iter().filter(|f| f.severity == REQUIRED) {
        for c in enabled {
            let needs_db = c.entry().database.is_some();
            if (f.component == ALL && needs_db) || f.component == c.name() {
                out.insert(*c);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> Facts {
        let roles = [
            ("authenticator", vec!["anon", "authenticated", "service_role"]),
            ("supabase_auth_admin", vec![]),
            ("supabase_storage_admin", vec!["anon", "authenticated", "service_role"]),
            ("supabase_admin", vec![]),
        ];
        Facts {
            version: "15.8".into(),
            version_num: 150008,
            wal_level: "logical".into(),
            slots_max: 10,
            slots_used: 1,
            user: "postgres".into(),
            superuser: true,
            create_role: true,
            create_in_database: true,
            extensions: EXTENSIONS.iter().map(|e| (e.0.to_string(), "installed".to_string())).collect(),
            roles: roles
                .into_iter()
                .map(|(n, m)| {
                    (n.to_string(), Role { login: true, member_of: m.into_iter().map(String::from).collect() })
                })
                .collect(),
        }
    }

    fn checks(f: &[DatabaseFinding]) -> Vec<String> {
        f.iter().map(|f| format!("{} {} {}", f.check, f.component, f.severity)).collect()
    }

    #[test]
    fn a_complete_database_has_no_findings() {
        assert!(from_facts(&facts(), Init::Done).is_empty());
        assert!(from_facts(&facts(), Init::Off).is_empty());
    }

    #[test]
    fn each_gap_names_its_component_and_severity() {
        let mut f = facts();
        f.wal_level = "replica".into();
        f.slots_used = 10;
        f.extensions.remove("pg_graphql");
        f.extensions.insert("uuid-ossp".into(), "available".into());
        f.roles.get_mut("authenticator").unwrap().member_of.retain(|m| m != "anon");
        let got = checks(&from_facts(&f, Init::Off));
        assert_eq!(
            got,
            [
                "walLevel realtime required",
                "replicationSlots realtime required",
                "extension:uuid-ossp storage required",
                "extension:pg_graphql rest optional",
                "role:authenticator rest required",
            ]
        );
        let found = from_facts(&f, Init::Off);
        let enabled = [Component::Kong, Component::Auth, Component::Rest, Component::Realtime, Component::Storage];
        let held = held(&found, &enabled);
        assert_eq!(held, BTreeSet::from([Component::Rest, Component::Realtime, Component::Storage]));
    }

    #[test]
    fn before_db_init_what_it_creates_is_not_missing_and_a_non_superuser_is_told_what_db_init_cannot_do() {
        let mut f = facts();
        f.roles.clear();
        f.extensions.insert("pgcrypto".into(), "available".into());
        f.superuser = false;
        f.create_role = false;
        let got = from_facts(&f, Init::Pending);
        assert_eq!(checks(&got), ["privileges all optional"]);
        assert!(got[0].message.contains("CREATEROLE"), "{}", got[0].message);
        // After db-init, the roles it could not create are missing and hold their components.
        let after = checks(&from_facts(&f, Init::Done));
        assert!(after.contains(&"role:authenticator rest required".to_string()), "{after:?}");
        assert!(after.contains(&"extension:pgcrypto auth required".to_string()), "{after:?}");
    }

    #[test]
    fn an_error_instead_of_facts_is_an_unreachable_database_that_holds_every_database_user() {
        let s =
            evaluate("psql: error: connection to server at \"db\" (10.0.0.1), port 5432 failed: timeout", Init::Off);
        assert_eq!(s.reachable, Some(false));
        assert!(s.findings[0].message.contains("port 5432 failed: timeout"));
        let enabled: Vec<Component> = crds::CATALOG.iter().map(|e| e.component).collect();
        let held = held(&s.findings, &enabled);
        assert!(!held.contains(&Component::Kong) && !held.contains(&Component::Studio));
        assert_eq!(held.len(), CATALOG.iter().filter(|e| e.database.is_some()).count());
    }
}
