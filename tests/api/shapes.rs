//! Every documented event shape (tests/fixtures/data) posted in a distribution envelope: the
//! exact set that is stored but flagged (not normalised), with its note, so that a change in
//! what pubgate understands is noticed here.

use crate::helpers::*;
use reqwest::StatusCode;

crate::on_both!(the_shapes_still_flagged_are_exactly_these);

/// The event types stored but not normalised, and why (the start of their note): validation
/// rules are not among the facts pubgate keeps, and the deletions of things it keeps no rows
/// for (rule assignments, tiers, holder assignments) have nothing to apply to.
const NOT_KEPT: &str = "is stored but not applied: pubgate keeps the last known facts";
const NOTHING: &str = "carries no customer, campaign, voucher or publication; stored verbatim";
const FLAGGED: &[(&str, &str)] = &[
    ("bus_val_rule.assignment.deleted", NOT_KEPT),
    ("bus_val_rule.created", NOTHING),
    ("bus_val_rule.deleted", NOT_KEPT),
    ("bus_val_rule.updated", NOTHING),
    ("campaign.loyalty_tier.deleted", NOT_KEPT),
    ("campaign.promotion_tier.deleted", NOT_KEPT),
    ("customer.holder.assignment.deleted", NOT_KEPT),
];

async fn the_shapes_still_flagged_are_exactly_these(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/data");
    let mut types: Vec<String> = std::fs::read_dir(&dir)
        .expect("fixtures")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|name| Some(name.strip_suffix(".data.openapi-events.json")?.to_owned()))
        .collect();
    types.sort();
    assert!(types.len() > 60, "{types:?}");
    for (n, event_type) in types.iter().enumerate() {
        let (status, answer) = app
            .post_webhook(bytes(&envelope(event_type, &format!("ev_{n}"))))
            .await;
        assert_eq!(status, StatusCode::OK, "{event_type}: {answer}");
    }
    let flagged: Vec<(String, String)> = app
        .texts("SELECT event_type || '|' || COALESCE(normalization_note, '') FROM webhook_events WHERE NOT normalized ORDER BY event_type")
        .await
        .into_iter()
        .flatten()
        .map(|row| {
            let (kind, note) = row.split_once('|').expect("type|note");
            (kind.to_owned(), note.to_owned())
        })
        .collect();
    let expected: Vec<(String, String)> = FLAGGED
        .iter()
        .map(|(t, n)| ((*t).to_owned(), (*n).to_owned()))
        .collect();
    let got: Vec<(String, String)> = flagged
        .iter()
        .map(|(t, note)| {
            let reason = expected
                .iter()
                .find(|(e, _)| e == t)
                .map_or("", |(_, n)| n.as_str());
            let known = !reason.is_empty() && note.contains(reason);
            (
                t.clone(),
                if known {
                    reason.to_owned()
                } else {
                    note.clone()
                },
            )
        })
        .collect();
    assert_eq!(got, expected);
}
