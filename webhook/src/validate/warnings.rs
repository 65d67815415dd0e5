//! Warnings that belong to no rule: allowed, but probably not what was meant.

use super::Input;

pub(super) fn check(input: &Input<'_>, warnings: &mut Vec<String>) {
    if input.spec.enabled(crds::Component::Studio) && input.spec.dashboard.is_none() {
        warnings.push(
            "spec.components.studio.enabled: Studio is enabled without spec.dashboard credentials; it is reachable \
             through the API gateway without a password"
                .to_string(),
        );
    }
    let auth = input.spec.components.as_ref().and_then(|c| c.auth.as_ref());
    let email_signups = auth.is_none_or(|a| a.enable_email_signup != Some(false) && a.disable_signup != Some(true));
    if email_signups && input.spec.smtp.is_none() && auth.and_then(|a| a.enable_email_autoconfirm) == Some(false) {
        warnings.push(
            "spec.components.auth.enableEmailAutoconfirm: email sign-ups need a confirmation mail, but there is no \
             spec.smtp to send it: no email sign-up can be completed"
                .to_string(),
        );
    }
    use crds::project::SslMode;
    let tls = matches!(input.spec.database.ssl_mode, Some(SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull));
    if tls && input.spec.enabled(crds::Component::Realtime) {
        // supabase/realtime priv/repo/seeds.exs (v2.129.8): the seeded tenant has
        // `ssl_enforced: false`, so its replication connection never uses TLS.
        warnings.push(
            "spec.database.sslMode: Realtime connects to its own schema with TLS, but the tenant it seeds connects \
             without TLS (upstream hard-codes it): a database that refuses plain connections breaks Realtime's \
             change streams"
                .to_string(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::Case;

    #[test]
    fn studio_without_dashboard_credentials_warns() {
        let case = Case::valid().with(|s| {
            s.components.as_mut().unwrap().studio.as_mut().unwrap().enabled = Some(true);
        });
        assert!(case.run().warnings.is_empty(), "credentials are set in the fixture");
        let case = case.with(|s| s.dashboard = None);
        let report = case.run();
        assert!(report.causes.is_empty());
        assert_eq!(report.warnings.len(), 1);
        assert!(report.warnings[0].starts_with("spec.components.studio.enabled"));
    }

    #[test]
    fn realtime_warns_that_its_tenant_connection_is_plain_when_tls_is_required() {
        use crds::project::SslMode;
        let case = Case::valid().with(|s| s.database.ssl_mode = Some(SslMode::Prefer));
        assert!(case.run().warnings.is_empty());
        let report = case.with(|s| s.database.ssl_mode = Some(SslMode::Require)).run();
        assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
        assert!(report.warnings[0].starts_with("spec.database.sslMode"));
    }

    #[test]
    fn email_sign_ups_that_no_mail_can_confirm_warn() {
        let unconfirmable = Case::valid().with(|s| {
            s.smtp = None;
            s.components.as_mut().unwrap().auth.get_or_insert_with(Default::default).enable_email_autoconfirm =
                Some(false);
        });
        let report = unconfirmable.run();
        assert!(report.causes.is_empty());
        assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
        assert!(report.warnings[0].starts_with("spec.components.auth.enableEmailAutoconfirm"));
        let autoconfirmed = unconfirmable.clone().with(|s| {
            s.components.as_mut().unwrap().auth.as_mut().unwrap().enable_email_autoconfirm = Some(true);
        });
        assert!(autoconfirmed.run().warnings.is_empty());
        let no_email = unconfirmable.with(|s| {
            s.components.as_mut().unwrap().auth.as_mut().unwrap().enable_email_signup = Some(false);
        });
        assert!(no_email.run().warnings.is_empty());
    }
}
