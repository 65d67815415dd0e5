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
}
