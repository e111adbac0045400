//! Webhook signatures: `verify` on arbitrary secret/body/header never panics and only accepts
//! the HMAC of the body or of its compact form; what `sign` produces always verifies.
//!
//! Input layout: byte 0 = secret length, byte 1 = header length, then the secret, the header
//! (lossy UTF-8) and the rest is the body (lengths are clamped to what is there).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pubgate::webhook::signature::{compact_json, sign, verify};

fuzz_target!(|data: &[u8]| {
    let (secret, header, body) = split(data);
    let header = String::from_utf8_lossy(header);
    let compact = compact_json(body);

    // Arbitrary header: never panics, and a match is one of the two accepted signatures.
    if verify(&[secret], body, &header) {
        let given = header.trim().to_ascii_lowercase();
        let raw = sign(secret, body);
        let compacted = compact.as_deref().map(|c| sign(secret, c));
        assert!(
            given == raw || Some(&given) == compacted.as_ref(),
            "verify accepted a header that is neither signature: {header:?}"
        );
    }

    // What `sign` produces verifies, in either case, among other secrets, with stray spaces.
    let signature = sign(secret, body);
    assert_eq!(signature.len(), 64);
    assert!(
        signature
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    );
    assert!(verify(&[secret], body, &signature), "own signature refused");
    assert!(verify(&[secret], body, &signature.to_uppercase()));
    assert!(verify(&[secret], body, &format!(" {signature}\t")));
    let other: Vec<u8> = secret.iter().copied().chain(*b"!").collect();
    assert!(verify(&[other.as_slice(), secret], body, &signature));
    // A different secret (one that HMAC key padding cannot make equal) does not match.
    assert!(
        !verify(&[other.as_slice()], body, &signature),
        "foreign secret accepted"
    );
    assert!(
        !verify::<&[u8]>(&[], body, &signature),
        "no secret, yet accepted"
    );
    assert!(!verify(&[secret], body, ""));
    assert!(!verify(&[secret], body, &signature[..63]));

    // The compact form: strictly shorter, a fixed point, and its signature verifies the body.
    if let Some(compact) = &compact {
        assert!(compact.len() < body.len());
        assert_eq!(compact_json(compact), None, "compacting twice changes more");
        assert!(
            verify(&[secret], body, &sign(secret, compact)),
            "signature of the compact form refused"
        );
        // Only whitespace outside strings goes: valid JSON stays the same JSON.
        if let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) {
            let again: serde_json::Value =
                serde_json::from_slice(compact).expect("compact form of valid JSON is JSON");
            assert_eq!(value, again, "compacting changed the JSON");
        }
    }
});

fn split(data: &[u8]) -> (&[u8], &[u8], &[u8]) {
    let (lens, rest) = data.split_at(data.len().min(2));
    let secret_len = usize::from(lens.first().copied().unwrap_or(0)).min(rest.len());
    let (secret, rest) = rest.split_at(secret_len);
    let header_len = usize::from(lens.get(1).copied().unwrap_or(0)).min(rest.len());
    let (header, body) = rest.split_at(header_len);
    (secret, header, body)
}
